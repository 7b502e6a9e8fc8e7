"""Fixtures for the fault tests: a fresh PostgreSQL database and a server on it per test."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.conftest import PostgresDatabases, migrate
from tests.faults.harness import Server


@pytest.fixture
def fault_database(postgres_databases: PostgresDatabases) -> Iterator[Engine]:
    """A migrated database of its own, dropped when the test ends (after its server)."""
    engine = postgres_databases.create()
    migrate(engine)
    yield engine
    engine.dispose()
    name = engine.url.database
    assert name is not None
    postgres_databases.admin.dispose()  # in case PostgreSQL restarted under its pool
    with postgres_databases.admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    postgres_databases.created.remove(name)


@pytest.fixture
def server(fault_database: Engine, tmp_path: Path) -> Iterator[Server]:
    """``pingyi serve --workers 2`` on the test's database, not yet started; whatever is left
    of it (supervisor and workers) is killed when the test ends."""
    instance = Server(fault_database.url.render_as_string(hide_password=False), tmp_path)
    try:
        yield instance
    finally:
        instance.kill_group()
        if instance.log_path.exists():  # shown by pytest when the test failed
            print(f"--- server log (last lines) ---\n{instance.log()[-4000:]}")
