"""Machinery for real-browser tests: Debian's Chromium through Playwright, the app over HTTP.

Playwright's own browser download does not work here, so tests drive the ``chromium`` on
PATH. Without it, browser tests are skipped, except under CI=true, where that is a failure
(the same rule as for PostgreSQL in ``tests/conftest.py``).

The app is served by uvicorn in a background thread against its own migrated SQLite file;
tests set up data in sessions bound to the same engine and commit it, so the server sees it.
"""

import shutil
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import PROJECT_ROOT
from app.db import committing, get_session
from app.deps import code_hashing_key
from app.main import create_app
from tests.conftest import IN_CI, migrate, new_sqlite_engine
from tests.factories import HASHING_KEY

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT_DIR = PROJECT_ROOT / "test-artifacts" / "screenshots"
SERVER_START_TIMEOUT = 10.0  # seconds
SERVER_STOP_TIMEOUT = 10.0  # seconds
POLL_INTERVAL = 0.01  # seconds

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def chromium_executable() -> str:
    """The path of Debian's Chromium; skips the test without it, or fails under CI=true."""
    path = shutil.which("chromium")
    if path is None:
        message = "no `chromium` executable on PATH (Debian package `chromium`)"
        if IN_CI:
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)
    return path


@contextmanager
def launched_chromium() -> Iterator[Browser]:
    executable = chromium_executable()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass(frozen=True)
class ReceivedRequest:
    """What reached the server for one request: the request line and the headers."""

    method: str
    path: str
    query_string: str
    headers: list[tuple[str, str]]

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query_string}" if self.query_string else self.path


@dataclass
class RequestRecorder:
    """An ASGI wrapper that keeps what every request brought to the server (not bodies)."""

    app: ASGIApp
    received: list[ReceivedRequest] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.received.append(
                ReceivedRequest(
                    method=scope["method"],
                    path=scope["path"],
                    query_string=scope["query_string"].decode("latin-1"),
                    headers=[
                        (name.decode("latin-1"), value.decode("latin-1"))
                        for name, value in scope["headers"]
                    ],
                )
            )
        await self.app(scope, receive, send)


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    engine: Engine
    recorder: RequestRecorder

    def url(self, path: str) -> str:
        return self.base_url + path


def request_session_factory(engine: Engine) -> Callable[[], Iterator[Session]]:
    """A replacement for ``app.db.get_session`` on ``engine``, under the same commit rule."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)

    def request_session() -> Iterator[Session]:
        with factory() as session, committing(session):
            yield session

    return request_session


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread; yields its base URL.

    Port 0 lets the operating system pick a free port, which is read back from the
    listening socket once the server has started.
    """
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", access_log=False, ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="pingyi-live-server", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the test server stopped while starting")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the test server did not start in {SERVER_START_TIMEOUT} s")
            time.sleep(POLL_INTERVAL)
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=SERVER_STOP_TIMEOUT)


@contextmanager
def live_server() -> Iterator[LiveServer]:
    """The whole app over HTTP on a fresh, migrated SQLite database file."""
    engine = new_sqlite_engine()
    migrate(engine)
    app = create_app()
    app.dependency_overrides[get_session] = request_session_factory(engine)
    app.dependency_overrides[code_hashing_key] = lambda: HASHING_KEY
    recorder = RequestRecorder(app)
    try:
        with serving(recorder) as base_url:
            yield LiveServer(base_url=base_url, engine=engine, recorder=recorder)
    finally:
        engine.dispose()
