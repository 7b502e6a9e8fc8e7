"""问题清单: each department's problems, found in the campaign's *published* figures only.

The list is made from the :class:`CampaignResults` every page and export is made from, after
disclosure control: a withheld figure is ``None`` there and so can never put a line on the
list, and every figure compared is the published, rounded one (a mean published as 75.00 is
not below 75). What makes a line, with the campaign's thresholds (:class:`RectificationSettings`):

- an item whose published mean points are below ``item_mean_below``, or whose published
  satisfaction rate is below ``satisfaction_below``, for a rater group;
- an item whose 差评 share — answers in the scale's poor levels (the two lowest of five; the
  lowest of three) over all answers of its published distribution — is above
  ``poor_share_above``;
- 末位: last place in the department's category (the published ``bottom`` flag);
- each approved comment, as published.

A 差评 leads to a department-level line and task, never to anyone contacting a rater. Lines
are written in Chinese, the language of the office's documents; staff edit them freely.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.audit import service as audit_service
from app.campaigns.models import Campaign, CampaignStatus, Target
from app.comments import service as comments_service
from app.errors import InvalidInput, InvalidTransition, NotFound
from app.i18n import N_, Locale, translations_for
from app.rectification.models import ProblemItem, ProblemKind, RectificationSettings
from app.results import service as results_service
from app.results.schemas import CampaignResults, GroupResult, ItemInfo, ItemResult
from app.surveys.schemas import ScaleName

DEFAULT_ITEM_MEAN_BELOW = 75.0
DEFAULT_SATISFACTION_BELOW = 0.8
DEFAULT_POOR_SHARE_ABOVE = 0.2
DEFAULT_WORKING_DAYS = 20
POOR_LEVELS: dict[ScaleName, frozenset[int]] = {
    "five_level": frozenset({1, 2}),  # 不满意, 非常不满意
    "three_level": frozenset({1}),  # 不满意
}
DOCUMENT_LOCALE: Locale = "zh_CN"

ITEM_LINE = N_("%(group)s on “%(item)s”: %(reasons)s")
MEAN_BELOW = N_("mean points %(mean)s, below %(threshold)s")
RATE_BELOW = N_("satisfaction rate %(rate)s, below %(threshold)s")
POOR_ABOVE = N_("poor ratings %(share)s of answers, above %(threshold)s")
REASON_SEPARATOR = N_("; ")
BOTTOM_LINE = N_("Last place (末位) in the category “%(category)s”: rank %(rank)s of %(ranked)s.")
COMMENT_LINE = N_("Published comment: %(text)s")
NOT_PUBLISHED = N_("The problem list is made from published results: publish the campaign first.")
TEXT_REQUIRED = N_("Write the problem's text.")
ALREADY_ASSIGNED = N_("This problem is already part of a task and can no longer change.")


@dataclass(frozen=True)
class Finding:
    target: str  # the department's code
    kind: ProblemKind
    text: str


def _zh(message: str) -> str:
    return translations_for(DOCUMENT_LOCALE).gettext(message)


def percent(value: Fraction | float) -> str:
    exact = (
        Decimal(value.numerator) / Decimal(value.denominator)
        if isinstance(value, Fraction)
        else Decimal(str(value))
    )
    return f"{(exact * 100).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}%"


def poor_share(item: ItemResult, scale: ScaleName) -> Fraction | None:
    """The published distribution's share of answers in the scale's poor levels."""
    if item.distribution is None:
        return None
    answers = sum(item.distribution.values())
    if answers == 0:
        return None
    poor = sum(count for level, count in item.distribution.items() if level in POOR_LEVELS[scale])
    return Fraction(poor, answers)


def _item_reasons(item: ItemResult, scale: ScaleName, settings: RectificationSettings) -> list[str]:
    reasons = []
    if item.mean_points is not None and item.mean_points < settings.item_mean_below:
        reasons.append(
            _zh(MEAN_BELOW)
            % {"mean": f"{item.mean_points:.2f}", "threshold": f"{settings.item_mean_below:g}"}
        )
    if item.satisfaction_rate is not None and item.satisfaction_rate < settings.satisfaction_below:
        reasons.append(
            _zh(RATE_BELOW)
            % {
                "rate": percent(item.satisfaction_rate),
                "threshold": percent(settings.satisfaction_below),
            }
        )
    share = poor_share(item, scale)
    if share is not None and share > Fraction(str(settings.poor_share_above)):
        reasons.append(
            _zh(POOR_ABOVE)
            % {"share": percent(share), "threshold": percent(settings.poor_share_above)}
        )
    return reasons


def findings(
    results: CampaignResults,
    settings: RectificationSettings,
    comments: Mapping[str, Sequence[str]],
) -> list[Finding]:
    """Every line the published ``results`` and approved ``comments`` (by department code)
    give, in the results' department order."""
    group_names = {group.key: group.name for group in results.rater_groups}
    items = {item.id: item for item in results.items}
    found: list[Finding] = []
    for target in results.targets:
        if target.bottom and target.rank is not None:
            found.append(
                Finding(
                    target.target,
                    ProblemKind.BOTTOM,
                    _zh(BOTTOM_LINE)
                    % {
                        "category": target.category,
                        "rank": target.rank,
                        "ranked": target.ranked_in_category,
                    },
                )
            )
        for group in target.groups:
            found.extend(_group_findings(target.target, group, group_names, items, settings))
        for text in comments.get(target.target, ()):
            found.append(
                Finding(target.target, ProblemKind.COMMENT, _zh(COMMENT_LINE) % {"text": text})
            )
    return found


def _group_findings(
    target: str,
    group: GroupResult,
    group_names: Mapping[str, str],
    items: Mapping[str, ItemInfo],
    settings: RectificationSettings,
) -> list[Finding]:
    found = []
    for item in group.items:
        info = items.get(item.item)
        if info is None:
            continue
        reasons = _item_reasons(item, info.scale, settings)
        if reasons:
            text = _zh(ITEM_LINE) % {
                "group": group_names.get(group.rater_group, group.rater_group),
                "item": info.text,
                "reasons": _zh(REASON_SEPARATOR).join(reasons),
            }
            found.append(Finding(target, ProblemKind.ITEM, text))
    return found


# --- stored list ------------------------------------------------------------------------------


def settings_for(session: Session, campaign: Campaign) -> RectificationSettings:
    """The campaign's thresholds, made with the defaults the first time they are asked for."""
    settings = session.get(RectificationSettings, campaign.id)
    if settings is None:
        settings = RectificationSettings(
            campaign_id=campaign.id,
            item_mean_below=DEFAULT_ITEM_MEAN_BELOW,
            satisfaction_below=DEFAULT_SATISFACTION_BELOW,
            poor_share_above=DEFAULT_POOR_SHARE_ABOVE,
            working_days=DEFAULT_WORKING_DAYS,
        )
        session.add(settings)
        session.flush()
    return settings


def update_settings(
    session: Session,
    campaign: Campaign,
    *,
    item_mean_below: float,
    satisfaction_below: float,
    poor_share_above: float,
    working_days: int,
    actor: str,
) -> RectificationSettings:
    if not 0 <= item_mean_below <= 100:
        raise InvalidInput(N_("A mean threshold lies between 0 and 100."), field="item_mean_below")
    for name, share in (
        ("satisfaction_below", satisfaction_below),
        ("poor_share_above", poor_share_above),
    ):
        if not 0 <= share <= 1:
            raise InvalidInput(N_("A share lies between 0 and 1."), field=name)
    if not 1 <= working_days <= 250:
        raise InvalidInput(
            N_("A deadline must be between 1 and %(maximum)s working days."),
            field="working_days",
            maximum=250,
        )
    settings = settings_for(session, campaign)
    settings.item_mean_below = item_mean_below
    settings.satisfaction_below = satisfaction_below
    settings.poor_share_above = poor_share_above
    settings.working_days = working_days
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="rectification_settings",
        object=f"campaign:{campaign.slug}",
        detail={
            "item_mean_below": item_mean_below,
            "satisfaction_below": satisfaction_below,
            "poor_share_above": poor_share_above,
            "working_days": working_days,
        },
    )
    return settings


def check_published(campaign: Campaign) -> None:
    if campaign.status != CampaignStatus.PUBLISHED:
        raise InvalidTransition(NOT_PUBLISHED)


def generate(session: Session, campaign: Campaign, *, actor: str) -> int:
    """(Re)make the campaign's list from its published results: lines not yet part of a task
    and not added by hand are replaced; a finding already assigned is not added again.
    Returns the number of lines added."""
    check_published(campaign)
    settings = settings_for(session, campaign)
    results = results_service.campaign_results(session, campaign, DOCUMENT_LOCALE)
    comments = {
        target.department.code: comments_service.published_comments(session, campaign, target)
        for target in campaign.targets
    }
    session.execute(
        delete(ProblemItem).where(
            ProblemItem.campaign_id == campaign.id,
            ProblemItem.task_id.is_(None),
            ProblemItem.kind != ProblemKind.MANUAL,
        )
    )
    targets = {target.department.code: target for target in campaign.targets}
    kept = {(item.target_id, item.text) for item in problems_of(session, campaign)}
    added = 0
    for finding in findings(results, settings, comments):
        target = targets[finding.target]
        if (target.id, finding.text) in kept:
            continue
        session.add(
            ProblemItem(
                campaign_id=campaign.id, target_id=target.id, kind=finding.kind, text=finding.text
            )
        )
        added += 1
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="rectification_problems_generate",
        object=f"campaign:{campaign.slug}",
        detail={"added": added},
    )
    return added


def problems_of(session: Session, campaign: Campaign) -> Sequence[ProblemItem]:
    return session.scalars(
        select(ProblemItem)
        .where(ProblemItem.campaign_id == campaign.id)
        .order_by(ProblemItem.target_id, ProblemItem.id)
    ).all()


def get_problem(session: Session, campaign: Campaign, problem_id: int) -> ProblemItem:
    problem = session.get(ProblemItem, problem_id)
    if problem is None or problem.campaign_id != campaign.id:
        raise NotFound(name=str(problem_id))
    return problem


def _clean_text(text: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise InvalidInput(TEXT_REQUIRED, field="text")
    return cleaned


def add_problem(
    session: Session, campaign: Campaign, target: Target, text: str, *, actor: str
) -> ProblemItem:
    check_published(campaign)
    problem = ProblemItem(
        campaign_id=campaign.id,
        target_id=target.id,
        kind=ProblemKind.MANUAL,
        text=_clean_text(text),
    )
    session.add(problem)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="rectification_problem_add",
        object=f"problem:{problem.id}",
        detail={"campaign": campaign.slug, "department": target.department.code},
    )
    return problem


def edit_problem(session: Session, problem: ProblemItem, text: str, *, actor: str) -> None:
    if problem.task_id is not None:
        raise InvalidTransition(ALREADY_ASSIGNED)
    problem.text = _clean_text(text)
    session.flush()
    audit_service.record(
        session, actor=actor, action="rectification_problem_edit", object=f"problem:{problem.id}"
    )


def remove_problem(session: Session, problem: ProblemItem, *, actor: str) -> None:
    if problem.task_id is not None:
        raise InvalidTransition(ALREADY_ASSIGNED)
    problem_id = problem.id
    session.delete(problem)
    session.flush()
    audit_service.record(
        session, actor=actor, action="rectification_problem_remove", object=f"problem:{problem_id}"
    )
