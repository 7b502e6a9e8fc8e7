"""PostgreSQL restarts while ``pingyi serve --workers 2`` takes ballots: nothing acknowledged
is lost, nothing is stored twice or in part, and the workers' pools recover on their own.

This restarts the whole PostgreSQL server that PINGYI_TEST_POSTGRES_URL names, breaking every
other connection to it, so it runs only where nothing else is using that server: under
CI=true (run it in a pytest process of its own, ``pytest -m postgres_restart``, after the
rest), or when PINGYI_TEST_RESTART_POSTGRES=1. It needs to run as root (or as the cluster's
owner) on the machine of a Debian-style cluster (``pg_lsclusters``, ``pg_ctlcluster``).
"""

import os
import shutil
import subprocess
import time

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from tests.conftest import IN_CI, POSTGRES_URL, PostgresDatabases
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

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.postgres_restart]

ALLOWED = IN_CI or os.environ.get("PINGYI_TEST_RESTART_POSTGRES") == "1"
LOCAL_HOSTS = {None, "", "127.0.0.1", "localhost", "::1"}
PROGRESS = 25
RECOVERY_SECONDS = 30
RESTART_TIMEOUT_SECONDS = 120


def local_cluster() -> tuple[str, str]:
    """Version and name of the running local cluster on the test server's port.

    Outside CI a missing cluster skips the test; under CI it fails it.
    """
    url = make_url(POSTGRES_URL)
    problem = None
    clusters = []
    if url.host not in LOCAL_HOSTS:
        problem = f"the test server {url.host} is not on this machine"
    elif shutil.which("pg_lsclusters") is None or shutil.which("pg_ctlcluster") is None:
        problem = "no pg_lsclusters/pg_ctlcluster on this machine"
    else:
        listing = subprocess.run(
            ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True
        ).stdout
        clusters = [
            (fields[0], fields[1])
            for fields in (line.split() for line in listing.splitlines())
            if len(fields) >= 4 and fields[2] == str(url.port or 5432) and fields[3] == "online"
        ]
        if len(clusters) != 1:
            problem = f"no single online cluster on port {url.port or 5432}:\n{listing}"
        elif os.geteuid() != 0:
            problem = "restarting the cluster needs root"
    if problem is not None:
        if IN_CI:
            pytest.fail(f"CI=true but cannot restart PostgreSQL: {problem}")
        pytest.skip(problem)
    return clusters[0]


def restart_postgres(cluster: tuple[str, str]) -> None:
    """``pg_ctlcluster VERSION NAME restart``: a fast shutdown (open transactions are rolled
    back, every client disconnected), then a start; returns once it accepts connections."""
    version, name = cluster
    subprocess.run(
        ["pg_ctlcluster", version, name, "restart"],
        check=True,
        capture_output=True,
        timeout=RESTART_TIMEOUT_SECONDS,
    )


@pytest.mark.skipif(
    not ALLOWED,
    reason="restarts the shared PostgreSQL server: runs under CI=true or with "
    "PINGYI_TEST_RESTART_POSTGRES=1",
)
def test_postgres_restart_loses_no_acknowledged_ballot(
    fault_database: Engine, server: Server, postgres_databases: PostgresDatabases
) -> None:
    cluster = local_cluster()
    campaign = set_up_campaign(fault_database, codes=1500, vouchers=100)
    server.start()
    server.wait_until_serving()
    credentials = issue_credentials(server.base_url, campaign)
    load = Load(server.base_url, make_submissions(campaign, credentials, seed=2))
    load.start()
    try:
        load.wait_for_acknowledged(PROGRESS, timeout=60)
        restart_began = time.monotonic()
        try:
            restart_postgres(cluster)
        finally:
            postgres_databases.admin.dispose()  # its pooled connection died with the server
        restarted = time.monotonic()
        recovery = probe_until_accepted(server, load, timeout=RECOVERY_SECONDS)
        recovered = time.monotonic()
        wait_for(
            lambda: httpx.get(f"{server.base_url}/readyz", timeout=5).status_code == 200,
            timeout=RECOVERY_SECONDS,
            what="/readyz to answer 200",
        )
        load.wait_for_acknowledged(load.acknowledged + 2 * PROGRESS, timeout=RECOVERY_SECONDS)
    finally:
        load.stop()

    after_recovery = [s for s in load.sent if s.sent_at is not None and s.sent_at > recovered]
    failed_after_recovery = [s for s in after_recovery if not s.acknowledged]
    during_restart = [
        s for s in load.sent if s.sent_at is not None and restart_began <= s.sent_at <= restarted
    ]
    retry_unacknowledged(server.base_url, load.sent)
    lost = check_exactly_once(fault_database, campaign, load.submissions)
    counts = tally(load.sent)
    print(
        f"\nPostgreSQL restart took {restarted - restart_began:.1f} s; a submission accepted "
        f"{recovery:.1f} s after it; {sum(not s.acknowledged for s in during_restart)} of "
        f"{len(during_restart)} submissions sent during the restart not acknowledged; "
        f"{len(failed_after_recovery)} of {len(after_recovery)} failed after recovery\n"
        f"{counts.summary()}"
    )
    assert len(lost) == counts.response_lost
    assert recovery < RECOVERY_SECONDS
    assert failed_after_recovery == [], "the connection pool did not recover"
