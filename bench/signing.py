"""Credential issuance (blind signing) per second: the raw operation, the service, HTTP.

1. raw BlindSign (``app.credentials.blind_rsa.blind_sign``: RSA blinding, CRT with a
   constant-time modular power, verify-after-sign) with a 3072-bit key, in this process on
   one core: operations per second and the latency of each, p50 and p99;
2. the issuance service (``issuance.issue_for_voucher``: voucher check,
   conditional update, sign, commit), one credential per transaction, sequentially, on
   SQLite and on PostgreSQL: credentials per second, p50 and p99;
3. over HTTP: ``pingyi serve --workers N`` and a load generator in another process
   (``bench/signing_load.py``) POSTing ``/api/v1/credentials`` with ``--concurrency``
   keep-alive connections, one fresh voucher each: credentials per second, p50 and p99.
   The server runs with PINGYI_RATE_LIMIT_PER_MINUTE=0, as every request comes from one
   address.

Blinded messages are random numbers below the modulus: to the signer a blinded message is
exactly that, and making them by RFC 9474 Blind would only cost the benchmark time.
Each figure is the best of ``--repeat`` runs (ops/s: the highest; latencies from that run),
because the machine may be shared. PostgreSQL gets a database of its own on the server at
PINGYI_TEST_POSTGRES_URL, dropped afterwards; without a server it is skipped.

Usage: ``python bench/signing.py`` (``--quick`` for a smoke test; ``--no-http`` to skip 3).
"""

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from _campaign_db import (  # noqa: E402
    ENGINES,
    SECRET,
    BenchDatabase,
    bench_database,
    postgres_available,
    subprocess_environment,
)
from machine import print_header  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from app.admission import codes  # noqa: E402
from app.admission import service as admission_service  # noqa: E402
from app.campaigns import service as campaign_service  # noqa: E402
from app.config import PROJECT_ROOT  # noqa: E402
from app.credentials import blind_rsa, issuance  # noqa: E402
from app.credentials import keys as credential_keys  # noqa: E402
from app.db import committing  # noqa: E402

RATER_GROUP = "citizens"
SERVER_START_TIMEOUT = 60.0  # seconds
PINGYI = Path(sys.executable).parent / "pingyi"


@dataclass(frozen=True)
class Run:
    count: int
    elapsed: float  # seconds
    latencies: list[float]  # seconds, one per operation

    @property
    def per_second(self) -> float:
        return self.count / self.elapsed

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def line(self, label: str, unit: str, runs: "list[Run]") -> str:
        others = ", ".join(f"{run.per_second:.0f}" for run in runs)
        return (
            f"{label:34} {self.per_second:7.1f} {unit}/s   "
            f"p50 {self.percentile(0.50) * 1e3:6.2f} ms   p99 {self.percentile(0.99) * 1e3:6.2f} ms"
            f"   ({self.count} ops; runs: {others})"
        )


def best(runs: list[Run]) -> Run:
    return max(runs, key=lambda run: run.per_second)


def random_blinded(public_key: blind_rsa.rsa.RSAPublicKey) -> bytes:
    """A value the signer cannot tell from a blinded message: uniform below the modulus."""
    n = public_key.public_numbers().n
    return secrets.randbelow(n).to_bytes(blind_rsa.modulus_length(public_key), "big")


# --- 1. raw BlindSign ---------------------------------------------------------------------------


def raw_sign(private_key: blind_rsa.rsa.RSAPrivateKey, count: int) -> Run:
    messages = [random_blinded(private_key.public_key()) for _ in range(64)]
    latencies = []
    started = time.perf_counter()
    for index in range(count):
        before = time.perf_counter()
        blind_rsa.blind_sign(private_key, messages[index % len(messages)])
        latencies.append(time.perf_counter() - before)
    return Run(count, time.perf_counter() - started, latencies)


# --- 2. the issuance service --------------------------------------------------------------------


def fresh_vouchers(database: BenchDatabase, count: int) -> tuple[list[str], list[bytes]]:
    """``count`` new codes of the citizens group and a blinded message for each."""
    with Session(database.engine, expire_on_commit=False) as session, committing(session):
        campaign = campaign_service.get_campaign(session, database.campaign_slug)
        issued = admission_service.issue_codes(
            session,
            campaign,
            hashing_key=codes.hashing_key(SECRET),
            group_key=RATER_GROUP,
            count=count,
        )
        group = next(group for group in campaign.rater_groups if group.key == RATER_GROUP)
        key = credential_keys.key_for_scope(session, campaign.id, group.id, None)
        if key is None:
            raise RuntimeError("the bench campaign has no credential key")
        public_key = credential_keys.public_key_of(key)
    return issued.codes, [random_blinded(public_key) for _ in issued.codes]


def service_issue(database: BenchDatabase, count: int) -> Run:
    vouchers, blinded = fresh_vouchers(database, count + 1)
    hashing_key = codes.hashing_key(SECRET)
    sessions = sessionmaker(bind=database.engine, expire_on_commit=False)

    def issue_one(voucher: str, message: bytes) -> None:
        with sessions() as session, committing(session):
            issuance.issue_for_voucher(session, hashing_key, SECRET, voucher, message)

    issue_one(vouchers[-1], blinded[-1])  # warm-up: decrypts and caches the private key
    latencies = []
    started = time.perf_counter()
    for voucher, message in zip(vouchers[:-1], blinded[:-1], strict=True):
        before = time.perf_counter()
        issue_one(voucher, message)
        latencies.append(time.perf_counter() - before)
    return Run(count, time.perf_counter() - started, latencies)


# --- 3. HTTP --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running_server(
    database: BenchDatabase, workers: int, port: int, work_dir: Path
) -> Iterator[None]:
    """``pingyi serve`` in its own process group, stopped with SIGTERM (then SIGKILL)."""
    environment = subprocess_environment(database, work_dir)
    environment["PINGYI_RATE_LIMIT_PER_MINUTE"] = "0"
    server = subprocess.Popen(
        [str(PINGYI), "serve", "--port", str(port), "--workers", str(workers)],
        env=environment,
        cwd=PROJECT_ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if server.poll() is not None:
                error = server.stderr.read().decode()[-2000:] if server.stderr else ""
                raise RuntimeError(f"pingyi serve exited: {error}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer,
            ):
                if answer.status == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"pingyi serve did not answer within {SERVER_START_TIMEOUT} s")
            time.sleep(0.2)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def http_issue(
    database: BenchDatabase, count: int, port: int, concurrency: int, warmup: int
) -> Run:
    vouchers, blinded = fresh_vouchers(database, count + warmup)
    bodies = Path(tempfile.mkstemp(prefix="pingyi-bench-credentials-", suffix=".jsonl")[1])
    try:
        with bodies.open("w", encoding="ascii") as stream:
            for voucher, message in zip(vouchers, blinded, strict=True):
                body = {
                    "voucher": voucher,
                    "blinded_message": credential_keys.encode_b64url(message),
                }
                stream.write(json.dumps(body, separators=(",", ":")) + "\n")
        job = {
            "host": "127.0.0.1",
            "port": port,
            "path": "/api/v1/credentials",
            "bodies_file": str(bodies),
            "concurrency": concurrency,
            "warmup": warmup,
        }
        generator = subprocess.run(
            [sys.executable, str(BENCH_DIR / "signing_load.py")],
            input=json.dumps(job).encode(),
            capture_output=True,
            check=False,
        )
    finally:
        bodies.unlink()
    if generator.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{generator.stderr.decode()[-2000:]}")
    outcome = json.loads(generator.stdout)
    refused = {status: n for status, n in outcome["statuses"].items() if status != "200"}
    if any(not status.startswith("warm-up 200") for status in refused):
        raise RuntimeError(f"answers other than 200: {outcome['statuses']}")
    latencies = outcome["latencies"]
    return Run(len(latencies), outcome["elapsed"], latencies)


# --- main -----------------------------------------------------------------------------------------


def repeated(repeat: int, measure: Callable[[], Run]) -> tuple[Run, list[Run]]:
    runs = [measure() for _ in range(repeat)]
    return best(runs), runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw-count", type=int, default=1000, help="raw signatures per run")
    parser.add_argument("--count", type=int, default=300, help="credentials per service run")
    parser.add_argument("--http-count", type=int, default=600, help="credentials per HTTP run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; best is shown")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--workers", type=int, default=2, help="pingyi serve --workers")
    parser.add_argument("--concurrency", type=int, default=8, help="HTTP connections")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP measurement")
    parser.add_argument("--quick", action="store_true", help="few operations, one run")
    args = parser.parse_args()
    if args.quick:
        args.raw_count, args.count, args.http_count, args.repeat = 100, 50, 100, 1
    warmup = 4 * args.workers  # first requests decrypt each worker's private key

    print_header(f"credential issuance (blind signing), best of {args.repeat}")
    private_key = blind_rsa.generate_private_key()
    print(f"# key: RSA {private_key.key_size} bits, RSABSSA-SHA384-PSS-Randomized (RFC 9474)")
    raw, raw_runs = repeated(args.repeat, lambda: raw_sign(private_key, args.raw_count))
    print(raw.line("raw BlindSign, 1 core", "ops", raw_runs))

    for name in args.engines:
        if name == "postgres" and (problem := postgres_available()) is not None:
            print(f"{name}: skipped, no PostgreSQL server ({problem})")
            continue
        with bench_database(name, with_keys=True) as database:
            service, service_runs = repeated(
                args.repeat, lambda db=database: service_issue(db, args.count)
            )
            print(service.line(f"{name} service, sequential", "cred", service_runs))
            if args.no_http:
                continue
            work_dir = Path(tempfile.mkdtemp(prefix="pingyi-bench-signing-"))
            port = free_port()
            with running_server(database, args.workers, port, work_dir):
                http, http_runs = repeated(
                    args.repeat,
                    lambda db=database, p=port: http_issue(
                        db, args.http_count, p, args.concurrency, warmup
                    ),
                )
            label = f"{name} HTTP, {args.workers} workers, {args.concurrency} conn"
            print(http.line(label, "cred", http_runs))


if __name__ == "__main__":
    main()
