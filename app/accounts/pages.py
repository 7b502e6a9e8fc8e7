"""Signing in and out of the office console, and its front page."""

import unicodedata
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.accounts import service as account_service
from app.accounts import sessions
from app.accounts.models import Role
from app.accounts.web import (
    CurrentStaff,
    StaffDep,
    WriteSession,
    forget_queued_session_cookie,
    render_admin,
    secure_cookies,
    session_secret,
)
from app.audit import service as audit_service
from app.campaigns import overview as campaign_overview
from app.campaigns import service as campaign_service
from app.config import DeploymentRole, get_settings
from app.deps import SessionDep
from app.i18n import current_locale, gettext
from app.ratelimit import RateLimited, RateLimits
from app.ratelimit import check as spend_attempt
from app.ratelimit import refund as refund_attempt
from app.rectification import service as rectification_service

router = APIRouter(prefix="/admin", include_in_schema=False)

INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})  # controls, formats (bidi)…


def safe_next(target: str | None) -> str:
    """Only a path inside the console, with its query, never another site (open redirect):
    relative, no scheme or host, no ``//`` or ``\\`` anywhere, no control characters."""
    if not target or any(ord(character) < 0x20 or character == "\\" for character in target):
        return "/admin"
    parts = urlsplit(target)
    inside = parts.path == "/admin" or parts.path.startswith("/admin/")
    if inside and not parts.scheme and not parts.netloc and "//" not in target:
        return target
    return "/admin"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, staff: CurrentStaff, next: str | None = None) -> Response:
    if staff is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render_admin(request, "admin/login.html", None, {"next": safe_next(next)})


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: WriteSession,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form(max_length=500)] = "/admin",
) -> Response:
    try:  # per typed name first, then the per-address ceiling (both in memory)
        outcome = account_service.sign_in(
            session,
            username,
            password,
            before_check=lambda: spend_attempt(request, RateLimits.LOGIN),
        )
    except RateLimited as limited:  # the address's ceiling: nothing is checked or recorded
        page = render_admin(
            request,
            "admin/login.html",
            None,
            {"error": limited.translated(), "username": username, "next": safe_next(next)},
            status_code=429,
        )
        page.headers["Retry-After"] = str(limited.params["seconds"])
        return page
    if outcome.user is None:
        typed = _as_recorded(username)
        audit_service.record(
            session,
            actor=typed or "?",
            action="login_failed",
            object=f"user:{typed}",
            detail={"locked": outcome.wait_seconds > 0},
        )
        if outcome.wait_seconds:
            message = _wait_message(outcome.wait_seconds)
        else:
            message = gettext("The username or password is wrong.")
        page = render_admin(
            request,
            "admin/login.html",
            None,
            {"error": message, "username": username, "next": safe_next(next)},
            status_code=429 if outcome.wait_seconds else 401,
        )
        if outcome.wait_seconds:
            page.headers["Retry-After"] = str(outcome.wait_seconds)
        return page
    refund_attempt(request, RateLimits.LOGIN)
    user = outcome.user
    audit_service.record(
        session, actor=user.username, action="login", object=f"user:{user.username}"
    )
    response = RedirectResponse(safe_next(next), status_code=303)
    staff_session = sessions.new_session(user.id, user.session_version)
    for header in sessions.cookie_headers(
        sessions.encode(session_secret(), staff_session), secure=secure_cookies(request)
    ):
        response.headers.append("set-cookie", header)
    return response


def _as_recorded(username: str) -> str:
    """A typed user name as the audit trail keeps it: invisible, control and
    direction-changing characters (U+202E…) written as ``\\u202e``, so that a failed sign-in
    cannot disguise itself or the entries around it when the trail is read. At most 64
    characters, like a user name (the trail's columns are sized for that)."""
    recorded = "".join(
        f"\\u{ord(character):04x}"
        if unicodedata.category(character) in INVISIBLE_CATEGORIES
        else character
        for character in username.strip()[:64]
    )
    return recorded[:64]


def _wait_message(seconds: int) -> str:
    if seconds >= 60:
        return gettext(
            "Too many wrong passwords: this account is locked for %(minutes)s more minutes."
        ) % {"minutes": (seconds + 59) // 60}
    return gettext("Too many wrong passwords: please wait %(seconds)s seconds and try again.") % {
        "seconds": seconds
    }


@router.post("/logout")
def logout(request: Request, session: WriteSession, staff: StaffDep) -> Response:
    """Ends every session of this account, not only this browser's."""
    account_service.end_sessions(staff)
    audit_service.record(
        session, actor=staff.username, action="logout", object=f"user:{staff.username}"
    )
    response = RedirectResponse("/admin/login", status_code=303)
    forget_queued_session_cookie(request)  # the refresh current_staff queued: not after this
    for header in sessions.clearing_cookie_headers(secure=secure_cookies(request)):
        response.headers.append("set-cookie", header)
    return response


@router.get("", response_class=HTMLResponse)
def dashboard(request: Request, session: SessionDep, staff: StaffDep) -> Response:
    if staff.role == Role.LIAISON:
        return RedirectResponse("/admin/my-results", status_code=303)
    if staff.role == Role.INSPECTOR:  # may be a third party: no campaign at a glance
        return RedirectResponse("/admin/inspections", status_code=303)
    campaigns = campaign_service.list_campaigns(session)
    keeps_codes = get_settings().role != DeploymentRole.COLLECTOR  # a collector holds no code
    return render_admin(
        request,
        "admin/dashboard.html",
        staff,
        {
            "campaigns": campaigns,
            "glances": campaign_overview.at_a_glance(
                session, campaigns, current_locale(), keeps_codes=keeps_codes
            ),
            "overdue_tasks": rectification_service.overdue_tasks(session),
        },
    )
