"""Message catalogs and the locale of the current request.

Message ids are English; ``locales/zh_CN/LC_MESSAGES/messages.po`` translates them. Catalogs
are compiled from the ``.po`` files in memory at first use, so no compiled ``.mo`` file is
kept in the repository or has to be built on install.
"""

import gettext as gettext_module
from contextvars import ContextVar
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Literal

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

Locale = Literal["zh_CN", "en"]
SUPPORTED_LOCALES: tuple[Locale, ...] = ("zh_CN", "en")
DEFAULT_LOCALE: Locale = "zh_CN"
LOCALES_DIR = Path(__file__).resolve().parent / "locales"
CATALOG_DOMAIN = "messages"

_current_locale: ContextVar[Locale] = ContextVar("pingyi_locale", default=DEFAULT_LOCALE)


def N_(message: str) -> str:
    """Mark a message for extraction without translating it yet."""
    return message


@lru_cache
def translations_for(locale: Locale) -> gettext_module.NullTranslations:
    po_path = LOCALES_DIR / locale / "LC_MESSAGES" / f"{CATALOG_DOMAIN}.po"
    if not po_path.exists():
        return gettext_module.NullTranslations()
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=locale)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(fp=compiled, domain=CATALOG_DOMAIN)


def current_locale() -> Locale:
    return _current_locale.get()


def set_locale(locale: Locale) -> None:
    _current_locale.set(locale)


def gettext(message: str) -> str:
    return translations_for(_current_locale.get()).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    return translations_for(_current_locale.get()).ngettext(singular, plural, count)


def parse_locale(value: str | None) -> Locale | None:
    """Map a language tag (``zh-CN``, ``zh_Hans``, ``en-GB``, ``en``) to a supported locale."""
    if not value:
        return None
    primary = value.strip().replace("_", "-").split("-")[0].lower()
    if primary == "zh":
        return "zh_CN"
    if primary == "en":
        return "en"
    return None


def negotiate_locale(explicit: str | None, accept_language: str | None) -> Locale:
    """An explicit choice (the page's language switch) wins, then the browser's preference."""
    chosen = parse_locale(explicit)
    if chosen is not None:
        return chosen
    for tag in _accept_language_tags(accept_language or ""):
        chosen = parse_locale(tag)
        if chosen is not None:
            return chosen
    return DEFAULT_LOCALE


def _accept_language_tags(header: str) -> list[str]:
    """Language tags from an Accept-Language header, most preferred first."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, parameters = part.strip().partition(";")
        quality = 1.0
        parameter = parameters.strip()
        if parameter.startswith("q="):
            try:
                quality = float(parameter[2:])
            except ValueError:
                continue
        if tag and quality > 0:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]
