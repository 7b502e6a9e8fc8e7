"""/healthz says the process answers; /readyz says the database answers at the newest schema."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app import health, logs
from app.db import build_engine
from app.main import create_app
from tests.conftest import PostgresDatabases, migrate, new_sqlite_engine


def probe(monkeypatch: pytest.MonkeyPatch, engine: Engine, path: str) -> tuple[int, dict]:
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
        assert (status, body) == (200, {"status": "ready", "database": "ok", "migrations": "head"})

    def test_not_ready_before_the_newest_migration(self, monkeypatch: pytest.MonkeyPatch) -> None:
        engine = new_sqlite_engine()
        migrate(engine, "0003")
        status, body = probe(monkeypatch, engine, "/readyz")
        assert status == 503
        assert body["migrations"] == "behind"

    def test_not_ready_on_an_empty_database(self, monkeypatch: pytest.MonkeyPatch) -> None:
        status, body = probe(monkeypatch, new_sqlite_engine(), "/readyz")
        assert (status, body["database"], body["migrations"]) == (503, "ok", "behind")

    def test_not_ready_when_the_database_does_not_answer(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        unreachable = build_engine("postgresql+psycopg://nobody@127.0.0.1:9/none")
        status, body = probe(monkeypatch, unreachable, "/readyz")
        assert (status, body["database"]) == (503, "unreachable")

    @pytest.mark.postgres
    def test_ready_on_postgresql(
        self, monkeypatch: pytest.MonkeyPatch, postgres_databases: PostgresDatabases
    ) -> None:
        engine = postgres_databases.create()
        migrate(engine)
        assert probe(monkeypatch, engine, "/readyz")[0] == 200


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
