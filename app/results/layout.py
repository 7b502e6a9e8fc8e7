"""Laying a campaign's exact figures out as published results, under one suppression.

How withheld counts (:class:`app.results.disclosure.Suppression`) reach the figures:

- a target × rater group withheld: every figure of it is null;
- an answer cell (one level of one item) withheld: that item's distribution, mean, standard
  deviation, interval and satisfaction rate are null; its 不了解 cell withheld: its 不了解
  count is null; its respondents are the group's evaluations, shown with them;
- a dimension of a group is shown only when every item it pools is fully shown;
- a group's score (with its deviation, interval and trimmed score) is shown when the group is,
  with at least k evaluations that have a score and every scored item fully shown (the score
  is the mean of the item means when everyone answered everything); a group whose scores all
  agree, fewer than 2k, is withheld whole by disclosure control;
- a target's count, the campaign's or a quality-flag count withheld: that count is null;
- a target's composite and dimension scores use only shown group figures, the weights
  renormalised over them; no shown group figure, no composite, grade or rank.

Every figure is computed exactly (fractions), the composite and a target's dimension figures
from the groups' exact figures, never from rounded ones, and rounded half up (四舍五入) once
for publication: points to two decimals, rates to four. Grade and rank are decided on the
published (rounded) composite, so a reader never sees a figure and a grade or rank that
disagree. Every null figure is named in its ``withheld`` list, and every withheld figure is
described in plain words in ``CampaignResults.withheld_figures``, in the requested language.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from functools import cached_property
from typing import TypeVar

from app.ballots.models import STRAIGHT_LINING, TOO_FAST
from app.campaigns.models import Campaign, RaterGroup, Target
from app.campaigns.policy import ResultsPolicy
from app.departments import service as department_service
from app.i18n import N_, Locale, translations_for
from app.results import scoring
from app.results.disclosure import Suppression
from app.results.schemas import (
    CampaignResults,
    DimensionInfo,
    DimensionResult,
    GradeInfo,
    GroupResult,
    ItemInfo,
    ItemResult,
    QualitySummary,
    RaterGroupInfo,
    TargetDimension,
    TargetResult,
)
from app.results.statistics import half_up
from app.results.tables import (
    CAMPAIGN_KEY,
    FLAGGED_KEY,
    STORED_KEY,
    STRAIGHT_LINING_KEY,
    TOO_FAST_KEY,
    CellKey,
    CountTables,
    answer_key,
    group_key,
    target_key,
)
from app.results.tally import CampaignTally, exact
from app.surveys.schemas import Questionnaire

POINTS_DECIMALS = 2
RATE_DECIMALS = 4

Cells = Mapping[tuple[int, int], scoring.GroupFigures]  # (target id, group id) -> figures

# The figures each result lists in ``withheld`` when null, in this order.
ITEM_FIGURES = (
    "respondents",
    "not_applicable",
    "mean_points",
    "standard_deviation",
    "ci_low",
    "ci_high",
    "satisfaction_rate",
    "distribution",
)
DIMENSION_FIGURES = ("answers", *ITEM_FIGURES[1:])
GROUP_FIGURES = (
    "evaluations",
    "score",
    "score_standard_deviation",
    "score_ci_low",
    "score_ci_high",
)
TRIMMED_FIGURE = "trimmed_score"  # listed only when the campaign trims
TARGET_FIGURES = ("evaluations", "composite_score", "grade", "rank")
TARGET_DIMENSION_FIGURES = ("score", "satisfaction_rate")

# Published beside every withheld figure. Which rule withheld it is not said: see _say.
WITHHELD_REASON = N_("withheld to protect raters' anonymity")
LINE_GROUP = N_("%(target)s · %(group)s: all figures (%(reason)s)")
LINE_SCORE = N_("%(target)s · %(group)s: score (%(reason)s)")
LINE_ANSWERS = N_(
    "%(target)s · %(group)s · %(item)s: distribution, mean, spread and satisfaction rate "
    "(%(reason)s)"
)
LINE_NOT_APPLICABLE = N_("%(target)s · %(group)s · %(item)s: “don't know” count (%(reason)s)")
LINE_GROUP_DIMENSION = N_("%(target)s · %(group)s · %(dimension)s: dimension figures (%(reason)s)")
LINE_TARGET_EVALUATIONS = N_("%(target)s: number of evaluations (%(reason)s)")
LINE_COMPOSITE = N_("%(target)s: composite score, grade, rank and dimension scores (%(reason)s)")
LINE_TARGET_DIMENSION = N_("%(target)s · %(dimension)s: dimension score (%(reason)s)")
LINE_CAMPAIGN = N_("Number of evaluations in the campaign (%(reason)s)")
LINE_QUALITY = N_("Numbers of evaluations flagged as low quality (%(reason)s)")

NO_ESTIMATE = scoring.Estimate(None, None, None)


def lay_out(
    campaign: Campaign,
    questionnaire: Questionnaire,
    policy: ResultsPolicy,
    counted: CampaignTally,
    figures: Cells,
    tables: CountTables,
    suppression: Suppression,
    locale: Locale,
) -> CampaignResults:
    """The published results: ``figures`` with what ``suppression`` withholds left out."""
    layout = _Layout(campaign, questionnaire, policy, tables, suppression, locale)
    return layout.results(figures, counted)


@dataclass
class _Layout:
    campaign: Campaign
    questionnaire: Questionnaire
    policy: ResultsPolicy
    tables: CountTables
    suppression: Suppression
    locale: Locale
    withheld_figures: list[str] = field(default_factory=list)

    @property
    def threshold(self) -> int:
        return self.campaign.disclosure_threshold

    @cached_property
    def category_labels(self) -> dict[str, str]:
        departments = [target.department for target in self.campaign.targets]
        return department_service.category_labels(departments, self.locale)

    def results(self, figures: Cells, counted: CampaignTally) -> CampaignResults:
        campaign, questionnaire, locale = self.campaign, self.questionnaire, self.locale
        dimension_ids = [
            dimension.id
            for dimension in questionnaire.dimensions
            if any(item.scored and item.dimension == dimension.id for item in questionnaire.items)
        ]
        targets = [self._target(target, figures, dimension_ids) for target in campaign.targets]
        _rank(targets)
        evaluations = self._count(CAMPAIGN_KEY)
        if evaluations is None:
            self._say(LINE_CAMPAIGN, {})
        return CampaignResults(
            campaign=campaign.slug,
            title=campaign.title_for(locale),
            status=campaign.status.value,
            disclosure_threshold=self.threshold,
            protection_width=self.policy.width_for(self.threshold),
            evaluations=evaluations,
            points=self._points(),
            trim_share=self.policy.trim_share,
            grades=[
                GradeInfo(name=band.name.get(locale), minimum=band.minimum)
                for band in self.policy.grades
            ],
            rater_groups=[
                RaterGroupInfo(key=group.key, name=group.name_for(locale), weight=group.weight)
                for group in campaign.rater_groups
            ],
            dimensions=[
                DimensionInfo(id=dimension, name=self._dimension_name(dimension))
                for dimension in dimension_ids
            ],
            items=[
                ItemInfo(
                    id=item.id,
                    dimension=item.dimension,
                    text=item.text.get(locale),
                    scale=item.scale,
                    scored=item.scored,
                )
                for item in questionnaire.items
            ],
            targets=targets,
            quality=self._quality(counted, total_shown=evaluations is not None),
            privacy=None,
            withheld_figures=self.withheld_figures,
        )

    # Targets

    def _target(self, target: Target, figures: Cells, dimension_ids: list[str]) -> TargetResult:
        department = target.department
        names = {"target": department.name_for(self.locale)}
        groups = [
            self._group(target, group, figures[(target.id, group.id)], names)
            for group in self.campaign.rater_groups
        ]
        exact_figures = {
            group.key: figures[(target.id, group.id)] for group in self.campaign.rater_groups
        }
        weights = {group.key: exact(group.weight) for group in self.campaign.rater_groups}
        shown_scores = [
            (weights[group.rater_group], exact_figures[group.rater_group].score.mean)
            for group in groups
            if group.score is not None
        ]
        composite = scoring.weighted_mean(
            (weight, score) for weight, score in shown_scores if score is not None
        )
        composite_score = _points(composite)
        evaluations = self._count(target_key(target.id))
        if evaluations is None:
            self._say(LINE_TARGET_EVALUATIONS, names)
        if composite_score is None:
            self._say(LINE_COMPOSITE, names)
        result = TargetResult(
            target=department.code,
            name=names["target"],
            category=self.category_labels[department.category],
            evaluations=evaluations,
            composite_score=composite_score,
            composite_groups=[group.rater_group for group in groups if group.score is not None],
            grade=None
            if composite_score is None
            else scoring.grade(composite_score, self.policy.grades).name.get(self.locale),
            dimensions=[
                self._target_dimension(dimension, groups, exact_figures, weights, names)
                for dimension in dimension_ids
            ],
            withheld=[],
            groups=groups,
        )
        return _with_withheld(result, TARGET_FIGURES)  # _rank takes "rank" off when ranked

    def _target_dimension(
        self,
        dimension: str,
        groups: list[GroupResult],
        exact_figures: Mapping[str, scoring.GroupFigures],
        weights: Mapping[str, Fraction],
        names: dict[str, str],
    ) -> TargetDimension:
        """The groups' shown dimension figures, weighted, from their exact values."""
        shown = [
            (weights[group.rater_group], figures)
            for group in groups
            for result in group.dimensions
            if result.dimension == dimension and result.mean_points is not None
            for figures in exact_figures[group.rater_group].dimensions
            if figures.dimension == dimension
        ]
        score = scoring.weighted_mean(
            (weight, figures.estimate.mean)
            for weight, figures in shown
            if figures.estimate.mean is not None
        )
        rate = scoring.weighted_mean(
            (weight, figures.satisfaction_rate)
            for weight, figures in shown
            if figures.satisfaction_rate is not None
        )
        name = self._dimension_name(dimension)
        if score is None and any(group.score is not None for group in groups):
            # (without a composite, the composite's line says it for every dimension)
            self._say(LINE_TARGET_DIMENSION, {**names, "dimension": name})
        result = TargetDimension(
            dimension=dimension,
            name=name,
            score=_points(score),
            satisfaction_rate=_rate(rate),
            withheld=[],
        )
        return _with_withheld(result, TARGET_DIMENSION_FIGURES)

    # Rater groups

    def _group(
        self,
        target: Target,
        group: RaterGroup,
        figures: scoring.GroupFigures,
        target_names: dict[str, str],
    ) -> GroupResult:
        names = {**target_names, "group": group.name_for(self.locale)}
        group_figures = (*GROUP_FIGURES, *([TRIMMED_FIGURE] if self.policy.trim_share else []))
        key = group_key(target.id, group.id)
        if not self.suppression.shows(key):
            self._say(LINE_GROUP, names)
            return self._withheld_group(group, figures, group_figures)
        texts = {item.id: item.text.get(self.locale) for item in self.questionnaire.items}
        items: list[ItemResult] = []
        fully_shown: dict[str, bool] = {}
        for item in figures.items:
            item_result, fully_shown[item.item] = self._item(
                target, group, item, figures.evaluations, {**names, "item": texts[item.item]}
            )
            items.append(item_result)
        scored_items = {item.id for item in self.questionnaire.items if item.scored}
        items_hidden = any(not shown for item, shown in fully_shown.items() if item in scored_items)
        score_withheld = self._score_withheld(figures, items_hidden=items_hidden)
        if score_withheld and figures.scored_evaluations:
            self._say(LINE_SCORE, names)
        score = NO_ESTIMATE if score_withheld else figures.score
        trimmed = None if score_withheld else figures.trimmed_score
        result = GroupResult(
            rater_group=group.key,
            evaluations=figures.evaluations,
            score=_points(score.mean),
            score_standard_deviation=_points(score.standard_deviation),
            score_ci_low=_points(score.interval[0] if score.interval else None),
            score_ci_high=_points(score.interval[1] if score.interval else None),
            trimmed_score=_points(trimmed) if self.policy.trim_share else None,
            withheld=[],
            dimensions=[
                self._dimension(dimension, fully_shown, names) for dimension in figures.dimensions
            ],
            items=items,
        )
        return _with_withheld(result, group_figures)

    def _withheld_group(
        self, group: RaterGroup, figures: scoring.GroupFigures, group_figures: Sequence[str]
    ) -> GroupResult:
        return GroupResult(
            rater_group=group.key,
            evaluations=None,
            score=None,
            withheld=list(group_figures),
            dimensions=[
                DimensionResult(
                    dimension=dimension.dimension,
                    name=self._dimension_name(dimension.dimension),
                    answers=None,
                    not_applicable=None,
                    mean_points=None,
                    satisfaction_rate=None,
                    distribution=None,
                    withheld=list(DIMENSION_FIGURES),
                )
                for dimension in figures.dimensions
            ],
            items=[
                ItemResult(
                    item=item.item,
                    respondents=None,
                    not_applicable=None,
                    mean_points=None,
                    satisfaction_rate=None,
                    distribution=None,
                    withheld=list(ITEM_FIGURES),
                )
                for item in figures.items
            ],
        )

    def _score_withheld(self, figures: scoring.GroupFigures, *, items_hidden: bool) -> bool:
        """Whether a shown group's score is withheld.

        A score is withheld with any of its scored items' figures: when raters answer every
        scored item, the score is the mean of the item means, so it and the shown items would
        give a withheld item's mean (for a unanimous item, the level everyone chose). A group
        whose scores all agree is withheld whole before this (``tables.unanimous``).
        """
        return figures.scored_evaluations < self.threshold or items_hidden

    def _item(
        self,
        target: Target,
        group: RaterGroup,
        figures: scoring.ItemFigures,
        evaluations: int,
        names: dict[str, str],
    ) -> tuple[ItemResult, bool]:
        """The item's shown figures, and whether every one of its counts is shown."""
        level_keys = [
            answer_key(target.id, group.id, figures.item, level) for level in figures.distribution
        ]
        not_applicable_key = answer_key(target.id, group.id, figures.item, 0)
        answers_shown = all(self.suppression.shows(key) for key in level_keys)
        not_applicable_shown = self.suppression.shows(not_applicable_key)
        if not answers_shown:
            self._say(LINE_ANSWERS, names)
        if not not_applicable_shown:
            self._say(LINE_NOT_APPLICABLE, names)
        estimate = figures.estimate if answers_shown else NO_ESTIMATE
        result = ItemResult(
            item=figures.item,
            respondents=evaluations,
            not_applicable=figures.not_applicable if not_applicable_shown else None,
            mean_points=_points(estimate.mean),
            standard_deviation=_points(estimate.standard_deviation),
            ci_low=_points(estimate.interval[0] if estimate.interval else None),
            ci_high=_points(estimate.interval[1] if estimate.interval else None),
            satisfaction_rate=_rate(figures.satisfaction_rate if answers_shown else None),
            distribution=dict(figures.distribution) if answers_shown and figures.answered else None,
            withheld=[],
        )
        return _with_withheld(result, ITEM_FIGURES), answers_shown and not_applicable_shown

    def _dimension(
        self,
        figures: scoring.DimensionFigures,
        fully_shown: Mapping[str, bool],
        group_names: dict[str, str],
    ) -> DimensionResult:
        shown = all(fully_shown[item] for item in figures.items)
        name = self._dimension_name(figures.dimension)
        if not shown:
            self._say(LINE_GROUP_DIMENSION, {**group_names, "dimension": name})
        estimate = figures.estimate if shown else NO_ESTIMATE
        result = DimensionResult(
            dimension=figures.dimension,
            name=name,
            answers=figures.answered if shown else None,
            not_applicable=figures.not_applicable if shown else None,
            mean_points=_points(estimate.mean),
            standard_deviation=_points(estimate.standard_deviation),
            ci_low=_points(estimate.interval[0] if estimate.interval else None),
            ci_high=_points(estimate.interval[1] if estimate.interval else None),
            satisfaction_rate=_rate(figures.satisfaction_rate if shown else None),
            distribution=dict(figures.distribution) if shown and figures.answered else None,
            withheld=[],
        )
        return _with_withheld(result, DIMENSION_FIGURES)

    def _dimension_name(self, dimension: str) -> str:
        return self.questionnaire.dimension(dimension).name.get(self.locale)

    # Campaign-wide

    def _count(self, key: CellKey) -> int | None:
        return self.tables.values[key] if self.suppression.shows(key) else None

    def _points(self) -> dict[str, dict[int, float]]:
        """Points per level: per scale for the items that use the questionnaire's points,
        per item id for an item with points of its own."""
        points: dict[str, dict[int, float]] = {}
        for item in self.questionnaire.items:
            key = item.scale if item.points is None else item.id
            points[key] = dict(self.questionnaire.points_for(item))
        return points

    def _quality(self, counted: CampaignTally, *, total_shown: bool) -> QualitySummary:
        """Low-quality evaluations, always reported where disclosure control allows (a flag
        count below k, or one that leaves fewer than k without it, is withheld like any
        count). The number of evaluations stored goes with the campaign's count (and, where
        flagged ones are excluded from it, with the stored total's)."""
        quality = self.policy.quality
        if any(
            key in self.tables.values and not self.suppression.shows(key)
            for key in (FLAGGED_KEY, STRAIGHT_LINING_KEY, TOO_FAST_KEY)
        ):
            self._say(LINE_QUALITY, {})
        stored_shown = total_shown and (
            STORED_KEY not in self.tables.values or self.suppression.shows(STORED_KEY)
        )
        return QualitySummary(
            handling=quality.handling,
            down_weight=quality.down_weight if quality.handling == "down_weight" else None,
            straight_lining=self._flag_count(
                STRAIGHT_LINING_KEY, counted.flag_counts.get(STRAIGHT_LINING, 0)
            ),
            too_fast=self._flag_count(TOO_FAST_KEY, counted.flag_counts.get(TOO_FAST, 0)),
            flagged=self._flag_count(FLAGGED_KEY, counted.flagged),
            evaluations=counted.evaluations if stored_shown else None,
        )

    def _flag_count(self, key: CellKey, count: int) -> int | None:
        """A flag count as published: planned tables decide; tables without flag cells
        (a release made before they were) keep the count as counted."""
        if key in self.tables.values and not self.suppression.shows(key):
            return None
        return count

    # The plain-words list of withheld figures

    def _say(self, line: str, names: dict[str, str]) -> None:
        """Name a withheld figure, with one general reason for every figure.

        Which rule withheld it is not published: "fewer than k" next to one cell and "so that
        others cannot be worked out" next to another would themselves narrow the hidden counts
        (a withheld total beside a group said to be below k tells that group is 1 to k−1).
        """
        translate = translations_for(self.locale).gettext
        self.withheld_figures.append(
            translate(line) % {**names, "reason": translate(WITHHELD_REASON)}
        )


def _rank(targets: list[TargetResult]) -> None:
    """Rank within categories by the published composite (see :func:`scoring.rankings`)."""
    rankings = scoring.rankings([(target.category, target.composite_score) for target in targets])
    ranked_in: dict[str, int] = {}
    for target, ranking in zip(targets, rankings, strict=True):
        if ranking is not None:
            ranked_in[target.category] = ranking.ranked_in_category
    for target, ranking in zip(targets, rankings, strict=True):
        target.ranked_in_category = ranked_in.get(target.category, 0)
        if ranking is not None:
            target.rank = ranking.rank
            target.bottom = ranking.bottom
            target.withheld = [name for name in target.withheld if name != "rank"]


def _points(value: Fraction | Decimal | None) -> float | None:
    return None if value is None else half_up(value, POINTS_DECIMALS)


def _rate(value: Fraction | None) -> float | None:
    return None if value is None else half_up(value, RATE_DECIMALS)


Result = TypeVar("Result", ItemResult, DimensionResult, GroupResult, TargetResult, TargetDimension)


def _with_withheld(result: Result, figures: Sequence[str]) -> Result:
    """Name every null figure of ``figures`` in ``withheld``, in that order."""
    result.withheld = [name for name in figures if getattr(result, name) is None]
    return result
