"""Processes for ``bench/submissions.py``: the server it starts, and the CPU that it, the
database and the whole machine use."""

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SERVER_START_TIMEOUT = 60.0  # seconds


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running_server(
    env: dict[str, str], workers: int, port: int, log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``pingyi serve`` in its own process group, stopped with SIGTERM (then SIGKILL).

    Its output goes to ``log_path``: a pipe nobody reads would fill and stall the workers.
    """
    log = log_path.open("wb")
    server = subprocess.Popen(
        [
            str(PROJECT_ROOT / ".venv" / "bin" / "pingyi"),
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        cwd=PROJECT_ROOT,
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_serving(server, port, workers, log_path)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def wait_until_serving(
    server: subprocess.Popen[bytes], port: int, workers: int, log_path: Path
) -> None:
    """Until /healthz answers and every worker process has started."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            output = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"pingyi serve exited:\n{output}")
        if healthy(port):
            # One worker serves in the supervisor's own process; more are its children.
            started = 1 if workers == 1 else len(child_pids(server.pid))
            if started >= workers:
                time.sleep(1.0)  # the workers share one socket; let the last one settle
                return
        time.sleep(0.2)
    raise RuntimeError(f"pingyi serve did not answer /healthz within {SERVER_START_TIMEOUT} s")


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def child_pids(pid: int) -> list[int]:
    children: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            children += [int(child) for child in (task / "children").read_text().split()]
    return children


def process_cpu(pids: list[int]) -> float:
    """CPU seconds used so far by these processes (user + system)."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return total - idle, total


def database_pids(database_name: str | None) -> list[int]:
    """The PostgreSQL backends serving ``database_name`` (their titles name the database)."""
    if database_name is None:
        return []
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                title = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                )
                if title.startswith("postgres:") and f" {database_name} " in title:
                    pids.append(int(entry.name))
    return pids
