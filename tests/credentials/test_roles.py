"""Split deployment: what an issuer and a collector serve, and the commands that move public
keys between their databases (``pingyi keys export`` / ``pingyi keys import``; the export and
import themselves are tested in :mod:`tests.credentials.test_transfer`)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.routing import Route

from app import config
from app.admission.models import CodeBatch
from app.campaigns.models import CampaignStatus
from app.config import DeploymentRole, Settings
from app.credentials.models import CredentialKey
from app.db import committing, get_session
from app.deps import code_hashing_key
from app.main import create_app, routers_for
from tests.credentials.credential_helpers import (
    all_keys,
    cli_database,
    key_pool,  # noqa: F401 - an autouse fixture
    run_cli_failing,
    run_cli_ok,
)
from tests.factories import HASHING_KEY, make_campaign

ISSUER_ONLY = {
    "/api/v1/admission",
    "/api/v1/credentials",
    "/api/v1/roster/login",
    "/admin/campaigns/{slug}/codes",
    "/admin/departments",
    "/admin/questionnaires",
}
COLLECTOR_ONLY = {
    "/api/v1/ballots",
    "/api/v1/start-token",
    "/r",
    "/r/rate",
    "/results",
    "/verify/{slug}",
    "/admin/campaigns/{slug}/results",
    "/admin/campaigns/{slug}/comments",
}
BOTH = {
    "/api/v1/campaigns/{slug}/keys",
    "/api/v1/campaigns/{slug}/seal",
    "/admin/login",
    "/admin/campaigns",
    "/admin/audit",
    "/healthz",
    "/",
}


def route_paths(app: FastAPI, role: DeploymentRole) -> set[str]:
    """The app's own routes and those of the routers it mounts for ``role``."""
    own = {route.path for route in app.routes if isinstance(route, Route)}
    included = [route.original_router for route in app.routes if hasattr(route, "original_router")]
    routers = [*routers_for(role), *included]
    return own | {route.path for router in routers for route in router.routes}


@pytest.fixture
def role_client(session: Session) -> Iterator[Any]:
    """``role_client(role)``: a test client of a deployment of that role."""
    clients: list[TestClient] = []

    def make(role: DeploymentRole) -> TestClient:
        app = create_app(role)

        def request_session() -> Iterator[Session]:
            session.commit()
            with committing(session):
                yield session

        app.dependency_overrides[get_session] = request_session
        app.dependency_overrides[code_hashing_key] = lambda: HASHING_KEY
        client = TestClient(app)
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


class TestRoutesByRole:
    @pytest.mark.parametrize(
        ("role", "served", "refused"),
        [
            # An issuer's /r only forwards to the collector (app.split.pages); no rating.
            (DeploymentRole.ISSUER, ISSUER_ONLY | BOTH, COLLECTOR_ONLY - {"/r"}),
            (DeploymentRole.COLLECTOR, COLLECTOR_ONLY | BOTH, ISSUER_ONLY),
            (DeploymentRole.ALL, ISSUER_ONLY | COLLECTOR_ONLY | BOTH, set()),
        ],
    )
    def test_each_role_mounts_its_routes_only(
        self, role: DeploymentRole, served: set[str], refused: set[str]
    ) -> None:
        paths = route_paths(create_app(role), role)

        assert served <= paths
        assert not refused & paths

    def test_an_issuer_answers_404_for_collection_and_results(
        self, role_client: Any, session: Session
    ) -> None:
        campaign = make_campaign(session)
        client = role_client(DeploymentRole.ISSUER)

        ballots = client.post("/api/v1/ballots", json={})
        assert (ballots.status_code, ballots.json()["error"]["code"]) == (404, "http_404")
        for path in (
            "/results",
            f"/verify/{campaign.slug}",
            f"/admin/campaigns/{campaign.slug}/results",
        ):
            assert client.get(path, follow_redirects=False).status_code == 404, path
        assert client.post("/r/rate", data={}).status_code == 404
        assert 'id="split-forward"' in client.get("/r").text  # forwards to the collector

        assert client.get(f"/api/v1/campaigns/{campaign.slug}/keys").status_code == 200
        issuance = client.post("/api/v1/credentials", json={"blinded_message": "AA"})
        assert issuance.json()["error"]["code"] == "roster_session_missing"
        codes_page = client.get(f"/admin/campaigns/{campaign.slug}/codes", follow_redirects=False)
        assert codes_page.status_code == 303  # to the sign-in page

    def test_a_collector_answers_404_for_issuance_codes_and_rosters(
        self, role_client: Any, session: Session
    ) -> None:
        campaign = make_campaign(session)
        client = role_client(DeploymentRole.COLLECTOR)

        for path, body in (
            ("/api/v1/credentials", {"voucher": "x", "blinded_message": "AA"}),
            (
                "/api/v1/roster/login",
                {"campaign": campaign.slug, "identifier": "1", "password": "x"},
            ),
            ("/api/v1/admission", {"code": "x"}),
        ):
            response = client.post(path, json=body)
            assert (response.status_code, response.json()["error"]["code"]) == (404, "http_404")
        for path in (f"/admin/campaigns/{campaign.slug}/codes", "/admin/departments"):
            assert client.get(path, follow_redirects=False).status_code == 404, path

        keys = client.get(f"/api/v1/campaigns/{campaign.slug}/keys")
        assert keys.status_code == 200
        assert client.get("/r").status_code == 200
        assert client.post("/api/v1/ballots", json={}).json()["error"]["code"] == "invalid"

    def test_each_role_documents_only_what_it_serves(self) -> None:
        issuer = TestClient(create_app(DeploymentRole.ISSUER)).get("/openapi.json").json()
        collector = TestClient(create_app(DeploymentRole.COLLECTOR)).get("/openapi.json").json()

        assert "/api/v1/credentials" in issuer["paths"]
        assert "/api/v1/ballots" not in issuer["paths"]
        assert "/api/v1/ballots" in collector["paths"]
        assert "/api/v1/credentials" not in collector["paths"]
        assert "/api/v1/campaigns/{slug}/keys" in issuer["paths"]
        assert "/api/v1/campaigns/{slug}/keys" in collector["paths"]


class TestRoleSetting:
    def test_the_role_defaults_to_all_and_is_read_from_pingyi_role(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("PINGYI_ROLE", raising=False)
        assert Settings().role == DeploymentRole.ALL
        monkeypatch.setenv("PINGYI_ROLE", "collector")
        assert Settings().role == DeploymentRole.COLLECTOR
        assert not Settings().issues_credentials
        monkeypatch.setenv("PINGYI_ROLE", "both")
        with pytest.raises(ValidationError):
            Settings()

    def test_the_app_follows_the_setting(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PINGYI_ROLE", "collector")
        config.get_settings.cache_clear()
        try:
            paths = TestClient(create_app()).get("/openapi.json").json()["paths"]
        finally:
            config.get_settings.cache_clear()

        assert "/api/v1/ballots" in paths
        assert "/api/v1/credentials" not in paths


class TestKeyCommands:
    def test_open_export_on_the_issuer_and_import_on_the_collector(self, tmp_path: Path) -> None:
        key_file = tmp_path / "keys.json"
        with cli_database(role="issuer") as issuer, Session(issuer) as session:
            slug = make_campaign(session, status=CampaignStatus.DRAFT).slug
            session.commit()
            run_cli_ok("campaign", "open", slug)
            listed = run_cli_ok("keys", "list", slug).output
            exported = run_cli_ok("keys", "export", slug, "--out", str(key_file)).output
            issuer_fingerprints = sorted(key.fingerprint.hex() for key in all_keys(session))

        assert len(issuer_fingerprints) == 2
        assert all(fingerprint in exported for fingerprint in issuer_fingerprints)
        assert listed.count("private+public") == 2
        assert "PRIVATE" not in key_file.read_text("utf-8")

        with (
            cli_database(role="collector") as collector_engine,
            Session(collector_engine) as session,
        ):
            imported = run_cli_ok("keys", "import", str(key_file)).output
            assert f"{slug}: campaign created, 2 keys added" in imported
            keys = all_keys(session)
            assert sorted(key.fingerprint.hex() for key in keys) == issuer_fingerprints
            assert all(key.private_key is None for key in keys)
            assert run_cli_ok("keys", "list", slug).output.count("public only") == 2
            assert "collector" in run_cli_failing("keys", "create", slug).output

    def test_opening_on_a_collector_makes_no_private_key(self) -> None:
        with cli_database(role="collector") as engine, Session(engine) as session:
            slug = make_campaign(session, status=CampaignStatus.DRAFT).slug
            session.commit()

            run_cli_ok("campaign", "open", slug)

            assert session.scalars(select(CredentialKey)).all() == []

    def test_a_collector_refuses_to_issue_codes(self, tmp_path: Path) -> None:
        with cli_database(role="collector") as engine, Session(engine) as session:
            campaign = make_campaign(session, status=CampaignStatus.OPEN)
            slug, group = campaign.slug, campaign.rater_groups[0].key
            session.commit()
            out = tmp_path / "codes.csv"

            result = run_cli_failing(
                "codes", "issue", slug, "--group", group, "--count", "3", "--out", str(out)
            )

            assert "codes belong to the issuer" in result.output
            assert not out.exists()
            assert session.scalars(select(CodeBatch)).all() == []

    def test_issuing_a_scoped_batch_makes_its_key(self, tmp_path: Path) -> None:
        with cli_database() as engine, Session(engine) as session:
            campaign = make_campaign(session, status=CampaignStatus.DRAFT)
            slug, target = campaign.slug, campaign.targets[1]
            code, target_id = target.department.code, target.id
            session.commit()

            run_cli_ok(
                "codes", "issue", slug, "--group", "cadres", "--count", "2",
                "--target", code, "--out", str(tmp_path / "codes.csv"),
            )  # fmt: skip

            assert [(key.target_id, key.private_key is not None) for key in all_keys(session)] == [
                (target_id, True)
            ]
