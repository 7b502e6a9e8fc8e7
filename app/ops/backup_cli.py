"""``pingyi backup OUT``: a consistent copy of the SQLite database, made while it runs."""

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from app.cli_support import fail
from app.config import get_settings
from app.ops import backup as backup_service
from app.ops import high_water

POSTGRES_REFUSAL = (
    "PostgreSQL is backed up by continuous archiving (pg_basebackup plus WAL archiving), "
    "which restores to the last acknowledged ballot: see docs/operations-backup.md"
)


def backup(
    out: Annotated[Path, typer.Argument(help="The backup file to create; must not exist yet")],
) -> None:
    """Copy the SQLite database to a new file while the service runs.

    The high-water mark is recorded first. After restoring any backup, run `pingyi db check`.
    """
    url = make_url(get_settings().database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        fail(POSTGRES_REFUSAL)
    database = Path(url.database)
    if not database.is_file():
        fail(f"The database {database} does not exist")
    _record_mark()
    try:
        made = backup_service.backup_sqlite(database, out)
    except backup_service.BackupRefused as error:
        fail(str(error))
    typer.echo(f"Backed up {database} to {made.path} ({made.size} bytes, checked)")


def _record_mark() -> None:
    """Record the mark first; a mark that cannot be recorded does not stop the backup."""
    try:
        high_water.record_now()
    except Exception as error:
        typer.secho(
            f"Warning: the high-water mark was not recorded ({error})",
            fg=typer.colors.YELLOW,
            err=True,
        )
