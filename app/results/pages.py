"""Turnout and results in the office console, their exports, and a liaison's own results.

Every figure comes from the services under disclosure control; withheld figures are marked,
never computed here. A liaison's page is built from their department's results only, so no
other department's name or figure reaches its template.
"""

import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from markupsafe import Markup
from sqlalchemy.orm import Session

from app.accounts.models import StaffUser
from app.accounts.permissions import Permission
from app.accounts.web import WriteSession, render_admin, require
from app.admission import turnout as admission_turnout
from app.audit import service as audit_service
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus
from app.comments import service as comment_service
from app.config import get_settings
from app.departments.models import Department
from app.deps import SessionDep
from app.errors import NotFound
from app.i18n import N_, current_locale, gettext
from app.public import views as public_views
from app.reports.charts import Bar, horizontal_bar_chart
from app.results import export as results_export
from app.results import publication
from app.results import service as results_service
from app.results.schemas import CampaignResults, ItemInfo, TargetResult
from app.surveys.schemas import SCALES, ScaleName

router = APIRouter(prefix="/admin", include_in_schema=False)

TurnoutViewer = Annotated[StaffUser, Depends(require(Permission.VIEW_TURNOUT))]
ResultsViewer = Annotated[StaffUser, Depends(require(Permission.VIEW_RESULTS))]
ResultsExporter = Annotated[StaffUser, Depends(require(Permission.EXPORT_RESULTS))]
OwnResultsViewer = Annotated[StaffUser, Depends(require(Permission.VIEW_OWN_RESULTS))]

DEFAULT_POINTS_MAXIMUM = 100.0
WITHHELD = N_("not published")  # one wording for every hidden figure, as the public pages


@dataclass(frozen=True)
class ResultLabels:
    """What the result tables need besides the figures: names of groups, items and levels."""

    group_names: dict[str, str]
    items: dict[str, ItemInfo]
    levels: dict[ScaleName, list[tuple[int, str]]]
    threshold: int


@dataclass(frozen=True)
class OwnCampaignResult:
    """One published campaign's figures for the liaison's department, and nothing else."""

    slug: str
    title: str
    target: TargetResult
    labels: ResultLabels
    chart: Markup
    public: public_views.DepartmentView  # what the public sees: rank, grade, 末位, comments


@router.get("/campaigns/{slug}/turnout", response_class=HTMLResponse)
def turnout(request: Request, session: SessionDep, staff: TurnoutViewer, slug: str) -> HTMLResponse:
    """Codes issued and used per rater group; a collector holds no codes, so it has none."""
    if not get_settings().issues_credentials:
        raise NotFound(name=f"/admin/campaigns/{slug}/turnout")
    campaign = campaign_service.get_campaign(session, slug)
    figures = admission_turnout.turnout(session, campaign, current_locale())
    return render_admin(
        request,
        "admin/results/turnout.html",
        staff,
        {
            "campaign": campaign,
            "turnout": figures,
            "any_withheld": figures.used is None
            or any(group.used is None for group in figures.groups),
        },
    )


@router.get("/campaigns/{slug}/results", response_class=HTMLResponse)
def results(
    request: Request, session: WriteSession, staff: ResultsViewer, slug: str
) -> HTMLResponse:
    campaign = campaign_service.get_campaign(session, slug)
    if campaign.status not in results_service.RELEASABLE_STATUSES:
        return render_admin(  # what to do first, in the console, not a bare error
            request,
            "admin/results/not_yet.html",
            staff,
            {"campaign": campaign},
            status_code=409,
        )
    computed = results_service.campaign_results(session, campaign, current_locale())
    audit_service.record(
        session,
        actor=staff.username,
        action="results_view",
        object=f"campaign:{campaign.slug}",
    )
    maximum = _points_maximum(campaign)
    withheld = gettext(WITHHELD)
    composite_chart = horizontal_bar_chart(
        gettext("Composite score by department"),
        [
            Bar(target.name, target.composite_score, note=_composite_note(computed, target))
            for target in computed.targets
        ],
        maximum=maximum,
        withheld_label=withheld,
    )
    group_charts = [
        horizontal_bar_chart(
            gettext("Score given by %(group)s") % {"group": group.name},
            [Bar(target.name, _group_score(target, group.key)) for target in computed.targets],
            maximum=maximum,
            withheld_label=withheld,
        )
        for group in computed.rater_groups
    ]
    return render_admin(
        request,
        "admin/results/results.html",
        staff,
        {
            "campaign": campaign,
            "results": computed,
            "labels": _labels(computed),
            "composite_chart": composite_chart,
            "group_charts": group_charts,
        },
    )


@router.post("/campaigns/{slug}/results.csv")
def export_csv(session: WriteSession, staff: ResultsExporter, slug: str) -> Response:
    return _export(session, staff, slug, "csv")


@router.post("/campaigns/{slug}/results.json")
def export_json(session: WriteSession, staff: ResultsExporter, slug: str) -> Response:
    return _export(session, staff, slug, "json")


@router.post("/campaigns/{slug}/results.xlsx")
def export_xlsx(session: WriteSession, staff: ResultsExporter, slug: str) -> Response:
    return _export(session, staff, slug, "xlsx")


@router.post("/campaigns/{slug}/results.pdf")
def export_pdf(session: WriteSession, staff: ResultsExporter, slug: str) -> Response:
    return _export(session, staff, slug, "pdf")


@router.get("/my-results", response_class=HTMLResponse)
def my_results(request: Request, session: WriteSession, staff: OwnResultsViewer) -> HTMLResponse:
    """Published campaigns that rate the liaison's department, with its figures only."""
    department = (
        session.get(Department, staff.department_id) if staff.department_id is not None else None
    )
    locale = current_locale()
    own: list[OwnCampaignResult] = []
    if department is not None:
        for campaign in campaign_service.list_campaigns(session):
            if campaign.status != CampaignStatus.PUBLISHED or not any(
                target.department_id == department.id for target in campaign.targets
            ):
                continue
            computed = results_service.campaign_results(session, campaign, locale)
            mine = publication.department_view(computed, department.code)
            if mine is None:
                continue
            target = next(t for t in campaign.targets if t.department_id == department.id)
            public = public_views.department(
                campaign,
                computed,
                department.code,
                campaign_service.policy_of(campaign),
                comment_service.published_comments(session, campaign, target),
            )
            own.append(_own_result(campaign, computed, mine, public))
    audit_service.record(
        session,
        actor=staff.username,
        action="results_view",
        object=f"department:{department.code}" if department else "department:?",
        detail={"campaigns": [result.slug for result in own]},
    )
    return render_admin(
        request,
        "admin/results/mine.html",
        staff,
        {
            "department_name": department.name_for(locale) if department else "",
            "own_results": own,
        },
    )


EXPORT_MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
EXPORT_CHUNK = 64 * 1024  # bytes per chunk of a streamed file


def _export(session: Session, staff: StaffUser, slug: str, fmt: str) -> Response:
    """The results as a download, made before the export is recorded (a file that cannot be
    made is not recorded as exported); CSV and XLSX stream, JSON and PDF are whole."""
    from app.reports import bulletin, xlsx  # fpdf and openpyxl take a while to import

    campaign = campaign_service.get_campaign(session, slug)
    results_service.check_releasable(campaign)
    computed = results_service.campaign_results(session, campaign, current_locale())
    body: Iterator[bytes] | bytes
    if fmt == "csv":
        body = (line.encode("utf-8") for line in results_export.csv_lines(computed))
    elif fmt == "xlsx":
        spooled = tempfile.TemporaryFile()  # noqa: SIM115 (closed when streamed)
        try:
            xlsx.write_xlsx(computed, spooled)
        except BaseException:
            spooled.close()
            raise
        body = _streamed_file(spooled)
    elif fmt == "pdf":
        document = io.BytesIO()
        bulletin.render_bulletin(computed, bulletin.bulletin_context(campaign, computed), document)
        body = document.getvalue()
    else:
        body = results_export.json_text(computed).encode("utf-8")
    audit_service.record(
        session,
        actor=staff.username,
        action="results_export",
        object=f"campaign:{campaign.slug}",
        detail={"format": fmt},
    )
    headers = {
        "content-disposition": f'attachment; filename="results-{campaign.slug}.{fmt}"',
        "cache-control": "no-store",
    }
    if isinstance(body, bytes):
        return Response(body, media_type=EXPORT_MEDIA_TYPES[fmt], headers=headers)
    return StreamingResponse(body, media_type=EXPORT_MEDIA_TYPES[fmt], headers=headers)


def _streamed_file(file: IO[bytes]) -> Iterator[bytes]:
    """The file's content from its start, in chunks; closes (and so deletes) it at the end."""
    with file:
        file.seek(0)
        while chunk := file.read(EXPORT_CHUNK):
            yield chunk


def _own_result(
    campaign: Campaign,
    computed: CampaignResults,
    mine: TargetResult,
    public: public_views.DepartmentView,
) -> OwnCampaignResult:
    labels = _labels(computed)
    chart = horizontal_bar_chart(
        gettext("Score given by each rater group"),
        [Bar(labels.group_names[group.rater_group], group.score) for group in mine.groups],
        maximum=_points_maximum(campaign),
        withheld_label=gettext(WITHHELD),
    )
    return OwnCampaignResult(
        slug=campaign.slug,
        title=computed.title,
        target=mine,
        labels=labels,
        chart=chart,
        public=public,
    )


def _labels(computed: CampaignResults) -> ResultLabels:
    locale = current_locale()
    scales = {item.scale for item in computed.items}
    return ResultLabels(
        group_names={group.key: group.name for group in computed.rater_groups},
        items={item.id: item for item in computed.items},
        levels={
            scale: [(level.value, level.label.get(locale)) for level in SCALES[scale]]
            for scale in scales
        },
        threshold=computed.disclosure_threshold,
    )


def _group_score(target: TargetResult, group_key: str) -> float | None:
    return next((group.score for group in target.groups if group.rater_group == group_key), None)


def _composite_note(computed: CampaignResults, target: TargetResult) -> str:
    """Names the groups a shown composite rests on, when some group's score is withheld."""
    if target.composite_score is None or len(target.composite_groups) == len(computed.rater_groups):
        return ""
    names = {group.key: group.name for group in computed.rater_groups}
    separator = "、" if current_locale() == "zh_CN" else ", "
    return gettext("From %(groups)s only") % {
        "groups": separator.join(names[key] for key in target.composite_groups)
    }


def _points_maximum(campaign: Campaign) -> float:
    """The most points an item can earn: the top of every chart's scale."""
    questionnaire = campaign_service.questionnaire_of(campaign)
    highest = [
        max(questionnaire.points_for(item).values()) for item in questionnaire.items if item.scored
    ]
    top = max(highest, default=DEFAULT_POINTS_MAXIMUM)
    return top if top > 0 else DEFAULT_POINTS_MAXIMUM
