"""Which part of the site a path belongs to: rater routes (never logged, never cached, no
cookie) and the office console (``/admin``)."""

RATER_PATH_PREFIXES = (
    "/r",
    "/api/v1/admission",
    "/api/v1/ballots",
    "/api/v1/start-token",
    "/verify",  # a rater checking their receipt: no log line, no cache
    "/api/v1/credentials",  # credential issuance: who asked, and when
    "/api/v1/roster",  # roster sign-in
)


def is_rater_path(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in RATER_PATH_PREFIXES)


STAFF_PATH_PREFIX = "/admin"


def is_staff_path(path: str) -> bool:
    return path == STAFF_PATH_PREFIX or path.startswith(STAFF_PATH_PREFIX + "/")


def is_staff_cookie_path(path: str) -> bool:
    """Whether the console's session cookie is sent to ``path`` (``/admin`` and the campaign
    API, see :mod:`app.accounts.sessions`): what it reaches must check CSRF."""
    from app.accounts.sessions import COOKIE_PATHS

    return any(path == prefix or path.startswith(prefix + "/") for prefix in COOKIE_PATHS)
