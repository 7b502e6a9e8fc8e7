"""Issuing 100,000 admission codes, on SQLite and on PostgreSQL (target: within 10 s).

Three measurements per engine, each on a fresh batch of the open demo campaign:

- service: ``admission_service.issue_codes`` (generate, HMAC, bulk insert) and the commit;
- console: the same plus holding the codes encrypted for their one-time download
  (``app.admission.pending.hold_for_download``), as the office console issues a batch;
- CLI: ``pingyi codes issue SLUG --group citizens --count N --out FILE.csv`` in a new
  process, end to end (interpreter start-up and imports included), and, separately, the
  start-up alone (``pingyi --help``), so the difference is the command's own work.

Each figure is the best of ``--repeat`` runs (the machine may be shared: best-of-N is the
least disturbed). PostgreSQL gets a database of its own on the server at
PINGYI_TEST_POSTGRES_URL, dropped afterwards; without a server it is skipped.

Usage: ``python bench/codes.py`` (``--quick`` for a smoke test with 2,000 codes, once;
``--profile`` to print the top of a cProfile of one service run per engine).
"""

import argparse
import cProfile
import datetime as dt
import io
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
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
from sqlalchemy.orm import Session  # noqa: E402

from app.admission import codes  # noqa: E402
from app.admission import pending as pending_codes  # noqa: E402
from app.admission import service as admission_service  # noqa: E402
from app.campaigns import service as campaign_service  # noqa: E402
from app.config import PROJECT_ROOT  # noqa: E402
from app.db import committing  # noqa: E402

TARGET_SECONDS = 10.0
PINGYI = Path(sys.executable).parent / "pingyi"


def issue(database: BenchDatabase, count: int, *, hold: bool) -> float:
    """Seconds to issue ``count`` codes (and hold them for download) and commit."""
    hashing_key = codes.hashing_key(SECRET)
    with Session(database.engine, expire_on_commit=False) as session:
        campaign = campaign_service.get_campaign(session, database.campaign_slug)
        started = time.perf_counter()
        with committing(session):
            issued = admission_service.issue_codes(
                session, campaign, hashing_key=hashing_key, group_key="citizens", count=count
            )
            if hold:
                pending_codes.hold_for_download(
                    session,
                    issued,
                    pending_codes.pending_codes_key(SECRET),
                    lifetime=dt.timedelta(hours=1),
                )
        elapsed = time.perf_counter() - started
    if len(issued.codes) != count:
        raise AssertionError(f"issued {len(issued.codes)} codes, expected {count}")
    return elapsed


def run_cli(database: BenchDatabase, arguments: list[str], work_dir: Path) -> float:
    environment = subprocess_environment(database, work_dir)
    started = time.perf_counter()
    result = subprocess.run(
        [str(PINGYI), *arguments],
        env=environment,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"pingyi {' '.join(arguments)} failed:\n{result.stderr}")
    return elapsed


def cli_issue(database: BenchDatabase, count: int, work_dir: Path) -> float:
    out = Path(tempfile.mkdtemp(dir=work_dir)) / "codes.csv"
    slug = database.campaign_slug
    arguments = ["codes", "issue", slug, "--group", "citizens", "--count", str(count)]
    elapsed = run_cli(database, [*arguments, "--out", str(out)], work_dir)
    with out.open(encoding="utf-8") as stream:
        lines = sum(1 for _ in stream)
    if lines != count + 1:
        raise AssertionError(f"{out} has {lines} lines, expected {count + 1}")
    out.unlink()
    return elapsed


def best_of(repeat: int, measure: Callable[[], float]) -> tuple[float, list[float]]:
    runs = [measure() for _ in range(repeat)]
    return min(runs), runs


def profile_service(database: BenchDatabase, count: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    issue(database, count, hold=False)
    profiler.disable()
    report = io.StringIO()
    pstats.Stats(profiler, stream=report).sort_stats("tottime").print_stats(12)
    print(report.getvalue())


def verdict(seconds: float) -> str:
    return "meets" if seconds <= TARGET_SECONDS else "MISSES"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="codes per batch")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; best is shown")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--quick", action="store_true", help="2,000 codes, one run: smoke test")
    parser.add_argument("--profile", action="store_true", help="cProfile one service run")
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI measurements")
    args = parser.parse_args()
    if args.quick:
        args.count, args.repeat = 2_000, 1

    print_header(f"issuing {args.count:,} admission codes (best of {args.repeat})")
    print(f"# target: {args.count:,} codes within {TARGET_SECONDS:.0f} s")
    for name in args.engines:
        if name == "postgres" and (problem := postgres_available()) is not None:
            print(f"{name}: skipped, no PostgreSQL server ({problem})")
            continue
        with bench_database(name, with_keys=True) as database:
            work_dir = Path(tempfile.mkdtemp(prefix="pingyi-bench-codes-"))
            service, service_runs = best_of(
                args.repeat, lambda db=database: issue(db, args.count, hold=False)
            )
            console, console_runs = best_of(
                args.repeat, lambda db=database: issue(db, args.count, hold=True)
            )
            rate = args.count / service
            print(
                f"{name:8} service  {service:6.2f} s  ({rate:,.0f} codes/s; runs "
                f"{', '.join(f'{run:.2f}' for run in service_runs)})  {verdict(service)} target"
            )
            print(
                f"{name:8} console  {console:6.2f} s  (service + encrypted hold for download; "
                f"runs {', '.join(f'{run:.2f}' for run in console_runs)})"
            )
            if not args.no_cli:
                cli, cli_runs = best_of(
                    args.repeat, lambda db=database, wd=work_dir: cli_issue(db, args.count, wd)
                )
                startup, _ = best_of(
                    args.repeat, lambda db=database, wd=work_dir: run_cli(db, ["--help"], wd)
                )
                print(
                    f"{name:8} CLI      {cli:6.2f} s  (`pingyi codes issue --out`, new process; "
                    f"runs {', '.join(f'{run:.2f}' for run in cli_runs)})  {verdict(cli)} target"
                )
                print(
                    f"{name:8} CLI start-up alone {startup:.2f} s (`pingyi --help`): the command's "
                    f"own work is about {max(cli - startup, 0):.2f} s"
                )
            if args.profile:
                profile_service(database, args.count)


if __name__ == "__main__":
    main()
