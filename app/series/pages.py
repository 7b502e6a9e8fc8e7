"""The console's series pages: the series, and who rose and fell between the last two
published campaigns of one (from published figures only)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from app.accounts.models import StaffUser
from app.accounts.permissions import Permission
from app.accounts.web import render_admin, require
from app.deps import SessionDep
from app.public import views as public_views
from app.series import service as series_service

router = APIRouter(prefix="/admin/series", include_in_schema=False)

Viewer = Annotated[StaffUser, Depends(require(Permission.VIEW_RESULTS))]


@router.get("", response_class=HTMLResponse)
def series_list(request: Request, session: SessionDep, staff: Viewer) -> Response:
    return render_admin(
        request,
        "admin/series/list.html",
        staff,
        {"series": series_service.series_keys(session)},
    )


@router.get("/{series}", response_class=HTMLResponse)
def series_detail(request: Request, session: SessionDep, staff: Viewer, series: str) -> Response:
    campaigns = series_service.series_campaigns(session, series)
    comparison = series_service.risers_and_fallers(
        session, series, series_service.published_results(session)
    )
    return render_admin(
        request,
        "admin/series/detail.html",
        staff,
        {
            "series": series,
            "campaigns": campaigns,
            "comparison": comparison,
            "points": lambda value: "" if value is None else public_views.decimal_text(value, 2),
            "change": lambda value: "" if value is None else f"{value:+f}",
        },
    )
