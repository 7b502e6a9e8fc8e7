"""The sealed ballot box for the benchmarks: a campaign's tally key and its trustees' shares,
the cost of sealing one ballot, what is stored and its size on disk, and a timed tally.

Used by ``bench/submissions.py`` (which tallies the box its load filled) and
``bench/tally.py`` (which fills boxes of 10,000 and 100,000 ballots and tallies them).
"""

import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from sqlalchemy import Engine, event, func, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app.admission.models import AdmissionCode, CodeBatch, CodeStatus  # noqa: E402
from app.ballot_box import contents as ballot_contents  # noqa: E402
from app.ballot_box import opening, shares, tally_key  # noqa: E402
from app.ballot_box import service as box_service  # noqa: E402
from app.ballot_box import tally as box_tally  # noqa: E402
from app.ballot_box.models import SealedBallot  # noqa: E402
from app.ballots.models import Evaluation, Receipt  # noqa: E402
from app.campaigns import lifecycle  # noqa: E402
from app.campaigns.models import Campaign  # noqa: E402

TRUSTEES = 3
THRESHOLD = 2
ACTOR = "bench"


def make_tally_key(session: Session, campaign: Campaign) -> list[shares.Share]:
    """Give a draft campaign its 2-of-3 tally key; the trustees' shares, as read back from
    their share files (what ``pingyi tally --share F`` would read)."""
    made = box_service.create_tally_key(session, campaign, count=TRUSTEES, threshold=THRESHOLD)
    return [shares.parse_share(share.dump(), share.file_name()) for share in made.share_files]


# --- the crypto alone ------------------------------------------------------------------------


@dataclass(frozen=True)
class CryptoCost:
    """Sealing and opening one ballot, in memory only (no database)."""

    plaintext_bytes: int
    ciphertext_bytes: int
    seal_us: list[float]  # per ballot, one figure per repeat
    open_us: list[float]

    @property
    def stored_bytes(self) -> int:
        """One row's values: the ciphertext and its 32-byte tracker (plus the campaign id)."""
        return self.ciphertext_bytes + 32


def crypto_cost(plaintext: bytes, *, count: int = 1000, repeats: int = 5) -> CryptoCost:
    """Seal ``plaintext`` ``count`` times per repeat (a fresh ephemeral key each time, as the
    ballot path does), and open the result as many times."""
    key_pair = tally_key.derive_key_pair(tally_key.new_master_secret())
    info = tally_key.info_for("bench-crypto", key_pair.fingerprint)
    ciphertext = tally_key.seal(plaintext, key_pair.public_bytes, info)  # loads the key once
    seal_us, open_us = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(count):
            tally_key.seal(plaintext, key_pair.public_bytes, info)
        seal_us.append((time.perf_counter() - started) / count * 1e6)
        started = time.perf_counter()
        for _ in range(count):
            tally_key.open_sealed(ciphertext, key_pair, info)
        open_us.append((time.perf_counter() - started) / count * 1e6)
    return CryptoCost(
        plaintext_bytes=len(plaintext),
        ciphertext_bytes=len(ciphertext),
        seal_us=seal_us,
        open_us=open_us,
    )


def plaintext_of(rater_group: str, evaluations: list[tuple[str, str, int, str | None]]) -> bytes:
    """A ballot's plaintext from ``(department code, answers string, flags, comment)``."""
    return ballot_contents.encode(
        ballot_contents.BallotContents(
            rater_group=rater_group,
            evaluations=tuple(
                ballot_contents.SealedEvaluation(
                    target=target, answers=answers, quality_flags=flags, comment=comment
                )
                for target, answers, flags, comment in evaluations
            ),
        )
    )


def sealer(session: Session, campaign: Campaign) -> Callable[[bytes], tuple[bytes, bytes]]:
    """``plaintext -> (tracker, ciphertext)`` for the campaign's box, as the ballot path seals."""
    fingerprint = box_service.tally_fingerprint(session, campaign.id)
    if fingerprint is None:
        raise RuntimeError(f"campaign {campaign.slug} has no tally key")
    key = box_service.box_key(session, campaign.id, campaign.slug, fingerprint)

    def seal(plaintext: bytes) -> tuple[bytes, bytes]:
        ciphertext = tally_key.seal(plaintext, key.public_key, key.info)
        return tally_key.tracker(ciphertext), ciphertext

    return seal


# --- what is stored --------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """Rows a campaign holds: sealed ballots, evaluations, receipts, and its used codes."""

    ballots_in_box: int = 0
    evaluations: int = 0
    receipts: int = 0
    used_codes: int = 0


def stored(engine: Engine, campaign_id: int) -> Stored:
    with engine.connect() as connection:

        def count(query: Any) -> int:
            return int(connection.scalar(query) or 0)

        return Stored(
            ballots_in_box=count(
                select(func.count())
                .select_from(SealedBallot)
                .where(SealedBallot.campaign_id == campaign_id)
            ),
            evaluations=count(
                select(func.count())
                .select_from(Evaluation)
                .where(Evaluation.campaign_id == campaign_id)
            ),
            receipts=count(
                select(func.count()).select_from(Receipt).where(Receipt.campaign_id == campaign_id)
            ),
            used_codes=count(
                select(func.count())
                .select_from(AdmissionCode)
                .join(CodeBatch, CodeBatch.id == AdmissionCode.batch_id)
                .where(
                    CodeBatch.campaign_id == campaign_id,
                    AdmissionCode.status == CodeStatus.USED,
                )
            ),
        )


def table_bytes(engine: Engine, tables: list[str]) -> int:
    """Bytes on disk of these tables with their indexes (and, on PostgreSQL, TOAST)."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            return sum(
                int(
                    connection.execute(
                        text("SELECT pg_total_relation_size(CAST(:name AS regclass))"),
                        {"name": name},
                    ).scalar_one()
                )
                for name in tables
            )
        # SQLite's dbstat virtual table: every page of a table and of its indexes.
        return sum(
            int(
                connection.execute(
                    text(
                        "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = :name "
                        "OR name IN (SELECT name FROM sqlite_schema WHERE type = 'index' "
                        "AND tbl_name = :name)"
                    ),
                    {"name": name},
                ).scalar_one()
            )
            for name in tables
        )


# --- the tally -------------------------------------------------------------------------------


@dataclass
class TallyTiming:
    """Seconds for each step of closing a campaign and tallying its box."""

    ballots: int = 0
    counted: int = 0
    rejected: int = 0
    close: float = 0.0  # close_campaign, commit and the seal's vacuum
    open_box: float = 0.0  # reading, decrypting and checking every ballot (opening.open_box)
    in_transaction: float = 0.0  # all of tally_campaign (the above, inserts, copies, rewrite)
    commit: float = 0.0
    vacuum: float = 0.0  # the seal's vacuum after the commit (VACUUM FULL / VACUUM)

    @property
    def tally(self) -> float:
        """From the trustees' shares to a committed, vacuumed tally."""
        return self.in_transaction + self.commit + self.vacuum


@contextmanager
def _timed_open_box(into: TallyTiming) -> Iterator[None]:
    """Time ``opening.open_box`` (reading, decrypting and checking the box) inside the
    tally, by wrapping it for the duration; the application's code is unchanged."""
    original = opening.open_box

    def timed(*args: Any, **kwargs: Any) -> opening.OpenedBox:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            into.open_box += time.perf_counter() - started

    box_tally.opening.open_box = timed  # type: ignore[attr-defined]
    try:
        yield
    finally:
        box_tally.opening.open_box = original  # type: ignore[attr-defined]


def close_timed(engine: Engine, campaign_id: int) -> float:
    """Close the campaign (which seals its admission rows), commit and vacuum; seconds."""
    with Session(engine, expire_on_commit=False) as session:
        campaign = session.get_one(Campaign, campaign_id)
        started = time.perf_counter()
        lifecycle.close_campaign(session, campaign, actor=ACTOR)
        session.commit()  # the seal's vacuum runs in here
        return time.perf_counter() - started


def tally_timed(engine: Engine, campaign_id: int, entered: list[shares.Share]) -> TallyTiming:
    """Tally the closed campaign's box with ``entered`` shares, as ``pingyi tally SLUG
    --share F --share F`` does (``lifecycle.tally_campaign``, then commit); each step timed."""
    timing = TallyTiming()
    with Session(engine, expire_on_commit=False) as session:
        campaign = session.get_one(Campaign, campaign_id)
        timing.ballots = box_service.ballots_in_box(session, campaign)
        session.commit()
        marks: list[float] = []
        # Added before the tally's seal adds its own, so it runs first: the moment the
        # database has committed, before the vacuum.
        event.listen(session, "after_commit", lambda _session: marks.append(time.perf_counter()))
        with _timed_open_box(timing):
            started = time.perf_counter()
            counted = lifecycle.tally_campaign(session, campaign, entered, actor=ACTOR)
            timing.in_transaction = time.perf_counter() - started
        committing = time.perf_counter()
        session.commit()
        ended = time.perf_counter()
        committed = marks[0] if marks else ended
        timing.commit = committed - committing
        timing.vacuum = ended - committed
        timing.counted = counted.ballots_counted
        timing.rejected = len(counted.rejected)
    return timing


def close_and_tally(engine: Engine, campaign_id: int, entered: list[shares.Share]) -> TallyTiming:
    """Close the campaign, then tally its box (see :func:`tally_timed`)."""
    closing = close_timed(engine, campaign_id)
    timing = tally_timed(engine, campaign_id, entered)
    timing.close = closing
    return timing


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: list[float], digits: int = 0) -> str:
    """``median (min–max)`` of a few repeats."""
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{median(values):.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"
