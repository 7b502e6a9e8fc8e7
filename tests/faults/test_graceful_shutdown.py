"""SIGTERM to the supervisor of ``pingyi serve --workers 2`` under load: requests in flight
finish and are stored, a request that never finishes is given up after --graceful-seconds,
and the process exits with 0 in bounded time."""

import os
import signal
import time

import pytest
from sqlalchemy import Engine

from tests.faults.harness import (
    HeldRequest,
    Load,
    Server,
    check_exactly_once,
    issue_credentials,
    make_submissions,
    set_up_campaign,
    tally,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

GRACEFUL_SECONDS = 4
EXIT_MARGIN_SECONDS = 15  # beyond the grace period: workers and supervisor wind down


def test_sigterm_lets_requests_in_flight_finish_then_exits_0(
    fault_database: Engine, server: Server
) -> None:
    campaign = set_up_campaign(fault_database, codes=600, vouchers=30)
    server.start("--graceful-seconds", str(GRACEFUL_SECONDS))
    server.wait_until_serving()
    credentials = issue_credentials(server.base_url, campaign)
    load = Load(server.base_url, make_submissions(campaign, credentials, seed=3))
    load.start()
    try:
        load.wait_for_acknowledged(25, timeout=60)
        finishing = HeldRequest(server.base_url, load.take_one())
        stuck = HeldRequest(server.base_url, load.take_one())
        finishing.start()
        stuck.start()

        sent_at = time.monotonic()
        os.kill(server.pid, signal.SIGTERM)
        wait_for(
            lambda: server.log().count("Shutting down") == server.workers,
            timeout=30,
            what="both workers to begin shutting down",
        )
        shutting_down_after = time.monotonic() - sent_at
        finished = finishing.finish()  # the rest of its body arrives after shutdown began

        assert server.process is not None
        exit_code = server.process.wait(timeout=GRACEFUL_SECONDS + EXIT_MARGIN_SECONDS)
        exited_after = time.monotonic() - sent_at
        load.stop()  # what it sends from now on only meets a closed port
        given_up = stuck.finish()
    finally:
        load.stop()

    lost = check_exactly_once(fault_database, campaign, load.submissions)
    counts = tally([s for s in load.sent if s not in (finished, given_up)])
    print(
        f"\nSIGTERM: workers shutting down after {shutting_down_after:.1f} s, exit code "
        f"{exit_code} after {exited_after:.1f} s (grace {GRACEFUL_SECONDS} s); held request: "
        f"{finished.status}, stuck request: {given_up.status or given_up.error}\n"
        f"{counts.summary()}"
    )
    assert finished.status == 201, "a request in flight at SIGTERM was not finished"
    assert not given_up.acknowledged
    assert exit_code == 0
    assert counts.server_errors == 0, "shutting down made requests fail with 5xx"
    assert lost == [], "ballots stored whose 201 was never delivered"
    assert "Stopping parent process" in server.log()
