"""Upgrades, downgrades and drift as an operator meets them (docs/operations-upgrades.md).

The next release is simulated by a copy of the migrations directory with extra migrations: an
expand one (a nullable column; earlier revisions stay compatible) and a contract one (only its
own revision is compatible). The running code is this checkout's (its head: HEAD).
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, inspect, select, text
from typer.testing import CliRunner

from app import config, db, health, i18n
from app.cli import cli
from app.departments.models import Department
from app.ops import db_cli, schema
from app.ops.db_cli import DowngradeRefused
from app.ops.schema import alembic_config, schema_drift, schema_status
from tests.conftest import PostgresDatabases, migrate, new_sqlite_engine
from tests.test_health import probe

HEAD = schema.code_head()  # this release's newest migration

EXPAND_MIGRATION = '''"""next release, expand: departments get an optional note

Revision ID: next_expand
Revises: {head}
"""

import sqlalchemy as sa
from alembic import op

revision = "next_expand"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("departments") as batch_op:
        batch_op.add_column(sa.Column("note", sa.String(200), nullable=True))
    op.execute("INSERT INTO schema_compatibility (revision) VALUES ('next_expand')")


def downgrade() -> None:
    op.execute("DELETE FROM schema_compatibility WHERE revision = 'next_expand'")
    with op.batch_alter_table("departments") as batch_op:
        batch_op.drop_column("note")
'''.replace("{head}", HEAD)

CONTRACT_MIGRATION = '''"""next release, contract: only code that knows the note may run

Revision ID: next_contract
Revises: next_expand
"""

from alembic import op

revision = "next_contract"
down_revision = "next_expand"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM schema_compatibility")
    op.execute("INSERT INTO schema_compatibility (revision) VALUES ('next_contract')")


def downgrade() -> None:
    op.execute("DELETE FROM schema_compatibility")
    op.execute("INSERT INTO schema_compatibility (revision) VALUES ('{head}'), ('next_expand')")
'''.replace("{head}", HEAD)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An empty database of its own on each engine in turn."""
    if request.param == "sqlite":
        engine = new_sqlite_engine()
    else:
        databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
        engine = databases.create()
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def _fresh_drift_cache() -> Iterator[None]:
    health.drift_cache.clear()
    yield
    health.drift_cache.clear()


def next_release(directory: Path, *migrations: str) -> Path:
    """A copy of this release's migrations plus ``migrations`` (the next release's)."""
    copy = directory / "migrations"
    shutil.copytree(schema.MIGRATIONS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    for number, source in enumerate(migrations, start=7):
        (copy / "versions" / f"20270101_000{number}_next.py").write_text(source)
    return copy


def upgrade_with(engine: Engine, migrations: Path) -> None:
    with engine.connect() as connection:
        config = alembic_config(connection, configure_logging=False, script_location=migrations)
        command.upgrade(config, "head")


def status_of(engine: Engine, migrations: Path = schema.MIGRATIONS_DIR) -> str:
    with engine.connect() as connection:
        return schema_status(connection, migrations)


def version_of(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.execute(text("SELECT version_num FROM alembic_version")).scalar())


class TestAnExpandReleaseKeepsOldReplicasReady:
    def test_old_code_is_compatible_and_ready(
        self, fresh_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        migrate(fresh_engine)
        upgrade_with(fresh_engine, next_release(tmp_path, EXPAND_MIGRATION))

        assert version_of(fresh_engine) == "next_expand"
        status, body = probe(monkeypatch, fresh_engine, "/readyz")
        assert (status, body["migrations"], body["problems"]) == (200, "compatible", [])

    def test_the_new_code_is_at_head(self, fresh_engine: Engine, tmp_path: Path) -> None:
        migrations = next_release(tmp_path, EXPAND_MIGRATION)
        migrate(fresh_engine)
        upgrade_with(fresh_engine, migrations)

        assert status_of(fresh_engine, migrations) == "head"


class TestAContractReleaseTakesOldReplicasOut:
    def test_old_code_is_behind(
        self, fresh_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        migrate(fresh_engine)
        upgrade_with(fresh_engine, next_release(tmp_path, EXPAND_MIGRATION, CONTRACT_MIGRATION))

        assert version_of(fresh_engine) == "next_contract"
        status, body = probe(monkeypatch, fresh_engine, "/readyz")
        assert (status, body["migrations"], body["problems"]) == (503, "behind", ["behind"])

    def test_code_newer_than_the_database_is_behind(
        self, fresh_engine: Engine, tmp_path: Path
    ) -> None:
        migrate(fresh_engine)

        assert status_of(fresh_engine, next_release(tmp_path, EXPAND_MIGRATION)) == "behind"


@contextmanager
def app_pointed_at(engine: Engine) -> Iterator[None]:
    """The app's settings and engine point at ``engine``'s database while open."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PINGYI_DATABASE_URL", engine.url.render_as_string(hide_password=False))
        config.get_settings.cache_clear()
        db.get_engine.cache_clear()
        try:
            yield
        finally:
            if db.get_engine.cache_info().currsize:
                db.get_engine().dispose()
            config.get_settings.cache_clear()
            db.get_engine.cache_clear()


def department_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(Department)) or 0


def add_department(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO departments (code, name, category) VALUES ('D1', '区甲局', '综合类')")
        )


class TestDowngradeNeedsConfirmation:
    def test_refused_without_destroy_data_and_nothing_is_dropped(
        self, fresh_engine: Engine
    ) -> None:
        migrate(fresh_engine)
        add_department(fresh_engine)
        tables = set(inspect(fresh_engine).get_table_names())

        with app_pointed_at(fresh_engine):
            result = CliRunner().invoke(cli, ["db", "downgrade", "0005"])

        assert result.exit_code == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.output
        assert "secret_check" in lines[0]
        assert "campaigns.seal_pending" in lines[0]
        assert "--destroy-data" in lines[0]
        assert "请先备份" in lines[0]  # "take a backup first", in the default locale
        assert set(inspect(fresh_engine).get_table_names()) == tables
        assert version_of(fresh_engine) == HEAD

    def test_a_relative_revision_is_refused_too(self, fresh_engine: Engine) -> None:
        migrate(fresh_engine)
        i18n.set_locale("en")
        with app_pointed_at(fresh_engine):
            result = CliRunner().invoke(cli, ["db", "downgrade", "-1"])

        assert result.exit_code == 1
        assert "Take a backup first, then run again with --destroy-data" in result.stderr
        assert version_of(fresh_engine) == HEAD

    def test_accepted_with_destroy_data(self, fresh_engine: Engine) -> None:
        migrate(fresh_engine)
        add_department(fresh_engine)

        with app_pointed_at(fresh_engine):
            result = CliRunner().invoke(cli, ["db", "downgrade", "0005", "--destroy-data"])

        assert result.exit_code == 0, result.output
        assert version_of(fresh_engine) == "0005"
        assert "secret_check" not in inspect(fresh_engine).get_table_names()
        assert department_count(fresh_engine) == 1  # a table 0006 did not add keeps its rows

    def test_an_unknown_revision_is_one_line(self, fresh_engine: Engine) -> None:
        migrate(fresh_engine)
        with app_pointed_at(fresh_engine):
            result = CliRunner().invoke(cli, ["db", "downgrade", "0099", "--destroy-data"])

        assert result.exit_code == 1
        assert len(result.stderr.strip().splitlines()) == 1
        assert "0099" in result.stderr

    def test_alembic_called_directly_refuses_without_confirmation(
        self, fresh_engine: Engine
    ) -> None:
        migrate(fresh_engine)
        add_department(fresh_engine)

        with fresh_engine.connect() as connection, pytest.raises(DowngradeRefused) as refusal:
            command.downgrade(alembic_config(connection, configure_logging=False), "base")

        assert "departments" in refusal.value.loss.dropped_tables
        assert department_count(fresh_engine) == 1
        assert version_of(fresh_engine) == HEAD

    def test_upgrades_need_no_confirmation(self, fresh_engine: Engine) -> None:
        migrate(fresh_engine, "0004")
        migrate(fresh_engine)
        assert version_of(fresh_engine) == HEAD


class TestWhatADowngradeDestroys:
    def scripts(self, *revisions: str) -> list[object]:
        directory = ScriptDirectory.from_config(alembic_config())
        return [directory.get_revision(revision) for revision in revisions]

    def test_dropped_tables_and_columns_are_named(self) -> None:
        loss = db_cli.data_lost_by(self.scripts("0006"))  # type: ignore[arg-type]
        assert loss.dropped_tables == ["schema_compatibility", "secret_check"]
        assert loss.dropped_columns == ["campaigns.seal_pending", "code_batches.ready"]

    def test_deleted_and_rewritten_rows_are_named(self) -> None:
        loss = db_cli.data_lost_by(self.scripts("0005"))  # type: ignore[arg-type]
        assert loss.changed_tables == ["staff_users", "campaigns"]

    def test_a_column_of_a_dropped_table_is_named_once(self) -> None:
        loss = db_cli.data_lost_by(self.scripts("0003", "0002", "0001"))  # type: ignore[arg-type]
        assert "campaigns" in loss.dropped_tables
        assert loss.dropped_columns == []


def run_elsewhere(engine: Engine, cwd: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Run a command of this virtualenv in another directory, against ``engine``'s database."""
    environment = {
        **os.environ,
        "PINGYI_DATABASE_URL": engine.url.render_as_string(hide_password=False),
    }
    program = str(Path(sys.executable).parent / arguments[0])
    return subprocess.run(
        [program, *arguments[1:]], cwd=cwd, env=environment, capture_output=True, text=True
    )


class TestFromAnyDirectory:
    """Commands work from outside the repository (a service's working directory is elsewhere)."""

    def test_plain_alembic_downgrade_refuses_without_x_destroy_data(self, tmp_path: Path) -> None:
        engine = new_sqlite_engine()
        migrate(engine)
        ini = str(schema.ALEMBIC_INI)

        refused = run_elsewhere(engine, tmp_path, "alembic", "-c", ini, "downgrade", "-1")
        assert refused.returncode != 0
        assert "Refusing to downgrade" in refused.stderr
        assert version_of(engine) == HEAD

        confirmed = run_elsewhere(
            engine, tmp_path, "alembic", "-c", ini, "-x", "destroy_data=yes", "downgrade", "-1"
        )
        assert confirmed.returncode == 0, confirmed.stderr
        assert version_of(engine) == schema.script_directory().get_revision(HEAD).down_revision
        engine.dispose()

    def test_pingyi_db_upgrade_and_alembic_check(self, tmp_path: Path) -> None:
        engine = new_sqlite_engine()

        upgraded = run_elsewhere(engine, tmp_path, "pingyi", "db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        assert version_of(engine) == HEAD
        checked = run_elsewhere(engine, tmp_path, "alembic", "-c", str(schema.ALEMBIC_INI), "check")
        assert checked.returncode == 0, checked.stderr
        engine.dispose()


class TestSchemaDrift:
    def test_a_freshly_migrated_database_has_none(self, any_engine: Engine) -> None:
        with any_engine.connect() as connection:
            assert schema_drift(connection) == []

    def test_a_stray_column_is_reported_and_readiness_fails(
        self, fresh_engine: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        migrate(fresh_engine)
        with fresh_engine.begin() as connection:
            connection.execute(text("ALTER TABLE departments ADD COLUMN stray INTEGER"))

        with fresh_engine.connect() as connection:
            assert schema_drift(connection) == ["column departments.stray is not in the models"]
        status, body = probe(monkeypatch, fresh_engine, "/readyz")
        assert (status, body["migrations"], body["problems"]) == (503, "head", ["schema_drift"])

    def test_a_missing_table_is_reported(self, fresh_engine: Engine) -> None:
        migrate(fresh_engine)
        with fresh_engine.begin() as connection:
            connection.execute(text("DROP TABLE secret_check"))

        with fresh_engine.connect() as connection:
            assert schema_drift(connection) == ["table secret_check is missing from the database"]
