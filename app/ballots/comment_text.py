"""What a rater's comment may hold: the rule applied when a ballot is submitted and again
when the ballot box is opened at the tally."""

from app import text_rules
from app.errors import InvalidInput
from app.i18n import N_
from app.surveys.schemas import Questionnaire

ALLOWED_CONTROLS = text_rules.LINE_CONTROLS


def clean_comment(questionnaire: Questionnaire, comment: str | None, field: str) -> str | None:
    """The comment as kept: trimmed, line breaks unified, ``None`` when empty.

    Control characters, bidirectional overrides and unpaired surrogates are refused rather
    than stripped, so what is kept is exactly what the rater saw (:mod:`app.text_rules`, the
    rule staff's texts follow too).
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
    if text_rules.refused_character(text, ALLOWED_CONTROLS) is not None:
        raise InvalidInput(
            N_("The comment contains an invisible control character; please remove it."),
            field=field,
        )
    return text
