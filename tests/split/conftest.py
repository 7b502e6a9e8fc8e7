"""A deployment of one role of a split deployment, as a test client on the test's session."""

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app import config
from app.db import committing, get_session
from app.deps import code_hashing_key
from app.main import create_app
from tests.factories import HASHING_KEY

ISSUER_URL = "https://issuer.example.org"
COLLECTOR_URL = "https://collector.example.org:8443"

SplitClient = Callable[[str], TestClient]


@pytest.fixture
def split_client(session: Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[SplitClient]:
    """``split_client("issuer")``: a client of that half, with both addresses configured."""
    clients: list[TestClient] = []

    def make(role: str) -> TestClient:
        monkeypatch.setenv("PINGYI_ROLE", role)
        monkeypatch.setenv("PINGYI_ISSUER_URL", ISSUER_URL)
        monkeypatch.setenv("PINGYI_COLLECTOR_URL", COLLECTOR_URL + "/")
        config.get_settings.cache_clear()
        app = create_app()

        def request_session() -> Iterator[Session]:
            session.commit()
            with committing(session):
                yield session

        app.dependency_overrides[get_session] = request_session
        app.dependency_overrides[code_hashing_key] = lambda: HASHING_KEY
        client = TestClient(app, raise_server_exceptions=True).__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
    config.get_settings.cache_clear()
