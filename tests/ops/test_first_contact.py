"""First contact: a command or ``serve`` run against a database that is unreachable, missing
or unmigrated says so in one line, with what to run, and exits with 1 (no traceback).

The commands run as the installed ``pingyi`` does, in a process of their own.
"""

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from app import cli as cli_module
from app.campaigns import service as campaign_service
from app.config import PROJECT_ROOT
from app.ops import schema
from tests.conftest import POSTGRES_URL, PostgresDatabases, migrate, new_sqlite_engine
from tests.test_cli import app_database

PINGYI = str(Path(sys.executable).with_name("pingyi"))
COMMAND_SECONDS = 60


def pingyi(database_url: str, *args: str, var_dir: Path) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "PINGYI_DATABASE_URL": database_url,
        "PINGYI_VAR_DIR": str(var_dir),
        "PINGYI_LANG": "en",
    }
    return subprocess.run(
        [PINGYI, *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=COMMAND_SECONDS,
        check=False,
    )


def assert_one_line_failure(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for part in expected:
        assert part in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "var"
    directory.mkdir()
    return directory


class TestSqlite:
    def test_missing_database_file_says_to_run_db_upgrade(
        self, tmp_path: Path, var_dir: Path
    ) -> None:
        path = tmp_path / "absent.db"

        result = pingyi(f"sqlite:///{path}", "campaign", "list", var_dir=var_dir)

        assert_one_line_failure(result, str(path), "pingyi db upgrade")
        assert not path.exists()  # the check does not create it

    def test_missing_directory_is_named_and_not_created(
        self, tmp_path: Path, var_dir: Path
    ) -> None:
        path = tmp_path / "no-such-dir" / "pingyi.db"

        result = pingyi(f"sqlite:///{path}", "departments", "list", var_dir=var_dir)

        assert_one_line_failure(result, str(path), "directory does not exist")
        assert not path.parent.exists()

    def test_unmigrated_database_says_to_run_db_upgrade(
        self, tmp_path: Path, var_dir: Path
    ) -> None:
        path = tmp_path / "empty.db"
        sqlite3.connect(path).close()

        result = pingyi(f"sqlite:///{path}", "campaign", "list", var_dir=var_dir)

        assert_one_line_failure(result, "no Pingyi tables", "pingyi db upgrade")

    def test_database_behind_this_release_says_to_run_db_upgrade(self, var_dir: Path) -> None:
        engine = new_sqlite_engine()
        migrate(engine, "0005")
        url = engine.url.render_as_string(hide_password=False)
        engine.dispose()

        result = pingyi(url, "campaign", "list", var_dir=var_dir)

        assert_one_line_failure(result, "0005", "pingyi db upgrade")

    def test_serve_refuses_to_start_on_an_unmigrated_database(
        self, tmp_path: Path, var_dir: Path
    ) -> None:
        path = tmp_path / "empty.db"
        sqlite3.connect(path).close()

        result = pingyi(f"sqlite:///{path}", "serve", "--port", "1", var_dir=var_dir)

        assert_one_line_failure(result, "pingyi db upgrade")

    @pytest.mark.parametrize("words", [["codes", "issue", "--help"], ["campaign"]])
    def test_help_needs_no_database(self, words: list[str], tmp_path: Path, var_dir: Path) -> None:
        result = pingyi(f"sqlite:///{tmp_path / 'absent.db'}", *words, var_dir=var_dir)

        assert "Usage: pingyi" in result.stdout + result.stderr
        assert "pingyi db upgrade" not in result.stdout + result.stderr

    def test_migrated_database_passes(self, var_dir: Path) -> None:
        engine = new_sqlite_engine()
        migrate(engine)
        url = engine.url.render_as_string(hide_password=False)
        engine.dispose()

        result = pingyi(url, "campaign", "list", var_dir=var_dir)

        assert result.returncode == 0, result.stderr


@pytest.mark.postgres
class TestPostgres:
    @pytest.fixture(autouse=True)
    def _server(self, postgres_databases: PostgresDatabases) -> None:
        """Only where the test server runs: the messages name what it answered."""

    def test_missing_database_says_to_create_it(self, var_dir: Path) -> None:
        url = make_url(POSTGRES_URL).set(database="pingyi_absent_database")
        url_text = url.render_as_string(hide_password=False)

        result = pingyi(url_text, "campaign", "list", var_dir=var_dir)

        assert_one_line_failure(result, "does not exist", "createdb", "pingyi db upgrade")

    def test_unreachable_server_says_so(self, var_dir: Path) -> None:
        url = "postgresql+psycopg://postgres@127.0.0.1:1/pingyi"

        result = pingyi(url, "campaign", "list", var_dir=var_dir)

        line = assert_one_line_failure(result, "Cannot reach the database", "127.0.0.1:1")
        assert "refused" in line.lower()

    def test_unmigrated_database_says_to_run_db_upgrade(
        self, postgres_databases: PostgresDatabases, var_dir: Path
    ) -> None:
        engine = postgres_databases.create()
        url = engine.url.render_as_string(hide_password=False)
        engine.dispose()

        result = pingyi(url, "serve", "--port", "1", var_dir=var_dir)

        assert_one_line_failure(result, "no Pingyi tables", "pingyi db upgrade")


class TestKnownRevisions:
    def test_the_migration_headers_give_alembics_heads_and_revisions(self) -> None:
        scripts = ScriptDirectory.from_config(Config(str(PROJECT_ROOT / "alembic.ini")))

        heads, known = schema.release_revisions()

        assert heads == frozenset(scripts.get_heads())
        assert known == frozenset(script.revision for script in scripts.walk_revisions())


class TestDatabaseFailingDuringACommand:
    @pytest.fixture
    def database(self) -> Iterator[None]:
        with app_database():
            yield

    @pytest.mark.usefixtures("database")
    def test_an_operational_error_is_one_line_not_a_traceback(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        def disk_full(*args: object, **kwargs: object) -> list[object]:
            raise OperationalError(
                "INSERT ...", {}, sqlite3.OperationalError("database or disk is full")
            )

        monkeypatch.setattr(campaign_service, "list_campaigns", disk_full)
        monkeypatch.setattr(sys, "argv", ["pingyi", "campaign", "list"])

        with pytest.raises(SystemExit) as exited:
            cli_module.main()

        assert exited.value.code == 1
        error = capsys.readouterr().err.strip()
        assert len(error.splitlines()) == 1
        assert "database or disk is full" in error
