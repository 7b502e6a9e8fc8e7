"""What every ``pingyi`` command module shares: how a command fails (a red line on stderr
and exit status 1), how domain and database errors are reported, the codes' hashing key,
and the check that a seal finished."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from sqlalchemy.exc import DBAPIError, OperationalError

from app.admission import codes
from app.campaigns import service as campaign_service
from app.config import get_settings
from app.credentials.errors import RosterImportInvalid
from app.db import session_scope
from app.departments.service import DepartmentImportInvalid
from app.errors import PingyiError
from app.surveys.service import QuestionnaireInvalid


def fail(message: str) -> NoReturn:
    """Print ``message`` in red on stderr and exit with status 1."""
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code=1)


def describe(error: PingyiError) -> str:
    """What a command prints for ``error``: its message with every problem listed, or its
    message and the field it concerns."""
    if isinstance(error, DepartmentImportInvalid):
        return "\n".join([error.translated(), *(str(problem) for problem in error.problems)])
    if isinstance(error, QuestionnaireInvalid):
        return "\n".join([f"{error.source}:", *(f"  - {problem}" for problem in error.problems)])
    if isinstance(error, RosterImportInvalid):
        return "\n".join([error.translated(), *(f"  - {problem}" for problem in error.problems)])
    field = f" ({error.field})" if error.field else ""
    return error.translated() + field


def fail_with(error: PingyiError) -> NoReturn:
    fail(describe(error))


def print_database_failure(error: DBAPIError) -> None:
    """One translated line for a database that failed (unreachable, disk full, locked)."""
    from app.ops.preflight import describe_database_failure

    typer.secho(describe_database_failure(error), fg=typer.colors.RED, err=True)


@contextmanager
def reported_errors(*, without_preflight: bool = False) -> Iterator[None]:
    """Print domain errors as plain messages (:func:`describe`) and exit with 1; a database
    that fails (unreachable, disk full, locked) as one line, not a traceback.

    A command that skips the preflight (``without_preflight``) reports any error the
    database raises that way, a missing table too: nothing checked the database before it.
    """
    database_errors = DBAPIError if without_preflight else OperationalError
    try:
        yield
    except database_errors as error:
        print_database_failure(error)
        raise typer.Exit(code=1) from None
    except PingyiError as error:
        fail_with(error)


def hashing_key() -> bytes:
    """The key admission codes are hashed with, from the server secret."""
    return codes.hashing_key(get_settings().secret_bytes())


def fail_if_seal_pending(slug: str, done: str) -> None:
    """After a step that seals ``slug`` (``done``: what it did, in brief): exit with 1 if the
    seal rewrote the rows but its vacuum did not finish."""
    with reported_errors(), session_scope() as session:
        pending = campaign_service.get_campaign(session, slug).seal_pending
    if pending:
        fail(
            f"{slug}: {done}, but its seal did not finish (the vacuum that "
            f"removes the old copies of its rows did not complete): run "
            f"`pingyi campaign seal {slug}`"
        )
