"""Machinery for real-browser tests: Debian's Chromium through Playwright, the app over HTTP.

Playwright's own browser download does not work here, so tests drive the ``chromium`` on
PATH. Without it, browser tests are skipped, except under CI=true, where that is a failure
(the same rule as for PostgreSQL in ``tests/conftest.py``).

The app is served by uvicorn in a background thread against its own migrated SQLite file;
tests set up data in sessions bound to the same engine and commit it, so the server sees it.
"""

import re
import shutil
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import uvicorn
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    ViewportSize,
    sync_playwright,
)
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.admission import codes
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
PHONE_VIEWPORT: ViewportSize = {"width": 360, "height": 780}  # CSS pixels, a small Android phone
ACTION_TIMEOUT_MS = 10_000
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


# --- helpers for tests that drive pages -------------------------------------------------------


def new_phone_context(browser: Browser, *, locale: str = "zh-CN", **options: Any) -> BrowserContext:
    """A fresh browser context (no cookies, no history) like a rater's phone, 360 px wide."""
    context = browser.new_context(
        viewport=PHONE_VIEWPORT, locale=locale, is_mobile=True, has_touch=True, **options
    )
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    return context


def watch_script_problems(page: Page) -> list[str]:
    """A list that fills with the page's uncaught script errors and CSP refusals."""
    problems: list[str] = []

    def note_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            problems.append(message.text)

    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", note_console)
    return problems


def save_screenshot(page: Page, name: str) -> Path:
    """A full-page screenshot under test-artifacts/screenshots/, for people to look at."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path


def code_appears_in(code: str, text: str) -> bool:
    """Whether ``code`` is in ``text`` in any spelling: grouped or not, any case, encoded."""
    squashed = re.sub(r"[^0-9A-Z]", "", unquote(unquote(text)).upper())
    return codes.normalize(code) in squashed
