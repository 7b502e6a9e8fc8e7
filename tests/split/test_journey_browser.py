"""One rater's journey across two real servers, in Chromium at 360 px: the QR link of a slip
printed by the issuer (``ISSUER/r#CODE``) forwards to the collector, whose page exchanges the
code at the issuer for a blind-signed credential and rates with it; the ballot lands in the
collector's box, and the collector never receives the code."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Request, expect
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app.admission.models import CodeStatus
from app.ballot_box import service as box_service
from app.campaigns import service as campaign_service
from app.config import PROJECT_ROOT
from app.credentials import keys as credential_keys
from app.credentials import transfer
from tests.ballots.test_browser import (
    CHOOSE_HEADING,
    NEXT,
    REVIEW_ANSWERS,
    REVIEW_HEADING,
    SUBMIT,
    THANK_YOU,
    answer,
    appears_in,
    expect_heading,
)
from tests.browser import (
    launched_chromium,
    new_phone_context,
    save_screenshot,
    watch_script_problems,
)
from tests.conftest import migrate
from tests.credentials.credential_helpers import (
    SERVER_SECRET,
    key_pool,  # noqa: F401 - an autouse fixture
)
from tests.factories import code_status, issue_code, make_campaign

pytestmark = pytest.mark.browser

COLLECTOR_SECRET = "collector-test-secret"  # each half has its own; nothing secret is shared
START_TIMEOUT = 20.0  # seconds for a server to answer /healthz


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def pingyi_server(database: Path, port: int, **settings: str) -> Iterator[str]:
    """``uvicorn app.main:create_app`` in its own process with its own ``PINGYI_*``."""
    environment = {
        **os.environ,
        "PINGYI_DATABASE_URL": f"sqlite:///{database}",
        "PINGYI_VAR_DIR": str(database.parent / f"var-{port}"),
        **{f"PINGYI_{name.upper()}": value for name, value in settings.items()},
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "app.main:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=PROJECT_ROOT,
        env=environment,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(base_url + "/healthz", timeout=1):  # noqa: S310
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the {settings['role']} did not start") from None
                time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_slip_link_on_the_issuer_rates_on_the_collector(tmp_path: Path) -> None:
    issuer_db, collector_db = tmp_path / "issuer.db", tmp_path / "collector.db"
    issuer_engine = create_engine(f"sqlite:///{issuer_db}")
    collector_engine = create_engine(f"sqlite:///{collector_db}")
    migrate(issuer_engine)
    migrate(collector_engine)
    with Session(issuer_engine) as issuer, Session(collector_engine) as collector:
        campaign = make_campaign(issuer)
        credential_keys.open_campaign_keys(issuer, campaign, SERVER_SECRET)
        code = issue_code(issuer, campaign)
        key_file = json.dumps(transfer.export_keys(issuer, campaign)).encode()
        transfer.import_keys(collector, key_file, default_threshold=5)
        slug, names = campaign.slug, [target.department.name for target in campaign.targets]
        issuer.commit()
        collector.commit()

    issuer_port, collector_port = free_port(), free_port()
    issuer_url = f"http://127.0.0.1:{issuer_port}"
    collector_url = f"http://127.0.0.1:{collector_port}"
    with (
        pingyi_server(
            issuer_db,
            issuer_port,
            role="issuer",
            secret_key=SERVER_SECRET.decode(),
            collector_url=collector_url,
        ),
        pingyi_server(
            collector_db,
            collector_port,
            role="collector",
            secret_key=COLLECTOR_SECRET,
            issuer_url=issuer_url,
        ),
        launched_chromium() as browser,
    ):
        context = new_phone_context(browser)
        page = context.new_page()
        problems = watch_script_problems(page)
        sent: list[Request] = []
        page.on("request", lambda request: sent.append(request))

        page.goto(f"{issuer_url}/r#{code}")

        expect(page.get_by_role("heading", name=CHOOSE_HEADING)).to_be_visible()
        assert page.url.startswith(collector_url + "/r")
        page.get_by_label(names[0], exact=True).check()
        page.get_by_role("button", name=NEXT, exact=True).click()
        expect_heading(page, names[0])
        answer(page, "courtesy", "满意")
        answer(page, "speed", "非常满意")
        page.get_by_role("button", name=REVIEW_ANSWERS).click()
        expect_heading(page, REVIEW_HEADING)
        page.get_by_role("button", name=SUBMIT).click()
        expect_heading(page, THANK_YOU)
        save_screenshot(page, "split-journey-receipt")
        context.close()

    assert problems == []
    to_collector = [request for request in sent if request.url.startswith(collector_url)]
    to_issuer = [request for request in sent if request.url.startswith(issuer_url)]
    assert not any(
        appears_in(code, request.url + (request.post_data or "")) for request in to_collector
    )
    assert [urlsplit(request.url).path for request in to_issuer if request.method == "POST"] == [
        "/api/v1/admission",
        "/api/v1/credentials",
    ]
    with Session(issuer_engine) as issuer, Session(collector_engine) as collector:
        copied = campaign_service.get_campaign(collector, slug)
        assert box_service.ballots_in_box(collector, copied) == 1
        assert code_status(issuer, code) == CodeStatus.USED
        assert box_service.ballots_in_box(issuer, campaign_service.get_campaign(issuer, slug)) == 0
    issuer_engine.dispose()
    collector_engine.dispose()
