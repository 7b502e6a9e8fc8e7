"""Alembic environment: migrates the database named by PINGYI_DATABASE_URL.

Tests hand a live connection in through ``config.attributes["connection"]``.

Every downgrade here drops tables or columns, so one runs only when the operator confirms it:
``alembic downgrade REV -x destroy_data=yes``, or ``pingyi db downgrade REV --destroy-data``
(which sets ``config.attributes["destroy_data"]``). Without it the command names what would be
lost and stops before any step runs. Upgrades are not affected.
"""

from collections.abc import Collection, Mapping
from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.runtime.migration import MigrationContext, MigrationInfo, RevisionStep
from sqlalchemy import Connection

import app.all_models  # noqa: F401 - registers every table on Base.metadata
from app.db import Base, get_engine
from app.ops.db_cli import DataLoss, DowngradeRefused, data_lost_by
from app.ops.schema import DESTROY_DATA_ATTRIBUTE

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        on_version_apply=_refuse_unconfirmed_downgrade_step,
    )
    _check_downgrades_first(context.get_context())
    paused = _pause_sqlite_foreign_keys(connection)
    try:
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if paused:
            _resume_sqlite_foreign_keys(connection)


def _destroying_data_confirmed() -> bool:
    return (
        config.attributes.get(DESTROY_DATA_ATTRIBUTE) is True
        or context.get_x_argument(as_dictionary=True).get("destroy_data") == "yes"
    )


def _check_downgrades_first(migration_context: MigrationContext) -> None:
    """Refuse an unconfirmed downgrade before its first step runs.

    The command's list of steps is worked out (without side effects) when the migrations start;
    this wraps that work function so the whole list is seen, and judged, before any step.
    """
    steps_for = getattr(migration_context, "_migrations_fn", None)
    if steps_for is None or _destroying_data_confirmed():
        return

    def checked_steps(heads: Any, migration_context: MigrationContext) -> list[Any]:
        steps = list(steps_for(heads, migration_context))
        downgrades = [
            step.revision for step in steps if isinstance(step, RevisionStep) and step.is_downgrade
        ]
        loss = data_lost_by(downgrades)
        if loss:
            raise DowngradeRefused(loss)
        return steps

    migration_context._migrations_fn = checked_steps


def _refuse_unconfirmed_downgrade_step(
    ctx: MigrationContext, step: MigrationInfo, heads: Collection[Any], run_args: Mapping[str, Any]
) -> None:
    """A second guard, should the first not see the steps: a destructive step is refused
    before its transaction commits (DDL is transactional on both engines), so it rolls back."""
    if step.is_upgrade or step.is_stamp or _destroying_data_confirmed():
        return
    script = context.script.get_revision(step.up_revision_id or "")
    loss = data_lost_by([script]) if script is not None else None
    if loss is None or loss:
        raise DowngradeRefused(loss or DataLoss(unreadable_revisions=[str(step.up_revision_id)]))


def _pause_sqlite_foreign_keys(connection: Connection) -> bool:
    """Turn SQLite's foreign keys off for the migration, as SQLite documents for schema changes.

    Batch mode rebuilds a table by copy, drop and rename; with foreign keys on (``app.db``
    turns them on), dropping a table that other tables refer to deletes through them and fails.
    The pragma only works outside a transaction, so it goes to the driver directly; a caller
    that hands in a connection already in a transaction keeps its foreign keys on (fine for an
    empty database).
    """
    if connection.dialect.name != "sqlite" or connection.in_transaction():
        return False
    _driver(connection).execute("PRAGMA foreign_keys=OFF")
    return True


def _driver(connection: Connection) -> Any:
    """The pysqlite connection itself, bypassing SQLAlchemy's BEGIN (see app.db)."""
    return connection.connection.driver_connection


def _resume_sqlite_foreign_keys(connection: Connection) -> None:
    """Check every reference the migration left, then turn foreign keys back on."""
    raw = _driver(connection)
    broken = raw.execute("PRAGMA foreign_key_check").fetchall()
    raw.execute("PRAGMA foreign_keys=ON")
    if broken:
        raise RuntimeError(f"the migration left rows referring to nothing: {broken[:5]}")


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with(connection)
        return
    with get_engine().connect() as connection:
        run_with(connection)


if context.is_offline_mode():
    raise SystemExit("Offline (--sql) migrations are not supported; run against a database.")
run_migrations_online()
