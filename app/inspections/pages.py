"""The mystery-inspection (暗访) section of the office console.

Inspectors record findings with evidence and see their own; staff who manage inspections see
every finding, turn one into a rectification task, issue 通报单 (PDF) and enter each
department's inspection score for a campaign.
"""

import datetime as dt
import io
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from app.accounts.models import StaffUser
from app.accounts.permissions import Permission
from app.accounts.web import WriteSession, render_admin, require
from app.campaigns import service as campaign_service
from app.departments import service as department_service
from app.departments.models import Department
from app.deps import SessionDep
from app.errors import InvalidInput, PingyiError
from app.i18n import N_, gettext
from app.inspections import flows, pdf
from app.inspections import service as inspection_service
from app.inspections.models import Finding, InspectionMethod
from app.rectification import evidence as evidence_store

router = APIRouter(prefix="/admin/inspections", include_in_schema=False)

Recorder = Annotated[StaffUser, Depends(require(Permission.RECORD_FINDINGS))]
Manager = Annotated[StaffUser, Depends(require(Permission.MANAGE_INSPECTIONS))]

DEFAULT_WORKING_DAYS = 15
CHOOSE_METHOD = N_("Choose how the inspection was made.")
BAD_DATE = N_("The day of the inspection is not a valid date.")
BAD_NUMBER = N_("“%(name)s” must be a whole number.")


async def posted_form(request: Request) -> AsyncIterator[FormData]:
    """The posted form; its uploaded files are closed once the response is sent."""
    async with request.form() as form:
        yield form


PostedForm = Annotated[FormData, Depends(posted_form)]


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _date(text: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(BAD_DATE, field=field) from None


def _integer(text: str, field: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidInput(BAD_NUMBER, field=field, name=field) from None


async def _uploads(form: FormData) -> list[tuple[str, bytes]]:
    files = []
    for value in form.getlist("evidence"):
        if isinstance(value, UploadFile) and value.filename:
            files.append((value.filename, await value.read()))
    return files


def _department_names(departments: list[Department]) -> dict[int, str]:
    return {department.id: department.name for department in departments}


def _methods() -> list[tuple[str, str]]:
    return [(method.value, inspection_service.method_name(method)) for method in InspectionMethod]


# Findings


@router.get("", response_class=HTMLResponse)
def finding_list(request: Request, session: SessionDep, staff: Recorder) -> Response:
    departments = department_service.list_departments(session)
    return render_admin(
        request,
        "admin/inspections/list.html",
        staff,
        {
            "findings": inspection_service.visible_findings(session, staff),
            "names": _department_names(departments),
            "method_name": inspection_service.method_name,
        },
    )


def _finding_form(
    request: Request,
    session: SessionDep,
    staff: StaffUser,
    values: dict[str, str] | None = None,
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    return render_admin(
        request,
        "admin/inspections/new.html",
        staff,
        {
            "departments": department_service.list_departments(session),
            "methods": _methods(),
            "values": values or {"found_on": dt.date.today().isoformat()},
            "problem": problem,
        },
        status_code=status_code,
    )


@router.get("/new", response_class=HTMLResponse)
def new_finding(request: Request, session: SessionDep, staff: Recorder) -> Response:
    return _finding_form(request, session, staff)


@router.post("/new", response_class=HTMLResponse)
async def create_finding(
    request: Request, session: WriteSession, staff: Recorder, posted: PostedForm
) -> Response:
    values = {
        name: _text(posted, name)
        for name in ("department", "found_on", "method", "category", "description", "organisation")
    }
    uploads = await _uploads(posted)
    try:
        for filename, data in uploads:  # every file is checked before anything is written
            evidence_store.check(data, filename)
        method = InspectionMethod(values["method"])
    except ValueError:
        return _finding_form(request, session, staff, values, gettext(CHOOSE_METHOD), 422)
    except PingyiError as error:
        return _finding_form(request, session, staff, values, error.translated(), error.status_code)
    try:
        finding = inspection_service.record_finding(
            session,
            staff,
            department_code=values["department"],
            found_on=_date(values["found_on"], "found_on"),
            method=method,
            category=values["category"],
            description=values["description"],
            organisation=values["organisation"],
        )
        for filename, data in uploads:
            inspection_service.add_evidence(session, staff, finding, filename, data)
    except PingyiError as error:
        return _finding_form(request, session, staff, values, error.translated(), error.status_code)
    return RedirectResponse(f"/admin/inspections/{finding.id}", status_code=303)


def _finding_page(
    request: Request,
    session: SessionDep,
    staff: StaffUser,
    finding: Finding,
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    department = session.get(Department, finding.department_id)
    can_manage = inspection_service.sees_every_finding(staff)
    return render_admin(
        request,
        "admin/inspections/detail.html",
        staff,
        {
            "finding": finding,
            "department": department,
            "method": inspection_service.method_name(finding.method),
            "campaigns": flows.campaigns_for(session, finding) if can_manage else [],
            "working_days": DEFAULT_WORKING_DAYS,
            "problem": problem,
        },
        status_code=status_code,
    )


@router.get("/{finding_id:int}", response_class=HTMLResponse)
def finding_detail(
    request: Request, session: SessionDep, staff: Recorder, finding_id: int
) -> Response:
    finding = inspection_service.visible_finding(session, staff, finding_id)
    return _finding_page(request, session, staff, finding)


@router.post("/{finding_id:int}/evidence", response_class=HTMLResponse)
async def add_evidence(
    request: Request, session: WriteSession, staff: Recorder, posted: PostedForm, finding_id: int
) -> Response:
    finding = inspection_service.visible_finding(session, staff, finding_id)
    uploads = await _uploads(posted)
    try:
        for filename, data in uploads:  # every file is checked before anything is written
            evidence_store.check(data, filename)
        for filename, data in uploads:
            inspection_service.add_evidence(session, staff, finding, filename, data)
    except PingyiError as error:
        return _finding_page(
            request, session, staff, finding, error.translated(), error.status_code
        )
    return RedirectResponse(f"/admin/inspections/{finding.id}", status_code=303)


@router.get("/{finding_id:int}/evidence/{evidence_id:int}")
def download_evidence(
    session: SessionDep, staff: Recorder, finding_id: int, evidence_id: int
) -> Response:
    finding = inspection_service.visible_finding(session, staff, finding_id)
    item = inspection_service.evidence_of(finding, evidence_id)
    return Response(
        evidence_store.read(item.stored_name),
        media_type=item.content_type,
        headers=evidence_store.download_headers(item.original_name),
    )


@router.post("/{finding_id:int}/task", response_class=HTMLResponse)
def finding_to_task(
    request: Request, session: WriteSession, staff: Manager, posted: PostedForm, finding_id: int
) -> Response:
    finding = inspection_service.visible_finding(session, staff, finding_id)
    try:
        campaign = campaign_service.get_campaign(session, _text(posted, "campaign"))
        task = flows.finding_to_task(
            session,
            finding,
            campaign,
            working_days=_integer(_text(posted, "working_days"), "working_days"),
            actor=staff.username,
        )
    except PingyiError as error:
        return _finding_page(
            request, session, staff, finding, error.translated(), error.status_code
        )
    return RedirectResponse(f"/admin/rectification/tasks/{task.id}", status_code=303)


# 通报单


def _bulletin_page(
    request: Request,
    session: SessionDep,
    staff: StaffUser,
    values: dict[str, str] | None = None,
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    departments = department_service.list_departments(session)
    return render_admin(
        request,
        "admin/inspections/bulletins.html",
        staff,
        {
            "bulletins": inspection_service.bulletins(session),
            "document_number": inspection_service.document_number,
            "findings": inspection_service.visible_findings(session, staff),
            "names": _department_names(departments),
            "method_name": inspection_service.method_name,
            "values": values
            or {
                "issuing_office": inspection_service.last_issuing_office(session),
                "issued_on": dt.date.today().isoformat(),
            },
            "problem": problem,
        },
        status_code=status_code,
    )


@router.get("/bulletins", response_class=HTMLResponse)
def bulletin_list(request: Request, session: SessionDep, staff: Manager) -> Response:
    return _bulletin_page(request, session, staff)


@router.post("/bulletins", response_class=HTMLResponse)
def issue_bulletin(
    request: Request, session: WriteSession, staff: Manager, posted: PostedForm
) -> Response:
    values = {
        name: _text(posted, name) for name in ("title", "issuing_office", "copy_to", "issued_on")
    }
    try:
        finding_ids = [
            _integer(value, "findings")
            for value in posted.getlist("finding")
            if isinstance(value, str)
        ]
        bulletin = inspection_service.issue_bulletin(
            session,
            staff.username,
            finding_ids=finding_ids,
            title=values["title"],
            issuing_office=values["issuing_office"],
            copy_to=values["copy_to"],
            issued_on=_date(values["issued_on"], "issued_on"),
        )
    except PingyiError as error:
        return _bulletin_page(
            request, session, staff, values, error.translated(), error.status_code
        )
    return RedirectResponse(f"/admin/inspections/bulletins/{bulletin.id}.pdf", status_code=303)


@router.get("/bulletins/{bulletin_id:int}.pdf")
def bulletin_pdf(session: SessionDep, staff: Manager, bulletin_id: int) -> Response:
    bulletin = inspection_service.bulletin(session, bulletin_id)
    names = _department_names(department_service.list_departments(session))
    stream = io.BytesIO()
    pdf.render_bulletin(bulletin, names, stream)
    number = f"{bulletin.year}-{bulletin.number}"
    return Response(
        stream.getvalue(),
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="inspection-bulletin-{number}.pdf"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


# Inspection scores of a campaign (the scored channel)


def _scores_page(
    request: Request,
    session: SessionDep,
    staff: StaffUser,
    slug: str,
    typed: dict[int, str] | None = None,
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    campaign = campaign_service.get_campaign(session, slug)
    entered = inspection_service.entered_scores(session, campaign)
    policy = campaign_service.policy_of(campaign)
    return render_admin(
        request,
        "admin/inspections/scores.html",
        staff,
        {
            "campaign": campaign,
            "channel": policy.inspection,
            "rows": [
                (
                    target.department,
                    typed.get(target.department_id, "")
                    if typed is not None
                    else (
                        f"{float(entered[target.department_id]):.2f}"
                        if target.department_id in entered
                        else ""
                    ),
                )
                for target in campaign.targets
            ],
            "problem": problem,
        },
        status_code=status_code,
    )


@router.get("/scores/{slug}", response_class=HTMLResponse)
def scores(request: Request, session: SessionDep, staff: Manager, slug: str) -> Response:
    return _scores_page(request, session, staff, slug)


@router.post("/scores/{slug}", response_class=HTMLResponse)
def set_scores(
    request: Request, session: WriteSession, staff: Manager, posted: PostedForm, slug: str
) -> Response:
    campaign = campaign_service.get_campaign(session, slug)
    typed = {
        target.department_id: _text(posted, f"score_{target.department.code}")
        for target in campaign.targets
    }
    try:
        parsed = {
            department_id: inspection_service.parse_score(text)
            for department_id, text in typed.items()
        }
        inspection_service.set_scores(session, staff.username, campaign, parsed)
    except PingyiError as error:
        return _scores_page(
            request, session, staff, slug, typed, error.translated(), error.status_code
        )
    return RedirectResponse(f"/admin/inspections/scores/{campaign.slug}", status_code=303)
