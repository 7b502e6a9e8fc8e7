"""The request session the real app uses (the other tests override it): committed before the
response when the route succeeds, rolled back when it fails, and bounded below both the pool
and the worker threads."""

import asyncio
from collections.abc import Iterator
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from app import db
from app.config import Settings
from tests.conftest import new_sqlite_engine


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    engine = new_sqlite_engine()
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (body TEXT NOT NULL)"))
    monkeypatch.setattr(db, "get_session_factory", lambda: sessionmaker(bind=engine))
    yield engine
    engine.dispose()


def notes_app() -> FastAPI:
    app = FastAPI()
    RequestSession = Annotated[Session, Depends(db.get_session, scope="function")]

    @app.post("/notes/{body}", status_code=201)
    def add(session: RequestSession, body: str) -> dict[str, str]:
        session.execute(text("INSERT INTO notes (body) VALUES (:body)"), {"body": body})
        if body == "fail":
            raise RuntimeError("the route failed after writing")
        return {"stored": body}

    return app


def stored(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(text("SELECT body FROM notes ORDER BY body")))


def test_a_successful_request_is_committed_before_its_answer(engine: Engine) -> None:
    with TestClient(notes_app()) as client:
        assert client.post("/notes/kept").status_code == 201
    assert stored(engine) == ["kept"]


def test_a_failing_request_leaves_nothing(engine: Engine) -> None:
    with TestClient(notes_app(), raise_server_exceptions=False) as client:
        assert client.post("/notes/fail").status_code == 500
        assert client.post("/notes/after").status_code == 201
    assert stored(engine) == ["after"]


@pytest.mark.parametrize(("pool_size", "bound"), [(5, 10), (19, 38), (50, 39)])
def test_sessions_at_once_stay_below_the_pool_and_the_threads(
    monkeypatch: pytest.MonkeyPatch, pool_size: int, bound: int
) -> None:
    """anyio's default thread pool has 40 threads; one must stay free to commit in."""
    monkeypatch.setattr(db, "get_settings", lambda: Settings(database_pool_size=pool_size))

    async def slots() -> int:
        return db._session_slots()._value

    assert asyncio.run(slots()) == bound
