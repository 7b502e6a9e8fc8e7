"""``pingyi db upgrade`` and ``pingyi db downgrade``: migrate the schema with Alembic.

The downgrade's checks are in :mod:`app.ops.db_cli` (``migrations/env.py`` uses them too).
It and Alembic are imported only when a command here runs, not with the rest of the CLI.
"""

from typing import Annotated

import typer

from app.cli_support import reported_errors


def db_upgrade() -> None:
    """Migrate the database to the latest schema (run once per release, from any directory)."""
    from alembic import command

    from app.ops.schema import alembic_config

    command.upgrade(alembic_config(), "head")


def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Revision to go down to, e.g. 0005 or -1")],
    destroy_data: Annotated[
        bool,
        typer.Option(
            "--destroy-data", help="Confirm that the downgrade may drop tables and columns"
        ),
    ] = False,
) -> None:
    """Migrate the database down to REVISION; it drops data, so take a backup first."""
    from app.ops.db_cli import downgrade

    with reported_errors():
        downgrade(revision, destroy_data=destroy_data)
    typer.echo(f"Downgraded to {revision}.")
