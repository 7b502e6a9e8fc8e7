"""Counting stored answers into per target × rater group tallies, exactly.

Pure functions over rows of ``(target_id, rater_group_id, answers, quality_flags, count)``, so
scoring and suppression can be tested on any random campaign without a database. Everything
is counted separately for evaluations flagged as low quality and for the others, so the
campaign's quality policy can keep, down-weight or exclude the flagged ones afterwards.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction

from app.ballots.answers import NOT_APPLICABLE, NOT_SHOWN
from app.ballots.models import STRAIGHT_LINING, TOO_FAST
from app.surveys.schemas import Questionnaire

# target id, rater group id, encoded answers, quality flags, how many evaluations
AnswerRow = tuple[int, int, str, int, int]
QUALITY_FLAGS = (STRAIGHT_LINING, TOO_FAST)


def exact(value: float) -> Fraction:
    """A configured number (points, a weight, a share) as the decimal it was written as."""
    return Fraction(str(value))


@dataclass
class ItemTally:
    """Evaluations at each level of one item; level 0 is 不了解 (don't know)."""

    counts: dict[int, int] = field(default_factory=dict)  # evaluations not flagged
    flagged_counts: dict[int, int] = field(default_factory=dict)  # flagged as low quality


@dataclass
class CellTally:
    """Everything counted for one target and one rater group.

    ``scores`` holds the distribution of evaluation scores (the mean points of an
    evaluation's answered scored items), exactly: evaluations per score. Counting instead of
    adding up keeps every figure independent of the order in which rows arrive. Evaluations
    without an answered scored item have no score and are not in it.
    """

    evaluations: int = 0
    flagged_evaluations: int = 0
    scores: dict[Fraction, int] = field(default_factory=dict)
    flagged_scores: dict[Fraction, int] = field(default_factory=dict)
    items: dict[str, ItemTally] = field(default_factory=dict)


@dataclass
class CampaignTally:
    """A campaign's cells, with its low-quality evaluations counted by kind."""

    cells: dict[tuple[int, int], CellTally] = field(default_factory=dict)
    evaluations: int = 0  # every evaluation stored, flagged or not
    flagged: int = 0  # evaluations with at least one quality flag
    flag_counts: dict[int, int] = field(default_factory=dict)  # flag bit -> evaluations with it


def tally(questionnaire: Questionnaire, rows: Iterable[AnswerRow]) -> CampaignTally:
    items = questionnaire.items
    points = [
        {level: exact(value) for level, value in questionnaire.points_for(item).items()}
        for item in items
    ]
    scored = [item.scored for item in items]
    counted = CampaignTally(flag_counts=dict.fromkeys(QUALITY_FLAGS, 0))
    for target_id, group_id, encoded, flags, count in rows:
        flagged = flags != 0
        counted.evaluations += count
        if flagged:
            counted.flagged += count
            for flag in QUALITY_FLAGS:
                if flags & flag:
                    counted.flag_counts[flag] += count
        cell = counted.cells.get((target_id, group_id))
        if cell is None:
            cell = counted.cells[(target_id, group_id)] = CellTally()
        if flagged:
            cell.flagged_evaluations += count
        else:
            cell.evaluations += count
        score_total = Fraction(0)
        score_items = 0
        for index, symbol in enumerate(encoded):
            if symbol == NOT_SHOWN:
                continue
            item_tally = cell.items.get(items[index].id)
            if item_tally is None:
                item_tally = cell.items[items[index].id] = ItemTally()
            level = 0 if symbol == NOT_APPLICABLE else int(symbol)
            level_counts = item_tally.flagged_counts if flagged else item_tally.counts
            level_counts[level] = level_counts.get(level, 0) + count
            if level and scored[index]:
                score_total += points[index][level]
                score_items += 1
        if score_items:
            scores = cell.flagged_scores if flagged else cell.scores
            score = score_total / score_items
            scores[score] = scores.get(score, 0) + count
    return counted
