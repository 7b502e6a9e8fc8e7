"""Counting stored answers into per target × rater group × item tallies.

Pure functions over rows of ``(target_id, rater_group_id, answers, count)``, so scoring and
suppression can be tested on any random campaign without a database.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction

from app.ballots.answers import NOT_APPLICABLE, NOT_SHOWN
from app.surveys.schemas import Questionnaire

AnswerRow = tuple[int, int, str, int]  # target id, rater group id, encoded answers, how many


@dataclass
class ItemTally:
    """Counts of each level for one item; level 0 is 不了解 (don't know)."""

    counts: dict[int, int] = field(default_factory=dict)

    @property
    def respondents(self) -> int:
        return sum(self.counts.values())

    @property
    def not_applicable(self) -> int:
        return self.counts.get(0, 0)

    @property
    def answered(self) -> int:
        return self.respondents - self.not_applicable


@dataclass
class CellTally:
    """Everything counted for one target and one rater group."""

    evaluations: int = 0
    scored_evaluations: int = 0  # evaluations with at least one answered scored item
    # Evaluations per (answered scored items, their points summed). Counting instead of adding
    # up floats keeps the score exact, so the order in which rows arrive cannot move it.
    score_totals: dict[tuple[int, float], int] = field(default_factory=dict)
    items: dict[str, ItemTally] = field(default_factory=dict)

    @property
    def score_sum(self) -> Fraction:
        """The sum of the evaluations' scores, exactly."""
        return sum(
            (
                Fraction(points_total) * count / item_count
                for (item_count, points_total), count in self.score_totals.items()
            ),
            Fraction(0),
        )


def tally(
    questionnaire: Questionnaire, rows: Iterable[AnswerRow]
) -> dict[tuple[int, int], CellTally]:
    items = questionnaire.items
    points = [questionnaire.points_for(item) for item in items]
    scored = [item.scored for item in items]
    cells: dict[tuple[int, int], CellTally] = {}
    for target_id, group_id, encoded, count in rows:
        cell = cells.get((target_id, group_id))
        if cell is None:
            cell = cells[(target_id, group_id)] = CellTally()
        cell.evaluations += count
        score_total = 0.0
        score_items = 0
        for index, symbol in enumerate(encoded):
            if symbol == NOT_SHOWN:
                continue
            item_tally = cell.items.get(items[index].id)
            if item_tally is None:
                item_tally = cell.items[items[index].id] = ItemTally()
            level = 0 if symbol == NOT_APPLICABLE else int(symbol)
            item_tally.counts[level] = item_tally.counts.get(level, 0) + count
            if level and scored[index]:
                score_total += points[index][level]
                score_items += 1
        if score_items:
            cell.scored_evaluations += count
            key = (score_items, score_total)
            cell.score_totals[key] = cell.score_totals.get(key, 0) + count
    return cells
