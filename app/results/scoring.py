"""The scoring engine: exact figures before any suppression, and composites, grades and ranks.

Definitions (docs/methodology.md says the same):

- Points: each answered level earns the points the questionnaire gives it (the item's own,
  else the questionnaire's for the scale, else the defaults); 不了解 earns none and is left
  out of every mean, rate and score.
- Item: respondents (evaluations shown the item), 不了解 count, distribution of answers per
  level, and over the answered responses the mean points, their standard deviation and 95%
  confidence interval, and the satisfaction rate (share in the top two levels).
- Dimension, per rater group: the answers to the dimension's scored items the group sees,
  pooled, each answer one observation: answers, 不了解, distribution per level, mean, standard
  deviation, interval and satisfaction rate of the pooled answers.
- Evaluation score: the mean points of an evaluation's answered scored items. Group score:
  the mean of its evaluations' scores (each rater counts once), with their standard deviation
  and interval; the trimmed score drops ``trim_share`` of the evaluations' weight from each
  end of the sorted scores (see :func:`app.results.statistics.trimmed_mean`).
- Low quality: flagged evaluations are kept (weight 1), down-weighted (weight ``w`` in every
  mean, deviation, interval, rate and score; counts and distributions stay numbers of
  evaluations) or excluded (left out of every figure and count), as the campaign says.
- Composite: the rater groups' shown scores weighted by the campaign's weights, renormalised
  over the groups whose score is shown; a target's dimension score likewise from the groups'
  shown dimension means. Grade: the first band, from the top, whose minimum the composite
  reaches. Rank: within the department category, by the published (rounded) composite,
  standard competition ranking (1, 2, 2, 4); the last rank is the bottom place (末位) when
  at least two targets of the category are ranked and not all of them tie.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import TypeVar

from app.campaigns.policy import GradeBand, QualityPolicy
from app.results import statistics
from app.results.tally import CellTally, ItemTally, exact
from app.surveys.schemas import SATISFIED_LEVEL_COUNT, Item, Questionnaire

Key = TypeVar("Key")


@dataclass(frozen=True)
class Weighting:
    """How much an evaluation flagged as low quality counts; ``None``: not at all."""

    flagged_weight: Fraction | None

    @classmethod
    def of(cls, quality: QualityPolicy) -> "Weighting":
        if quality.handling == "exclude":
            return cls(None)
        if quality.handling == "down_weight":
            return cls(exact(quality.down_weight))
        return cls(Fraction(1))

    def count(self, unflagged: int, flagged: int) -> int:
        """How many evaluations a figure counts: flagged ones unless they are excluded."""
        return unflagged if self.flagged_weight is None else unflagged + flagged

    def counts(self, unflagged: Mapping[Key, int], flagged: Mapping[Key, int]) -> dict[Key, int]:
        counted = dict(unflagged)
        if self.flagged_weight is not None:
            for key, count in flagged.items():
                counted[key] = counted.get(key, 0) + count
        return counted

    def distribution(
        self, unflagged: Mapping[Fraction, int], flagged: Mapping[Fraction, int]
    ) -> dict[tuple[Fraction, Fraction], int]:
        """Values with their weights: 1 for the unflagged, the flagged weight for the others."""
        one = Fraction(1)
        weighted = {(value, one): count for value, count in unflagged.items() if count}
        if self.flagged_weight is not None:
            for value, count in flagged.items():
                if count:
                    key = (value, self.flagged_weight)
                    weighted[key] = weighted.get(key, 0) + count
        return weighted


@dataclass(frozen=True)
class Estimate:
    """A weighted mean with its sample standard deviation and 95% t interval, exact."""

    mean: Fraction | None
    standard_deviation: Decimal | None
    interval: tuple[Decimal, Decimal] | None

    @classmethod
    def of(cls, distribution: statistics.Distribution) -> "Estimate":
        return cls(*statistics.summary(distribution))


@dataclass(frozen=True)
class AnswerFigures:
    """An item's, or a dimension's pooled, answers for one target and rater group."""

    not_applicable: int  # evaluations counted
    distribution: dict[int, int]  # answers counted per level, highest level first, N/A excluded
    estimate: Estimate  # of the points
    satisfaction_rate: Fraction | None

    @property
    def answered(self) -> int:
        return sum(self.distribution.values())


@dataclass(frozen=True)
class ItemFigures(AnswerFigures):
    item: str
    respondents: int  # evaluations counted that were shown the item


@dataclass(frozen=True)
class DimensionFigures(AnswerFigures):
    dimension: str
    items: tuple[str, ...]  # the scored items the group sees, pooled


@dataclass(frozen=True)
class GroupFigures:
    evaluations: int
    scored_evaluations: int  # evaluations with at least one answered scored item
    score: Estimate
    trimmed_score: Fraction | None
    unanimous: bool  # every scored evaluation has the same score
    items: list[ItemFigures]
    dimensions: list[DimensionFigures]


@dataclass(frozen=True)
class Ranking:
    rank: int
    ranked_in_category: int
    bottom: bool


def group_figures(
    questionnaire: Questionnaire,
    group_key: str,
    cell: CellTally,
    weighting: Weighting,
    trim_share: Fraction,
) -> GroupFigures:
    """Every figure of one target × rater group, before suppression."""
    items = questionnaire.items_for(group_key)
    tallies = {item.id: cell.items.get(item.id, ItemTally()) for item in items}
    weighted = {
        item.id: _weighted_levels(questionnaire, item, tallies[item.id], weighting)
        for item in items
    }
    item_figures = [
        _item_figures(item, tallies[item.id], weighted[item.id], weighting) for item in items
    ]
    by_item = {figures.item: figures for figures in item_figures}
    dimensions = []
    for dimension in questionnaire.dimensions:
        pooled = [item for item in items if item.dimension == dimension.id and item.scored]
        if pooled:
            dimensions.append(_dimension_figures(dimension.id, pooled, by_item, weighted))
    scores = weighting.distribution(cell.scores, cell.flagged_scores)
    values = [value for value, _ in scores]
    return GroupFigures(
        evaluations=weighting.count(cell.evaluations, cell.flagged_evaluations),
        scored_evaluations=statistics.observations(scores),
        score=Estimate.of(scores),
        trimmed_score=statistics.trimmed_mean(scores, trim_share),
        unanimous=bool(values) and all(value == values[0] for value in values),
        items=item_figures,
        dimensions=dimensions,
    )


WeightedLevels = tuple[statistics.Distribution, statistics.Distribution]


def _weighted_levels(
    questionnaire: Questionnaire, item: Item, item_tally: ItemTally, weighting: Weighting
) -> WeightedLevels:
    """The item's answers as weighted points, and as weighted 1 (satisfied) or 0."""
    points = {level: exact(value) for level, value in questionnaire.points_for(item).items()}
    satisfied = {level.value for level in item.levels[:SATISFIED_LEVEL_COUNT]}
    by_points: dict[tuple[Fraction, Fraction], int] = {}
    by_satisfaction: dict[tuple[Fraction, Fraction], int] = {}
    for counts, weight in (
        (item_tally.counts, Fraction(1)),
        (item_tally.flagged_counts, weighting.flagged_weight),
    ):
        if weight is None:
            continue
        for level, count in counts.items():
            if not level or not count:
                continue  # 不了解 earns no points and is no answer
            # Added in place: hashing a Fraction is slow, and this runs per item and cell.
            key = (points[level], weight)
            by_points[key] = by_points.get(key, 0) + count
            key = (_SATISFIED if level in satisfied else _NOT_SATISFIED, weight)
            by_satisfaction[key] = by_satisfaction.get(key, 0) + count
    return by_points, by_satisfaction


_SATISFIED = Fraction(1)
_NOT_SATISFIED = Fraction(0)


def _item_figures(
    item: Item, item_tally: ItemTally, weighted: WeightedLevels, weighting: Weighting
) -> ItemFigures:
    counted = weighting.counts(item_tally.counts, item_tally.flagged_counts)
    by_points, by_satisfaction = weighted
    return ItemFigures(
        item=item.id,
        respondents=sum(counted.values()),
        not_applicable=counted.get(0, 0),
        distribution={level.value: counted.get(level.value, 0) for level in item.levels},
        estimate=Estimate.of(by_points),
        satisfaction_rate=statistics.mean(by_satisfaction),
    )


def _dimension_figures(
    dimension: str,
    items: list[Item],
    by_item: Mapping[str, ItemFigures],
    weighted: Mapping[str, WeightedLevels],
) -> DimensionFigures:
    by_points: dict[tuple[Fraction, Fraction], int] = {}
    by_satisfaction: dict[tuple[Fraction, Fraction], int] = {}
    distribution: dict[int, int] = {}
    for item in items:
        points, satisfaction = weighted[item.id]
        _add_into(by_points, points)
        _add_into(by_satisfaction, satisfaction)
        _add_into(distribution, by_item[item.id].distribution)
    return DimensionFigures(
        dimension=dimension,
        items=tuple(item.id for item in items),
        not_applicable=sum(by_item[item.id].not_applicable for item in items),
        distribution={level: distribution[level] for level in sorted(distribution, reverse=True)},
        estimate=Estimate.of(by_points),
        satisfaction_rate=statistics.mean(by_satisfaction),
    )


def _add_into(total: dict[Key, int], part: Mapping[Key, int]) -> None:
    for key, count in part.items():
        total[key] = total.get(key, 0) + count


def weighted_mean(pairs: Iterable[tuple[Fraction, Fraction]]) -> Fraction | None:
    """Σ weight × value / Σ weight over ``(weight, value)`` pairs; ``None`` for none.

    The composite and a target's dimension scores: the pairs are the shown groups' figures
    with the campaign's weights, so the weights are renormalised over the shown groups.
    """
    chosen = list(pairs)
    total = sum((weight for weight, _ in chosen), Fraction(0))
    if not chosen or total == 0:
        return None
    return sum((weight * value for weight, value in chosen), Fraction(0)) / total


def grade(composite: float, grades: Sequence[GradeBand]) -> GradeBand:
    """The first band, from the highest, whose minimum the composite reaches."""
    for band in grades:
        if composite >= band.minimum:
            return band
    return grades[-1]  # policy validation makes the lowest minimum 0, so only below 0


def rankings(composites: Sequence[tuple[str, float | None]]) -> list[Ranking | None]:
    """Ranks of ``(category, published composite)`` entries, in the same order.

    Standard competition ranking within each category: one more than the number of the
    category's targets with a higher composite, so equal composites share a rank and the
    next rank skips (1, 2, 2, 4). Targets without a composite are not ranked. The bottom
    place is the last rank of a category with at least two ranked targets, unless they all
    tie (then no one is last).
    """
    by_category: dict[str, list[float]] = {}
    for category, composite in composites:
        if composite is not None:
            by_category.setdefault(category, []).append(composite)
    result: list[Ranking | None] = []
    for category, composite in composites:
        if composite is None:
            result.append(None)
            continue
        peers = by_category[category]
        rank = 1 + sum(1 for other in peers if other > composite)
        last = 1 + sum(1 for other in peers if other > min(peers))
        result.append(
            Ranking(
                rank=rank,
                ranked_in_category=len(peers),
                bottom=len(peers) >= 2 and last > 1 and rank == last,
            )
        )
    return result
