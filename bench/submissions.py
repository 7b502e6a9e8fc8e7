"""Submission throughput and latency through real HTTP, and the database-only cost.

For each engine (SQLite, PostgreSQL): a fresh database is migrated and given an open
campaign (the annual conduct-and-efficiency questionnaire, whose enterprise raters answer
12 items) with 30 departments and enough admission codes. Then:

1. database only: the ballot service function the API calls (``submit_ballot``) and one
   commit per submission, in this process, without HTTP; and the bare statements it runs,
   through SQLAlchemy Core, as the floor the database itself sets;
2. ``pingyi serve --workers N`` is started (uvicorn, separate processes) and a load generator
   in another process (``bench/submissions_load.py``) POSTs one ballot per fresh code, rating
   one department on 12 items with a comment:
   a. closed loop with ``--concurrency`` connections: the most accepted (201) per second;
   b. open loop at ``--rate`` per second: latency p50/p99 from each request's intended send
      time;
3. the stored evaluations, used codes and receipts are counted and must equal the 201s.

Run: ``.venv/bin/python bench/submissions.py [--engine sqlite|postgres|both] [--workers N]``.
PostgreSQL: the server at ``--postgres-url`` (default ``PINGYI_TEST_POSTGRES_URL`` or
postgresql+psycopg://postgres@127.0.0.1:5432/test); a database ``pingyi_bench_<random>`` is
created on it and dropped afterwards.
"""

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from machine import print_header
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from submissions_database import (
    ITEMS_PER_EVALUATION,
    ballot_bodies,
    count_stored,
    db_only_service,
    db_only_statements,
    fresh_database,
    migrate,
    set_up_campaign,
)
from submissions_processes import (
    child_pids,
    database_pids,
    free_port,
    machine_ticks,
    process_cpu,
    running_server,
)

from app.admission import codes as code_format
from app.ballots import quality
from app.db import build_engine

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_POSTGRES_URL = os.environ.get(
    "PINGYI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
GENERATOR_GRACE = 60.0  # seconds a load phase may overrun before it counts as hung


@dataclass
class Phase:
    """What the load generator reported for one phase, with the CPU it and others used."""

    statuses: Counter[str]
    warmup_statuses: Counter[str]
    latencies: list[float]
    elapsed: float
    generator_cpu: float
    server_cpu: float
    machine_busy: float  # share of all cores busy over the phase, 0..1
    codes_ran_out: bool
    server_cpu_per_request: float  # seconds
    database_cpu_per_request: float  # seconds, PostgreSQL's backends (SQLite runs in-process)

    @property
    def generator_cpu_per_request(self) -> float:
        return self.generator_cpu / max(1, sum(self.statuses.values()))

    @property
    def cpu_per_request(self) -> float:
        """Server, database and generator CPU seconds per request, all together."""
        return (
            self.server_cpu_per_request
            + self.database_cpu_per_request
            + self.generator_cpu_per_request
        )

    @property
    def accepted(self) -> int:
        return self.statuses.get("201", 0)

    @property
    def refused(self) -> dict[str, int]:
        return {status: n for status, n in self.statuses.items() if status != "201"}

    def percentile(self, share: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass
class EngineResult:
    engine: str
    workers: int
    db_only_service: float = 0.0  # submissions per second
    db_only_statements: float = 0.0
    statements: list[str] = field(default_factory=list)
    closed: Phase | None = None
    opened: Phase | None = None
    stored_evaluations: int = 0
    used_codes: int = 0
    stored_receipts: int = 0
    expected: int = 0
    server_problems: list[str] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return self.stored_evaluations == self.used_codes == self.stored_receipts == self.expected


# --- the database --------------------------------------------------------------------------


# --- the server and the load generator ------------------------------------------------------


def run_load(job: dict[str, Any], server_pids: list[int], database_name: str | None) -> Phase:
    """Run the load generator on ``job``; measure the server's, the database's and the
    machine's CPU too.

    The generator counts after its warm-up; the server's, the database's and the machine's
    CPU are sampled over the generator's whole run, warm-up included, and divided by all the
    requests of the run.
    """
    generator = subprocess.Popen(
        [sys.executable, str(BENCH_DIR / "submissions_load.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    backends = database_pids(database_name)
    database_from = process_cpu(backends)
    server_from = process_cpu(server_pids)
    busy_from, total_from = machine_ticks()
    wall_from = time.perf_counter()
    limit = 10 * (job.get("warmup", 0) + job["duration"]) + GENERATOR_GRACE
    try:
        out, _ = generator.communicate(json.dumps(job).encode(), timeout=limit)
    except subprocess.TimeoutExpired:
        generator.kill()
        generator.wait()
        raise RuntimeError(f"the load generator did not finish within {limit:g} s") from None
    wall = time.perf_counter() - wall_from
    busy_to, total_to = machine_ticks()
    server_used = process_cpu(server_pids) - server_from
    # Backends that the server's pools opened during the run count from zero.
    database_used = process_cpu(database_pids(database_name)) - database_from
    if generator.returncode != 0:
        raise RuntimeError(f"the load generator failed with exit status {generator.returncode}")
    outcome = json.loads(out)
    statuses = Counter(outcome["statuses"])
    warmup_statuses = Counter(outcome["warmup_statuses"])
    requests = max(1, sum(statuses.values()) + sum(warmup_statuses.values()))
    return Phase(
        statuses=statuses,
        warmup_statuses=warmup_statuses,
        latencies=outcome["latencies"],
        elapsed=outcome["elapsed"],
        generator_cpu=outcome["cpu_seconds"],
        server_cpu=server_used / wall,  # cores' worth over the run
        machine_busy=(busy_to - busy_from) / max(1, total_to - total_from),
        codes_ran_out=outcome["codes_ran_out"],
        server_cpu_per_request=server_used / requests,
        database_cpu_per_request=database_used / requests,
    )


def write_bodies(path: Path, bodies: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(bodies) + b"\n")
    return path


# --- one engine -----------------------------------------------------------------------------


def run_engine(engine_name: str, args: argparse.Namespace) -> EngineResult:
    result = EngineResult(engine=engine_name, workers=args.workers)
    workdir = Path(tempfile.mkdtemp(prefix=f"pingyi-bench-{engine_name}-"))
    try:
        with fresh_database(engine_name, workdir, args.postgres_url) as database_url:
            run_engine_on(database_url, workdir, result, args)
    finally:
        if args.keep:
            step(f"{engine_name}: kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return result


def run_engine_on(
    database_url: str, workdir: Path, result: EngineResult, args: argparse.Namespace
) -> None:
    secret = secrets.token_urlsafe(32)
    hashing_key = code_format.hashing_key(secret.encode())
    start_key = quality.start_token_key(secret.encode())
    closed_count = int((args.warmup + args.duration) * args.max_rate)
    open_count = int(args.rate * args.rate_duration)
    db_only_count = args.db_only
    engine = build_engine(database_url, pool_size=2)
    try:
        step(f"{result.engine}: migrating and creating the campaign")
        migrate(engine)
        with Session(engine) as session:
            issued = set_up_campaign(
                session, hashing_key, 2 * db_only_count + closed_count + open_count
            )
            session.commit()
        step(f"{result.engine}: {len(issued)} codes issued; preparing ballots")
        bodies = ballot_bodies(issued, start_key, seed=2026)
        service_bodies = bodies[:db_only_count]
        statement_bodies = bodies[db_only_count : 2 * db_only_count]
        closed_file = write_bodies(
            workdir / "closed.jsonl", bodies[2 * db_only_count : 2 * db_only_count + closed_count]
        )
        open_file = write_bodies(workdir / "open.jsonl", bodies[2 * db_only_count + closed_count :])

        step(f"{result.engine}: database only, {db_only_count} submissions each way")
        result.db_only_service, result.statements = db_only_service(
            engine, hashing_key, start_key, service_bodies
        )
        result.db_only_statements = db_only_statements(engine, hashing_key, statement_bodies)
        result.expected = 2 * db_only_count
    finally:
        engine.dispose()

    env = dict(os.environ)
    env.update(
        PINGYI_DATABASE_URL=database_url,
        PINGYI_SECRET_KEY=secret,
        PINGYI_ENV="production",
        PINGYI_VAR_DIR=str(workdir / "var"),
    )
    port = free_port()
    step(f"{result.engine}: pingyi serve --workers {args.workers}")
    server_log = workdir / "server.log"
    with running_server(env, args.workers, port, server_log) as server:
        server_pids = [server.pid, *child_pids(server.pid)]
        job = {"host": "127.0.0.1", "port": port, "path": "/api/v1/ballots"}
        step(
            f"{result.engine}: closed loop, {args.concurrency} connections, "
            f"{args.warmup:g} s warm-up + {args.duration:g} s"
        )
        database_name = make_url(database_url).database if result.engine == "postgres" else None
        result.closed = run_load(
            job
            | {
                "mode": "closed",
                "bodies_file": str(closed_file),
                "concurrency": args.concurrency,
                "warmup": args.warmup,
                "duration": args.duration,
            },
            server_pids,
            database_name,
        )
        step(f"{result.engine}: open loop, {args.rate:g}/s for {args.rate_duration:g} s")
        result.opened = run_load(
            job
            | {
                "mode": "open",
                "bodies_file": str(open_file),
                "concurrency": args.open_connections,
                "rate": args.rate,
                "duration": args.rate_duration,
            },
            server_pids,
            database_name,
        )
    result.server_problems = [
        line
        for line in server_log.read_text(errors="replace").splitlines()
        if "ERROR" in line or "Traceback" in line or "Error:" in line
    ]
    result.expected = 2 * db_only_count + sum(
        phase.accepted + phase.warmup_statuses.get("201", 0)
        for phase in (result.closed, result.opened)
    )

    result.stored_evaluations, result.used_codes, result.stored_receipts = count_stored(
        database_url
    )


def step(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


# --- output ---------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def print_results(results: list[EngineResult], args: argparse.Namespace) -> None:
    cores = len(os.sched_getaffinity(0))
    print(
        f"# one submission = POST /api/v1/ballots with a fresh code, rating one department on "
        f"{ITEMS_PER_EVALUATION} items with a comment; pingyi serve --workers {args.workers}; "
        f"closed loop: {args.concurrency} connections for {args.duration:g} s after "
        f"{args.warmup:g} s warm-up; open loop: {args.rate:g}/s for {args.rate_duration:g} s"
    )
    print(
        f"{'engine':<9} {'accepted/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'DB-only/s':>9} "
        f"{'SQL-only/s':>10} {'HTTP/DB':>7} {'CPU ms/request':>15} {'capacity/s':>10} "
        f"{'busy':>5}  stored"
    )
    for result in results:
        closed, opened = result.closed, result.opened
        assert closed is not None
        assert opened is not None
        throughput = closed.accepted / closed.elapsed
        print(
            f"{result.engine:<9} {throughput:>10.0f} {ms(opened.percentile(0.50)):>7} "
            f"{ms(opened.percentile(0.99)):>7} {result.db_only_service:>9.0f} "
            f"{result.db_only_statements:>10.0f} {throughput / result.db_only_service:>7.2f} "
            f"{ms(closed.cpu_per_request):>15} {cores / closed.cpu_per_request:>10.0f} "
            f"{closed.machine_busy * 100:>4.0f}%  {'ok' if result.consistent else 'MISMATCH'}"
        )
    print(
        "# accepted/s: 201s per second, closed loop; p50/p99: open loop, from each request's "
        "intended send time.\n"
        "# DB-only/s: the API's service function and a commit, no HTTP, one process; "
        "SQL-only/s: its bare statements.\n"
        "# CPU ms/request: server + PostgreSQL backends + load generator, closed loop; "
        f"capacity/s: {cores} cores / that,\n"
        "#   the rate if nothing else ran on the machine and CPU were the only limit. "
        "busy: all cores, closed loop.\n"
    )
    for result in results:
        print_details(result, args)


def print_details(result: EngineResult, args: argparse.Namespace) -> None:
    closed, opened = result.closed, result.opened
    assert closed is not None
    assert opened is not None
    print(f"{result.engine}:")
    print(
        f"  closed loop: {closed.accepted} accepted in {closed.elapsed:.1f} s; latency p50 "
        f"{ms(closed.percentile(0.5))} ms, p99 {ms(closed.percentile(0.99))} ms"
        + ("; RAN OUT OF CODES, raise --max-rate" if closed.codes_ran_out else "")
    )
    print(
        f"    CPU per request: server {ms(closed.server_cpu_per_request)} ms, database "
        f"{ms(closed.database_cpu_per_request)} ms, load generator "
        f"{ms(closed.generator_cpu_per_request)} ms ({closed.generator_cpu / closed.elapsed:.0%}"
        f" of a core); server {closed.server_cpu:.2f} cores, machine busy "
        f"{closed.machine_busy:.0%}"
    )
    print(
        f"  open loop: {opened.accepted} accepted at {args.rate:g}/s in {opened.elapsed:.1f} s; "
        f"latency p50 {ms(opened.percentile(0.5))} ms, p90 {ms(opened.percentile(0.9))} ms, "
        f"p99 {ms(opened.percentile(0.99))} ms, max "
        f"{ms(max(opened.latencies, default=float('nan')))} ms; machine busy "
        f"{opened.machine_busy:.0%}"
    )
    for name, phase in (("closed", closed), ("open", opened)):
        if phase.refused:
            print(f"  NOT ACCEPTED in the {name} loop: {phase.refused}")
    if result.server_problems:
        print(f"  the server logged {len(result.server_problems)} problem lines, e.g.:")
        for line in result.server_problems[:5]:
            print(f"    {line[:200]}")
    print(f"  database only: {' | '.join(result.statements)}")
    print(
        f"  stored: {result.stored_evaluations} evaluations, {result.used_codes} used codes, "
        f"{result.stored_receipts} receipts; 201s plus database-only submissions: "
        f"{result.expected}: " + ("ok" if result.consistent else "MISMATCH")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--workers", type=int, default=2, help="pingyi serve --workers")
    parser.add_argument("--concurrency", type=int, default=32, help="closed-loop connections")
    parser.add_argument("--duration", type=float, default=15.0, help="closed loop, seconds")
    parser.add_argument("--warmup", type=float, default=3.0, help="closed loop, seconds")
    parser.add_argument(
        "--max-rate", type=float, default=2500.0, help="codes issued per closed-loop second"
    )
    parser.add_argument("--rate", type=float, default=300.0, help="open loop, submissions/s")
    parser.add_argument("--rate-duration", type=float, default=15.0, help="open loop, seconds")
    parser.add_argument("--open-connections", type=int, default=64, help="open-loop pool")
    parser.add_argument("--db-only", type=int, default=2000, help="database-only submissions")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (server log, SQLite file)"
    )
    args = parser.parse_args()

    print_header("Submissions: throughput and latency through HTTP, and the database-only cost")
    engines = ["sqlite", "postgres"] if args.engine == "both" else [args.engine]
    results = [run_engine(engine_name, args) for engine_name in engines]
    print_results(results, args)
    if not all(result.consistent for result in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
