"""Exporting the results and the raw evaluations of a million-evaluation campaign: time and
peak memory of each export, each in a fresh process.

    .venv/bin/python -m bench.exports [--evaluations N] [--repeat R] [--sqlite] [--no-postgres]

Builds the campaign of :mod:`bench.results_data` (PostgreSQL; SQLite with ``--sqlite``), then
runs each export as the operator would, through the ``pingyi`` command in a new Python
process: ``pingyi results SLUG --format csv|xlsx`` (computing every table, then writing it)
and ``pingyi evaluations export SLUG --format csv|xlsx`` (one row per evaluation, streamed).
For each it prints the time of the command itself (best of R), the peak resident memory of
the whole process (``VmHWM`` read by the process itself at the end; the largest of R), how
much of that the imports alone take, and the file's size. Target (issue 6): peak memory
under 200 MB. (``ru_maxrss`` from ``getrusage``/``wait4`` is not used: on Linux a child's
figure keeps the high-water mark of the parent it was forked from, before ``exec``.)
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from bench.machine import print_header

# bench.results_data (alembic, the data generator) is imported by the parent only, so a
# child's peak memory holds what the command itself needs.

TARGET_PEAK_MB = 200
EXPORTS: dict[str, list[str]] = {
    "results csv": ["results", "{slug}", "--format", "csv"],
    "results xlsx": ["results", "{slug}", "--format", "xlsx"],
    "evaluations csv": ["evaluations", "export", "{slug}", "--format", "csv"],
    "evaluations xlsx": ["evaluations", "export", "{slug}", "--format", "xlsx"],
}
SUFFIXES = {"csv": ".csv", "xlsx": ".xlsx"}


def _high_water_kib() -> int:
    status = Path("/proc/self/status").read_text()
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(found.group(1)) if found else 0


def child(arguments: list[str]) -> None:
    """Run one ``pingyi`` command in this process and print what it cost, as JSON."""
    from app import i18n
    from app.cli import cli

    i18n.set_locale("zh_CN")
    imported = _high_water_kib()
    started = time.perf_counter()
    cli(arguments, standalone_mode=False)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "imports_kib": imported, "peak_kib": _high_water_kib()}))


@dataclass
class Measured:
    seconds: float  # the command itself, best of the runs
    process_seconds: float  # the whole process, interpreter start and imports included
    peak_mb: float  # largest of the runs
    imports_mb: float
    size_mb: float


def measure(engine: Engine, slug: str, command: list[str], out: Path, repeat: int) -> Measured:
    environment = {
        **os.environ,
        "PINGYI_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "PINGYI_VAR_DIR": str(out.parent),
    }
    arguments = [part.format(slug=slug) for part in command] + ["--out", str(out)]
    best = best_process = float("inf")
    peak = imports = 0.0
    for _ in range(repeat):
        out.unlink(missing_ok=True)
        started = time.perf_counter()
        finished = subprocess.run(
            [sys.executable, "-m", "bench.exports", "--child", json.dumps(arguments)],
            env=environment,
            capture_output=True,
            check=False,
        )
        process_seconds = time.perf_counter() - started
        if finished.returncode != 0:
            message = finished.stderr.decode(errors="replace")[-3000:]
            raise RuntimeError(f"{' '.join(arguments)} failed:\n{message}")
        output = finished.stdout
        report = json.loads(output.decode().strip().splitlines()[-1])
        best = min(best, report["seconds"])
        best_process = min(best_process, process_seconds)
        peak = max(peak, report["peak_kib"] / 1024)
        imports = max(imports, report["imports_kib"] / 1024)
    return Measured(best, best_process, peak, imports, out.stat().st_size / 1024 / 1024)


def run_exports(
    engine: Engine, slug: str, directory: Path, repeat: int, label: str, chosen: list[str]
) -> None:
    print(f"{label}:")
    for name, command in EXPORTS.items():
        if name not in chosen:
            continue
        out = directory / f"{name.replace(' ', '-')}{SUFFIXES[command[-1]]}"
        measured = measure(engine, slug, command, out, repeat)
        verdict = "met" if measured.peak_mb < TARGET_PEAK_MB else "MISSED"
        print(
            f"  {name:<17} {measured.seconds:7.2f} s (process {measured.process_seconds:6.2f} s)"
            f"  peak {measured.peak_mb:6.1f} MB (imports {measured.imports_mb:5.1f} MB)"
            f"  file {measured.size_mb:7.2f} MB  [< {TARGET_PEAK_MB} MB: {verdict}]"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per export")
    parser.add_argument("--sqlite", action="store_true", help="also on SQLite")
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    parser.add_argument(
        "--exports",
        default=",".join(EXPORTS),
        help=f"which, comma-separated (default: all of {', '.join(EXPORTS)})",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child is not None:
        child(json.loads(arguments.child))
        return
    from bench import results_data

    chosen = [name.strip() for name in arguments.exports.split(",")]
    unknown = set(chosen) - set(EXPORTS)
    if unknown:
        parser.error(f"unknown exports: {', '.join(sorted(unknown))}")

    print_header("exports of a campaign with many evaluations (bench/exports.py)")
    evaluations = results_data.draw_evaluations(arguments.evaluations)
    print(
        f"evaluations: {len(evaluations):,} of {evaluations.answers.shape[1]} items; each export "
        f"in a fresh process, time best of {arguments.repeat}, peak the largest, on a shared "
        f"machine"
    )
    with tempfile.TemporaryDirectory(prefix="pingyi-bench-") as name:
        directory = Path(name)
        if not arguments.no_postgres:
            with results_data.postgres_database() as engine:
                built = results_data.build_campaign(engine, evaluations)
                print(f"PostgreSQL: loaded in {built.load_seconds:.1f} s")
                run_exports(engine, built.slug, directory, arguments.repeat, "PostgreSQL", chosen)
        if arguments.sqlite:
            with results_data.sqlite_database(directory) as engine:
                built = results_data.build_campaign(engine, evaluations)
                print(f"SQLite: loaded in {built.load_seconds:.1f} s")
                run_exports(engine, built.slug, directory, arguments.repeat, "SQLite", chosen)


if __name__ == "__main__":
    main()
