"""Alembic environment: migrates the database named by PINGYI_DATABASE_URL.

Tests hand a live connection in through ``config.attributes["connection"]``.
"""

from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import Connection

import app.all_models  # noqa: F401 - registers every table on Base.metadata
from app.db import Base, get_engine

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
    )
    paused = _pause_sqlite_foreign_keys(connection)
    try:
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if paused:
            _resume_sqlite_foreign_keys(connection)


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
