"""Tally: the time and memory to open and count a sealed ballot box of 10,000 and 100,000
ballots, on SQLite and on PostgreSQL.

For each engine and box size: a fresh database is migrated and given a campaign like the one
of ``bench/submissions.py`` (the annual conduct-and-efficiency questionnaire, enterprises
answering 12 items, 30 departments) with a 2-of-3 tally key, opened, then filled directly
(not through HTTP) with that many sealed ballots, each rating one department with a comment
(``--comment-share``), and as many codes, all used. The campaign is closed (timed apart:
that seals its admission rows). Then a fresh Python process tallies it with two of the three
trustees' shares, as ``pingyi tally SLUG --share F --share F`` does: ``lifecycle.tally_campaign``
(rebuild the key, read, decrypt, check and shuffle every ballot, write the evaluations and
the comment copies, empty the box, rewrite the campaign's rows in random order), the commit,
and the seal's vacuum after it. That process reads its own peak resident memory (``VmHWM``)
before and after; ``--tracemalloc`` also reports the peak of Python's allocations (slower).

The evaluations stored must equal the ballots, with none rejected.

Run: ``.venv/bin/python bench/tally.py [--engine sqlite|postgres|both] [--ballots 10000
100000]``. PostgreSQL as in ``bench/submissions.py`` (``--postgres-url``).
"""

import argparse
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from _ballot_box import (
    TallyTiming,
    close_timed,
    make_tally_key,
    plaintext_of,
    sealer,
    stored,
    table_bytes,
    tally_timed,
)
from machine import print_header
from sqlalchemy import insert, update
from sqlalchemy.orm import Session
from submissions_database import (
    COMMENTS,
    DEPARTMENT_COUNT,
    QUESTIONNAIRE_FILE,
    RATER_GROUP,
    fresh_database,
    migrate,
)

from app.admission import codes as code_format
from app.admission import service as admission_service
from app.admission.models import AdmissionCode, CodeStatus
from app.ballot_box import shares
from app.ballot_box.models import SealedBallot
from app.ballots import answers as answer_codec
from app.campaigns import lifecycle
from app.campaigns import service as campaign_service
from app.campaigns.schemas import CampaignSpec
from app.db import build_engine
from app.departments import service as department_service
from app.surveys import service as survey_service

DEFAULT_POSTGRES_URL = os.environ.get(
    "PINGYI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
INSERT_CHUNK = 1000  # sealed ballots per INSERT while filling the box
_BENCH_SECRET = secrets.token_urlsafe(32)
MIB = 1024 * 1024


@dataclass
class TallyRun:
    engine: str
    ballots: int
    fill: float = 0.0  # seconds to seal and insert the ballots (not part of the tally)
    box_bytes: int = 0  # ballot_box on disk, full
    close: float = 0.0
    timing: TallyTiming | None = None
    rss_before: int = 0  # bytes, the tallying process just before the tally
    peak_rss: int = 0  # bytes, its peak resident memory (VmHWM) at the end
    traced_peak: int = 0  # bytes, tracemalloc's peak, when asked for
    evaluations: int = 0

    @property
    def ok(self) -> bool:
        timing = self.timing
        return (
            timing is not None
            and timing.counted == self.ballots
            and timing.rejected == 0
            and self.evaluations == self.ballots
        )


# --- the parent: a filled, closed box --------------------------------------------------------


def prepare(
    database_url: str, ballots: int, comment_share: float, seed: int
) -> tuple[int, list[shares.Share], float, float, int]:
    """A closed campaign with ``ballots`` sealed ballots and as many used codes: its id, the
    trustees' shares, seconds to fill the box and to close, the box's bytes on disk."""
    engine = build_engine(database_url, pool_size=2)
    try:
        migrate(engine)
        with Session(engine, expire_on_commit=False) as session:
            rows = ["code,name,category"] + [
                f"B{number:03d},测试单位{number},{'综合类' if number % 2 else '执法类'}"
                for number in range(1, DEPARTMENT_COUNT + 1)
            ]
            department_service.import_csv(session, "\n".join(rows).encode())
            questionnaire = survey_service.load_questionnaire(QUESTIONNAIRE_FILE)
            spec = CampaignSpec.model_validate(
                {
                    "slug": "bench-tally",
                    "title": {"zh": "计票性能测试", "en": "Tally benchmark"},
                    "questionnaire": questionnaire.id,
                    "rater_groups": [{"key": RATER_GROUP, "weight": 1}],
                    "targets": "all",
                }
            )
            campaign = campaign_service.create_campaign(
                session, spec, questionnaire, default_threshold=5
            )
            trustee_shares = make_tally_key(session, campaign)
            lifecycle.open_campaign(session, campaign, actor="bench")
            hashing_key = code_format.hashing_key(_BENCH_SECRET.encode())
            batch_ids = []
            for at in range(0, ballots, admission_service.MAX_BATCH_SIZE):
                batch = admission_service.issue_codes(
                    session,
                    campaign,
                    hashing_key=hashing_key,
                    group_key=RATER_GROUP,
                    count=min(admission_service.MAX_BATCH_SIZE, ballots - at),
                )
                batch_ids.append(batch.batch.id)
            session.execute(
                update(AdmissionCode)
                .where(AdmissionCode.batch_id.in_(batch_ids))
                .values(status=CodeStatus.USED)
            )
            session.commit()
            campaign_id = campaign.id
            step(f"filling the box with {ballots} sealed ballots")
            started = time.perf_counter()
            fill_box(session, campaign, questionnaire, ballots, comment_share, seed)
            session.commit()
            fill = time.perf_counter() - started
        box_bytes = table_bytes(engine, ["ballot_box"])
        step("closing the campaign")
        close = close_timed(engine, campaign_id)
    finally:
        engine.dispose()
    return campaign_id, trustee_shares, fill, close, box_bytes


def fill_box(
    session: Session,
    campaign: Any,
    questionnaire: Any,
    ballots: int,
    comment_share: float,
    seed: int,
) -> None:
    """Seal ``ballots`` random ballots (one department, 12 answers, a comment for
    ``comment_share`` of them) to the campaign's key and insert them, in chunks."""
    seal = sealer(session, campaign)
    choices = {
        item.id: [level.value for level in item.levels] + [None]
        for item in questionnaire.items_for(RATER_GROUP)
    }
    generator = random.Random(seed)
    rows: list[dict[str, Any]] = []
    connection = session.connection()
    for _ in range(ballots):
        answers = answer_codec.encode(
            questionnaire,
            RATER_GROUP,
            {item_id: generator.choice(levels) for item_id, levels in choices.items()},
        )
        comment = generator.choice(COMMENTS) if generator.random() < comment_share else None
        target = f"B{generator.randint(1, DEPARTMENT_COUNT):03d}"
        tracker, ciphertext = seal(plaintext_of(RATER_GROUP, [(target, answers, 0, comment)]))
        rows.append({"tracker": tracker, "campaign_id": campaign.id, "ciphertext": ciphertext})
        if len(rows) == INSERT_CHUNK:
            connection.execute(insert(SealedBallot), rows)
            rows.clear()
    if rows:
        connection.execute(insert(SealedBallot), rows)


def run_one(engine_name: str, ballots: int, args: argparse.Namespace) -> TallyRun:
    run = TallyRun(engine=engine_name, ballots=ballots)
    workdir = Path(tempfile.mkdtemp(prefix=f"pingyi-bench-tally-{engine_name}-"))
    try:
        with fresh_database(engine_name, workdir, args.postgres_url) as database_url:
            step(f"{engine_name}, {ballots} ballots: preparing")
            campaign_id, trustee_shares, run.fill, run.close, run.box_bytes = prepare(
                database_url, ballots, args.comment_share, seed=2026
            )
            step(f"{engine_name}, {ballots} ballots: tallying in a fresh process")
            job = {
                "database_url": database_url,
                "campaign_id": campaign_id,
                "shares": [share.words for share in trustee_shares[:2]],
                "tracemalloc": args.tracemalloc,
            }
            child = subprocess.run(
                [sys.executable, __file__, "--child"],
                input=json.dumps(job).encode(),
                stdout=subprocess.PIPE,
                check=True,
            )
            outcome = json.loads(child.stdout)
            run.timing = TallyTiming(**outcome["timing"])
            run.rss_before = outcome["rss_before"]
            run.peak_rss = outcome["peak_rss"]
            run.traced_peak = outcome["traced_peak"]
            engine = build_engine(database_url, pool_size=1)
            try:
                run.evaluations = stored(engine, campaign_id).evaluations
            finally:
                engine.dispose()
    finally:
        if args.keep:
            step(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return run


# --- the child: the tally, in a process of its own --------------------------------------------


def memory_status(field_name: str) -> int:
    """A ``/proc/self/status`` memory figure (VmRSS, VmHWM) in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1]) * 1024
    return 0


def child() -> None:
    job = json.load(sys.stdin)
    entered = [
        shares.parse_share(words, f"trustee share {number}")
        for number, words in enumerate(job["shares"], start=1)
    ]
    engine = build_engine(job["database_url"], pool_size=2)
    traced_peak = 0
    try:
        with engine.connect():  # connect (and load the driver) before measuring
            pass
        if job["tracemalloc"]:
            import tracemalloc

            tracemalloc.start()
        rss_before = memory_status("VmRSS")
        timing = tally_timed(engine, job["campaign_id"], entered)
        if job["tracemalloc"]:
            traced_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        peak_rss = memory_status("VmHWM")
    finally:
        engine.dispose()
    json.dump(
        {
            "timing": asdict(timing),
            "rss_before": rss_before,
            "peak_rss": peak_rss,
            "traced_peak": traced_peak,
        },
        sys.stdout,
    )


# --- output ----------------------------------------------------------------------------------


def step(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


def print_results(runs: list[TallyRun], args: argparse.Namespace) -> None:
    print(
        f"# one ballot rates one department on 12 items; {args.comment_share:.0%} carry a "
        "comment. tally: lifecycle.tally_campaign with 2 of 3 shares, commit and the seal's "
        "vacuum, in a fresh process."
    )
    print(
        f"{'engine':<9} {'ballots':>8} {'tally s':>8} {'µs/ballot':>9} {'open_box s':>10} "
        f"{'in tx s':>8} {'commit s':>8} {'vacuum s':>8} {'peak RSS':>9} {'RSS before':>10} "
        f"{'box MiB':>8} {'close s':>7} {'fill s':>7}  check"
    )
    for run in runs:
        timing = run.timing
        assert timing is not None
        print(
            f"{run.engine:<9} {run.ballots:>8} {timing.tally:>8.2f} "
            f"{timing.tally / run.ballots * 1e6:>9.0f} {timing.open_box:>10.2f} "
            f"{timing.in_transaction:>8.2f} {timing.commit:>8.2f} {timing.vacuum:>8.2f} "
            f"{run.peak_rss / MIB:>5.0f} MiB {run.rss_before / MIB:>6.0f} MiB "
            f"{run.box_bytes / MIB:>8.0f} {run.close:>7.2f} {run.fill:>7.2f}  "
            + ("ok" if run.ok else "MISMATCH")
        )
        if run.traced_peak:
            print(f"  tracemalloc peak: {run.traced_peak / MIB:.0f} MiB (times include tracing)")
    print(
        "# tally s: all of it = in tx (tally_campaign: rebuild the key, open_box, insert the "
        "evaluations and comment copies,\n#   empty the box, rewrite the campaign's rows in "
        "random order) + commit + vacuum (VACUUM FULL of the sealed tables / SQLite VACUUM).\n"
        "# open_box s: reading, decrypting and checking every ballot, part of in tx. peak RSS: "
        "the tallying process's VmHWM (imports included);\n#   RSS before: its resident memory "
        "just before the tally. box MiB: ballot_box on disk, full. close s: closing first\n"
        "#   (seals the admission rows; not part of the tally). fill s: sealing and inserting the "
        "ballots to set up (not part of the tally)."
    )


def main() -> None:
    if sys.argv[1:] == ["--child"]:  # the parent's environment, var directory included
        child()
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--ballots", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument(
        "--comment-share", type=float, default=1.0, help="share of ballots with a comment"
    )
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also trace Python's allocations (slower)"
    )
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()

    # Opening the campaign reads the settings: a secret and a var directory of this run's
    # own, set before anything reads them, so nothing is written under the project's var/.
    bench_var = Path(tempfile.mkdtemp(prefix="pingyi-bench-var-"))
    os.environ.update(PINGYI_SECRET_KEY=_BENCH_SECRET, PINGYI_VAR_DIR=str(bench_var))
    print_header("Tally: opening and counting a sealed ballot box")
    engines = ["sqlite", "postgres"] if args.engine == "both" else [args.engine]
    try:
        runs = [
            run_one(engine_name, ballots, args)
            for engine_name in engines
            for ballots in args.ballots
        ]
    finally:
        shutil.rmtree(bench_var, ignore_errors=True)
    print_results(runs, args)
    if not all(run.ok for run in runs):
        sys.exit(1)


if __name__ == "__main__":
    main()
