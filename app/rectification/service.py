"""The 整改 task lifecycle, in one place for the console, the liaison's pages and exports.

assigned → plan submitted → in progress → report submitted → accepted | returned; a returned
report goes back to the liaison, who adds progress and evidence and reports again. Overdue is
never stored: it is derived from the deadline (see :func:`is_overdue`). Every step writes its
audit entry in the caller's transaction.

A liaison acts only on their own department's tasks: anyone else's answers exactly as a task
that does not exist (:func:`task_for_liaison`), so the pages do not confirm it exists.
"""

import datetime as dt
import enum
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.models import StaffUser
from app.audit import service as audit_service
from app.campaigns.models import Campaign, Target
from app.errors import InvalidInput, InvalidTransition, NotFound
from app.i18n import N_
from app.rectification import evidence as evidence_files
from app.rectification import problems as problem_list
from app.rectification import workdays
from app.rectification.models import (
    TITLE_MAX_LENGTH,
    EvidenceFile,
    NoteKind,
    ProblemItem,
    RectificationTask,
    TaskNote,
    TaskStatus,
)

OFFICE_TIME_ZONE = ZoneInfo("Asia/Shanghai")  # deadlines are counted in Chinese working days

STATUS_NAMES = {
    TaskStatus.ASSIGNED: N_("Assigned"),
    TaskStatus.PLAN_SUBMITTED: N_("Plan submitted"),
    TaskStatus.IN_PROGRESS: N_("In progress"),
    TaskStatus.REPORT_SUBMITTED: N_("Report submitted"),
    TaskStatus.ACCEPTED: N_("Accepted"),
    TaskStatus.RETURNED: N_("Returned"),
}


class PublicStatus(enum.StrEnum):
    """What the public 整改公示 page says of a task."""

    IN_PROGRESS = "in_progress"  # 整改中
    DONE = "done"  # 已整改
    OVERDUE = "overdue"  # 逾期


PUBLIC_STATUS_NAMES = {
    PublicStatus.IN_PROGRESS: N_("Being rectified"),
    PublicStatus.DONE: N_("Rectified"),
    PublicStatus.OVERDUE: N_("Overdue"),
}

PLANNABLE = frozenset({TaskStatus.ASSIGNED, TaskStatus.PLAN_SUBMITTED})
WORKING = frozenset({TaskStatus.PLAN_SUBMITTED, TaskStatus.IN_PROGRESS, TaskStatus.RETURNED})

WRONG_STEP = N_("This task is “%(status)s”: that step is not possible now.")
TITLE_REQUIRED = N_("Give the task a title of at most %(maximum)s characters.")
FIELD_REQUIRED = N_("This field is required.")
PLAN_DATES = N_("The planned end date cannot be before the start date.")
EVIDENCE_REQUIRED = N_("Upload at least one evidence file before submitting the report.")
PROBLEM_ELSEWHERE = N_("Problem %(id)s is not an unassigned problem of this department.")


def today() -> dt.date:
    return dt.datetime.now(OFFICE_TIME_ZONE).date()


def is_overdue(task: RectificationTask, on: dt.date) -> bool:
    """Past its deadline and not accepted; a report submitted by the deadline and awaiting the
    office's review does not count against the department."""
    if task.status == TaskStatus.ACCEPTED or on <= task.deadline:
        return False
    submitted = task.report_submitted_on
    return not (
        task.status == TaskStatus.REPORT_SUBMITTED
        and submitted is not None
        and submitted <= task.deadline
    )


def public_status(task: RectificationTask, on: dt.date) -> PublicStatus:
    if task.status == TaskStatus.ACCEPTED:
        return PublicStatus.DONE
    return PublicStatus.OVERDUE if is_overdue(task, on) else PublicStatus.IN_PROGRESS


def _audit(
    session: Session, actor: str, action: str, task: RectificationTask, **detail: object
) -> None:
    audit_service.record(
        session, actor=actor, action=action, object=f"rectification_task:{task.id}", detail=detail
    )


def _require_text(value: str, field: str) -> str:
    cleaned = value.strip()
    if not cleaned:
        raise InvalidInput(FIELD_REQUIRED, field=field)
    return cleaned


def _check_step(task: RectificationTask, allowed: frozenset[TaskStatus]) -> None:
    if task.status not in allowed:
        raise InvalidTransition(WRONG_STEP, status=task.status.value)


# --- the office --------------------------------------------------------------------------------


def assign_task(
    session: Session,
    campaign: Campaign,
    target: Target,
    *,
    title: str,
    description: str,
    working_days: int,
    problem_ids: Sequence[int] = (),
    actor: str,
    on: dt.date | None = None,
) -> RectificationTask:
    """A task for ``target``'s department, due ``working_days`` working days after ``on``,
    from the given problems of its list (their texts become the description if none is
    written)."""
    problem_list.check_published(campaign)
    title = title.strip()
    if not title or len(title) > TITLE_MAX_LENGTH:
        raise InvalidInput(TITLE_REQUIRED, field="title", maximum=TITLE_MAX_LENGTH)
    chosen: list[ProblemItem] = []
    for problem_id in problem_ids:
        problem = session.get(ProblemItem, problem_id)
        if (
            problem is None
            or problem.campaign_id != campaign.id
            or problem.target_id != target.id
            or problem.task_id is not None
        ):
            raise InvalidInput(PROBLEM_ELSEWHERE, field="problems", id=problem_id)
        chosen.append(problem)
    description = description.strip() or "\n".join(problem.text for problem in chosen)
    description = _require_text(description, "description")
    assigned_on = on or today()
    deadline = workdays.add_working_days(assigned_on, working_days, workdays.overrides(session))
    task = RectificationTask(
        campaign_id=campaign.id,
        target_id=target.id,
        title=title,
        description=description,
        status=TaskStatus.ASSIGNED,
        assigned_on=assigned_on,
        working_days=working_days,
        deadline=deadline,
    )
    session.add(task)
    session.flush()
    for problem in chosen:
        problem.task_id = task.id
    session.flush()
    _audit(
        session,
        actor,
        "rectification_task_assign",
        task,
        campaign=campaign.slug,
        department=target.department.code,
        working_days=working_days,
        deadline=deadline.isoformat(),
        problems=[problem.id for problem in chosen],
    )
    return task


def review_report(
    session: Session,
    task: RectificationTask,
    *,
    accept: bool,
    reason: str,
    actor: str,
    on: dt.date | None = None,
) -> None:
    """Accept the submitted report, or return it with a reason the liaison sees."""
    _check_step(task, frozenset({TaskStatus.REPORT_SUBMITTED}))
    day = on or today()
    reason = reason.strip()
    if not accept:
        reason = _require_text(reason, "reason")
    task.status = TaskStatus.ACCEPTED if accept else TaskStatus.RETURNED
    if accept:
        task.accepted_on = day
    if reason:
        kind = NoteKind.ACCEPTED if accept else NoteKind.RETURNED
        task.notes.append(
            TaskNote(task_id=task.id, kind=kind, text=reason, author=actor, written_on=day)
        )
    session.flush()
    _audit(
        session,
        actor,
        "rectification_report_accept" if accept else "rectification_report_return",
        task,
    )


def get_task(session: Session, task_id: int) -> RectificationTask:
    task = session.get(RectificationTask, task_id)
    if task is None:
        raise NotFound(name=str(task_id))
    return task


def tasks_of_campaign(session: Session, campaign: Campaign) -> Sequence[RectificationTask]:
    return session.scalars(
        select(RectificationTask)
        .where(RectificationTask.campaign_id == campaign.id)
        .order_by(RectificationTask.target_id, RectificationTask.id)
    ).all()


def overdue_tasks(session: Session, on: dt.date | None = None) -> list[RectificationTask]:
    """Every overdue task of every campaign, the longest overdue first (console dashboard)."""
    day = on or today()
    candidates = session.scalars(
        select(RectificationTask)
        .where(RectificationTask.status != TaskStatus.ACCEPTED, RectificationTask.deadline < day)
        .order_by(RectificationTask.deadline, RectificationTask.id)
    ).all()
    return [task for task in candidates if is_overdue(task, day)]


def task_counts(session: Session, campaign: Campaign) -> dict[TaskStatus, int]:
    rows = session.execute(
        select(RectificationTask.status, func.count())
        .where(RectificationTask.campaign_id == campaign.id)
        .group_by(RectificationTask.status)
    ).all()
    return {status: count for status, count in rows}


def target_of(session: Session, task: RectificationTask) -> Target:
    return session.get_one(Target, task.target_id)


def campaign_of(session: Session, task: RectificationTask) -> Campaign:
    return session.get_one(Campaign, task.campaign_id)


# --- the department's liaison ------------------------------------------------------------------


def tasks_for_department(session: Session, department_id: int) -> Sequence[RectificationTask]:
    return session.scalars(
        select(RectificationTask)
        .join(Target, Target.id == RectificationTask.target_id)
        .where(Target.department_id == department_id)
        .order_by(RectificationTask.deadline, RectificationTask.id)
    ).all()


def task_for_liaison(session: Session, liaison: StaffUser, task_id: int) -> RectificationTask:
    """The task, if it is the liaison's own department's; else NotFound, as for no task."""
    task = session.get(RectificationTask, task_id)
    if (
        task is None
        or liaison.department_id is None
        or target_of(session, task).department_id != liaison.department_id
    ):
        raise NotFound(name=str(task_id))
    return task


def submit_plan(
    session: Session,
    task: RectificationTask,
    *,
    measures: str,
    responsible_post: str,
    starts_on: dt.date,
    ends_on: dt.date,
    actor: str,
) -> None:
    """The department's plan: its measures (措施), the post responsible and the dates. It
    can be revised until work on it is reported."""
    _check_step(task, PLANNABLE)
    if ends_on < starts_on:
        raise InvalidInput(PLAN_DATES, field="ends_on")
    task.measures = _require_text(measures, "measures")
    task.responsible_post = _require_text(responsible_post, "responsible_post")[:100]
    task.plan_starts_on = starts_on
    task.plan_ends_on = ends_on
    task.status = TaskStatus.PLAN_SUBMITTED
    session.flush()
    _audit(session, actor, "rectification_plan_submit", task)


def add_progress(
    session: Session, task: RectificationTask, text: str, *, actor: str, on: dt.date | None = None
) -> None:
    _check_step(task, WORKING)
    note = TaskNote(
        task_id=task.id,
        kind=NoteKind.PROGRESS,
        text=_require_text(text, "text"),
        author=actor,
        written_on=on or today(),
    )
    task.notes.append(note)
    task.status = TaskStatus.IN_PROGRESS
    session.flush()
    _audit(session, actor, "rectification_progress", task)


def add_evidence(
    session: Session, task: RectificationTask, data: bytes, name: str | None, *, actor: str
) -> EvidenceFile:
    _check_step(task, WORKING)
    stored = evidence_files.store(data, name)
    row = EvidenceFile(
        task_id=task.id,
        stored_name=stored.stored_name,
        file_name=stored.file_name,
        media_type=stored.media_type,
        size_bytes=stored.size_bytes,
        sha256=stored.sha256,
        uploaded_by=actor,
    )
    task.evidence.append(row)
    session.flush()
    _audit(
        session,
        actor,
        "rectification_evidence_upload",
        task,
        evidence=row.id,
        media_type=row.media_type,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
    )
    return row


def submit_report(
    session: Session, task: RectificationTask, text: str, *, actor: str, on: dt.date | None = None
) -> None:
    """The completion report; it needs at least one evidence file."""
    _check_step(task, WORKING)
    report = _require_text(text, "text")
    if not task.evidence:
        raise InvalidInput(EVIDENCE_REQUIRED, field="evidence")
    day = on or today()
    task.notes.append(
        TaskNote(task_id=task.id, kind=NoteKind.REPORT, text=report, author=actor, written_on=day)
    )
    task.status = TaskStatus.REPORT_SUBMITTED
    task.report_submitted_on = day
    session.flush()
    _audit(session, actor, "rectification_report_submit", task)


def get_evidence(session: Session, task: RectificationTask, evidence_id: int) -> EvidenceFile:
    row = session.get(EvidenceFile, evidence_id)
    if row is None or row.task_id != task.id:
        raise NotFound(name=str(evidence_id))
    return row


def open_evidence(
    session: Session, task: RectificationTask, evidence_id: int, *, actor: str
) -> tuple[EvidenceFile, bytes]:
    """An evidence file's record and bytes, for download; the download is audited."""
    row = get_evidence(session, task, evidence_id)
    data = evidence_files.read(row.stored_name)
    _audit(session, actor, "rectification_evidence_download", task, evidence=row.id)
    return row, data
