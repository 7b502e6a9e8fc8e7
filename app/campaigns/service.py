"""Campaigns: creation from a spec, editing a draft, lifecycle, and their frozen questionnaire."""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import text_rules
from app.admission import models as admission_models
from app.campaigns.models import Campaign, CampaignStatus, RaterGroup, Target
from app.campaigns.policy import ResultsPolicy
from app.campaigns.schemas import CampaignSpec, TargetCategories
from app.departments.models import Department
from app.errors import InvalidInput, InvalidTransition, NotFound
from app.i18n import N_, gettext
from app.surveys import service as survey_service
from app.surveys.schemas import Questionnaire, RaterGroupDefinition

RESERVED_SLUGS = frozenset({"new"})  # /admin/campaigns/new is the creation form
TITLE_MAX_LENGTH = 200  # the title columns' length; the spec's LocalizedText allows more
TITLE_NAMES = {  # how a message names each title (app.text_rules)
    "title_zh": N_("The campaign's Chinese title"),
    "title_en": N_("The campaign's English title"),
}

STATUS_NAMES = {
    CampaignStatus.DRAFT: N_("a draft"),
    CampaignStatus.OPEN: N_("open"),
    CampaignStatus.CLOSED: N_("closed"),
    CampaignStatus.TALLIED: N_("tallied"),
    CampaignStatus.PUBLISHED: N_("published"),
}

# action: (the status it requires, the status it leads to, the refusal message)
TRANSITIONS: dict[str, tuple[CampaignStatus, CampaignStatus, str]] = {
    "open": (
        CampaignStatus.DRAFT,
        CampaignStatus.OPEN,
        N_("Campaign “%(slug)s” cannot be opened: it is %(status)s. Only a draft can be opened."),
    ),
    "close": (
        CampaignStatus.OPEN,
        CampaignStatus.CLOSED,
        N_(
            "Campaign “%(slug)s” cannot be closed: it is %(status)s. "
            "Only an open campaign can be closed."
        ),
    ),
    "tally": (
        CampaignStatus.CLOSED,
        CampaignStatus.TALLIED,
        N_(
            "The ballot box of “%(slug)s” cannot be opened: the campaign is %(status)s. "
            "Only a closed campaign's box can be opened, once."
        ),
    ),
    "publish": (
        CampaignStatus.TALLIED,
        CampaignStatus.PUBLISHED,
        N_(
            "Campaign “%(slug)s” cannot be published: it is %(status)s. "
            "Only a campaign whose ballot box has been counted can be published."
        ),
    ),
}


class TransitionRefused(InvalidTransition):
    """Names the current status in the reader's language."""

    def translated(self) -> str:
        status_name = self.params["status"]
        return gettext(self.message_id) % {
            "slug": self.params["slug"],
            "status": gettext(status_name),
        }


def get_campaign(session: Session, slug: str) -> Campaign:
    campaign = session.scalar(select(Campaign).where(Campaign.slug == slug))
    if campaign is None:
        raise NotFound(name=slug)
    return campaign


def list_campaigns(session: Session) -> Sequence[Campaign]:
    return session.scalars(select(Campaign).order_by(Campaign.created_at.desc())).all()


def rater_group(campaign: Campaign, key: str) -> RaterGroup:
    """The campaign's rater group ``key``; :class:`InvalidInput` (field ``group``) if none."""
    for group in campaign.rater_groups:
        if group.key == key:
            return group
    raise InvalidInput(
        N_("Campaign “%(slug)s” has no rater group “%(key)s”."),
        field="group",
        slug=campaign.slug,
        key=key,
    )


def questionnaire_of(campaign: Campaign) -> Questionnaire:
    return Questionnaire.model_validate(campaign.questionnaire)


# Beside the results policy in ``Campaign.policy``: the noisy counts of a differentially
# private release, drawn once at publication (app.results.privacy). Not part of the policy.
PRIVATE_RELEASE_KEY = "private_release"


def policy_of(campaign: Campaign) -> ResultsPolicy:
    stored = campaign.policy or {}
    return ResultsPolicy.model_validate(
        {key: value for key, value in stored.items() if key != PRIVATE_RELEASE_KEY}
    )


def set_policy(session: Session, campaign: Campaign, policy: ResultsPolicy) -> dict[str, Any]:
    """Change how results are computed and released, until they are published."""
    if campaign.status == CampaignStatus.PUBLISHED:
        raise InvalidInput(
            N_("The results of a published campaign can no longer be computed differently."),
            field="policy",
        )
    before = policy_of(campaign).model_dump(mode="json")
    after = policy.model_dump(mode="json")
    campaign.policy = after
    session.flush()
    return {key: after[key] for key in after if after[key] != before.get(key)}


def create_campaign(
    session: Session,
    spec: CampaignSpec,
    questionnaire: Questionnaire,
    *,
    default_threshold: int,
) -> Campaign:
    if spec.slug in RESERVED_SLUGS:
        raise InvalidInput(
            N_("“%(slug)s” cannot be a campaign's slug: the console uses that address."),
            field="slug",
            slug=spec.slug,
        )
    _check_titles(spec)
    survey_service.check_texts(questionnaire, questionnaire.id)  # rater group names among them
    if session.scalar(select(Campaign.id).where(Campaign.slug == spec.slug)) is not None:
        raise InvalidInput(
            N_("A campaign with the slug “%(slug)s” already exists."), field="slug", slug=spec.slug
        )
    declared = _declared_groups(spec, questionnaire)
    if spec.short_form is not None:
        questionnaire = with_short_form(questionnaire, spec.short_form, spec)
    departments = _select_targets(session, spec.targets)

    campaign = Campaign(
        slug=spec.slug,
        title_zh=spec.title.zh,
        title_en=spec.title.en,
        status=CampaignStatus.DRAFT,
        disclosure_threshold=spec.disclosure_threshold or default_threshold,
        questionnaire=questionnaire.model_dump(mode="json"),
        policy=spec.policy.model_dump(mode="json"),
        starts_on=spec.starts_on,
        ends_on=spec.ends_on,
        series=spec.series,
    )
    campaign.rater_groups = [
        RaterGroup(
            position=position,
            key=group_spec.key,
            name_zh=declared[group_spec.key].name.zh,
            name_en=declared[group_spec.key].name.en,
            weight=group_spec.weight,
        )
        for position, group_spec in enumerate(spec.rater_groups)
    ]
    campaign.targets = [
        Target(department=department, position=position)
        for position, department in enumerate(departments)
    ]
    session.add(campaign)
    session.flush()
    return campaign


def with_short_form(
    questionnaire: Questionnaire, short_form: dict[str, list[str]], spec: CampaignSpec
) -> Questionnaire:
    """The questionnaire to freeze, with the spec's short form per rater group (it replaces
    any the template declares). Each group must be one of the campaign's, each item one that
    group sees."""
    campaign_groups = {group.key for group in spec.rater_groups}
    for group in short_form:
        if group not in campaign_groups:
            raise InvalidInput(
                N_("The short form names rater group “%(key)s”, which the campaign does not have."),
                field="short_form",
                key=group,
            )
    data = questionnaire.model_dump(mode="json")
    data["short_form"] = {**(questionnaire.short_form or {}), **short_form}
    try:
        return Questionnaire.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(
            N_("The short form cannot be used: %(problem)s"),
            field="short_form",
            problem="; ".join(str(detail["msg"]) for detail in error.errors()),
        ) from None


def _check_titles(spec: CampaignSpec) -> None:
    for field, title in (("title_zh", spec.title.zh), ("title_en", spec.title.en)):
        if len(title) > TITLE_MAX_LENGTH:
            raise InvalidInput(
                N_("A campaign's title has at most %(maximum)s characters."),
                field=field,
                maximum=TITLE_MAX_LENGTH,
            )
        text_rules.check_staff_text(title, field=field, what=TITLE_NAMES[field])


def _declared_groups(
    spec: CampaignSpec, questionnaire: Questionnaire
) -> dict[str, RaterGroupDefinition]:
    """The questionnaire's rater groups by key, refusing a spec group it does not declare."""
    declared = {group.key: group for group in questionnaire.rater_groups}
    for index, group_spec in enumerate(spec.rater_groups):
        if group_spec.key not in declared:
            raise InvalidInput(
                N_("Rater group “%(key)s” is not declared by questionnaire “%(questionnaire)s”."),
                field=f"rater_groups[{index}].key",
                key=group_spec.key,
                questionnaire=questionnaire.id,
            )
    return declared


def _select_targets(
    session: Session, selection: str | list[str] | TargetCategories
) -> list[Department]:
    query = select(Department).order_by(Department.id)  # the order they were imported in
    if isinstance(selection, TargetCategories):
        departments = list(
            session.scalars(query.where(Department.category.in_(selection.categories)))
        )
        missing = set(selection.categories) - {department.category for department in departments}
        if missing:
            raise InvalidInput(
                N_("No department is in the category “%(category)s”."),
                field="targets.categories",
                category="”, “".join(sorted(missing)),
            )
        return departments
    if isinstance(selection, list):
        found = {d.code: d for d in session.scalars(query.where(Department.code.in_(selection)))}
        missing_codes = [code for code in selection if code not in found]
        if missing_codes:
            raise InvalidInput(
                N_("Unknown department code(s): %(codes)s."),
                field="targets",
                codes=", ".join(missing_codes),
            )
        if len(set(selection)) != len(selection):
            raise InvalidInput(N_("A department is listed twice in targets."), field="targets")
        return [found[code] for code in selection]
    departments = list(session.scalars(query))
    if not departments:
        raise InvalidInput(
            N_("There are no departments yet: import them before creating a campaign."),
            field="targets",
        )
    return departments


def transition_refusal(campaign: Campaign, action: str) -> TransitionRefused | None:
    """Why ``action`` is not possible in the campaign's current status, or None if it is."""
    required, _, refusal = TRANSITIONS[action]
    if campaign.status != required:
        return TransitionRefused(refusal, slug=campaign.slug, status=STATUS_NAMES[campaign.status])
    return None


@dataclass(frozen=True)
class CampaignOverview:
    """A campaign with the sizes the console's list shows."""

    campaign: Campaign
    target_count: int
    rater_group_count: int


def campaign_overviews(session: Session) -> list[CampaignOverview]:
    """Every campaign, newest first, with its number of targets and of rater groups."""
    target_counts: dict[int, int] = {
        campaign_id: count
        for campaign_id, count in session.execute(
            select(Target.campaign_id, func.count()).group_by(Target.campaign_id)
        )
    }
    group_counts: dict[int, int] = {
        campaign_id: count
        for campaign_id, count in session.execute(
            select(RaterGroup.campaign_id, func.count()).group_by(RaterGroup.campaign_id)
        )
    }
    return [
        CampaignOverview(
            campaign=campaign,
            target_count=target_counts.get(campaign.id, 0),
            rater_group_count=group_counts.get(campaign.id, 0),
        )
        for campaign in list_campaigns(session)
    ]


def anonymity_locked(session: Session, campaign: Campaign) -> bool:
    """Whether any code batch (revoked ones included) or roster member exists for the campaign.

    From then on the disclosure threshold, the rater groups and the targets may not change
    (privacy rule 8): raters were admitted under them, and narrowing who is counted
    afterwards could single them out.
    """
    from app.credentials.models import RosterMember  # credentials import campaigns

    batch = admission_models.CodeBatch
    return any(
        session.scalar(select(column).where(owner == campaign.id).limit(1)) is not None
        for column, owner in (
            (batch.id, batch.campaign_id),
            (RosterMember.id, RosterMember.campaign_id),
        )
    )


NOT_A_DRAFT = N_(
    "Campaign “%(slug)s” cannot be edited: it is %(status)s. Only a draft can be edited."
)
LOCKED_MESSAGES = {
    "disclosure_threshold": N_(
        "The disclosure threshold cannot be changed: codes or roster passwords have already been "
        "issued for this campaign."
    ),
    "rater_groups": N_(
        "The rater groups cannot be changed: codes or roster passwords have already been issued "
        "for this campaign."
    ),
    "targets": N_(
        "The departments rated cannot be changed: codes or roster passwords have already been "
        "issued for this campaign."
    ),
}


def check_editable(campaign: Campaign) -> None:
    if campaign.status != CampaignStatus.DRAFT:
        raise TransitionRefused(
            NOT_A_DRAFT, slug=campaign.slug, status=STATUS_NAMES[campaign.status]
        )


def update_campaign(session: Session, campaign: Campaign, spec: CampaignSpec) -> dict[str, Any]:
    """Apply an edited spec to a draft campaign; returns what changed, for the audit trail.

    Title, dates and rater group weights may change while the campaign is a draft. The
    anonymity settings (disclosure threshold, which rater groups, which targets) may change
    only until the first code is issued: afterwards a spec that would change them is refused
    as a whole. ``spec.disclosure_threshold`` None keeps the current threshold. The slug and
    the questionnaire never change.
    """
    # On PostgreSQL, issuing a batch takes a key-share lock on the campaign row; this waits
    # for any such transaction, so the check below sees its batch.
    session.execute(select(Campaign.id).where(Campaign.id == campaign.id).with_for_update())
    check_editable(campaign)
    questionnaire = questionnaire_of(campaign)
    if spec.slug != campaign.slug:
        raise InvalidInput(N_("The slug of a campaign cannot be changed."), field="slug")
    if spec.questionnaire != questionnaire.id:
        raise InvalidInput(
            N_("The questionnaire of a campaign cannot be changed."), field="questionnaire"
        )
    _check_titles(spec)
    declared = _declared_groups(spec, questionnaire)
    if spec.short_form is not None:
        questionnaire = with_short_form(questionnaire, spec.short_form, spec)
    departments = _select_targets(session, spec.targets)
    threshold = (
        campaign.disclosure_threshold
        if spec.disclosure_threshold is None
        else spec.disclosure_threshold
    )

    current_keys = [group.key for group in campaign.rater_groups]
    new_keys = [group.key for group in spec.rater_groups]
    current_codes = {target.department.code for target in campaign.targets}
    new_codes = {department.code for department in departments}
    anonymity_changes = {
        "disclosure_threshold": threshold != campaign.disclosure_threshold,
        "rater_groups": set(new_keys) != set(current_keys),
        "targets": new_codes != current_codes,
    }
    if any(anonymity_changes.values()) and anonymity_locked(session, campaign):
        field = next(name for name, changed in anonymity_changes.items() if changed)
        raise InvalidInput(LOCKED_MESSAGES[field], field=field)

    changes: dict[str, Any] = {}
    for name, value in (
        ("title_zh", spec.title.zh),
        ("title_en", spec.title.en),
        ("starts_on", spec.starts_on),
        ("ends_on", spec.ends_on),
        ("series", spec.series),
        ("disclosure_threshold", threshold),
    ):
        old = getattr(campaign, name)
        if old != value:
            changes[name] = {"from": _json_value(old), "to": _json_value(value)}
            setattr(campaign, name, value)
    changes.update(_update_rater_groups(session, campaign, spec, declared))
    changes.update(_update_targets(session, campaign, departments))
    session.flush()
    return changes


def _json_value(value: object) -> object:
    return value.isoformat() if isinstance(value, dt.date) else value


def _update_rater_groups(
    session: Session,
    campaign: Campaign,
    spec: CampaignSpec,
    declared: dict[str, RaterGroupDefinition],
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    existing = {group.key: group for group in campaign.rater_groups}
    wanted = {group_spec.key for group_spec in spec.rater_groups}
    removed = [key for key in existing if key not in wanted]
    added = [group_spec.key for group_spec in spec.rater_groups if group_spec.key not in existing]
    weights: dict[str, Any] = {}
    groups: list[RaterGroup] = []
    for position, group_spec in enumerate(spec.rater_groups):
        group = existing.get(group_spec.key)
        if group is None:
            definition = declared[group_spec.key]
            group = RaterGroup(
                key=group_spec.key,
                name_zh=definition.name.zh,
                name_en=definition.name.en,
                weight=group_spec.weight,
                position=position,
            )
        elif group.weight != group_spec.weight:
            weights[group.key] = {"from": group.weight, "to": group_spec.weight}
            group.weight = group_spec.weight
        group.position = position
        groups.append(group)
    for key in removed:
        session.delete(existing[key])
    campaign.rater_groups = groups
    if added:
        changes["rater_groups_added"] = added
    if removed:
        changes["rater_groups_removed"] = removed
    if weights:
        changes["weights"] = weights
    return changes


def _update_targets(
    session: Session, campaign: Campaign, departments: list[Department]
) -> dict[str, Any]:
    existing = {target.department_id: target for target in campaign.targets}
    wanted = {department.id for department in departments}
    if wanted == set(existing):
        return {}
    removed = [target for department_id, target in existing.items() if department_id not in wanted]
    targets: list[Target] = []
    for position, department in enumerate(departments):
        target = existing.get(department.id) or Target(department=department)
        target.position = position
        targets.append(target)
    for target in removed:
        session.delete(target)
    campaign.targets = targets
    changes: dict[str, Any] = {}
    added_codes = [d.code for d in departments if d.id not in existing]
    if added_codes:
        changes["targets_added"] = added_codes
    if removed:
        changes["targets_removed"] = [target.department.code for target in removed]
    return changes
