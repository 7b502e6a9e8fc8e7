"""What every office console route needs: the signed-in user, permissions, page rendering."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from app.accounts import service as account_service
from app.accounts import sessions
from app.accounts.models import Role, StaffUser
from app.accounts.permissions import Permission, allows
from app.config import get_settings
from app.deps import SessionDep
from app.errors import PingyiError
from app.i18n import N_
from app.middleware.cookies import queue_cookie
from app.templating import render


class NotSignedIn(PingyiError):
    status_code = 401
    code = "not_signed_in"
    message = N_("Please sign in first.")


class Forbidden(PingyiError):
    status_code = 403
    code = "forbidden"
    message = N_("Your account may not open this page or do this.")


def secure_cookies(request: Request) -> bool:
    return request.url.scheme == "https" or get_settings().public_base_url.startswith("https:")


def session_secret() -> bytes:
    return get_settings().secret_bytes()


def current_staff(request: Request, session: SessionDep) -> StaffUser | None:
    """The signed-in staff member, refreshing the session cookie's idle timer."""
    secret = session_secret()
    staff_session = sessions.decode(secret, request.cookies.get(sessions.COOKIE_NAME))
    user = account_service.user_for_session(session, staff_session)
    if user is not None:  # for an error page, rendered after this request's session is gone
        request.state.console_staff = ConsoleStaff(user.display_name, user.role)
    if user is not None and staff_session is not None:
        refreshed = sessions.encode(secret, staff_session)
        for header in sessions.cookie_headers(refreshed, secure=secure_cookies(request)):
            queue_cookie(request.scope, header)
    return user


def forget_queued_session_cookie(request: Request) -> None:
    """Drop the session cookie :func:`current_staff` queued, for a response that clears it
    (sign-out): it must answer with the clearing headers alone."""
    pending: list[str] = request.scope.get("state", {}).get("pending_cookies", [])
    pending[:] = [header for header in pending if not header.startswith(sessions.COOKIE_NAME + "=")]


CurrentStaff = Annotated[StaffUser | None, Depends(current_staff)]


def signed_in(user: CurrentStaff) -> StaffUser:
    if user is None:
        raise NotSignedIn()
    return user


StaffDep = Annotated[StaffUser, Depends(signed_in)]


def require(permission: Permission) -> Callable[[StaffUser], StaffUser]:
    """A dependency that admits only staff whose role has ``permission``."""

    def permitted(user: StaffDep) -> StaffUser:
        if not allows(user.role, permission):
            raise Forbidden()
        return user

    permitted.__name__ = f"require_{permission.value}"
    return permitted


def write_transaction(session: SessionDep) -> Session:
    """For routes that change data: on SQLite, take the write lock when the transaction starts.

    Console writes read before they write (and append to the audit chain); beginning
    IMMEDIATE stops a concurrent writer from invalidating that read half-way.
    """
    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
    return session


WriteSession = Annotated[Session, Depends(write_transaction)]


@dataclass(frozen=True)
class ConsoleStaff:
    """What the console layout shows of the signed-in user: enough for the navigation."""

    display_name: str
    role: Role


def console_permissions(role: Role | None) -> set[str]:
    return {p.value for p in Permission if role is not None and allows(role, p)}


def render_admin(
    request: Request,
    name: str,
    staff: StaffUser | None,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    permissions = console_permissions(staff.role if staff is not None else None)
    return render(
        request,
        name,
        {"staff": staff, "can": permissions, "switch_path": request.url.path, **(context or {})},
        status_code=status_code,
    )
