"""/healthz says the process answers; /readyz says this replica can serve, or why not.

The schema's compatibility with newer releases and drift are tested with migrations, in
tests/ops/test_migrations_ops.py.
"""

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app import health, logs
from app.db import build_engine
from app.main import create_app
from app.ops import disk
from app.ops import secret as ops_secret
from tests.conftest import PostgresDatabases, migrate, new_sqlite_engine

READY = {"status": "ready", "database": "ok", "migrations": "head", "problems": []}


@pytest.fixture(autouse=True)
def _fresh_drift_cache() -> Iterator[None]:
    health.drift_cache.clear()
    yield
    health.drift_cache.clear()


class DiskUsage(NamedTuple):
    total: int
    used: int
    free: int


def probe(monkeypatch: pytest.MonkeyPatch, engine: Engine, path: str) -> tuple[int, dict[str, Any]]:
    monkeypatch.setattr(health, "get_engine", lambda: engine)
    try:
        with TestClient(create_app()) as client:
            response = client.get(path)
    finally:
        engine.dispose()
    return response.status_code, response.json()


class TestHealthz:
    def test_answers_without_a_database(self, monkeypatch: pytest.MonkeyPatch) -> None:
        unreachable = build_engine("postgresql+psycopg://nobody@127.0.0.1:9/none")
        assert probe(monkeypatch, unreachable, "/healthz") == (200, {"status": "ok"})


class TestReadyz:
    def test_ready_when_migrated_to_head(self, monkeypatch: pytest.MonkeyPatch) -> None:
        engine = new_sqlite_engine()
        migrate(engine)
        status, body = probe(monkeypatch, engine, "/readyz")
        assert (status, body) == (200, READY)

    def test_not_ready_before_the_newest_migration(self, monkeypatch: pytest.MonkeyPatch) -> None:
        engine = new_sqlite_engine()
        migrate(engine, "0003")
        status, body = probe(monkeypatch, engine, "/readyz")
        assert status == 503
        assert (body["migrations"], body["problems"]) == ("behind", ["behind"])

    def test_not_ready_on_an_empty_database(self, monkeypatch: pytest.MonkeyPatch) -> None:
        status, body = probe(monkeypatch, new_sqlite_engine(), "/readyz")
        assert (status, body["database"], body["migrations"]) == (503, "ok", "behind")

    def test_not_ready_when_the_database_does_not_answer(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        unreachable = build_engine("postgresql+psycopg://nobody@127.0.0.1:9/none")
        status, body = probe(monkeypatch, unreachable, "/readyz")
        assert (status, body["database"], body["problems"]) == (503, "unreachable", ["unreachable"])

    @pytest.mark.postgres
    def test_ready_on_postgresql(
        self, monkeypatch: pytest.MonkeyPatch, postgres_databases: PostgresDatabases
    ) -> None:
        engine = postgres_databases.create()
        migrate(engine)
        assert probe(monkeypatch, engine, "/readyz")[0] == 200


class TestReadyzOnAFullDisk:
    def report_free(self, monkeypatch: pytest.MonkeyPatch, free_mb: int) -> None:
        def disk_usage(path: object) -> DiskUsage:
            return DiskUsage(total=100_000 * disk.MEBIBYTE, used=0, free=free_mb * disk.MEBIBYTE)

        monkeypatch.setattr(shutil, "disk_usage", disk_usage)

    def test_not_ready_with_less_than_the_minimum_free(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        engine = new_sqlite_engine()
        migrate(engine)
        self.report_free(monkeypatch, 63)  # PINGYI_MIN_FREE_DISK_MB is 64 by default
        status, body = probe(monkeypatch, engine, "/readyz")
        assert (status, body["migrations"], body["problems"]) == (503, "head", ["disk_full"])

    def test_ready_with_the_minimum_free(self, monkeypatch: pytest.MonkeyPatch) -> None:
        engine = new_sqlite_engine()
        migrate(engine)
        self.report_free(monkeypatch, 64)
        assert probe(monkeypatch, engine, "/readyz") == (200, READY)

    def test_a_full_disk_is_reported_with_an_unreachable_database(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        self.report_free(monkeypatch, 0)
        unreachable = build_engine("postgresql+psycopg://nobody@127.0.0.1:9/none")
        status, body = probe(monkeypatch, unreachable, "/readyz")
        assert (status, body["problems"]) == (503, ["unreachable", "disk_full"])

    def test_the_sqlite_directory_and_var_dir_are_watched(self, tmp_path: Path) -> None:
        database = tmp_path / "data" / "pingyi.db"
        watched = disk.watched_paths(tmp_path / "var", f"sqlite:///{database}")
        assert watched == [tmp_path / "var", database.parent]
        assert disk.watched_paths(tmp_path, "postgresql+psycopg://db/pingyi") == [tmp_path]

    def test_a_directory_not_made_yet_is_measured_on_its_parent(self, tmp_path: Path) -> None:
        assert disk.free_bytes(tmp_path / "not" / "yet") == shutil.disk_usage(tmp_path).free


class TestReadyzWithAnotherSecret:
    def test_not_ready_when_the_secret_does_not_match(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        engine = new_sqlite_engine()
        migrate(engine)
        monkeypatch.setattr(ops_secret, "secret_problem", lambda connection: "secret_mismatch")
        status, body = probe(monkeypatch, engine, "/readyz")
        assert (status, body["problems"]) == (503, ["secret_mismatch"])


class TestDriftIsCheckedOncePerInterval:
    def test_probes_within_a_minute_reuse_the_last_check(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        engine = new_sqlite_engine()
        migrate(engine)
        monkeypatch.setattr(health, "get_engine", lambda: engine)
        with TestClient(create_app()) as client:
            assert client.get("/readyz").status_code == 200
            with engine.begin() as connection:
                connection.execute(text("ALTER TABLE departments ADD COLUMN stray INTEGER"))
            assert client.get("/readyz").status_code == 200  # the check a moment ago holds
            monkeypatch.setattr(health, "DRIFT_CHECK_INTERVAL_SECONDS", 0.0)
            response = client.get("/readyz")
        engine.dispose()
        assert (response.status_code, response.json()["problems"]) == (503, ["schema_drift"])


class TestJsonLogs:
    def test_request_lines_are_json_with_fields_and_nothing_about_the_client(
        self, client: TestClient, capsys: pytest.CaptureFixture[str]
    ) -> None:
        import json
        import logging

        logs.configure("json")
        try:
            client.get(
                "/healthz", headers={"user-agent": "probe/1.0", "x-forwarded-for": "1.2.3.4"}
            )
            client.get("/r")  # a rater page: no line at all
        finally:
            logging.getLogger("pingyi").handlers.clear()
            logging.getLogger("pingyi").propagate = True
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
        requests = [line for line in lines if line["logger"] == "pingyi.requests"]
        assert [(line["method"], line["path"], line["status"]) for line in requests] == [
            ("GET", "/healthz", 200)
        ]
        assert set(requests[0]) == {
            "time",
            "level",
            "logger",
            "message",
            "method",
            "path",
            "status",
            "duration_ms",
        }
        assert "probe" not in str(lines)
        assert "1.2.3.4" not in str(lines)

    @pytest.mark.parametrize("path", ["/r%23ABCD-EFGH-JKMN-PQRS-TVWX", "/rABCDEFGHJKMNPQRSTVWX"])
    def test_a_mangled_slip_link_logs_no_code(
        self, client: TestClient, caplog: pytest.LogCaptureFixture, path: str
    ) -> None:
        import logging

        caplog.set_level(logging.INFO, logger="pingyi.requests")
        assert client.get(path).status_code == 404
        lines = [record.getMessage() for record in caplog.records]
        assert lines == ["GET (no route) 404 " + lines[0].split()[-1]]
        assert "ABCD" not in str(lines)

    def test_staff_paths_are_logged_as_their_route(
        self, client: TestClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        import logging

        caplog.set_level(logging.INFO, logger="pingyi.requests")
        client.get("/results/some-campaign/methodology")
        assert caplog.records[0].getMessage().startswith("GET /results/{slug}/methodology ")
