"""Chinese text a rater reads uses full-width punctuation: "打过交道？", not "打过交道?"."""

import re

from babel.messages.pofile import read_po

from app.config import PROJECT_ROOT

CATALOG = PROJECT_ROOT / "app/locales/zh_CN/LC_MESSAGES/messages.po"
# An ASCII ? , : ; ! right after a Chinese character, a closing quote or bracket.
HALF_WIDTH_AFTER_CHINESE = re.compile(r"[\u4e00-\u9fff\u3000-\u303f\uff08\uff09“”]\s?[?,:;!]")


def test_the_chinese_catalog_uses_full_width_punctuation() -> None:
    with CATALOG.open("rb") as stream:
        catalog = read_po(stream)
    offending = [
        text
        for message in catalog
        for text in (message.string if isinstance(message.string, tuple) else (message.string,))
        if isinstance(text, str) and HALF_WIDTH_AFTER_CHINESE.search(text)
    ]
    assert offending == []


def test_the_rating_templates_use_full_width_punctuation() -> None:
    offending = [
        f"{path.name}: {line.strip()}"
        for path in sorted((PROJECT_ROOT / "templates/rate").glob("*.html"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if HALF_WIDTH_AFTER_CHINESE.search(line)
    ]
    assert offending == []
