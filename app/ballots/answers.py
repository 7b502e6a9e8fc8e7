"""The compact form of one evaluation's answers, as stored in ``Evaluation.answers``.

One character per item of the campaign's frozen questionnaire, in questionnaire order: the
level's digit (``1``-``5``), ``0`` for 不了解 (don't know), ``-`` for an item the rater's group
does not see (not for that group, or left out of its short form). Twelve answers take twelve
bytes, and results can be counted without parsing JSON for each of a million rows.
"""

from collections.abc import Mapping

from app.surveys.schemas import Questionnaire

NOT_APPLICABLE = "0"
NOT_SHOWN = "-"


def encode(questionnaire: Questionnaire, group_key: str, answers: Mapping[str, int | None]) -> str:
    """Encode answers already checked against the questionnaire for ``group_key``."""
    symbols = []
    for item in questionnaire.items:
        if not questionnaire.shows(item, group_key):
            symbols.append(NOT_SHOWN)
            continue
        level = answers[item.id]
        symbols.append(NOT_APPLICABLE if level is None else str(level))
    return "".join(symbols)


def decode(questionnaire: Questionnaire, encoded: str) -> dict[str, int | None]:
    """Answers by item id; items the group did not see are left out, 不了解 is ``None``."""
    decoded: dict[str, int | None] = {}
    for item, symbol in zip(questionnaire.items, encoded, strict=True):
        if symbol == NOT_SHOWN:
            continue
        decoded[item.id] = None if symbol == NOT_APPLICABLE else int(symbol)
    return decoded
