"""The migrations and the models agree, and migrate up and down on both engines."""

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

import app.all_models  # noqa: F401 - registers every table
from app.config import PROJECT_ROOT
from app.db import Base
from tests.conftest import PostgresDatabases, migrate, new_sqlite_engine


def alembic_config(engine: Engine, connection: object) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["configure_logging"] = False
    config.attributes["connection"] = connection
    config.attributes["destroy_data"] = True  # the round trips drop everything on purpose
    return config


class TestModelsMatchMigrations:
    def test_autogenerate_finds_no_difference(self, any_engine: Engine) -> None:
        with any_engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)

        assert differences == []


class TestUpgradeAndDowngrade:
    def check_round_trip(self, engine: Engine) -> None:
        migrate(engine)
        tables = set(inspect(engine).get_table_names())
        assert {"evaluations", "admission_codes", "campaigns", "departments"} <= tables

        with engine.begin() as connection:
            command.downgrade(alembic_config(engine, connection), "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}

        migrate(engine)
        assert set(inspect(engine).get_table_names()) == tables

    def test_sqlite(self) -> None:
        engine = new_sqlite_engine()
        try:
            self.check_round_trip(engine)
        finally:
            engine.dispose()

    @pytest.mark.postgres
    def test_postgres(self, postgres_databases: PostgresDatabases) -> None:
        engine = postgres_databases.create()
        try:
            self.check_round_trip(engine)
        finally:
            engine.dispose()
