"""Campaigns: creation from a spec, lifecycle, and reading their frozen questionnaire."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.campaigns.models import Campaign, CampaignStatus, RaterGroup, Target
from app.campaigns.schemas import CampaignSpec, TargetCategories
from app.departments.models import Department
from app.errors import InvalidInput, InvalidTransition, NotFound
from app.i18n import N_, gettext
from app.surveys.schemas import Questionnaire

STATUS_NAMES = {
    CampaignStatus.DRAFT: N_("a draft"),
    CampaignStatus.OPEN: N_("open"),
    CampaignStatus.CLOSED: N_("closed"),
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
    "publish": (
        CampaignStatus.CLOSED,
        CampaignStatus.PUBLISHED,
        N_(
            "Campaign “%(slug)s” cannot be published: it is %(status)s. "
            "Only a closed campaign can be published."
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


def questionnaire_of(campaign: Campaign) -> Questionnaire:
    return Questionnaire.model_validate(campaign.questionnaire)


def create_campaign(
    session: Session,
    spec: CampaignSpec,
    questionnaire: Questionnaire,
    *,
    default_threshold: int,
) -> Campaign:
    if session.scalar(select(Campaign.id).where(Campaign.slug == spec.slug)) is not None:
        raise InvalidInput(
            N_("A campaign with the slug “%(slug)s” already exists."), field="slug", slug=spec.slug
        )
    declared = {group.key: group for group in questionnaire.rater_groups}
    for index, group_spec in enumerate(spec.rater_groups):
        if group_spec.key not in declared:
            raise InvalidInput(
                N_("Rater group “%(key)s” is not declared by questionnaire “%(questionnaire)s”."),
                field=f"rater_groups[{index}].key",
                key=group_spec.key,
                questionnaire=questionnaire.id,
            )
    departments = _select_targets(session, spec.targets)

    campaign = Campaign(
        slug=spec.slug,
        title_zh=spec.title.zh,
        title_en=spec.title.en,
        status=CampaignStatus.DRAFT,
        disclosure_threshold=spec.disclosure_threshold or default_threshold,
        questionnaire=questionnaire.model_dump(mode="json"),
        starts_on=spec.starts_on,
        ends_on=spec.ends_on,
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


def transition(session: Session, campaign: Campaign, action: str) -> Campaign:
    required, result, refusal = TRANSITIONS[action]
    if campaign.status != required:
        raise TransitionRefused(refusal, slug=campaign.slug, status=STATUS_NAMES[campaign.status])
    campaign.status = result
    session.flush()
    return campaign
