"""Staff sessions: a signed, expiring cookie scoped to ``/admin``.

The cookie holds the user id, the user's session version (bumped on logout, password reset
or disabling, which ends every session at once) and when the session began. It is HttpOnly,
SameSite=Lax, Secure over HTTPS, and its paths keep it away from the rater pages, so a staff
member who also rates sends no staff cookie with their rating: it is set once for the console
(``/admin``) and once for the campaign API (``/api/v1/campaigns``, where staff read results
before publication), never for ``/r`` or the rating API.
"""

import time
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE_NAME = "pingyi_staff"
COOKIE_PATH = "/admin"
COOKIE_PATHS = (COOKIE_PATH, "/api/v1/campaigns")
IDLE_TIMEOUT = 2 * 3600  # two hours without a request, in seconds
ABSOLUTE_TIMEOUT = 12 * 3600  # a working day, in seconds
_SALT = "pingyi staff session v1"


@dataclass(frozen=True)
class StaffSession:
    user_id: int
    version: int
    started_at: int  # unix seconds


def _serializer(secret: bytes) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=_SALT)


def new_session(user_id: int, version: int) -> StaffSession:
    return StaffSession(user_id=user_id, version=version, started_at=int(time.time()))


def encode(secret: bytes, staff_session: StaffSession) -> str:
    return _serializer(secret).dumps(
        [staff_session.user_id, staff_session.version, staff_session.started_at]
    )


def decode(secret: bytes, cookie: str | None) -> StaffSession | None:
    """The session in a cookie, or None when it is missing, forged, idle too long or too old."""
    if not cookie:
        return None
    try:
        user_id, version, started_at = _serializer(secret).loads(cookie, max_age=IDLE_TIMEOUT)
    except (BadSignature, ValueError, TypeError):
        return None
    if not all(isinstance(value, int) for value in (user_id, version, started_at)):
        return None
    if time.time() - started_at > ABSOLUTE_TIMEOUT:
        return None
    return StaffSession(user_id=user_id, version=version, started_at=started_at)


def cookie_headers(value: str, *, secure: bool, max_age: int = IDLE_TIMEOUT) -> list[str]:
    """One Set-Cookie header per path the session is valid on."""
    return [
        cookie_header(value, secure=secure, max_age=max_age, path=path) for path in COOKIE_PATHS
    ]


def cookie_header(
    value: str, *, secure: bool, max_age: int = IDLE_TIMEOUT, path: str = COOKIE_PATH
) -> str:
    attributes = [
        f"{COOKIE_NAME}={value}",
        f"Path={path}",
        f"Max-Age={max_age}",
        "HttpOnly",
        "SameSite=Lax",
    ]
    if secure:
        attributes.append("Secure")
    return "; ".join(attributes)


def clearing_cookie_headers(*, secure: bool) -> list[str]:
    return cookie_headers("", secure=secure, max_age=0)
