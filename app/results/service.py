"""A campaign's results: counted, scored, put under disclosure control, laid out.

The pipeline: count the stored evaluations with their quality flags (``tally``); compute
every figure exactly under the campaign's quality policy (``scoring``); lay out the counts that
would be published, counted rather than weighted (``tables``); let disclosure control choose
which to withhold (``disclosure``); and build one :class:`CampaignResults` with every figure
resting on a withheld count null and named (``layout``). Every page and export is made from it.
A published campaign whose policy asks for a differentially private release has every figure
computed instead from the noisy counts drawn once at publication (``privacy``).
Definitions are in :mod:`app.results.scoring`; how suppression reaches figures, in
:mod:`app.results.layout`.
"""

from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.ballot_box.models import TallyKey
from app.ballots.models import Evaluation
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus
from app.campaigns.policy import ResultsPolicy
from app.errors import PingyiError
from app.i18n import N_, Locale
from app.results import disclosure, layout, privacy, publication, scoring
from app.results.schemas import BallotBoxInfo, CampaignResults
from app.results.statistics import half_up
from app.results.tables import (
    CountTables,
    Surroundings,
    add_surroundings,
    build_count_tables,
    group_key,
)
from app.results.tally import (
    CampaignTally,
    CellTally,
    exact,
    tally_concatenated,
)
from app.surveys.schemas import Questionnaire

__all__ = [
    "ResultsNotReleasable",
    "SuppressionPlanner",
    "build_results",
    "campaign_results",
    "campaign_tally",
    "check_releasable",
    "count_tables",
    "fix_private_release",
    "half_up",
    "score_cells",
]


class SuppressionPlanner(Protocol):
    """What :func:`app.results.disclosure.plan_suppression` looks like."""

    def __call__(
        self, tables: CountTables, *, threshold: int, width: float
    ) -> disclosure.Suppression: ...


RELEASABLE_STATUSES = (CampaignStatus.TALLIED, CampaignStatus.PUBLISHED)


class ResultsNotReleasable(PingyiError):
    status_code = 409
    code = "results_not_releasable"
    message = N_(
        "The results of “%(slug)s” can be seen once the campaign is closed and its ballot box "
        "has been opened by its trustees and counted. Until then no ballot can be read."
    )


def check_releasable(campaign: Campaign) -> None:
    """Results leave the database only once the ballot box is counted (tallied or published),
    never while raters can submit (no differencing)."""
    if campaign.status not in RELEASABLE_STATUSES:
        raise ResultsNotReleasable(slug=campaign.slug)


def campaign_results(session: Session, campaign: Campaign, locale: Locale) -> CampaignResults:
    """The campaign's results, planned together with every other figure any audience sees
    (``app.results.publication``)."""
    questionnaire = campaign_service.questionnaire_of(campaign)
    policy = campaign_service.policy_of(campaign)
    counted = campaign_tally(session, campaign, questionnaire)
    results = build_results(
        campaign,
        questionnaire,
        policy,
        counted,
        locale,
        around=publication.surroundings(session, campaign, counted, policy),
    )
    return results.model_copy(update={"ballot_box": ballot_box_info(session, campaign)})


def ballot_box_info(session: Session, campaign: Campaign) -> BallotBoxInfo:
    key = session.get(TallyKey, campaign.id)
    if key is None:
        return BallotBoxInfo(sealed=False)
    return BallotBoxInfo(
        sealed=True,
        sealed_from=key.applied_on,
        trustees=key.share_count,
        threshold=key.threshold,
    )


def fix_private_release(
    session: Session, campaign: Campaign, sampler: privacy.Sampler = privacy.opendp_sampler
) -> None:
    """Draw and store the campaign's differentially private release, once, if its policy asks
    for one; the publish transition calls this. A stored release is never drawn again."""
    policy = campaign_service.policy_of(campaign)
    if not policy.privacy.enabled or privacy.stored_release(campaign) is not None:
        return
    check_releasable(campaign)
    questionnaire = campaign_service.questionnaire_of(campaign)
    counted = campaign_tally(session, campaign, questionnaire)
    figures = score_cells(campaign, questionnaire, policy, counted)
    tables = count_tables(
        campaign,
        questionnaire,
        figures,
        publication.surroundings(session, campaign, counted, policy),
    )
    threshold = campaign.disclosure_threshold
    suppression = disclosure.plan_suppression(
        tables, threshold=threshold, width=policy.width_for(threshold)
    )
    release = privacy.draw_release(
        campaign, questionnaire, policy, counted, tables, suppression, sampler
    )
    privacy.store_release(campaign, release)
    session.flush()


def campaign_tally(
    session: Session, campaign: Campaign, questionnaire: Questionnaire
) -> CampaignTally:
    """Count the campaign's evaluations: one row per target × rater group × quality flags.

    The database concatenates each such row's answers strings (all of one width, one
    character per item) and :func:`app.results.tally.tally_concatenated` counts them with
    numpy; grouping by the answers strings themselves would return nearly every evaluation as
    its own row. PostgreSQL's ``text`` holds up to 1 GB and SQLite's strings up to 10⁹ bytes,
    that is millions of evaluations of one target and group. Rows are streamed and counted in
    batches, so memory stays small.
    """
    rows = session.execute(
        select(
            Evaluation.target_id,
            Evaluation.rater_group_id,
            Evaluation.quality_flags,
            func.count(),
            func.aggregate_strings(Evaluation.answers, ""),
        )
        .where(Evaluation.campaign_id == campaign.id)
        .group_by(Evaluation.target_id, Evaluation.rater_group_id, Evaluation.quality_flags)
        .execution_options(yield_per=ROWS_PER_FETCH)  # a server-side cursor on PostgreSQL
    )
    concatenated = ((row[0], row[1], row[2], row[3], row[4]) for row in rows)
    return tally_concatenated(questionnaire, concatenated)


ROWS_PER_FETCH = 16  # rows of concatenated answers: each holds up to a cell's evaluations


def build_results(
    campaign: Campaign,
    questionnaire: Questionnaire,
    policy: ResultsPolicy,
    counted: CampaignTally,
    locale: Locale,
    plan: SuppressionPlanner = disclosure.plan_suppression,
    around: Surroundings | None = None,
) -> CampaignResults:
    """Score the tallied evaluations, plan suppression with ``plan`` over the results and
    ``around`` them (what else the audience sees), lay out the results."""
    figures = score_cells(campaign, questionnaire, policy, counted)
    tables = count_tables(campaign, questionnaire, figures, around)
    threshold = campaign.disclosure_threshold
    suppression = plan(tables, threshold=threshold, width=policy.width_for(threshold))
    if policy.privacy.enabled and campaign.status == CampaignStatus.PUBLISHED:
        return privacy.private_results(
            campaign, questionnaire, policy, counted, figures, tables, suppression, locale
        )
    return layout.lay_out(
        campaign, questionnaire, policy, counted, figures, tables, suppression, locale
    )


def score_cells(
    campaign: Campaign, questionnaire: Questionnaire, policy: ResultsPolicy, counted: CampaignTally
) -> dict[tuple[int, int], scoring.GroupFigures]:
    """Every target × rater group's exact figures, under the campaign's quality policy."""
    weighting = scoring.Weighting.of(policy.quality)
    trim_share = exact(policy.trim_share)
    return {
        (target.id, group.id): scoring.group_figures(
            questionnaire,
            group.key,
            counted.cells.get((target.id, group.id), CellTally()),
            weighting,
            trim_share,
        )
        for target in campaign.targets
        for group in campaign.rater_groups
    }


def count_tables(
    campaign: Campaign,
    questionnaire: Questionnaire,
    figures: layout.Cells,
    around: Surroundings | None = None,
) -> CountTables:
    """The counts the results would publish (evaluations counted, not weighted), the groups
    too unanimous to show, and ``around`` them what else the audience sees."""
    answers: dict[tuple[int, int, str], dict[int, int]] = {}
    for (target_id, group_id), cell in figures.items():
        for item in cell.items:
            answers[(target_id, group_id, item.item)] = {
                **item.distribution,
                0: item.not_applicable,
            }
    tables = build_count_tables(
        targets=[target.id for target in campaign.targets],
        groups=[group.id for group in campaign.rater_groups],
        items_by_group={
            group.id: [
                (item.id, [level.value for level in item.levels])
                for item in questionnaire.items_for(group.key)
            ]
            for group in campaign.rater_groups
        },
        answers=answers,
        evaluations={key: cell.evaluations for key, cell in figures.items()},
    )
    threshold = campaign.disclosure_threshold
    tables.unanimous = {
        group_key(target_id, group_id)
        for (target_id, group_id), cell in figures.items()
        if cell.unanimous and threshold <= cell.scored_evaluations < 2 * threshold
    }
    if around is not None:
        add_surroundings(
            tables,
            around,
            [target.id for target in campaign.targets],
            [group.id for group in campaign.rater_groups],
        )
    return tables
