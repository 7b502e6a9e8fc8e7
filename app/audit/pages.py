"""The audit trail in the console: browse and filter (auditors and administrators)."""

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from app.accounts.models import StaffUser
from app.accounts.permissions import Permission
from app.accounts.web import render_admin, require
from app.audit import labels as audit_labels
from app.audit import service as audit_service
from app.deps import SessionDep

router = APIRouter(prefix="/admin/audit", include_in_schema=False)
PAGE_SIZE = 50


@router.get("", response_class=HTMLResponse)
def audit_trail(
    request: Request,
    session: SessionDep,
    staff: Annotated[StaffUser, Depends(require(Permission.VIEW_AUDIT))],
    actor: Annotated[str | None, Query(max_length=100)] = None,
    action: Annotated[str | None, Query(max_length=50)] = None,
    object: Annotated[str | None, Query(max_length=200)] = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    filters = audit_service.AuditFilter(
        actor=actor or None, action=action or None, object=object or None, since=since, until=until
    )
    entries, total = audit_service.list_entries(
        session, filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    query = {
        key: value
        for key, value in {
            "actor": actor,
            "action": action,
            "object": object,
            "since": since,
            "until": until,
        }.items()
        if value
    }
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    return render_admin(
        request,
        "admin/audit.html",
        staff,
        {
            "entries": entries,
            "total": total,
            "filters": filters,
            "actions": audit_service.known_actions(session),
            "action_label": audit_labels.action_label,
            "detail_lines": audit_labels.detail_lines,
            "page": page,
            "pages": pages,
            "previous_query": urlencode({**query, "page": page - 1}) if page > 1 else None,
            "next_query": urlencode({**query, "page": page + 1}) if page < pages else None,
        },
    )
