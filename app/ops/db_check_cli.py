"""``pingyi db check``: compare the database with the high-water mark kept outside it.

Run it after any restore (and from cron, with ``--record``). It names, per campaign, the
ballots and evaluations acknowledged before the restore that the database no longer holds,
the codes used before it that work again and the credentials that could be spent again, and
an audit trail that is behind the mark; then the schema's drift, when that check is
installed. Exit status 1 when anything is wrong.
"""

import importlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.cli_support import fail
from app.config import get_settings
from app.db import session_scope
from app.ops import high_water, restore

WHAT_TO_DO_REOPENED = (
    "Run `pingyi db check --void-reopened` to mark those codes used and those credentials "
    "spent again, so nobody can rate twice."
)
WHAT_TO_DO_LOST = (
    "Lost ballots cannot come back from this database: if a newer backup exists (for "
    "PostgreSQL, the WAL archive up to the latest point), restore that and check again. "
    "Otherwise tell the raters of the batches named above that their ratings were lost, then "
    "run `pingyi db check --acknowledge` so the mark matches the database again."
)


def db_check(
    record: Annotated[
        bool, typer.Option("--record", help="Then raise the mark to what the database holds")
    ] = False,
    void_reopened: Annotated[
        bool,
        typer.Option(
            "--void-reopened",
            help="Mark codes used before the restore as used again, and put spent credentials "
            "back in the spent set, in one transaction",
        ),
    ] = False,
    acknowledge: Annotated[
        bool,
        typer.Option(
            "--acknowledge",
            help="Once the losses are dealt with: make the mark match the database (recorded "
            "in the audit trail)",
        ),
    ] = False,
) -> None:
    """Check the database against the high-water mark kept outside it (run after any restore)."""
    path = high_water.mark_path()
    with _reported_problems():
        mark = high_water.read_mark(path)
        schema_lines = _schema_drift()
        report: restore.Report | None = None
        voided: list[restore.Voided] = []
        if mark is not None:
            with session_scope() as session:
                if void_reopened:
                    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
                report = restore.compare(session, mark)
                if void_reopened and report.reopened:
                    voided = restore.void_reopened(session, report)
                    _audit(session, "restore_void_reopened", voided)
    failed = bool(schema_lines)
    if schema_lines:
        typer.echo("schema:")
        for line in schema_lines:
            typer.echo(f"  {line}")
    if mark is None:
        typer.echo(f"No high-water mark at {path} yet: nothing to compare the database with.")
        if not record:
            typer.echo("Record one with `pingyi db check --record`.")
    elif report is not None and not report.ok:
        failed = True
        for line in report.lines():
            typer.echo(line)
        for done in voided:
            typer.echo(
                f"campaign {done.slug}: {done.codes} re-opened codes marked used again, "
                f"{done.credentials} credentials put back in the spent set, "
                f"{done.roster_members} roster members marked served again"
            )
        if report.reopened and not voided:
            typer.echo(WHAT_TO_DO_REOPENED)
        lost = any(loss.ballots_missing or loss.evaluations_missing for loss in report.losses)
        if lost and not acknowledge:
            typer.echo(WHAT_TO_DO_LOST)
    else:
        typer.echo(
            f"OK: the database holds everything the high-water mark {path} recorded "
            f"(audit trail to entry {mark.audit_sequence}, "
            f"{restore.count(len(mark.campaigns), 'campaign', 'campaigns')})"
        )
    with _reported_problems():
        if acknowledge:
            _acknowledge(report, voided, path)
            failed = bool(schema_lines)
        elif record:
            with session_scope() as session:
                high_water.record(session, path)
            typer.echo(f"Recorded the high-water mark in {path}")
    _note_same_disk(path)
    if failed:
        raise typer.Exit(code=1)


def _acknowledge(report: restore.Report | None, voided: list[restore.Voided], path: Path) -> None:
    if report is not None and report.reopened and not voided:
        fail(
            "Not acknowledged: codes or credentials used before the restore work again; "
            "acknowledge together with --void-reopened so nobody can rate twice"
        )
    with session_scope() as session:
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        if report is not None and not report.ok:
            from app.accounts.cli import cli_actor
            from app.audit import service as audit_service

            audit_service.record(
                session,
                actor=cli_actor(),
                action="restore_acknowledged",
                object="database",
                detail={"problems": report.lines()},
            )
    with session_scope() as session:
        high_water.replace(session, path)
    typer.echo(f"The high-water mark {path} now matches the database.")


def _audit(session: Session, action: str, voided: list[restore.Voided]) -> None:
    from app.accounts.cli import cli_actor
    from app.audit import service as audit_service

    audit_service.record(
        session,
        actor=cli_actor(),
        action=action,
        object="database",
        detail={
            done.slug: {
                "codes": done.codes,
                "credentials": done.credentials,
                "roster_members": done.roster_members,
            }
            for done in voided
        },
    )


def _schema_drift() -> list[str]:
    """The lines of ``app.ops.schema.schema_drift(connection)``, if that check is installed."""
    try:
        module = importlib.import_module("app.ops.schema")
    except ModuleNotFoundError as error:
        if error.name == "app.ops.schema":
            return []
        raise
    drift: Callable[[Any], list[str]] | None = getattr(module, "schema_drift", None)
    if drift is None:
        return []
    with session_scope() as session:
        return list(drift(session.connection()))


def _note_same_disk(path: Path) -> None:
    url = make_url(get_settings().database_url)
    if url.get_backend_name() != "sqlite" or not url.database or not path.exists():
        return
    try:
        same = os.stat(url.database).st_dev == os.stat(path).st_dev
    except OSError:
        return
    if same:
        typer.echo(
            f"Note: the high-water mark {path} is on the same disk as the database; keep it on "
            "another disk or host (PINGYI_HIGH_WATER_FILE), or one failure takes both."
        )


@contextmanager
def _reported_problems() -> Iterator[None]:
    try:
        yield
    except high_water.MarkFileProblem as error:
        fail(str(error))
    except SQLAlchemyError as error:
        first_line = str(getattr(error, "orig", None) or error).splitlines()[0]
        fail(
            f"Cannot read the database ({type(error).__name__}: {first_line}); "
            "is it reachable and migrated (`pingyi db upgrade`)?"
        )
