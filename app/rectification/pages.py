"""整改 in the console: the office's problem lists, tasks, review, holiday table and exports
(``/admin/rectification``), and the liaison's own department's tasks
(``/admin/my-rectification``).

Reading takes the permission to view results; changing lists, assigning and reviewing takes
``manage_rectification``; exports take ``export_results``. A liaison's routes take
``respond_rectification`` and reach only their own department's tasks: another's answers 404.
A refused step raises its domain error, which the console shows as an error page; nothing is
changed then.
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.accounts.models import StaffUser
from app.accounts.permissions import Permission
from app.accounts.web import WriteSession, render_admin, require
from app.audit import service as audit_service
from app.campaigns.models import Campaign, Target
from app.deps import SessionDep
from app.errors import NotFound
from app.public import service as public_service
from app.rectification import evidence as evidence_files
from app.rectification import exports, service, workdays
from app.rectification import problems as problem_list
from app.rectification.models import EvidenceFile, ProblemItem, RectificationTask

router = APIRouter(prefix="/admin/rectification", include_in_schema=False)
liaison_router = APIRouter(prefix="/admin/my-rectification", include_in_schema=False)

Viewer = Annotated[StaffUser, Depends(require(Permission.VIEW_RESULTS))]
Manager = Annotated[StaffUser, Depends(require(Permission.MANAGE_RECTIFICATION))]
Exporter = Annotated[StaffUser, Depends(require(Permission.EXPORT_RESULTS))]
Liaison = Annotated[StaffUser, Depends(require(Permission.RESPOND_RECTIFICATION))]
Text = Annotated[str, Form()]


@dataclass
class DepartmentRow:
    target: Target
    problems: list[ProblemItem] = field(default_factory=list)
    tasks: list[RectificationTask] = field(default_factory=list)

    @property
    def open_problems(self) -> list[ProblemItem]:
        return [problem for problem in self.problems if problem.task_id is None]


def _published(session: Session, slug: str) -> Campaign:
    """A published campaign; any other answers 404 (rectification follows publication)."""
    return public_service.published_campaign(session, slug)


def _target(campaign: Campaign, code: str) -> Target:
    return public_service.published_target(campaign, code)


def _campaign_url(slug: str, anchor: str = "") -> str:
    return f"/admin/rectification/{slug}" + (f"#{anchor}" if anchor else "")


# --- the office --------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def overview(request: Request, session: SessionDep, staff: Viewer) -> Response:
    campaigns = public_service.published_campaigns(session)
    counts = {campaign.id: service.task_counts(session, campaign) for campaign in campaigns}
    return render_admin(
        request,
        "admin/rectification/index.html",
        staff,
        {
            "campaigns": campaigns,
            "counts": counts,
            "overdue": service.overdue_tasks(session),
        },
    )


@router.get("/{slug}", response_class=HTMLResponse)
def campaign_page(request: Request, session: SessionDep, staff: Viewer, slug: str) -> Response:
    campaign = _published(session, slug)
    rows = {target.id: DepartmentRow(target) for target in campaign.targets}
    for problem in problem_list.problems_of(session, campaign):
        rows[problem.target_id].problems.append(problem)
    for task in service.tasks_of_campaign(session, campaign):
        rows[task.target_id].tasks.append(task)
    return render_admin(
        request,
        "admin/rectification/campaign.html",
        staff,
        {
            "campaign": campaign,
            "settings": problem_list.settings_for(session, campaign),
            "rows": list(rows.values()),
            "today": service.today(),
            "is_overdue": service.is_overdue,
            "status_names": service.STATUS_NAMES,
            "generated": any(row.problems or row.tasks for row in rows.values()),
        },
    )


@router.post("/{slug}/settings")
def save_settings(
    session: WriteSession,
    staff: Manager,
    slug: str,
    item_mean_below: Annotated[float, Form()],
    satisfaction_below_percent: Annotated[float, Form()],
    poor_share_above_percent: Annotated[float, Form()],
    working_days: Annotated[int, Form()],
) -> Response:
    campaign = _published(session, slug)
    problem_list.update_settings(
        session,
        campaign,
        item_mean_below=item_mean_below,
        satisfaction_below=satisfaction_below_percent / 100,
        poor_share_above=poor_share_above_percent / 100,
        working_days=working_days,
        actor=staff.username,
    )
    return RedirectResponse(_campaign_url(slug, "settings"), status_code=303)


@router.post("/{slug}/problems/generate")
def generate_problems(session: WriteSession, staff: Manager, slug: str) -> Response:
    campaign = _published(session, slug)
    problem_list.generate(session, campaign, actor=staff.username)
    return RedirectResponse(_campaign_url(slug, "departments"), status_code=303)


@router.post("/{slug}/problems/add")
def add_problem(
    session: WriteSession, staff: Manager, slug: str, department: Text, text: Text
) -> Response:
    campaign = _published(session, slug)
    target = _target(campaign, department)
    problem_list.add_problem(session, campaign, target, text, actor=staff.username)
    return RedirectResponse(_campaign_url(slug, f"department-{department}"), status_code=303)


@router.post("/{slug}/problems/{problem_id}/edit")
def edit_problem(
    session: WriteSession, staff: Manager, slug: str, problem_id: int, text: Text
) -> Response:
    campaign = _published(session, slug)
    problem = problem_list.get_problem(session, campaign, problem_id)
    problem_list.edit_problem(session, problem, text, actor=staff.username)
    return RedirectResponse(_campaign_url(slug, f"problem-{problem_id}"), status_code=303)


@router.post("/{slug}/problems/{problem_id}/remove")
def remove_problem(session: WriteSession, staff: Manager, slug: str, problem_id: int) -> Response:
    campaign = _published(session, slug)
    problem = problem_list.get_problem(session, campaign, problem_id)
    problem_list.remove_problem(session, problem, actor=staff.username)
    return RedirectResponse(_campaign_url(slug, "departments"), status_code=303)


@router.post("/{slug}/tasks")
def assign_task(
    session: WriteSession,
    staff: Manager,
    slug: str,
    department: Text,
    title: Text,
    working_days: Annotated[int, Form()],
    description: Annotated[str, Form()] = "",
    problems: Annotated[list[int] | None, Form()] = None,
) -> Response:
    campaign = _published(session, slug)
    target = _target(campaign, department)
    task = service.assign_task(
        session,
        campaign,
        target,
        title=title,
        description=description,
        working_days=working_days,
        problem_ids=problems or [],
        actor=staff.username,
    )
    return RedirectResponse(f"/admin/rectification/tasks/{task.id}", status_code=303)


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
def task_page(request: Request, session: SessionDep, staff: Viewer, task_id: int) -> Response:
    task = service.get_task(session, task_id)
    return _task_page(request, session, staff, task, "admin/rectification/task.html")


def _task_page(
    request: Request, session: Session, staff: StaffUser, task: RectificationTask, template: str
) -> Response:
    return render_admin(
        request,
        template,
        staff,
        {
            "task": task,
            "campaign": service.campaign_of(session, task),
            "department": service.target_of(session, task).department,
            "status_names": service.STATUS_NAMES,
            "overdue": service.is_overdue(task, service.today()),
            "max_megabytes": evidence_files.MAX_EVIDENCE_BYTES // (1024 * 1024),
        },
    )


@router.post("/tasks/{task_id}/review")
def review(
    session: WriteSession,
    staff: Manager,
    task_id: int,
    decision: Text,
    reason: Annotated[str, Form()] = "",
) -> Response:
    task = service.get_task(session, task_id)
    if decision not in ("accept", "return"):
        raise NotFound(name=decision)
    service.review_report(
        session, task, accept=decision == "accept", reason=reason, actor=staff.username
    )
    return RedirectResponse(f"/admin/rectification/tasks/{task_id}", status_code=303)


@router.get("/tasks/{task_id}/evidence/{evidence_id}")
def office_evidence(
    session: WriteSession, staff: Viewer, task_id: int, evidence_id: int
) -> Response:
    task = service.get_task(session, task_id)
    return _download(*service.open_evidence(session, task, evidence_id, actor=staff.username))


def _download(row: EvidenceFile, data: bytes) -> Response:
    return Response(
        content=data,
        media_type=row.media_type,
        headers=evidence_files.download_headers(row.file_name),
    )


@router.post("/{slug}/export/{fmt}")
def export(session: WriteSession, staff: Exporter, slug: str, fmt: str) -> Response:
    campaign = _published(session, slug)
    if fmt not in exports.FORMATS:
        raise NotFound(name=fmt)
    content = exports.export(session, campaign, fmt, on=service.today())
    audit_service.record(
        session,
        actor=staff.username,
        action="rectification_export",
        object=f"campaign:{campaign.slug}",
        detail={"format": fmt},
    )
    file_name = f"{campaign.slug}-rectification.{fmt}"
    return Response(
        content=content,
        media_type=exports.FORMATS[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{file_name}"',
            "Cache-Control": "no-store",
        },
    )


# --- the office's holiday table ----------------------------------------------------------------


@router.get("/calendar/workdays", response_class=HTMLResponse)
def workday_table(request: Request, session: SessionDep, staff: Viewer) -> Response:
    return render_admin(
        request,
        "admin/rectification/workdays.html",
        staff,
        {"overrides": workdays.override_rows(session)},
    )


@router.post("/calendar/workdays")
def set_workday(
    session: WriteSession,
    staff: Manager,
    day: Annotated[dt.date, Form()],
    kind: Text,
    note: Annotated[str, Form()] = "",
) -> Response:
    if kind not in ("working", "off"):
        raise NotFound(name=kind)
    workdays.set_override(session, day, working=kind == "working", note=note.strip()[:100])
    audit_service.record(
        session,
        actor=staff.username,
        action="rectification_workday_set",
        object=f"day:{day.isoformat()}",
        detail={"working": kind == "working"},
    )
    return RedirectResponse("/admin/rectification/calendar/workdays", status_code=303)


@router.post("/calendar/workdays/remove")
def remove_workday(
    session: WriteSession, staff: Manager, day: Annotated[dt.date, Form()]
) -> Response:
    if workdays.remove_override(session, day):
        audit_service.record(
            session,
            actor=staff.username,
            action="rectification_workday_remove",
            object=f"day:{day.isoformat()}",
        )
    return RedirectResponse("/admin/rectification/calendar/workdays", status_code=303)


# --- the department's liaison ------------------------------------------------------------------


@liaison_router.get("", response_class=HTMLResponse)
def my_tasks(request: Request, session: SessionDep, staff: Liaison) -> Response:
    tasks = (
        service.tasks_for_department(session, staff.department_id)
        if staff.department_id is not None
        else []
    )
    return render_admin(
        request,
        "admin/rectification/mine.html",
        staff,
        {
            "tasks": tasks,
            "campaigns": {task.campaign_id: service.campaign_of(session, task) for task in tasks},
            "status_names": service.STATUS_NAMES,
            "is_overdue": service.is_overdue,
            "today": service.today(),
        },
    )


@liaison_router.get("/{task_id}", response_class=HTMLResponse)
def my_task(request: Request, session: SessionDep, staff: Liaison, task_id: int) -> Response:
    task = service.task_for_liaison(session, staff, task_id)
    return _task_page(request, session, staff, task, "admin/rectification/my_task.html")


def _my_task_url(task_id: int, anchor: str) -> str:
    return f"/admin/my-rectification/{task_id}#{anchor}"


@liaison_router.post("/{task_id}/plan")
def submit_plan(
    session: WriteSession,
    staff: Liaison,
    task_id: int,
    measures: Text,
    responsible_post: Text,
    starts_on: Annotated[dt.date, Form()],
    ends_on: Annotated[dt.date, Form()],
) -> Response:
    task = service.task_for_liaison(session, staff, task_id)
    service.submit_plan(
        session,
        task,
        measures=measures,
        responsible_post=responsible_post,
        starts_on=starts_on,
        ends_on=ends_on,
        actor=staff.username,
    )
    return RedirectResponse(_my_task_url(task_id, "plan"), status_code=303)


@liaison_router.post("/{task_id}/progress")
def add_progress(session: WriteSession, staff: Liaison, task_id: int, text: Text) -> Response:
    task = service.task_for_liaison(session, staff, task_id)
    service.add_progress(session, task, text, actor=staff.username)
    return RedirectResponse(_my_task_url(task_id, "notes"), status_code=303)


@liaison_router.post("/{task_id}/evidence")
def upload_evidence(
    session: WriteSession,
    staff: Liaison,
    task_id: int,
    evidence: Annotated[UploadFile, File()],
) -> Response:
    task = service.task_for_liaison(session, staff, task_id)
    data = evidence.file.read(evidence_files.MAX_EVIDENCE_BYTES + 1)  # one byte says "too big"
    service.add_evidence(session, task, data, evidence.filename, actor=staff.username)
    return RedirectResponse(_my_task_url(task_id, "evidence"), status_code=303)


@liaison_router.post("/{task_id}/report")
def submit_report(session: WriteSession, staff: Liaison, task_id: int, text: Text) -> Response:
    task = service.task_for_liaison(session, staff, task_id)
    service.submit_report(session, task, text, actor=staff.username)
    return RedirectResponse(_my_task_url(task_id, "report"), status_code=303)


@liaison_router.get("/{task_id}/evidence/{evidence_id}")
def my_evidence(session: WriteSession, staff: Liaison, task_id: int, evidence_id: int) -> Response:
    task = service.task_for_liaison(session, staff, task_id)
    return _download(*service.open_evidence(session, task, evidence_id, actor=staff.username))
