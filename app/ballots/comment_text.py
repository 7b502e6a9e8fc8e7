"""What a rater's comment may hold: the rule applied when a ballot is submitted and again
when the ballot box is opened at the tally."""

import unicodedata

from app.errors import InvalidInput
from app.i18n import N_
from app.surveys.schemas import Questionnaire

BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
ALLOWED_CONTROLS = frozenset("\n\t")


def clean_comment(questionnaire: Questionnaire, comment: str | None, field: str) -> str | None:
    """The comment as kept: trimmed, line breaks unified, ``None`` when empty.

    Control characters, bidirectional overrides and unpaired surrogates are refused rather
    than stripped, so what is kept is exactly what the rater saw.
    """
    if comment is None:
        return None
    text = comment.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        return None
    spec = questionnaire.comment
    if spec is None:
        raise InvalidInput(N_("This questionnaire takes no comment."), field=field)
    if len(text) > spec.max_length:
        raise InvalidInput(
            N_("The comment is too long: at most %(maximum)s characters."),
            field=field,
            maximum=spec.max_length,
        )
    for character in text:
        if character in ALLOWED_CONTROLS:
            continue
        category = unicodedata.category(character)
        if category in ("Cc", "Cs") or character in BIDI_CONTROLS:
            raise InvalidInput(
                N_("The comment contains an invisible control character; please remove it."),
                field=field,
            )
    return text
