"""Mystery inspections as a scored channel beside the ratings (暗访 in the overall score).

When a campaign's policy gives inspections a weight w (``policy.inspection.weight``, e.g. 0.2),
each department gets an **overall score**

    overall = (1 − w) × published composite + w × inspection score,

rounded half up (四舍五入) once to two decimals, graded by the campaign's grade bands and
ranked within its category like the composite. The rating part is the *published* composite
(two decimals), so anyone can redo the sum from the figures on the public page; the
inspection score has at most two decimals, so nothing else is rounded on the way.

The inspection score is the office's entered score (``source: entered``; none entered, no
overall score) or, with ``source: findings``, 100 minus ``deduction_per_finding`` for every
finding recorded against the department within the campaign's dates, never below 0.

A department whose composite is withheld gets no overall score: the overall score and the
inspection score together would give the withheld composite back. The inspection channel is
not a count of raters, so it does not enter disclosure control's count tables; it changes
nothing in :class:`app.results.schemas.CampaignResults`, whose composite, grade and rank stay
the ratings' own.
"""

from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction

from sqlalchemy.orm import Session

from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign
from app.campaigns.policy import InspectionChannel, ResultsPolicy
from app.i18n import current_locale
from app.inspections import service as inspection_service
from app.results import scoring
from app.results.schemas import CampaignResults
from app.results.statistics import half_up
from app.results.tally import exact


@dataclass(frozen=True)
class OverallScore:
    department_code: str
    name: str
    category: str
    rating_composite: float | None  # as published; None where withheld
    inspection_score: float | None  # None: none entered
    findings: int | None  # with ``source: findings``, the findings counted
    overall: float | None
    grade: str | None = None
    rank: int | None = None
    ranked_in_category: int | None = None


@dataclass(frozen=True)
class ChannelResults:
    weight: float
    source: str
    deduction_per_finding: float
    scores: list[OverallScore]

    def for_department(self, code: str) -> OverallScore | None:
        return next((score for score in self.scores if score.department_code == code), None)


def combine(composite: float, inspection: Fraction, weight: Fraction) -> Fraction:
    """The exact overall score from the published composite and the inspection score."""
    rating = Fraction(Decimal(repr(composite)))
    return (1 - weight) * rating + weight * inspection


def channel_results(
    session: Session, campaign: Campaign, results: CampaignResults
) -> ChannelResults | None:
    """The overall scores of the campaign's departments, or ``None`` when its policy gives
    inspections no weight. ``results`` is the campaign's published :class:`CampaignResults`."""
    policy: ResultsPolicy = campaign_service.policy_of(campaign)
    setting: InspectionChannel = policy.inspection
    if setting.weight <= 0:
        return None
    weight = exact(setting.weight)
    department_ids = {target.department.code: target.department_id for target in campaign.targets}
    entered = inspection_service.entered_scores(session, campaign)
    derived = (
        inspection_service.derived_scores(session, campaign, exact(setting.deduction_per_finding))
        if setting.source == "findings"
        else {}
    )
    unranked: list[OverallScore] = []
    for target in results.targets:
        department_id = department_ids[target.target]
        findings: int | None = None
        inspection: Fraction | None
        if setting.source == "findings":
            derived_score = derived[department_id]
            inspection, findings = derived_score.score, derived_score.findings
        else:
            inspection = entered.get(department_id)
        overall = (
            None
            if target.composite_score is None or inspection is None
            else half_up(combine(target.composite_score, inspection, weight), 2)
        )
        unranked.append(
            OverallScore(
                department_code=target.target,
                name=target.name,
                category=target.category,
                rating_composite=target.composite_score,
                inspection_score=None if inspection is None else half_up(inspection, 2),
                findings=findings,
                overall=overall,
                grade=None
                if overall is None
                else scoring.grade(overall, policy.grades).name.get(current_locale()),
            )
        )
    rankings = scoring.rankings([(score.category, score.overall) for score in unranked])
    ranked_in: dict[str, int] = {
        score.category: ranking.ranked_in_category
        for score, ranking in zip(unranked, rankings, strict=True)
        if ranking is not None
    }
    scores = [
        replace(
            score,
            rank=None if ranking is None else ranking.rank,
            ranked_in_category=ranked_in.get(score.category, 0),
        )
        for score, ranking in zip(unranked, rankings, strict=True)
    ]
    return ChannelResults(
        weight=setting.weight,
        source=setting.source,
        deduction_per_finding=setting.deduction_per_finding,
        scores=scores,
    )
