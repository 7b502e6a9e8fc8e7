"""Which characters people's text may hold: one rule for raters' comments and staff's texts.

Bidirectional controls (U+202E RIGHT-TO-LEFT OVERRIDE and its kin) are invisible, and make a
page show text in another order than it was typed: ``字符\\u202e反向`` shows as 字符向反. Other
control characters and unpaired surrogates are invisible too, or break files and terminals.
Text that holds one is refused, never silently cleaned, so what is kept is what was typed
and what everyone sees. Comments apply the rule when a ballot is submitted
(:mod:`app.ballots.comment_text`); department names and categories, questionnaire texts and
campaign titles when staff enter them (:func:`check_staff_text` and the services that call
:func:`refused_character`).
"""

import unicodedata

from app.errors import InvalidInput
from app.i18n import N_, gettext

BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Controls a multi-line text may hold; a staff text may also hold a carriage return, which
# CSV files and YAML block scalars carry at line ends.
LINE_CONTROLS = frozenset("\n\t")
STAFF_TEXT_CONTROLS = frozenset("\n\t\r")

STAFF_TEXT_REFUSED = N_(
    "%(what)s contains an invisible control character (%(character)s) that would show the "
    "text in another order or form than typed; please remove it."
)


def refused_character(text: str, allowed: frozenset[str] = LINE_CONTROLS) -> str | None:
    """The first character of ``text`` that the rule refuses, or None: a control character
    not in ``allowed``, an unpaired surrogate or a bidirectional control."""
    for character in text:
        if character in allowed:
            continue
        if character in BIDI_CONTROLS or unicodedata.category(character) in ("Cc", "Cs"):
            return character
    return None


def code_point(character: str) -> str:
    """How a refused character is named in messages: ``U+202E``."""
    return f"U+{ord(character):04X}"


def staff_text_problem(text: str) -> str | None:
    """What is wrong with a staff text, in English for a list of problems (file imports), or
    None when nothing is."""
    character = refused_character(text, STAFF_TEXT_CONTROLS)
    if character is None:
        return None
    return (
        f"contains an invisible control character ({code_point(character)}) that would show "
        "the text in another order or form than typed; remove it"
    )


class FieldName:
    """A message id naming a field, translated whenever the message holding it is shown."""

    def __init__(self, message_id: str) -> None:
        self.message_id = message_id

    def __str__(self) -> str:
        return gettext(self.message_id)


def check_staff_text(text: str | None, *, field: str, what: str) -> None:
    """Refuse a staff text that holds a refused character, naming the field.

    ``what`` names the field in a sentence (``N_("The department's name")``); it is
    translated with the message, in the locale the message is shown in.
    """
    if text is None:
        return
    character = refused_character(text, STAFF_TEXT_CONTROLS)
    if character is not None:
        raise InvalidInput(
            STAFF_TEXT_REFUSED,
            field=field,
            what=FieldName(what),
            character=code_point(character),
        )
