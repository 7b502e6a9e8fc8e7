"""Results per target × rater group × item, with every figure below the threshold withheld.

Definitions (also in the README):
- an item's mean points and satisfaction rate use its answered responses; 不了解 is excluded;
- an evaluation's score is the mean points of its answered scored items; a group's score is
  the mean of its evaluations' scores;
- a target's composite is the weighted mean of its rater groups' scores as shown (rounded),
  over the groups whose score is shown, with the weights renormalised over those groups (a
  withheld group must not enter, or it could be recomputed from the composite and the others);
- figures are computed exactly (fractions), so row order cannot move them, and rounded half
  up (四舍五入) to two decimals, rates to four.
"""

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.ballots.models import Evaluation
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus, RaterGroup, Target
from app.errors import PingyiError
from app.i18n import N_, Locale
from app.results.schemas import (
    CampaignResults,
    GroupResult,
    ItemInfo,
    ItemResult,
    RaterGroupInfo,
    TargetResult,
)
from app.results.tally import AnswerRow, CellTally, ItemTally, tally
from app.surveys.schemas import SATISFIED_LEVEL_COUNT, Item, Questionnaire

POINTS_DECIMALS = 2
RATE_DECIMALS = 4


def half_up(value: Fraction, decimals: int) -> float:
    """Round an exact value half up (四舍五入), the rule official bulletins use."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return float(exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


RELEASABLE_STATUSES = (CampaignStatus.CLOSED, CampaignStatus.PUBLISHED)


class ResultsNotReleasable(PingyiError):
    status_code = 409
    code = "results_not_releasable"
    message = N_(
        "The results of “%(slug)s” can be seen once the campaign is closed. Figures that change "
        "while raters submit would let anyone compare them before and after one person rated."
    )


def check_releasable(campaign: Campaign) -> None:
    """Results leave the database only for a closed or published campaign (no differencing)."""
    if campaign.status not in RELEASABLE_STATUSES:
        raise ResultsNotReleasable(slug=campaign.slug)


def campaign_results(session: Session, campaign: Campaign, locale: Locale) -> CampaignResults:
    questionnaire = campaign_service.questionnaire_of(campaign)
    rows = session.execute(
        select(Evaluation.target_id, Evaluation.rater_group_id, Evaluation.answers, func.count())
        .where(Evaluation.campaign_id == campaign.id)
        .group_by(Evaluation.target_id, Evaluation.rater_group_id, Evaluation.answers)
    )
    answer_rows: list[AnswerRow] = [tuple(row) for row in rows]  # type: ignore[misc]
    cells = tally(questionnaire, answer_rows)
    return build_results(campaign, questionnaire, cells, locale)


def build_results(
    campaign: Campaign,
    questionnaire: Questionnaire,
    cells: dict[tuple[int, int], CellTally],
    locale: Locale,
) -> CampaignResults:
    threshold = campaign.disclosure_threshold
    return CampaignResults(
        campaign=campaign.slug,
        title=campaign.title_for(locale),
        status=campaign.status.value,
        disclosure_threshold=threshold,
        rater_groups=[
            RaterGroupInfo(key=group.key, name=group.name_for(locale), weight=group.weight)
            for group in campaign.rater_groups
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
        targets=[
            _target_result(target, campaign.rater_groups, questionnaire, cells, threshold, locale)
            for target in campaign.targets
        ],
    )


def _target_result(
    target: Target,
    groups: list[RaterGroup],
    questionnaire: Questionnaire,
    cells: dict[tuple[int, int], CellTally],
    threshold: int,
    locale: Locale,
) -> TargetResult:
    group_results = [
        _group_result(
            group, questionnaire, cells.get((target.id, group.id), CellTally()), threshold
        )
        for group in groups
    ]
    weighted = [
        (group.weight, result.score)
        for group, result in zip(groups, group_results, strict=True)
        if result.score is not None
    ]
    total_weight = sum(weight for weight, _ in weighted)
    composite = (
        half_up(
            sum((Fraction(weight) * Fraction(score) for weight, score in weighted), Fraction(0))
            / Fraction(total_weight),
            POINTS_DECIMALS,
        )
        if weighted
        else None
    )
    department = target.department
    return TargetResult(
        target=department.code,
        name=department.name_for(locale),
        category=department.category,
        composite_score=composite,
        composite_groups=[
            result.rater_group for result in group_results if result.score is not None
        ],
        withheld=[] if weighted else ["composite_score"],
        groups=group_results,
    )


def _group_result(
    group: RaterGroup, questionnaire: Questionnaire, cell: CellTally, threshold: int
) -> GroupResult:
    items = questionnaire.items_for(group.key)
    if cell.evaluations < threshold:
        return GroupResult(
            rater_group=group.key,
            evaluations=None,
            score=None,
            withheld=["evaluations", "score"],
            items=[_withheld_item(item) for item in items],
        )
    score_shown = cell.scored_evaluations >= threshold
    return GroupResult(
        rater_group=group.key,
        evaluations=cell.evaluations,
        score=half_up(cell.score_sum / cell.scored_evaluations, POINTS_DECIMALS)
        if score_shown
        else None,
        withheld=[] if score_shown else ["score"],
        items=[
            _item_result(item, questionnaire, cell.items.get(item.id, ItemTally()), threshold)
            for item in items
        ],
    )


def _withheld_item(item: Item) -> ItemResult:
    return ItemResult(
        item=item.id,
        respondents=None,
        not_applicable=None,
        mean_points=None,
        satisfaction_rate=None,
        distribution=None,
        withheld=[
            "respondents",
            "not_applicable",
            "mean_points",
            "satisfaction_rate",
            "distribution",
        ],
    )


def _item_result(
    item: Item, questionnaire: Questionnaire, item_tally: ItemTally, threshold: int
) -> ItemResult:
    answered = item_tally.answered
    if answered < threshold:
        return ItemResult(
            item=item.id,
            respondents=item_tally.respondents,
            not_applicable=item_tally.not_applicable,
            mean_points=None,
            satisfaction_rate=None,
            distribution=None,
            withheld=["mean_points", "satisfaction_rate", "distribution"],
        )
    points = questionnaire.points_for(item)
    levels = [level.value for level in item.levels]
    distribution = {level: item_tally.counts.get(level, 0) for level in levels}
    satisfied = sum(distribution[level] for level in levels[:SATISFIED_LEVEL_COUNT])
    mean = (
        sum((Fraction(points[level]) * count for level, count in distribution.items()), Fraction(0))
        / answered
    )
    return ItemResult(
        item=item.id,
        respondents=item_tally.respondents,
        not_applicable=item_tally.not_applicable,
        mean_points=half_up(mean, POINTS_DECIMALS),
        satisfaction_rate=half_up(Fraction(satisfied, answered), RATE_DECIMALS),
        distribution=distribution,
        withheld=[],
    )
