"""Backups, the high-water mark and restore detection, against real database files.

The drill these tests repeat: rate, record the mark, back up, rate more, record, restore the
backup, and run ``pingyi db check``: it must name the lost ballots and the codes they had
used, which work again until ``--void-reopened`` closes them.
"""

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner, Result

from app import config, db
from app.admission.models import CodeBatch, CodeStatus
from app.audit import service as audit_service
from app.ballots import service as ballot_service
from app.ballots.schemas import BallotIn, EvaluationIn
from app.campaigns import service as campaign_service
from app.cli import cli
from app.config import get_settings
from app.credentials.models import CredentialKey, RosterMember, SpentCredential
from app.errors import CodeUsed
from app.main import create_app
from tests import factories
from tests.conftest import PostgresDatabases, migrate, new_sqlite_engine

SLUG = "2026-q1"
COPY_ATTEMPTS = 10


def _clear_app_caches() -> None:
    config.get_settings.cache_clear()
    db.get_engine.cache_clear()
    db.get_session_factory.cache_clear()


def _dispose_app_engine() -> None:
    if db.get_engine.cache_info().currsize:
        db.get_engine().dispose()
    _clear_app_caches()


class Deployment:
    """The app pointed at one database, with its mark file in a directory of its own."""

    def __init__(self, url: str, mark: Path) -> None:
        self.url = url
        self.mark = mark

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, list(args))

    def run_ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 0, f"pingyi {' '.join(args)}:\n{result.output}"
        return result

    def run_failing(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 1, f"pingyi {' '.join(args)}:\n{result.output}"
        assert isinstance(result.exception, SystemExit), result.exception
        return result

    def open_campaign(self) -> str:
        """An open campaign with a sealed ballot box; returns a department code it rates."""
        with db.session_scope() as session:
            campaign = factories.make_campaign(session, slug=SLUG)
            return campaign.targets[0].department.code

    def issue(self, count: int) -> list[str]:
        with db.session_scope() as session:
            campaign = campaign_service.get_campaign(session, SLUG)
            return factories.issue_codes(session, campaign, count=count)

    def rate(self, codes: list[str], target: str) -> None:
        """One ballot per code, one commit each, as the rating route does."""
        for code in codes:
            with db.session_scope() as session:
                campaign = campaign_service.get_campaign(session, SLUG)
                ballot = BallotIn(
                    code=code,
                    evaluations=[
                        EvaluationIn(target=target, answers=factories.answers_for(campaign))
                    ],
                )
                ballot_service.submit_ballot(session, factories.HASHING_KEY, ballot)

    def code_statuses(self, codes: list[str]) -> list[CodeStatus | None]:
        with db.session_scope() as session:
            return [factories.code_status(session, code) for code in codes]

    def batch_id(self) -> int:
        with db.session_scope() as session:
            return session.scalars(select(CodeBatch.id)).one()


@pytest.fixture
def sqlite_deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    engine = new_sqlite_engine()
    migrate(engine)
    engine.dispose()
    url = engine.url.render_as_string(hide_password=False)
    deployment = Deployment(url, tmp_path / "elsewhere" / "high-water.json")
    monkeypatch.setenv("PINGYI_DATABASE_URL", url)
    monkeypatch.setenv("PINGYI_HIGH_WATER_FILE", str(deployment.mark))
    _clear_app_caches()
    try:
        yield deployment
    finally:
        _dispose_app_engine()


def database_file(deployment: Deployment) -> Path:
    path = db.get_engine().url.database
    assert path is not None
    return Path(path)


def restore_sqlite(deployment: Deployment, backup: Path) -> None:
    """What an operator does: stop the service, put the backup in place of the database."""
    path = database_file(deployment)
    _dispose_app_engine()
    for leftover in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(backup, path)


@pytest.fixture
def restored_after_more_ballots(
    sqlite_deployment: Deployment, tmp_path: Path
) -> tuple[Deployment, list[str], str]:
    """Three ballots, a backup, two more ballots (and an audit entry), the backup restored.
    Returns the deployment, the two codes used after the backup, and the department."""
    deployment = sqlite_deployment
    target = deployment.open_campaign()
    codes = deployment.issue(5)
    deployment.rate(codes[:3], target)
    deployment.run_ok("db", "check", "--record")
    backup = tmp_path / "backups" / "pingyi.db"
    backup.parent.mkdir()
    deployment.run_ok("backup", str(backup))
    deployment.rate(codes[3:], target)
    with db.session_scope() as session:
        audit_service.record(session, actor="test", action="test_action", object="database")
    deployment.run_ok("db", "check", "--record")

    restore_sqlite(deployment, backup)
    return deployment, codes[3:], target


class TestBackup:
    def test_backup_is_a_consistent_copy_that_opens_on_its_own(
        self, sqlite_deployment: Deployment, tmp_path: Path
    ) -> None:
        target = sqlite_deployment.open_campaign()
        sqlite_deployment.rate(sqlite_deployment.issue(2), target)
        out = tmp_path / "copy.db"

        result = sqlite_deployment.run_ok("backup", str(out))

        assert f"to {out}" in result.output
        assert oct(out.stat().st_mode & 0o777) == oct(0o600)
        with contextlib.closing(sqlite3.connect(out)) as copy:
            assert copy.execute("select count(*) from ballot_box").fetchone() == (2,)
            assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert [path.name for path in out.parent.iterdir() if path.name.startswith(".")] == []

    def test_backup_records_the_high_water_mark_first(
        self, sqlite_deployment: Deployment, tmp_path: Path
    ) -> None:
        target = sqlite_deployment.open_campaign()
        sqlite_deployment.rate(sqlite_deployment.issue(1), target)

        sqlite_deployment.run_ok("backup", str(tmp_path / "copy.db"))

        mark = json.loads(sqlite_deployment.mark.read_text())
        assert mark["campaigns"][SLUG]["ballot_count"] == 1

    def test_backup_never_overwrites_a_file(
        self, sqlite_deployment: Deployment, tmp_path: Path
    ) -> None:
        out = tmp_path / "copy.db"
        out.write_text("keep me")

        result = sqlite_deployment.run_failing("backup", str(out))

        assert "already exists" in result.output
        assert out.read_text() == "keep me"

    def test_backup_of_postgres_points_to_continuous_archiving(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("PINGYI_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
        _clear_app_caches()
        try:
            result = CliRunner().invoke(cli, ["backup", str(tmp_path / "copy")])
        finally:
            _clear_app_caches()

        assert result.exit_code == 1
        assert "continuous archiving" in result.output
        assert "docs/operations-backup.md" in result.output
        assert not (tmp_path / "copy").exists()


class TestRestoreDetection:
    def test_check_names_the_lost_ballots_and_the_reopened_codes(
        self, restored_after_more_ballots: tuple[Deployment, list[str], str]
    ) -> None:
        deployment, later_codes, _target = restored_after_more_ballots
        assert deployment.code_statuses(later_codes) == [CodeStatus.UNUSED] * 2  # the danger

        result = deployment.run_failing("db", "check")

        batch = deployment.batch_id()
        assert (
            f"campaign {SLUG}: 2 ballots acknowledged before the restore are missing; "
            f"2 codes used before the restore are usable again (batch {batch}: 2)"
        ) in result.output
        assert "audit trail: 1 entry recorded before the restore is missing" in result.output
        assert "pingyi db check --void-reopened" in result.output

    def test_recording_the_restored_database_does_not_lower_the_mark(
        self, restored_after_more_ballots: tuple[Deployment, list[str], str]
    ) -> None:
        deployment, _later_codes, _target = restored_after_more_ballots

        deployment.run_failing("db", "check", "--record")  # as the server does every minute
        result = deployment.run_failing("db", "check")

        assert "2 ballots acknowledged before the restore are missing" in result.output
        assert "2 codes used before the restore are usable again" in result.output

    def test_new_ballots_after_the_restore_do_not_hide_the_lost_ones(
        self, restored_after_more_ballots: tuple[Deployment, list[str], str]
    ) -> None:
        deployment, _later_codes, target = restored_after_more_ballots
        deployment.rate(deployment.issue(3), target)

        result = deployment.run_failing("db", "check", "--record")

        assert "2 ballots acknowledged before the restore are missing" in result.output

    def test_void_reopened_makes_those_codes_refuse_again(
        self, restored_after_more_ballots: tuple[Deployment, list[str], str]
    ) -> None:
        deployment, later_codes, target = restored_after_more_ballots

        result = deployment.run_failing("db", "check", "--void-reopened")

        assert f"campaign {SLUG}: 2 re-opened codes marked used again" in result.output
        assert deployment.code_statuses(later_codes) == [CodeStatus.USED] * 2
        with pytest.raises(CodeUsed):
            deployment.rate(later_codes[:1], target)
        again = deployment.run_failing("db", "check")
        assert "usable again" not in again.output
        assert "2 ballots acknowledged before the restore are missing" in again.output
        with db.session_scope() as session:
            actions = [
                entry.action
                for entry in audit_service.list_entries(session, audit_service.AuditFilter())[0]
            ]
        assert "restore_void_reopened" in actions

    def test_acknowledging_makes_the_mark_match_once_codes_are_closed(
        self, restored_after_more_ballots: tuple[Deployment, list[str], str]
    ) -> None:
        deployment, later_codes, _target = restored_after_more_ballots

        refused = deployment.run_failing("db", "check", "--acknowledge")
        assert "--void-reopened" in refused.output
        deployment.run_ok("db", "check", "--void-reopened", "--acknowledge")

        assert deployment.code_statuses(later_codes) == [CodeStatus.USED] * 2
        assert "OK: the database holds everything" in deployment.run_ok("db", "check").output

    def test_backup_taken_after_the_last_ballot_reports_nothing_lost(
        self, sqlite_deployment: Deployment, tmp_path: Path
    ) -> None:
        target = sqlite_deployment.open_campaign()
        sqlite_deployment.rate(sqlite_deployment.issue(3), target)
        backup = tmp_path / "latest.db"
        sqlite_deployment.run_ok("backup", str(backup))
        sqlite_deployment.run_ok("db", "check", "--record")

        restore_sqlite(sqlite_deployment, backup)
        result = sqlite_deployment.run_ok("db", "check")

        assert "OK: the database holds everything the high-water mark" in result.output
        assert "missing" not in result.output

    def test_without_a_mark_check_says_so_and_passes(self, sqlite_deployment: Deployment) -> None:
        result = sqlite_deployment.run_ok("db", "check")

        assert "No high-water mark" in result.output
        assert "pingyi db check --record" in result.output
        assert not sqlite_deployment.mark.exists()

    def test_mark_of_another_role_is_refused(
        self, sqlite_deployment: Deployment, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        sqlite_deployment.run_ok("db", "check", "--record")
        monkeypatch.setenv("PINGYI_ROLE", "collector")
        config.get_settings.cache_clear()

        result = sqlite_deployment.run_failing("db", "check")

        assert "belongs to a deployment of role all" in result.output


class TestSpentCredentials:
    def test_forgotten_spent_credentials_are_named_and_put_back(
        self, sqlite_deployment: Deployment, tmp_path: Path
    ) -> None:
        sqlite_deployment.open_campaign()
        public_key = b"not a real key, only its fingerprint matters here"
        with db.session_scope() as session:
            campaign = campaign_service.get_campaign(session, SLUG)
            key = CredentialKey(
                campaign_id=campaign.id,
                rater_group_id=campaign.rater_groups[0].id,
                public_key=public_key,
                fingerprint=hashlib.sha256(public_key).digest(),
            )
            session.add(key)
        backup = tmp_path / "before.db"
        sqlite_deployment.run_ok("backup", str(backup))
        spent = [os.urandom(32) for _ in range(2)]
        with db.session_scope() as session:
            key_id = session.scalars(select(CredentialKey.id)).one()
            session.add_all(SpentCredential(message_hash=value, key_id=key_id) for value in spent)
        sqlite_deployment.run_ok("db", "check", "--record")
        restore_sqlite(sqlite_deployment, backup)

        result = sqlite_deployment.run_failing("db", "check", "--void-reopened")

        assert "2 credentials spent before the restore could be spent again" in result.output
        assert "2 credentials put back in the spent set" in result.output
        with db.session_scope() as session:
            assert set(session.scalars(select(SpentCredential.message_hash))) == set(spent)


class TestRosterMembers:
    def test_roster_members_served_before_the_restore_are_named_and_marked_again(
        self, sqlite_deployment: Deployment, tmp_path: Path
    ) -> None:
        sqlite_deployment.open_campaign()
        identifiers = [os.urandom(32) for _ in range(3)]
        with db.session_scope() as session:
            campaign = campaign_service.get_campaign(session, SLUG)
            session.add_all(
                RosterMember(
                    campaign_id=campaign.id,
                    rater_group_id=campaign.rater_groups[0].id,
                    identifier_hash=identifier,
                    password_hash="not checked here",
                )
                for identifier in identifiers
            )
        backup = tmp_path / "before.db"
        sqlite_deployment.run_ok("backup", str(backup))
        with db.session_scope() as session:  # two members are served a credential
            for member in session.scalars(
                select(RosterMember).where(RosterMember.identifier_hash.in_(identifiers[:2]))
            ):
                member.credential_issued = True
        sqlite_deployment.run_ok("db", "check", "--record")
        restore_sqlite(sqlite_deployment, backup)

        result = sqlite_deployment.run_failing("db", "check", "--void-reopened")

        assert (
            "2 roster members served a credential before the restore could be served another"
            in result.output
        )
        assert "2 roster members marked served again" in result.output
        with db.session_scope() as session:
            served = session.scalars(
                select(RosterMember.identifier_hash).where(RosterMember.credential_issued)
            )
            assert set(served) == set(identifiers[:2])


class TestMarkFile:
    def test_mark_holds_hashes_only_sorted_and_no_plaintext_code(
        self, sqlite_deployment: Deployment
    ) -> None:
        target = sqlite_deployment.open_campaign()
        codes = sqlite_deployment.issue(4)
        sqlite_deployment.rate(codes, target)

        sqlite_deployment.run_ok("db", "check", "--record")

        text_of_mark = sqlite_deployment.mark.read_text()
        mark = json.loads(text_of_mark)
        campaign = mark["campaigns"][SLUG]
        assert campaign["used_codes"] == sorted(campaign["used_codes"])
        assert campaign["ballots"] == sorted(campaign["ballots"])
        assert len(campaign["used_codes"]) == 4
        for code in codes:
            assert code not in text_of_mark
            assert code.replace("-", "") not in text_of_mark
        assert oct(sqlite_deployment.mark.stat().st_mode & 0o777) == oct(0o600)

    def test_server_records_the_mark_in_the_background(
        self, sqlite_deployment: Deployment, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        target = sqlite_deployment.open_campaign()
        sqlite_deployment.rate(sqlite_deployment.issue(1), target)
        monkeypatch.setenv("PINGYI_HIGH_WATER_SECONDS", "0.05")
        get_settings.cache_clear()

        with TestClient(create_app()):
            deadline = time.monotonic() + 10
            while not sqlite_deployment.mark.exists() and time.monotonic() < deadline:
                time.sleep(0.05)

        assert (
            json.loads(sqlite_deployment.mark.read_text())["campaigns"][SLUG]["ballot_count"] == 1
        )


@pytest.mark.postgres
class TestRestoreDetectionOnPostgres:
    def test_database_copied_before_more_ballots_is_detected(
        self,
        postgres_databases: PostgresDatabases,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        live = postgres_databases.create()
        migrate(live)
        live.dispose()
        deployment = Deployment(
            live.url.render_as_string(hide_password=False), tmp_path / "high-water.json"
        )
        monkeypatch.setenv("PINGYI_DATABASE_URL", deployment.url)
        monkeypatch.setenv("PINGYI_HIGH_WATER_FILE", str(deployment.mark))
        _clear_app_caches()
        try:
            target = deployment.open_campaign()
            codes = deployment.issue(5)
            deployment.rate(codes[:3], target)
            deployment.run_ok("db", "check", "--record")
            backup_result = deployment.run_failing("backup", str(tmp_path / "copy"))
            assert "continuous archiving" in backup_result.output
            _dispose_app_engine()
            snapshot = _copy_database(postgres_databases, live)  # the backup
            deployment.rate(codes[3:], target)
            deployment.run_ok("db", "check", "--record")
            _dispose_app_engine()

            restored = _copy_database(postgres_databases, snapshot)  # the restore
            monkeypatch.setenv("PINGYI_DATABASE_URL", restored.url.render_as_string(False))
            _clear_app_caches()
            result = deployment.run_failing("db", "check")
            batch = deployment.batch_id()
            assert (
                f"campaign {SLUG}: 2 ballots acknowledged before the restore are missing; "
                f"2 codes used before the restore are usable again (batch {batch}: 2)"
            ) in result.output

            deployment.run_failing("db", "check", "--void-reopened")
            assert deployment.code_statuses(codes[3:]) == [CodeStatus.USED] * 2
            with pytest.raises(CodeUsed):
                deployment.rate(codes[3:4], target)
        finally:
            _dispose_app_engine()


def _copy_database(databases: PostgresDatabases, source: Engine) -> Engine:
    """A database-level copy (CREATE DATABASE ... TEMPLATE); nobody may be connected to it."""
    name = f"pingyi_test_{uuid.uuid4().hex[:12]}"
    statement = text(f'CREATE DATABASE "{name}" TEMPLATE "{source.url.database}"')
    for attempt in range(COPY_ATTEMPTS):
        try:
            with databases.admin.connect() as connection:
                connection.execute(statement)
            break
        except OperationalError as error:  # autovacuum may be connected to it for a moment
            if "being accessed by other users" not in str(error) or attempt + 1 == COPY_ATTEMPTS:
                raise
            time.sleep(0.5)
    databases.created.append(name)
    return db.build_engine(source.url.set(database=name).render_as_string(hide_password=False))
