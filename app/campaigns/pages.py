"""The campaigns section of the office console: list, create, view, edit a draft, and move a
campaign through its lifecycle (open, close, publish) after a confirmation page."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from app.accounts.models import StaffUser
from app.accounts.permissions import Permission
from app.accounts.web import WriteSession, render_admin, require
from app.audit import service as audit_service
from app.ballot_box import opening
from app.ballot_box import service as box_service
from app.ballot_box import tally_key as tally_key_format
from app.ballots import receipts
from app.campaigns import lifecycle
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus
from app.campaigns.schemas import CampaignSpec
from app.config import MINIMUM_DISCLOSURE_THRESHOLD, DeploymentRole, get_settings
from app.departments import service as department_service
from app.departments.models import Department
from app.deps import SessionDep
from app.errors import InvalidTransition, NotFound, PingyiError
from app.grouping import by_category
from app.i18n import N_, gettext
from app.surveys import service as survey_service
from app.surveys.schemas import Questionnaire

router = APIRouter(prefix="/admin/campaigns", include_in_schema=False)

Viewer = Annotated[StaffUser, Depends(require(Permission.VIEW_CAMPAIGNS))]
Manager = Annotated[StaffUser, Depends(require(Permission.MANAGE_CAMPAIGNS))]


async def posted_form(request: Request) -> FormData:
    """The posted form, read once; its field names depend on the questionnaire."""
    return await request.form()


PostedForm = Annotated[FormData, Depends(posted_form)]

# What the reader is told for a field the spec refuses, by form field.
FIELD_PROBLEMS = {
    "slug": N_(
        "A slug has 2 to 64 lower-case letters, digits and dashes, "
        "and starts with a letter or a digit."
    ),
    "title_zh": N_("Give the title in Chinese, at most %(maximum)s characters."),
    "title_en": N_("Give the title in English, at most %(maximum)s characters."),
    "disclosure_threshold": N_(
        "The disclosure threshold must be a whole number, at least %(minimum)s."
    ),
    "starts_on": N_("The start date is not a valid date."),
    "ends_on": N_("The end date is not a valid date."),
    "series": N_(
        "A series key has 2 to 64 lower-case letters, digits and dashes, "
        "and starts with a letter or a digit."
    ),
    "rater_groups": N_("Include at least one rater group."),
    "weight": N_("A weight must be a number greater than 0."),
    "targets": N_(
        "Choose the departments to rate: all of them, whole categories, or single departments."
    ),
}
ENDS_BEFORE_STARTS = N_("The end date is before the start date.")
GROUP_TWICE = N_("A rater group is included twice.")
FIELD_INVALID = N_("“%(field)s” is missing or invalid.")


@dataclass
class CampaignForm:
    """The create and edit form as typed, so it can be shown again after an error."""

    slug: str = ""
    title_zh: str = ""
    title_en: str = ""
    disclosure_threshold: str = ""
    starts_on: str = ""
    ends_on: str = ""
    series: str = ""  # a series key shared with earlier campaigns, for year-over-year
    groups: list[str] = field(default_factory=list)  # keys of the included rater groups
    weights: dict[str, str] = field(default_factory=dict)  # by rater group key
    all_targets: bool = False
    categories: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)  # department codes

    @classmethod
    def posted(cls, form: FormData, questionnaire: Questionnaire) -> "CampaignForm":
        groups = _texts(form, "group")
        declared = [group.key for group in questionnaire.rater_groups]
        return cls(
            slug=_text(form, "slug"),
            title_zh=_text(form, "title_zh"),
            title_en=_text(form, "title_en"),
            disclosure_threshold=_text(form, "disclosure_threshold"),
            starts_on=_text(form, "starts_on"),
            ends_on=_text(form, "ends_on"),
            series=_text(form, "series"),
            groups=groups,
            weights={key: _text(form, f"weight_{key}") for key in [*declared, *groups]},
            all_targets=_text(form, "all_targets") == "all",
            categories=_texts(form, "category"),
            targets=_texts(form, "target"),
        )

    @classmethod
    def of(cls, campaign: Campaign) -> "CampaignForm":
        return cls(
            slug=campaign.slug,
            title_zh=campaign.title_zh,
            title_en=campaign.title_en,
            disclosure_threshold=str(campaign.disclosure_threshold),
            starts_on=campaign.starts_on.isoformat() if campaign.starts_on else "",
            ends_on=campaign.ends_on.isoformat() if campaign.ends_on else "",
            series=campaign.series or "",
            groups=[group.key for group in campaign.rater_groups],
            weights={group.key: f"{group.weight:g}" for group in campaign.rater_groups},
            targets=[target.department.code for target in campaign.targets],
        )

    def spec_data(
        self, questionnaire: Questionnaire, departments: list[Department]
    ) -> dict[str, Any]:
        """What ``CampaignSpec`` validates. Groups follow the questionnaire's order; posted
        keys it does not declare are kept, so the service names them."""
        declared = [group.key for group in questionnaire.rater_groups]
        keys = [key for key in declared if key in self.groups]
        keys += [key for key in self.groups if key not in declared]
        return {
            "slug": self.slug,
            "title": {"zh": self.title_zh, "en": self.title_en},
            "questionnaire": questionnaire.id,
            "disclosure_threshold": self.disclosure_threshold or None,
            "starts_on": self.starts_on or None,
            "ends_on": self.ends_on or None,
            "series": self.series or None,
            "rater_groups": [{"key": key, "weight": self.weights.get(key, "")} for key in keys],
            "targets": self._target_selection(departments),
        }

    def _target_selection(self, departments: list[Department]) -> str | list[str]:
        if self.all_targets:
            return "all"
        chosen = set(self.targets)
        known = {department.code for department in departments}
        codes = [
            department.code
            for department in departments
            if department.code in chosen or department.category in self.categories
        ]
        return codes + [code for code in self.targets if code not in known]


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _texts(form: FormData, name: str) -> list[str]:
    values: list[str] = []
    for value in form.getlist(name):
        if isinstance(value, str) and value.strip() and value.strip() not in values:
            values.append(value.strip())
    return values


def spec_problems(error: ValidationError, spec_data: dict[str, Any]) -> dict[str, str]:
    """Translated messages by form field, the first one for each field."""
    problems: dict[str, str] = {}
    for detail in error.errors():
        location = detail["loc"]
        if not location:  # the spec's own checks across fields
            text = str(detail.get("ctx", {}).get("error", detail["msg"]))
            if "ends_on" in text:
                problems.setdefault("ends_on", gettext(ENDS_BEFORE_STARTS))
            else:
                problems.setdefault("rater_groups", gettext(GROUP_TWICE))
            continue
        name = str(location[0])
        if name == "title" and len(location) > 1:
            name = f"title_{location[1]}"
        elif name == "rater_groups" and len(location) > 2 and location[2] == "weight":
            index = location[1]
            groups = spec_data["rater_groups"]
            if isinstance(index, int) and index < len(groups):
                key = groups[index]["key"]
                problems.setdefault(f"weight_{key}", gettext(FIELD_PROBLEMS["weight"]))
                continue
        message = FIELD_PROBLEMS.get(name)
        if message is None:
            problems.setdefault(name, gettext(FIELD_INVALID) % {"field": name})
        else:
            limits = {
                "minimum": MINIMUM_DISCLOSURE_THRESHOLD,
                "maximum": campaign_service.TITLE_MAX_LENGTH,
            }
            problems.setdefault(name, gettext(message) % limits)
    return problems


def domain_problem(error: PingyiError) -> dict[str, str]:
    """A service's refusal, placed next to the field it names."""
    name = error.field or "form"
    for prefix in ("rater_groups", "targets"):
        if name.startswith(prefix):
            name = prefix
    if name not in FIELD_PROBLEMS:
        name = "form"
    return {name: error.translated()}


def _audit_object(slug: str) -> str:
    return f"campaign:{slug}"


def _departments_by_category(
    departments: Iterable[Department],
) -> list[tuple[str, list[Department]]]:
    return list(by_category(departments, lambda department: department.category).items())


# List and detail


@router.get("", response_class=HTMLResponse)
def campaign_list(request: Request, session: SessionDep, staff: Viewer) -> Response:
    return render_admin(
        request,
        "admin/campaigns/list.html",
        staff,
        {"overviews": campaign_service.campaign_overviews(session)},
    )


# Creating (declared before /{slug}, which would otherwise take "new")


@router.get("/new", response_class=HTMLResponse)
def new_campaign(
    request: Request, session: SessionDep, staff: Manager, template: str | None = None
) -> Response:
    choices = survey_service.all_templates(session, get_settings().surveys_dir)
    if template is None:
        return _choose_template(request, staff, choices)
    choice = next((choice for choice in choices if choice.reference == template), None)
    if choice is None:
        message = gettext(NotFound.message) % {"name": template}
        return _choose_template(request, staff, choices, message, status_code=404)
    form = CampaignForm(disclosure_threshold=str(get_settings().disclosure_threshold))
    return _creation_form(request, session, staff, choice, form)


@router.post("/new", response_class=HTMLResponse)
def create_campaign(
    request: Request, session: WriteSession, staff: Manager, posted: PostedForm
) -> Response:
    settings = get_settings()
    choices = survey_service.all_templates(session, settings.surveys_dir)
    reference = _text(posted, "template")
    choice = next((choice for choice in choices if choice.reference == reference), None)
    if choice is None:
        message = gettext(NotFound.message) % {"name": reference}
        return _choose_template(request, staff, choices, message, status_code=422)
    questionnaire = choice.questionnaire
    form = CampaignForm.posted(posted, questionnaire)
    departments = department_service.list_departments(session)
    data = form.spec_data(questionnaire, departments)
    try:
        spec = CampaignSpec.model_validate(data)
    except ValidationError as error:
        problems = spec_problems(error, data)
        return _creation_form(request, session, staff, choice, form, problems, 422)
    try:
        campaign = campaign_service.create_campaign(
            session, spec, questionnaire, default_threshold=settings.disclosure_threshold
        )
    except PingyiError as error:
        problems = domain_problem(error)
        return _creation_form(request, session, staff, choice, form, problems, error.status_code)
    audit_service.record(
        session,
        actor=staff.username,
        action="campaign_create",
        object=_audit_object(campaign.slug),
        detail={
            "questionnaire": questionnaire.id,
            "questionnaire_version": questionnaire.version,
            "template": choice.reference,
            "rater_groups": {group.key: group.weight for group in campaign.rater_groups},
            "targets": len(campaign.targets),
            "disclosure_threshold": campaign.disclosure_threshold,
            "starts_on": campaign.starts_on.isoformat() if campaign.starts_on else None,
            "ends_on": campaign.ends_on.isoformat() if campaign.ends_on else None,
        },
    )
    return RedirectResponse(f"/admin/campaigns/{campaign.slug}", status_code=303)


def _choose_template(
    request: Request,
    staff: StaffUser,
    choices: list[survey_service.TemplateChoice],
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render_admin(
        request,
        "admin/campaigns/choose_template.html",
        staff,
        {"choices": choices, "error": error},
        status_code=status_code,
    )


def _creation_form(
    request: Request,
    session: Session,
    staff: StaffUser,
    choice: survey_service.TemplateChoice,
    form: CampaignForm,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render_admin(
        request,
        "admin/campaigns/new.html",
        staff,
        {
            "choice": choice,
            "questionnaire": choice.questionnaire,
            "form": form,
            "problems": problems or {},
            "categories": _departments_by_category(department_service.list_departments(session)),
            "default_threshold": get_settings().disclosure_threshold,
            "minimum_threshold": MINIMUM_DISCLOSURE_THRESHOLD,
        },
        status_code=status_code,
    )


@router.get("/{slug}", response_class=HTMLResponse)
def campaign_detail(request: Request, session: SessionDep, staff: Viewer, slug: str) -> Response:
    campaign = campaign_service.get_campaign(session, slug)
    total_weight = sum(group.weight for group in campaign.rater_groups)
    key = box_service.tally_key_of(session, campaign)
    tally = box_service.tally_of(session, campaign)
    return render_admin(
        request,
        "admin/campaigns/detail.html",
        staff,
        {
            "campaign": campaign,
            "tally_key": key,
            "fingerprint": tally_key_format.fingerprint_text(bytes(key.fingerprint)) if key else "",
            "tally": tally,
            "rejected": [
                (receipts.tracker_text(bytes.fromhex(tracker)), opening.rejection_text(reason))
                for tracker, reason in (tally.rejected if tally else [])
            ],
            "questionnaire": campaign_service.questionnaire_of(campaign),
            "total_weight": total_weight,
            "categories": _departments_by_category(
                [target.department for target in campaign.targets]
            ),
            **_held_here(session, campaign),
            "next_actions": [
                action
                for action in campaign_service.TRANSITIONS
                if campaign_service.transition_refusal(campaign, action) is None
                and lifecycle.role_refusal(campaign, action) is None
            ],
        },
    )


def _held_here(session: Session, campaign: Campaign) -> dict[str, Any]:
    """What the detail page says of admission, from what this deployment holds.

    An issuer (or a single deployment) holds the codes: the anonymity settings lock with
    the first batch. A collector holds no code, only the ballot box: its copy of the
    campaign came open from the issuer, so it is locked from the start, and instead of codes
    used it counts the ballots received, withheld below the disclosure threshold while the
    campaign runs (docs/methodology.md, "Disclosure control").
    """
    if get_settings().role != DeploymentRole.COLLECTOR:
        return {"collector": False, "locked": campaign_service.anonymity_locked(session, campaign)}
    received = box_service.ballots_in_box(session, campaign)
    return {
        "collector": True,
        "locked": campaign.status != CampaignStatus.DRAFT or received > 0,
        "ballots_received": received if received >= campaign.disclosure_threshold else None,
    }


# Editing a draft


@router.get("/{slug}/edit", response_class=HTMLResponse)
def edit_campaign(request: Request, session: SessionDep, staff: Manager, slug: str) -> Response:
    campaign = campaign_service.get_campaign(session, slug)
    campaign_service.check_editable(campaign)
    return _edit_form(request, session, staff, campaign, CampaignForm.of(campaign))


@router.post("/{slug}/edit", response_class=HTMLResponse)
def update_campaign(
    request: Request, session: WriteSession, staff: Manager, posted: PostedForm, slug: str
) -> Response:
    campaign = campaign_service.get_campaign(session, slug)
    campaign_service.check_editable(campaign)
    questionnaire = campaign_service.questionnaire_of(campaign)
    form = CampaignForm.posted(posted, questionnaire)
    form.slug = campaign.slug
    data = form.spec_data(questionnaire, department_service.list_departments(session))
    try:
        spec = CampaignSpec.model_validate(data)
    except ValidationError as error:
        problems = spec_problems(error, data)
        return _edit_form(request, session, staff, campaign, form, problems, 422)
    try:
        changes = campaign_service.update_campaign(session, campaign, spec)
    except PingyiError as error:
        problems = domain_problem(error)
        return _edit_form(request, session, staff, campaign, form, problems, error.status_code)
    if changes:
        audit_service.record(
            session,
            actor=staff.username,
            action="campaign_update",
            object=_audit_object(campaign.slug),
            detail=changes,
        )
    return RedirectResponse(f"/admin/campaigns/{campaign.slug}", status_code=303)


def _edit_form(
    request: Request,
    session: Session,
    staff: StaffUser,
    campaign: Campaign,
    form: CampaignForm,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    locked = campaign_service.anonymity_locked(session, campaign)
    departments = department_service.list_departments(session)
    return render_admin(
        request,
        "admin/campaigns/edit.html",
        staff,
        {
            "campaign": campaign,
            "questionnaire": campaign_service.questionnaire_of(campaign),
            "form": form,
            "problems": problems or {},
            "locked": locked,
            "categories": _departments_by_category(departments),
            "target_departments": _departments_by_category(
                [target.department for target in campaign.targets]
            ),
            "minimum_threshold": MINIMUM_DISCLOSURE_THRESHOLD,
        },
        status_code=status_code,
    )


# Lifecycle: a confirmation page (GET), then the step itself (POST)


def _confirmation(
    request: Request, session: Session, staff: StaffUser, slug: str, action: str
) -> Response:
    campaign = campaign_service.get_campaign(session, slug)
    refusal: PingyiError | None = lifecycle.role_refusal(
        campaign, action
    ) or campaign_service.transition_refusal(campaign, action)
    needs_key = _needs_tally_key(session, campaign, action)
    if refusal is None and needs_key:
        refusal = InvalidTransition(lifecycle.NO_TALLY_KEY, slug=campaign.slug)
    return render_admin(
        request,
        "admin/campaigns/confirm.html",
        staff,
        {
            "campaign": campaign,
            "action": action,
            "refusal": refusal.translated() if refusal else None,
            "needs_tally_key": needs_key,
        },
    )


def _needs_tally_key(session: Session, campaign: Campaign, action: str) -> bool:
    """Whether the step is opening a campaign that has no tally key yet (refused: the
    confirmation page then links to where the key is made)."""
    return action == "open" and box_service.tally_key_of(session, campaign) is None


LIFECYCLE_STEPS = {
    "open": lifecycle.open_campaign,
    "close": lifecycle.close_campaign,
    "publish": lifecycle.publish_campaign,
}


def _transition(
    request: Request, session: Session, staff: StaffUser, slug: str, action: str
) -> Response:
    campaign = campaign_service.get_campaign(session, slug)
    try:
        LIFECYCLE_STEPS[action](session, campaign, actor=staff.username)
    except PingyiError as error:
        return render_admin(
            request,
            "admin/campaigns/confirm.html",
            staff,
            {
                "campaign": campaign,
                "action": action,
                "refusal": error.translated(),
                "needs_tally_key": _needs_tally_key(session, campaign, action),
            },
            status_code=error.status_code,
        )
    return RedirectResponse(f"/admin/campaigns/{campaign.slug}", status_code=303)


# One route per action, not /{slug}/{action}: that would also catch /{slug}/codes and the
# other sections' addresses.


@router.get("/{slug}/open", response_class=HTMLResponse)
def confirm_open(request: Request, session: SessionDep, staff: Manager, slug: str) -> Response:
    return _confirmation(request, session, staff, slug, "open")


@router.post("/{slug}/open", response_class=HTMLResponse)
def open_campaign(request: Request, session: WriteSession, staff: Manager, slug: str) -> Response:
    return _transition(request, session, staff, slug, "open")


@router.get("/{slug}/close", response_class=HTMLResponse)
def confirm_close(request: Request, session: SessionDep, staff: Manager, slug: str) -> Response:
    return _confirmation(request, session, staff, slug, "close")


@router.post("/{slug}/close", response_class=HTMLResponse)
def close_campaign(request: Request, session: WriteSession, staff: Manager, slug: str) -> Response:
    return _transition(request, session, staff, slug, "close")


@router.get("/{slug}/publish", response_class=HTMLResponse)
def confirm_publish(request: Request, session: SessionDep, staff: Manager, slug: str) -> Response:
    return _confirmation(request, session, staff, slug, "publish")


@router.post("/{slug}/publish", response_class=HTMLResponse)
def publish_campaign(
    request: Request, session: WriteSession, staff: Manager, slug: str
) -> Response:
    return _transition(request, session, staff, slug, "publish")
