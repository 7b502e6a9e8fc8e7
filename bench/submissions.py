"""Submission throughput and latency through real HTTP, and the database-only cost, with the
sealed ballot box and without it, side by side.

For each engine (SQLite, PostgreSQL): a fresh database is migrated and given two open
campaigns alike in all but the ballot box (the annual conduct-and-efficiency questionnaire,
whose enterprise raters answer 12 items, over 30 departments, with enough admission codes):
``sealed`` has a 2-of-3 tally key, so each ballot is sealed (HPKE ML-KEM-768+X25519) into
``ballot_box``; ``unsealed`` has none, as a campaign opened before the box existed, so its
ballots take the previous path (evaluations and a receipt stored at once). Both get the same
ballots (same departments, answers and comments; only the codes differ). Then, for
``--rounds`` rounds, each measurement runs on one campaign and then the other, the order
alternating between rounds (A B, B A, A B …), so whatever else the machine does hits both
alike:

1. database only: the ballot service function the API calls (``submit_ballot``) and one
   commit per submission, in this process, without HTTP; and the bare statements it runs,
   through SQLAlchemy Core, as the floor the database itself sets (with the ciphertexts made
   before the clock starts);
2. ``pingyi serve --workers N`` is started (uvicorn, separate processes) and a load generator
   in another process (``bench/submissions_load.py``) POSTs one ballot per fresh code, rating
   one department on 12 items with a comment:
   a. closed loop with ``--concurrency`` connections: the most accepted (201) per second;
   b. open loop at ``--rate`` per second: latency p50/p99 from each request's intended send
      time;
3. what is stored must equal the 201s (plus the database-only submissions): for ``sealed``,
   the sealed ballots in the box and the used codes; for ``unsealed``, the evaluations, used
   codes and receipts. Then the sealed campaign is closed and its box tallied with two of the
   three trustees' shares (``lifecycle.tally_campaign``); the evaluations it stores must
   equal the 201s, and the tally's time is reported.

Also printed: the crypto alone (sealing one ballot's plaintext, µs) and what a ballot takes on
disk each way.

Run: ``.venv/bin/python bench/submissions.py [--engine sqlite|postgres|both] [--workers N]
[--rounds R]``. PostgreSQL: the server at ``--postgres-url`` (default
``PINGYI_TEST_POSTGRES_URL`` or postgresql+psycopg://postgres@127.0.0.1:5432/test); a
database ``pingyi_bench_<random>`` is created on it and dropped afterwards.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _ballot_box import (
    CryptoCost,
    close_and_tally,
    crypto_cost,
    plaintext_of,
    stored,
    table_bytes,
)
from machine import print_header
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from submissions_database import (
    COMMENTS,
    QUESTIONNAIRE_FILE,
    RATER_GROUP,
    SEALED,
    VARIANTS,
    ballot_bodies,
    db_only_service,
    db_only_statements,
    fresh_database,
    migrate,
    set_up_campaigns,
)
from submissions_processes import (
    child_pids,
    database_pids,
    free_port,
    machine_ticks,
    process_cpu,
    running_server,
)
from submissions_report import EngineResult, Phase, print_results

from app.admission import codes as code_format
from app.ballots import answers as answer_codec
from app.ballots import quality
from app.db import build_engine
from app.surveys import service as survey_service

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_POSTGRES_URL = os.environ.get(
    "PINGYI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
GENERATOR_GRACE = 60.0  # seconds a load phase may overrun before it counts as hung
_BENCH_SECRET = secrets.token_urlsafe(32)  # the server's, and this process's (see main)


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
    # Backends that the server's pools opened during the run count from zero; one that
    # closed during the run takes its CPU with it (so this can understate, never below 0).
    database_used = max(0.0, process_cpu(database_pids(database_name)) - database_from)
    if generator.returncode != 0:
        raise RuntimeError(f"the load generator failed with exit status {generator.returncode}")
    outcome = json.loads(out)
    statuses = Counter(outcome["statuses"])
    warmup_statuses = Counter(outcome["warmup_statuses"])
    requests = max(1, sum(statuses.values()) + sum(warmup_statuses.values()))
    cores = len(os.sched_getaffinity(0))
    machine_busy = (busy_to - busy_from) / max(1, total_to - total_from)
    # The generator reports its CPU over the counted phase only (its warm-up is left out).
    ours = (server_used + database_used + outcome["cpu_seconds"]) / wall
    return Phase(
        statuses=statuses,
        warmup_statuses=warmup_statuses,
        latencies=outcome["latencies"],
        elapsed=outcome["elapsed"],
        generator_cpu=outcome["cpu_seconds"],
        server_cpu=server_used / wall,  # cores' worth over the run
        machine_busy=machine_busy,
        others_cores=max(0.0, machine_busy * cores - ours),
        codes_ran_out=outcome["codes_ran_out"],
        server_cpu_per_request=server_used / requests,
        database_cpu_per_request=database_used / requests,
    )


def write_bodies(path: Path, bodies: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(bodies) + b"\n")
    return path


def round_order(round_index: int) -> tuple[str, ...]:
    """A B in even rounds, B A in odd ones: a drift over the run hits both alike."""
    return VARIANTS if round_index % 2 == 0 else tuple(reversed(VARIANTS))


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


@dataclass
class Slices:
    """Which codes of a campaign each measurement of each round uses."""

    db_only: int
    closed: int
    opened: int

    @property
    def per_round(self) -> int:
        return 2 * self.db_only + self.closed + self.opened

    def of(self, codes: list[str], round_index: int) -> dict[str, list[str]]:
        at = round_index * self.per_round
        sizes = {
            "service": self.db_only,
            "statements": self.db_only,
            "closed": self.closed,
            "open": self.opened,
        }
        taken = {}
        for name, size in sizes.items():
            taken[name] = codes[at : at + size]
            at += size
        return taken


def run_engine_on(
    database_url: str, workdir: Path, result: EngineResult, args: argparse.Namespace
) -> None:
    hashing_key = code_format.hashing_key(_BENCH_SECRET.encode())
    start_key = quality.start_token_key(_BENCH_SECRET.encode())
    slices = Slices(
        db_only=args.db_only,
        closed=int((args.warmup + args.duration) * args.max_rate),
        opened=int(args.rate * args.rate_duration),
    )
    engine = build_engine(database_url, pool_size=2)
    try:
        step(f"{result.engine}: migrating and creating the two campaigns")
        migrate(engine)
        with Session(engine) as session:
            campaigns = set_up_campaigns(session, hashing_key, args.rounds * slices.per_round)
            session.commit()
        step(
            f"{result.engine}: {args.rounds * slices.per_round} codes issued for each; "
            "preparing ballots"
        )
        # Per round and measurement, the same ballots (same seed) for both campaigns.
        bodies: dict[tuple[str, int, str], list[bytes]] = {}
        files: dict[tuple[str, int, str], Path] = {}
        for variant, campaign in campaigns.items():
            for round_index in range(args.rounds):
                for name, codes in slices.of(campaign.codes, round_index).items():
                    made = ballot_bodies(codes, start_key, seed=2026 + round_index)
                    if name in ("closed", "open"):
                        files[variant, round_index, name] = write_bodies(
                            workdir / f"{variant}-{round_index}-{name}.jsonl", made
                        )
                    else:
                        bodies[variant, round_index, name] = made

        for round_index in range(args.rounds):
            for variant in round_order(round_index):
                step(
                    f"{result.engine}: round {round_index + 1}, {variant}: database only, "
                    f"{args.db_only} submissions each way"
                )
                outcome = result.variants[variant]
                rate, cpu, seen = db_only_service(
                    engine, hashing_key, start_key, bodies[variant, round_index, "service"]
                )
                outcome.db_only_service.append(rate)
                outcome.db_only_service_cpu.append(cpu)
                outcome.statements = seen
                outcome.db_only_statements.append(
                    db_only_statements(
                        engine,
                        hashing_key,
                        bodies[variant, round_index, "statements"],
                        campaigns[variant],
                    )
                )
                outcome.db_only_count += 2 * args.db_only
        del bodies
    finally:
        engine.dispose()

    run_http(database_url, workdir, result, files, args)

    engine = build_engine(database_url, pool_size=2)
    try:
        for variant, campaign in campaigns.items():
            outcome = result.variants[variant]
            outcome.stored = stored(engine, campaign.campaign_id)
            tables = ["ballot_box"] if variant == SEALED else ["evaluations", "receipts"]
            outcome.table_bytes = table_bytes(engine, tables)
        sealed = campaigns[SEALED]
        step(f"{result.engine}: closing and tallying the sealed box")
        result.tally = close_and_tally(engine, sealed.campaign_id, sealed.shares[:2])
        result.tallied_evaluations = stored(engine, sealed.campaign_id).evaluations
    finally:
        engine.dispose()


def run_http(
    database_url: str,
    workdir: Path,
    result: EngineResult,
    files: dict[tuple[str, int, str], Path],
    args: argparse.Namespace,
) -> None:
    env = dict(os.environ)
    env.update(
        PINGYI_DATABASE_URL=database_url,
        PINGYI_SECRET_KEY=_BENCH_SECRET,
        PINGYI_ENV="production",
        PINGYI_VAR_DIR=str(workdir / "var"),
    )
    port = free_port()
    step(f"{result.engine}: pingyi serve --workers {args.workers}")
    server_log = workdir / "server.log"
    database_name = make_url(database_url).database if result.engine == "postgres" else None
    with running_server(env, args.workers, port, server_log) as server:
        server_pids = [server.pid, *child_pids(server.pid)]
        job = {"host": "127.0.0.1", "port": port, "path": "/api/v1/ballots"}
        for round_index in range(args.rounds):
            for variant in round_order(round_index):
                step(
                    f"{result.engine}: round {round_index + 1}, {variant}: closed loop, "
                    f"{args.concurrency} connections, {args.warmup:g} s warm-up + "
                    f"{args.duration:g} s"
                )
                result.variants[variant].closed.append(
                    run_load(
                        job
                        | {
                            "mode": "closed",
                            "bodies_file": str(files[variant, round_index, "closed"]),
                            "concurrency": args.concurrency,
                            "warmup": args.warmup,
                            "duration": args.duration,
                        },
                        server_pids,
                        database_name,
                    )
                )
            for variant in round_order(round_index):
                step(
                    f"{result.engine}: round {round_index + 1}, {variant}: open loop, "
                    f"{args.rate:g}/s for {args.rate_duration:g} s"
                )
                result.variants[variant].opened.append(
                    run_load(
                        job
                        | {
                            "mode": "open",
                            "bodies_file": str(files[variant, round_index, "open"]),
                            "concurrency": args.open_connections,
                            "rate": args.rate,
                            "duration": args.rate_duration,
                        },
                        server_pids,
                        database_name,
                    )
                )
    result.server_problems = [
        line
        for line in server_log.read_text(errors="replace").splitlines()
        if "ERROR" in line or "Traceback" in line or "Error:" in line
    ]


def step(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


def measure_crypto() -> CryptoCost:
    """Sealing the plaintext of a ballot like those the load sends (one department, 12
    items, a comment)."""
    questionnaire = survey_service.load_questionnaire(QUESTIONNAIRE_FILE)
    levels = {
        item.id: item.levels[index % len(item.levels)].value
        for index, item in enumerate(questionnaire.items_for(RATER_GROUP))
    }
    answers = answer_codec.encode(questionnaire, RATER_GROUP, levels)
    return crypto_cost(plaintext_of(RATER_GROUP, [("B001", answers, 0, COMMENTS[2])]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--workers", type=int, default=2, help="pingyi serve --workers")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of each measurement per campaign, alternating which goes first",
    )
    parser.add_argument("--concurrency", type=int, default=32, help="closed-loop connections")
    parser.add_argument("--duration", type=float, default=15.0, help="closed loop, seconds")
    parser.add_argument("--warmup", type=float, default=3.0, help="closed loop, seconds")
    parser.add_argument(
        "--max-rate", type=float, default=2500.0, help="codes issued per closed-loop second"
    )
    parser.add_argument("--rate", type=float, default=300.0, help="open loop, submissions/s")
    parser.add_argument("--rate-duration", type=float, default=15.0, help="open loop, seconds")
    parser.add_argument("--open-connections", type=int, default=64, help="open-loop pool")
    parser.add_argument(
        "--db-only", type=int, default=2000, help="database-only submissions, each way per round"
    )
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (server log, SQLite file)"
    )
    args = parser.parse_args()

    # This process opens the sealed campaign itself, and opening reads the settings: give
    # it the server's secret and a var directory of its own before anything reads them, so
    # nothing is written under the project's var/.
    bench_var = Path(tempfile.mkdtemp(prefix="pingyi-bench-var-"))
    os.environ.update(PINGYI_SECRET_KEY=_BENCH_SECRET, PINGYI_VAR_DIR=str(bench_var))
    print_header(
        "Submissions: throughput and latency through HTTP, and the database-only cost, "
        "with the sealed ballot box and without"
    )
    try:
        engines = ["sqlite", "postgres"] if args.engine == "both" else [args.engine]
        step("the crypto alone: sealing and opening one ballot")
        crypto = measure_crypto()
        results = [run_engine(engine_name, args) for engine_name in engines]
    finally:
        shutil.rmtree(bench_var, ignore_errors=True)
    print_results(results, crypto, args)
    if not all(result.consistent for result in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
