"""Workers of ``pingyi serve --workers 2`` die by SIGKILL under load; nothing acknowledged is
lost, nothing is stored twice or in part, and the service is back within seconds."""

import os
import signal
import time

import pytest
from sqlalchemy import Engine

from tests.faults.harness import (
    Load,
    Server,
    check_exactly_once,
    issue_credentials,
    make_submissions,
    probe_until_accepted,
    retry_unacknowledged,
    set_up_campaign,
    tally,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SINGLE_KILLS = 3  # one worker at a time, alternating, while the other serves
PROGRESS = 20  # acknowledged submissions between faults, so each fault hits a running load
RECOVERY_SECONDS = 30  # generous for a shared 2-core machine; the figures are printed


def kill_and_wait_for_replacement(server: Server, victim: int) -> float:
    """SIGKILL one worker; the seconds until the supervisor has two serving workers again."""
    killed_at = time.monotonic()
    os.kill(victim, signal.SIGKILL)

    def replaced() -> bool:
        workers = server.serving_workers()
        return workers is not None and victim not in workers

    wait_for(
        replaced,
        timeout=RECOVERY_SECONDS,
        what=f"a replacement for worker {victim} (if the log shows new workers dying every "
        "~5.5 s, uvicorn's 5 s worker health check is killing them while they start)",
    )
    return time.monotonic() - killed_at


def test_killed_workers_lose_no_acknowledged_ballot(fault_database: Engine, server: Server) -> None:
    campaign = set_up_campaign(fault_database, codes=3000, vouchers=150)
    server.start()
    server.wait_until_serving()
    credentials = issue_credentials(server.base_url, campaign)
    load = Load(server.base_url, make_submissions(campaign, credentials, seed=1))
    load.start()
    try:
        load.wait_for_acknowledged(PROGRESS, timeout=60)
        restarts = []
        for round_number in range(SINGLE_KILLS):
            workers = server.worker_pids()
            victim = workers[round_number % len(workers)]
            restarts.append(kill_and_wait_for_replacement(server, victim))
            load.wait_for_acknowledged(load.acknowledged + PROGRESS, timeout=RECOVERY_SECONDS)

        # Both at once: nothing serves until the supervisor has started new workers.
        killed_at = time.monotonic()
        for victim in server.worker_pids():
            os.kill(victim, signal.SIGKILL)
        recovery = probe_until_accepted(server, load, timeout=RECOVERY_SECONDS)
        wait_for(server.serving_workers, timeout=RECOVERY_SECONDS, what="two workers again")
        both_restarted = time.monotonic() - killed_at
        load.wait_for_acknowledged(load.acknowledged + PROGRESS, timeout=RECOVERY_SECONDS)
    finally:
        load.stop()

    retry_unacknowledged(server.base_url, load.sent)
    lost = check_exactly_once(fault_database, campaign, load.submissions)
    counts = tally(load.sent)
    print(
        f"\nSIGKILL: {SINGLE_KILLS} single kills, two workers again after "
        f"{', '.join(f'{seconds:.1f}' for seconds in restarts)} s; both killed: a submission "
        f"accepted after {recovery:.1f} s, two workers after {both_restarted:.1f} s\n"
        f"{counts.summary()}"
    )
    assert len(lost) == counts.response_lost
    assert counts.server_errors == 0, "a worker's death made requests fail with 5xx"
    assert counts.credential_ballots_sent > 0
    assert recovery < RECOVERY_SECONDS
