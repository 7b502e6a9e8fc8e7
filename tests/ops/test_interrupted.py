"""Interrupted commands and failed requests leave a state that shows and resumes.

- ``pingyi codes issue``: a batch is not ready (its codes admit no one, turnout leaves it
  out) until its files are in place; a kill -9 while drawing leaves no file under the name
  asked for, and the command runs again;
- a seal whose vacuum did not finish shows as incomplete, and ``pingyi campaign seal`` ends it;
- a 500 says ``Connection: close``, so a kept-alive client is answered, not reset.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.admission import code_files
from app.admission import service as admission_service
from app.admission import turnout as admission_turnout
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus
from app.errors import CodeUnknown
from app.main import create_app
from app.reports import fonts
from app.sealing import rows as sealing
from tests.browser import serving
from tests.campaigns.test_pages import signed_in
from tests.factories import HASHING_KEY, make_campaign
from tests.test_cli import (
    DEPARTMENTS_CSV,
    app_database,
    create_campaign,
    open_campaign,
    run_failing,
    run_ok,
    write,
)

PINGYI = str(Path(sys.executable).with_name("pingyi"))
LARGE_BATCH = 50_000  # slips drawn for a minute or so: time enough to be killed mid-way
PROCESS_SECONDS = 120


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    departments_csv = write(tmp_path_factory.mktemp("departments") / "d.csv", DEPARTMENTS_CSV)
    with app_database() as engine:
        run_ok("departments", "import", str(departments_csv))
        yield engine


def environment(engine: Engine) -> dict[str, str]:
    return {
        **os.environ,
        "PINGYI_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "PINGYI_LANG": "en",
    }


def campaign_of(engine: Engine, slug: str) -> Campaign:
    with Session(engine, expire_on_commit=False) as session:
        return campaign_service.get_campaign(session, slug)


def batches_of(engine: Engine, slug: str) -> list[tuple[int, bool, bool]]:
    """Each batch's id, whether it is ready, whether it is revoked."""
    with Session(engine) as session:
        campaign = campaign_service.get_campaign(session, slug)
        return [
            (batch.id, batch.ready, batch.revoked)
            for batch in admission_service.list_batches(session, campaign)
        ]


def issued_in_turnout(engine: Engine, slug: str) -> int:
    with Session(engine) as session:
        campaign = campaign_service.get_campaign(session, slug)
        return admission_turnout.turnout(session, campaign, "zh_CN").issued


class TestBatchNotReady:
    """The service side: a batch made with ``ready=False`` admits no one until made ready."""

    def issue(self, session: Session, campaign: Campaign, *, ready: bool) -> list[str]:
        issued = admission_service.issue_codes(
            session, campaign, hashing_key=HASHING_KEY, group_key="citizens", count=4, ready=ready
        )
        return issued.codes

    def test_its_codes_are_unknown_to_every_admission_path(self, any_session: Session) -> None:
        campaign = make_campaign(any_session)
        codes = self.issue(any_session, campaign, ready=False)

        with pytest.raises(CodeUnknown):
            admission_service.check_code(any_session, HASHING_KEY, codes[0])
        with pytest.raises(CodeUnknown):
            admission_service.use_code(any_session, HASHING_KEY, codes[1])
        with pytest.raises(CodeUnknown):
            admission_service.redeem_code(any_session, HASHING_KEY, codes[2], ["D1"])

    def test_made_ready_its_codes_admit(self, any_session: Session) -> None:
        campaign = make_campaign(any_session)
        codes = self.issue(any_session, campaign, ready=False)
        batch_id = admission_service.list_batches(any_session, campaign)[-1].id

        admission_service.mark_batch_ready(any_session, campaign, batch_id)

        admitted = admission_service.use_code(any_session, HASHING_KEY, codes[0])
        assert admitted.campaign.id == campaign.id

    def test_turnout_counts_neither_unready_nor_revoked_codes_as_issued(
        self, any_session: Session
    ) -> None:
        campaign = make_campaign(any_session)
        self.issue(any_session, campaign, ready=False)
        self.issue(any_session, campaign, ready=True)
        revoked = self.issue(any_session, campaign, ready=True)
        admission_service.use_code(any_session, HASHING_KEY, revoked[0])
        batch_id = admission_service.list_batches(any_session, campaign)[-1].id
        admission_service.revoke_batch(any_session, campaign, batch_id)

        result = admission_turnout.turnout(any_session, campaign, "zh_CN")

        # 4 codes of the ready batch, and the one code used before its batch was revoked
        assert (result.groups[0].issued, result.groups[0].revoked) == (5, 3)
        assert result.issued == 5


@pytest.mark.usefixtures("database")
class TestCodesIssueKilledWhileDrawing:
    def test_the_batch_is_not_ready_no_file_is_made_and_a_rerun_succeeds(
        self, tmp_path: Path, database: Engine
    ) -> None:
        try:
            fonts.find_cjk_font()
        except fonts.PdfFontMissing as error:
            pytest.skip(str(error))
        create_campaign(tmp_path, "killed-slips")
        pdf = tmp_path / "slips" / "slips.pdf"
        command = [PINGYI, "codes", "issue", "killed-slips", "--group", "citizens"]

        with subprocess.Popen(
            [*command, "--count", str(LARGE_BATCH), "--pdf", str(pdf)],
            env=environment(database),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            assert process.stdout is not None
            first_line = process.stdout.readline()  # printed once the batch has committed
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=PROCESS_SECONDS)
        assert process.returncode == -signal.SIGKILL
        assert first_line.startswith("Batch "), first_line
        ((batch_id, ready, revoked),) = batches_of(database, "killed-slips")
        assert f"Batch {batch_id}:" in first_line
        assert (ready, revoked) == (False, False)
        assert issued_in_turnout(database, "killed-slips") == 0
        assert not pdf.exists()
        assert code_files.draft_path(pdf, process.pid).exists()  # left by the killed process
        listed = run_ok("codes", "list", "killed-slips").output
        assert "not ready" in listed

        rerun = run_ok(*command[1:], "--count", "3", "--pdf", str(pdf))

        assert pdf.exists()
        assert not code_files.draft_path(pdf, process.pid).exists()  # cleaned up
        assert [ready for _, ready, _ in batches_of(database, "killed-slips")] == [False, True]
        assert issued_in_turnout(database, "killed-slips") == 3
        assert rerun.output.splitlines()[-1].endswith("is ready: its codes can be used")

        run_ok("codes", "revoke", "killed-slips", "--batch", str(batch_id))
        assert batches_of(database, "killed-slips")[0][2] is True


@pytest.mark.usefixtures("database")
class TestCodesIssueReportsInOrder:
    def test_batch_id_comes_first_and_success_last(self, tmp_path: Path) -> None:
        create_campaign(tmp_path, "issue-order")
        out = tmp_path / "codes.csv"

        lines = run_ok(
            "codes",
            "issue",
            "issue-order",
            "--group",
            "citizens",
            "--count",
            "2",
            "--out",
            str(out),
        ).output.splitlines()

        assert lines[0].startswith("Batch ")
        assert "not usable until" in lines[0]
        assert lines[-1].endswith("is ready: its codes can be used")
        assert list(out.parent.glob(f".{out.name}.*")) == []  # no draft left behind

    def test_a_file_made_while_drawing_is_kept_and_the_batch_revoked(
        self, tmp_path: Path, database: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        create_campaign(tmp_path, "issue-raced")
        out = tmp_path / "codes.csv"
        real = admission_service.write_codes_csv

        def someone_else_writes_it_first(*args: object, **kwargs: object) -> None:
            out.write_text("theirs\n", encoding="utf-8")
            real(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(admission_service, "write_codes_csv", someone_else_writes_it_first)

        result = run_failing(
            "codes",
            "issue",
            "issue-raced",
            "--group",
            "citizens",
            "--count",
            "2",
            "--out",
            str(out),
        )

        assert "revoked" in result.stderr
        assert out.read_text(encoding="utf-8") == "theirs\n"
        assert [(ready, revoked) for _, ready, revoked in batches_of(database, "issue-raced")] == [
            (False, True)
        ]


@pytest.mark.usefixtures("database")
class TestSealInterrupted:
    def test_a_kill_during_the_vacuum_shows_and_campaign_seal_finishes_it(
        self, tmp_path: Path, database: Engine
    ) -> None:
        create_campaign(tmp_path, "killed-seal")
        open_campaign("killed-seal", tmp_path)
        killed_in_vacuum = (
            "import os, signal, sys\n"
            "from app.sealing import rows as sealing\n"
            "sealing.reset_physical_order = "
            "lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n"
            "from app.cli import main\n"
            "sys.argv = ['pingyi', 'campaign', 'close', 'killed-seal']\n"
            "main()\n"
        )

        closing = subprocess.run(
            [sys.executable, "-c", killed_in_vacuum],
            env=environment(database),
            capture_output=True,
            text=True,
            timeout=PROCESS_SECONDS,
            check=False,
        )

        assert closing.returncode == -signal.SIGKILL, closing.stderr
        assert closing.stdout == ""  # nothing claimed success
        campaign = campaign_of(database, "killed-seal")
        assert (campaign.status, campaign.seal_pending) == (CampaignStatus.CLOSED, True)
        assert "killed-seal\tclosed\t" in run_ok("campaign", "list").output
        assert "seal incomplete" in run_ok("campaign", "list").output
        again = run_failing("campaign", "close", "killed-seal")
        assert "pingyi campaign seal killed-seal" in again.stderr

        run_ok("campaign", "seal", "killed-seal")

        assert campaign_of(database, "killed-seal").seal_pending is False
        listed = [
            line for line in run_ok("campaign", "list").output.splitlines() if "killed-seal" in line
        ]
        assert len(listed) == 1
        assert "seal incomplete" not in listed[0]

    def test_a_failed_vacuum_makes_close_exit_1_with_the_remedy(
        self, tmp_path: Path, database: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        create_campaign(tmp_path, "failed-seal")
        open_campaign("failed-seal", tmp_path)

        def no_space(*args: object, **kwargs: object) -> bool:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(sealing, "reset_physical_order", no_space)

        result = run_failing("campaign", "close", "failed-seal")

        assert "closed, but its seal did not finish" in result.stderr
        assert "pingyi campaign seal failed-seal" in result.stderr
        assert campaign_of(database, "failed-seal").status == CampaignStatus.CLOSED


def app_with_failing_routes() -> FastAPI:
    app = create_app()

    def fail() -> None:
        raise RuntimeError("disk full, say")

    app.add_api_route("/api/v1/failing", fail)
    app.add_api_route("/failing", fail)
    return app


class TestServerErrorsCloseTheConnection:
    @pytest.mark.parametrize("path", ["/api/v1/failing", "/failing"])
    def test_a_500_says_connection_close(self, path: str) -> None:
        with TestClient(app_with_failing_routes(), raise_server_exceptions=False) as client:
            response = client.get(path)

        assert response.status_code == 500
        assert response.headers["connection"] == "close"

    def test_a_kept_alive_client_gets_every_answer_and_no_reset(self) -> None:
        with serving(app_with_failing_routes()) as base_url:
            with httpx.Client(base_url=base_url) as client:  # keeps connections alive
                statuses = [
                    client.get("/api/v1/failing" if index % 2 else "/healthz").status_code
                    for index in range(40)
                ]
            assert statuses == [200, 500] * 20

            host, port = base_url.removeprefix("http://").split(":")
            with socket.create_connection((host, int(port))) as connection:
                connection.sendall(
                    b"GET /api/v1/failing HTTP/1.1\r\nHost: pingyi.test\r\n\r\n"
                    b"GET /healthz HTTP/1.1\r\nHost: pingyi.test\r\n\r\n"
                )
                received = read_until_closed(connection)

        head, _, body = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 500")
        assert b"connection: close" in head.lower()
        assert b'"internal"' in body  # the whole answer arrived before the connection closed
        assert b"HTTP/1.1 200" not in received  # the pipelined request was not served


def read_until_closed(connection: socket.socket, seconds: float = 10) -> bytes:
    """Everything the server sends until it closes the connection (a reset would raise)."""
    connection.settimeout(seconds)
    received = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        chunk = connection.recv(65536)
        if not chunk:
            return received
        received += chunk
    raise AssertionError(f"the server kept the connection open after {received[:200]!r}")


class TestConsoleShowsAPendingSeal:
    def test_campaign_page_says_to_run_campaign_seal(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session, status=CampaignStatus.CLOSED)
        campaign.seal_pending = True
        session.flush()
        signed_in(client, session)

        page = client.get(f"/admin/campaigns/{campaign.slug}")

        assert page.status_code == 200
        assert f"pingyi campaign seal {campaign.slug}" in page.text

    def test_a_complete_seal_shows_nothing(self, client: TestClient, session: Session) -> None:
        campaign = make_campaign(session, status=CampaignStatus.CLOSED)
        signed_in(client, session)

        page = client.get(f"/admin/campaigns/{campaign.slug}")

        assert "pingyi campaign seal" not in page.text
