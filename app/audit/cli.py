"""``pingyi audit verify``: check the audit trail's hash chain."""

from typing import Annotated

import typer

from app.audit import service as audit_service
from app.cli_support import fail
from app.db import session_scope

audit_cli = typer.Typer(no_args_is_help=True, help="The audit trail of staff actions.")


@audit_cli.command("verify")
def verify(
    expect_head: Annotated[
        str | None,
        typer.Option(
            help="A head hash printed by an earlier verify; it must still be in the chain, "
            "which also catches the newest entries being removed"
        ),
    ] = None,
) -> None:
    """Report the first broken link, or the chain's length and head hash when it is intact."""
    with session_scope() as session:
        result = audit_service.verify(session)
        recorded_head_kept = expect_head is None or audit_service.has_entry_hash(
            session, expect_head
        )
    if not result.intact:
        fail(
            f"BROKEN at entry {result.first_broken}: {result.problem} "
            f"({result.entries} entries before it are intact)"
        )
    if not recorded_head_kept:
        fail(
            f"The chain is consistent but no longer holds the recorded head {expect_head}: "
            "entries have been removed since it was recorded"
        )
    typer.echo(f"OK: {result.entries} entries; head {result.head_hash}")
