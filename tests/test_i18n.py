"""Message catalogs: every message in the code and templates is translated into Chinese."""

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from app import i18n
from app.config import PROJECT_ROOT

ZH_CATALOG = PROJECT_ROOT / "app" / "locales" / "zh_CN" / "LC_MESSAGES" / "messages.po"


@pytest.fixture(scope="module")
def extracted_ids(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    template = tmp_path_factory.mktemp("i18n") / "messages.pot"
    subprocess.run(
        [
            str(Path(sys.executable).parent / "pybabel"),
            "-q",
            "extract",
            "-F",
            str(PROJECT_ROOT / "babel.cfg"),
            "-k",
            "N_",
            "-k",
            "gettext",
            "-k",
            "ngettext:1,2",
            "--no-location",
            "-o",
            str(template),
            str(PROJECT_ROOT),
        ],
        check=True,
        cwd=PROJECT_ROOT,
    )
    with template.open("rb") as stream:
        return {_key(message.id) for message in read_po(stream) if message.id}


def _key(message_id: str | tuple[str, ...]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def _zh_catalog():  # type: ignore[no-untyped-def]
    with ZH_CATALOG.open("rb") as stream:
        return read_po(stream, locale="zh_CN")


class TestChineseCatalog:
    def test_every_message_has_a_chinese_translation(self, extracted_ids: set[str]) -> None:
        translated = {
            _key(message.id)
            for message in _zh_catalog()
            if message.id
            and message.string
            and not message.fuzzy
            and all(message.string if isinstance(message.string, tuple) else [message.string])
        }

        assert sorted(extracted_ids - translated) == []

    def test_catalog_has_no_stale_messages(self, extracted_ids: set[str]) -> None:
        kept = {_key(message.id) for message in _zh_catalog() if message.id}

        assert sorted(kept - extracted_ids) == []

    def test_placeholders_survive_translation(self) -> None:
        problems = [(message.id, errors) for message, errors in _zh_catalog().check() if errors]

        assert problems == []


class TestLocaleNegotiation:
    @pytest.mark.parametrize(
        ("explicit", "header", "expected"),
        [
            (None, None, "zh_CN"),
            (None, "en-US,en;q=0.9", "en"),
            (None, "zh-TW,zh;q=0.9,en;q=0.8", "zh_CN"),
            (None, "fr-FR,en;q=0.5,zh;q=0.9", "zh_CN"),
            (None, "fr-FR", "zh_CN"),
            (None, "en;q=0, zh-CN", "zh_CN"),
            ("en", "zh-CN", "en"),
            ("zh", "en", "zh_CN"),
            ("xx", "en", "en"),
        ],
    )
    def test_explicit_choice_then_browser_then_chinese(
        self, explicit: str | None, header: str | None, expected: str
    ) -> None:
        assert i18n.negotiate_locale(explicit, header) == expected

    def test_translation_follows_the_current_locale(self) -> None:
        i18n.set_locale("zh_CN")
        assert i18n.gettext("Start rating") == "开始评议"
        i18n.set_locale("en")
        assert i18n.gettext("Start rating") == "Start rating"


def test_catalog_file_exists() -> None:
    assert Path(ZH_CATALOG).is_file()
