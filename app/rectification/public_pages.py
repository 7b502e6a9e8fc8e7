"""整改公示: each published campaign's rectification tasks, per department, for everyone.

No sign-in and no cookie, Chinese first (``?lang=en`` for English). It shows what the office
assigned and how far each department is — 整改中 (being rectified), 已整改 (rectified, the
office accepted the report) or 逾期 (overdue) — and nothing a liaison wrote: no plan, note,
report or evidence. Only published campaigns: any other slug answers 404.
"""

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import SessionDep
from app.i18n import current_locale
from app.public import service as public_service
from app.rectification import service
from app.templating import render

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class PublicTask:
    title: str
    deadline: str
    status: service.PublicStatus


@dataclass(frozen=True)
class PublicDepartment:
    name: str
    category: str
    tasks: list[PublicTask]


@router.get("/rectification/{slug}", response_class=HTMLResponse)
def rectification_notice(request: Request, session: SessionDep, slug: str) -> HTMLResponse:
    campaign = public_service.published_campaign(session, slug)
    on = service.today()
    by_target: dict[int, list[PublicTask]] = {}
    for task in service.tasks_of_campaign(session, campaign):
        by_target.setdefault(task.target_id, []).append(
            PublicTask(task.title, task.deadline.isoformat(), service.public_status(task, on))
        )
    locale = current_locale()
    departments = [
        PublicDepartment(
            target.department.name_for(locale), target.department.category, by_target[target.id]
        )
        for target in campaign.targets
        if target.id in by_target
    ]
    path = f"/rectification/{campaign.slug}"
    return render(
        request,
        "public/rectification.html",
        {
            "title": campaign.title_for(locale),
            "slug": campaign.slug,
            "departments": departments,
            "status_names": service.PUBLIC_STATUS_NAMES,
            "as_of": on.isoformat(),
            "switch_path": path,
        },
    )
