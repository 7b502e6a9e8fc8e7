"""The audit trail in words: action and detail labels, formatted values, raw text kept."""

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app import i18n
from app.audit import labels
from app.audit import service as audit_service
from tests.console import sign_in
from tests.factories import make_staff


@contextmanager
def use_locale(locale: i18n.Locale) -> Iterator[None]:
    before = i18n.current_locale()
    i18n.set_locale(locale)
    try:
        yield
    finally:
        i18n.set_locale(before)


class TestFormatting:
    def test_booleans_read_as_yes_and_no_in_chinese(self) -> None:
        with use_locale("zh_CN"):
            assert labels.format_value(False) == "否"
            assert labels.format_value(True) == "是"

    def test_mappings_are_listed_and_whole_floats_lose_their_point(self) -> None:
        with use_locale("en"):
            shown = labels.format_value({"citizens": 60.0, "cadres": 40.5})

        assert shown == "citizens: 60; cadres: 40.5"

    def test_lists_are_joined(self) -> None:
        with use_locale("en"):
            assert labels.format_value(["a", "b"]) == "a, b"

    def test_known_actions_have_labels_and_unknown_ones_stay_as_stored(self) -> None:
        with use_locale("zh_CN"):
            assert labels.action_label("login_failed") == "登录失败"
            assert labels.action_label("something_new") == "something_new"

    def test_detail_lines_keep_the_stored_text(self) -> None:
        with use_locale("zh_CN"):
            (line,) = labels.detail_lines({"locked": False})

        assert (line.label, line.value, line.raw) == ("账号已锁定", "否", "locked=False")


class TestAuditPage:
    def test_trail_shows_labels_with_the_raw_values_alongside(
        self, client: TestClient, session: Session
    ) -> None:
        admin = make_staff(session)
        audit_service.record(
            session,
            actor="someone",
            action="login_failed",
            object="user:someone",
            detail={"locked": False},
        )
        sign_in(client, admin.username)

        page = client.get("/admin/audit?lang=zh_CN").text

        assert "登录失败" in page
        assert 'title="login_failed"' in page
        assert "账号已锁定" in page
        assert 'title="locked=False"' in page
        assert "locked=False</code>" in page  # the stored text, behind a details toggle
