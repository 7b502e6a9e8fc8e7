"""Checks every command and ``serve`` run before touching the database, so a first contact
with a wrong setting gets one line saying what is wrong and what to run.

The database check costs one connection and a few small queries (is there an
``alembic_version`` table, which revision does it hold, and for a newer schema whether it
still accepts this release), through :mod:`app.ops.schema`, which decides what this release
can run on.
"""

import re
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from app.config import get_settings
from app.errors import PingyiError
from app.i18n import N_
from app.ops import schema


class DatabaseNotReady(PingyiError):
    """The database cannot be used as it is; the message says what to run."""

    status_code = 503
    code = "database_not_ready"


UNREACHABLE = N_(
    "Cannot reach the database at %(url)s (%(problem)s): is the database server running, and "
    "is PINGYI_DATABASE_URL right?"
)
MISSING_DATABASE = N_(
    "The database at %(url)s does not exist: create it (createdb), or correct "
    "PINGYI_DATABASE_URL, then run `pingyi db upgrade`."
)
MISSING_DIRECTORY = N_(
    "There is no database at %(path)s: its directory does not exist. Correct "
    "PINGYI_DATABASE_URL, or run `pingyi db upgrade` to create it there."
)
MISSING_FILE = N_("There is no database at %(path)s yet: run `pingyi db upgrade` to create it.")
UNMIGRATED = N_("The database at %(url)s has no Pingyi tables yet: run `pingyi db upgrade`.")
BEHIND = N_(
    "The database at %(url)s is at schema revision %(current)s, older than this release's "
    "%(head)s: run `pingyi db upgrade`."
)
UNKNOWN_REVISION = N_(
    "The database at %(url)s is at schema revision %(current)s, which this release does not "
    "know (it expects %(head)s): run the release that migrated it, or restore a backup."
)
UNUSABLE = N_("Cannot use the database at %(url)s: %(problem)s")


def preflight(*, serving: bool = False) -> None:
    """Raise :class:`app.errors.PingyiError` with one clear line when the database is
    unreachable, missing or unmigrated, or the secret does not match it."""
    check_database()
    from app.ops.secret import check_secret_matches

    check_secret_matches()


def check_database() -> None:
    """Raise :class:`DatabaseNotReady` unless the database exists, answers and is migrated to
    a revision this release can run on."""
    from app.db import get_engine

    url = make_url(get_settings().database_url)
    shown = url.render_as_string(hide_password=True)
    _check_sqlite_file(url)  # before connecting: connecting would create the file
    try:
        with get_engine().connect() as connection:
            current = schema.database_heads(connection)
            if not current:
                raise DatabaseNotReady(UNMIGRATED, url=shown)
            if schema.schema_status(connection) != "behind":
                return
            listed = ", ".join(sorted(current))
            head = schema.code_head()
            _, known = schema.release_revisions()
            if current <= known:
                raise DatabaseNotReady(BEHIND, url=shown, current=listed, head=head)
            raise DatabaseNotReady(UNKNOWN_REVISION, url=shown, current=listed, head=head)
    except DBAPIError as error:
        raise database_error(error, shown) from None


def database_error(error: DBAPIError, shown_url: str) -> DatabaseNotReady:
    """One line for a database that refused a connection or a statement."""
    problem = _first_line(error)
    if re.search(r'database "[^"]*" does not exist', problem):
        return DatabaseNotReady(MISSING_DATABASE, url=shown_url)
    if "FATAL:" in problem:  # the server answered, and refused (a role, a password)
        return DatabaseNotReady(UNUSABLE, url=shown_url, problem=_reason(problem))
    if error.connection_invalidated or _is_connection_failure(problem):
        return DatabaseNotReady(UNREACHABLE, url=shown_url, problem=_reason(problem))
    return DatabaseNotReady(UNUSABLE, url=shown_url, problem=problem)


def describe_database_failure(error: DBAPIError) -> str:
    """What a command that failed on the database prints: one translated line."""
    shown = make_url(get_settings().database_url).render_as_string(hide_password=True)
    return database_error(error, shown).translated()


def _check_sqlite_file(url: URL) -> None:
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    if url.database.startswith("file:"):  # a URI filename: leave it to SQLite
        return
    path = Path(url.database)
    if not path.parent.is_dir():
        raise DatabaseNotReady(MISSING_DIRECTORY, path=str(path))
    if not path.exists():
        raise DatabaseNotReady(MISSING_FILE, path=str(path))


def _first_line(error: DBAPIError) -> str:
    original = error.orig if error.orig is not None else error
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    return lines[0] if lines else type(original).__name__


def _is_connection_failure(problem: str) -> bool:
    markers = ("connection failed", "could not connect", "failed to resolve host", "timeout")
    lowered = problem.lower()
    return any(marker in lowered for marker in markers)


def _reason(problem: str) -> str:
    """``connection failed: connection to server at "h", port 1 failed: Connection refused``
    → ``Connection refused``."""
    reason = problem.rsplit("failed: ", 1)[-1].strip() or problem
    return re.sub(r"^FATAL:\s+", "", reason)
