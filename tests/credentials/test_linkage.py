"""Linkage: with every copy of the database an administrator can take, can anyone tell what a
rater said?

Ballots are sealed in the ballot box (privacy rule 6, "Sealed ballot box"): until the tally
the database holds one ciphertext per ballot, and the tally writes the evaluations and the
comment copies, shuffled, in one transaction. What an attacker wants is to link a rater's
issuance record (the used code row, the served roster member) or the rater's receipt (the
tracker) to the *content* of their ballot: their evaluations and their comment.

600 raters of one campaign, on a committed database (SQLite and PostgreSQL), through the real
services: 320 citizens exchange a voucher for a blind-signed credential
(``issue_for_voucher``) and rate with it, 200 cadres sign in with a roster login and do the
same (``issue_for_member``), 80 citizens rate directly with their code (the code is used and
the ballot stored in one transaction). Issuance and submission interleave on a random
schedule: most credential holders submit within a few events of receiving their credential
("at once"), the others up to half a campaign later ("later"). Each evaluation has answers no
other has and each rater one comment with a marker no other has, so the content of every row
the tally writes names its rater: an attack is right for a rater when it links the rater's
record (or receipt) to that rater's first evaluation, or to their comment.

What the attacker holds, and the attacks (each a family of orderings tried):

- live SQL: the database as it is, read with what storage shows of order (every table and
  column; PostgreSQL ``ctid``, ``xmin`` and the raw heap pages through ``pageinspect``;
  SQLite rowids, the order rows come back in, the write-ahead log's frames);
- (a) the write-ahead log: on PostgreSQL an archive of pg_wal since the campaign opened,
  copied as continuous archiving would (mid-campaign, at close, and through the tally);
  on SQLite the -wal file mid-campaign, at the end of the submissions, and right after the
  tally committed (before the seal's checkpoint empties it). Values are located in it by
  their bytes, and position in the log is time; on PostgreSQL its records are also read
  (``tests/ballot_box/stored_bytes.py``) for the transaction that inserted a ballot and the
  one that first updated a code row or roster member, followed by block and line pointer
  from the insert that holds its hash (an update need not log the hash again);
- (b) a backup taken half-way (a pg_dump and a copy of the files: the live-SQL view of that
  moment), and then the database as it is after the tally;
- (c) a rater's receipt (the tracker) with the write-ahead log through the tally.

Before the tally an attacker can link records to ciphertexts (by transaction, by time): that is
expected, and measured, and the test checks that the ciphertexts are all there is (no
evaluation, no comment copy, no marker in any copy). The linking attacks are: ``time``
(order records and ballots by transaction or log position and solve the assignment preferring
short delays, ``log(1 + gap)``, never a ballot before its issuance) and ``rank a ~ b`` (nearest
normalised rank between an ordering of one side and one of the other). After the tally the
same orderings are tried between records (or the ballots an attack linked them to, or the
receipt) and the evaluations and comment copies.

Scoring: under "the copies say nothing", the pairing of records and raters is a uniformly
random bijection within each rater group, given the copies. Then for any attack, P(at least k
right) ≤ G^k / k! with G groups (a union bound over the k-sets of raters that could all be
right: each has probability at most ∏ 1/(n_g − i)); the same bound holds where an attack pools
the groups. After the tally every attack on content must stay below the k where that bound
is under 0.001 divided by the number of attacks tried (Bonferroni). The attacks are shown to
have power: on PostgreSQL the log and the backup link nearly every direct-code rater to their
ciphertext, and a tally that did not shuffle (a control, run on a small campaign) is linked
by the receipt and the log.

The figures are printed (``pytest -s``) and written to ``test-artifacts/linkage.txt``: per
family of attacks and copy, before and after the tally, the share of direct-code,
credential-at-once and credential-later raters linked, and chance.
"""

import math
import random
import secrets
import string
import types
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.admission import codes as admission_codes
from app.ballot_box import opening
from app.ballots import receipts
from app.ballots import service as ballot_service
from app.ballots.schemas import BallotIn, EvaluationIn
from app.campaigns import lifecycle
from app.campaigns.models import Campaign
from app.comments import service as comment_service
from app.config import PROJECT_ROOT, get_settings
from app.credentials import blind_rsa, issuance, roster
from app.credentials import keys as credential_keys
from app.credentials.schemas import CredentialIn
from app.db import Base
from app.sealing import rows as sealing
from app.surveys.schemas import Questionnaire
from tests.ballot_box.stored_bytes import Haystack, WalArchive, WalStream, wal_stream
from tests.conftest import PostgresDatabases, migrate, new_sqlite_engine
from tests.credentials.credential_helpers import key_pool  # noqa: F401 - an autouse fixture
from tests.factories import (
    HASHING_KEY,
    issue_codes,
    make_campaign,
    make_department,
    small_questionnaire,
    trustee_shares,
)

pytestmark = pytest.mark.slow

RATERS = {"voucher": 320, "code": 80, "roster": 200}
UNUSED_CODES = 40
UNUSED_MEMBERS = 20
TARGETS = 3
ITEMS = 8  # 6^8 answer patterns: each evaluation's is unique
MARKER_LETTERS = 16
SIGNIFICANCE = 0.001
QUICK_SHARE = 0.6  # raters who submit right after receiving their credential
QUICK_DELAY = 0.002  # mean delay of those, as a share of the campaign (a few events)
LATER_DELAY = 0.5  # the others submit up to half a campaign later
INFEASIBLE = 1e6
UNKNOWN_GAP_COST = 40.0  # above log1p of any real gap (transactions, or bytes of log)
USED_WINDOW = 16  # bytes after a code's hash in which its stored status is
SEED = 20261126
ARTIFACT = PROJECT_ROOT / "test-artifacts" / "linkage.txt"

DIRECT, AT_ONCE, LATER = "direct code", "credential at once", "credential later"
CATEGORIES = (DIRECT, AT_ONCE, LATER)


def questionnaire() -> Questionnaire:
    return small_questionnaire(
        items=[
            {
                "id": f"q{index}",
                "dimension": "attitude" if index % 2 else "efficiency",
                "scale": "five_level",
                "text": {"zh": f"问题{index}", "en": f"Question {index}"},
            }
            for index in range(ITEMS)
        ]
    )


# --- the raters and their schedule ---------------------------------------------------------


@dataclass
class Rater:
    index: int
    kind: str  # "voucher", "code" or "roster"
    group: str
    issue_at: float
    submit_at: float
    prompt: bool  # a credential holder who submits at once
    targets: list[str]
    patterns: list[str] = field(default_factory=list)  # answers as stored, one per target
    marker: str = ""  # in the comment on the first target
    code: str | None = None
    identifier: str | None = None
    password: str | None = None
    record: tuple[str, Any] = ("", None)  # (table, code hash or member id)
    credential: CredentialIn | None = None
    tracker: bytes = b""

    @property
    def category(self) -> str:
        if self.kind == "code":
            return DIRECT
        return AT_ONCE if self.prompt else LATER


def schedule(
    rng: random.Random, target_codes: list[str], counts: dict[str, int], targets: int
) -> list[Rater]:
    raters: list[Rater] = []
    kinds = [kind for kind in ("voucher", "code", "roster") for _ in range(counts.get(kind, 0))]
    for index, kind in enumerate(kinds):
        issue_at = rng.random()
        prompt = kind != "code" and rng.random() < QUICK_SHARE
        if kind == "code":
            delay = 0.0
        elif prompt:
            delay = rng.expovariate(1 / QUICK_DELAY)
        else:
            delay = rng.uniform(0, LATER_DELAY)
        raters.append(
            Rater(
                index=index,
                kind=kind,
                group="cadres" if kind == "roster" else "citizens",
                issue_at=issue_at,
                submit_at=issue_at + delay,
                prompt=prompt,
                targets=rng.sample(target_codes, rng.randint(1, targets)),
            )
        )
    taken: set[tuple[str, str, str]] = set()
    for rater in raters:
        for target in rater.targets:
            pattern = ""
            while not pattern or (rater.group, target, pattern) in taken:
                pattern = "".join(rng.choice("012345") for _ in range(ITEMS))
            taken.add((rater.group, target, pattern))
            rater.patterns.append(pattern)
        # Letters only (the scrubber leaves them), from the system's randomness: a marker
        # must not be in a copy of the server's log from an earlier run.
        rater.marker = "".join(
            secrets.choice(string.ascii_uppercase) for _ in range(MARKER_LETTERS)
        )
    return raters


def events(raters: list[Rater]) -> list[tuple[float, int, str, Rater]]:
    """(time, tie-break, action, rater) in time order; a code rater only submits."""
    timeline = [(r.submit_at, 1, "submit", r) for r in raters]
    timeline += [(r.issue_at, 0, "issue", r) for r in raters if r.kind != "code"]
    return sorted(timeline, key=lambda event: (event[0], event[1], event[3].index))


# --- running the campaign through the services ---------------------------------------------


@dataclass
class Simulation:
    campaign_id: int
    raters: list[Rater]


def simulate(
    engine: Engine,
    counts: dict[str, int],
    watch: Callable[[int, int], None],
    *,
    targets: int = TARGETS,
) -> Simulation:
    """Run the campaign, each ballot rating 1 to ``targets`` departments; ``watch(done,
    total)`` after each event (to take copies)."""
    rng = random.Random(SEED)
    secret = get_settings().secret_bytes()
    with Session(engine, expire_on_commit=False) as session:
        departments = [make_department(session) for _ in range(TARGETS)]
        campaign = make_campaign(session, departments=departments, questionnaire=questionnaire())
        credential_keys.open_campaign_keys(session, campaign, secret)
        keys = {
            group.key: credential_keys.public_key_of(
                next(
                    key
                    for key in credential_keys.keys_of(session, campaign)
                    if key.rater_group_id == group.id and key.target_id is None
                )
            )
            for group in campaign.rater_groups
        }
        raters = schedule(rng, [department.code for department in departments], counts, targets)
        code_count = counts.get("voucher", 0) + counts.get("code", 0)
        codes = issue_codes(session, campaign, count=code_count + UNUSED_CODES)
        members = counts.get("roster", 0)
        lines = [
            roster.RosterLine(line=index + 2, identifier=f"1390000{index:04d}")
            for index in range(members + UNUSED_MEMBERS if members else 0)
        ]
        entries = roster.import_roster(session, campaign, "cadres", lines, secret) if lines else []
        session.commit()
        slug = campaign.slug
    code_iter = iter(codes)
    entry_iter = iter(entries)
    for rater in raters:
        if rater.kind == "roster":
            entry = next(entry_iter)
            rater.identifier, rater.password = entry.identifier, entry.password
        else:
            rater.code = next(code_iter)
            code_hash = admission_codes.keyed_hash(
                HASHING_KEY, admission_codes.normalize(rater.code)
            )
            rater.record = ("admission_codes", code_hash)

    failures = roster.FailureCounter()
    timeline = events(raters)
    for done, (_time, _order, action, rater) in enumerate(timeline, start=1):
        if action == "issue":
            issue(engine, rater, keys[rater.group], slug, secret, failures)
        else:
            submit(engine, rater)
        watch(done, len(timeline))
    return Simulation(campaign_id=campaign.id, raters=raters)


def issue(
    engine: Engine,
    rater: Rater,
    public_key: Any,
    slug: str,
    secret: bytes,
    failures: roster.FailureCounter,
) -> None:
    # What the rater's browser does: a random nonce, prepared and blinded.
    prepared = blind_rsa.prepare(secrets.token_bytes(credential_keys.NONCE_LENGTH))
    blinded = blind_rsa.blind(public_key, prepared)
    if rater.kind == "voucher":
        with Session(engine) as session:
            issued = issuance.issue_for_voucher(
                session, HASHING_KEY, secret, rater.code or "", blinded.blinded_msg
            )
            session.commit()
    else:
        with Session(engine) as session:
            signed_in = roster.sign_in(
                session,
                secret,
                slug,
                rater.identifier or "",
                rater.password or "",
                failures=failures,
            )
            member_id = signed_in.member.id
        rater.record = ("roster_members", member_id)
        with Session(engine) as session:
            issued = issuance.issue_for_member(
                session, secret, member_id, signed_in.campaign.id, blinded.blinded_msg
            )
            session.commit()
    signature = blind_rsa.finalize(public_key, prepared, issued.blind_signature, blinded.inv)
    rater.credential = CredentialIn(
        rater_group=rater.group,
        message=credential_keys.encode_b64url(prepared),
        signature=credential_keys.encode_b64url(signature),
        campaign=slug,
    )


def submit(engine: Engine, rater: Rater) -> None:
    evaluations = [
        EvaluationIn(
            target=target,
            answers={
                f"q{index}": None if symbol == "0" else int(symbol)
                for index, symbol in enumerate(pattern)
            },
            comment=rater.marker if position == 0 else None,
        )
        for position, (target, pattern) in enumerate(
            zip(rater.targets, rater.patterns, strict=True)
        )
    ]
    ballot = (
        BallotIn(code=rater.code, evaluations=evaluations)
        if rater.kind == "code"
        else BallotIn(credential=rater.credential, evaluations=evaluations)
    )
    with Session(engine) as session:
        receipt = ballot_service.submit_ballot(session, HASHING_KEY, ballot)
        session.commit()
    rater.tracker = receipts.receipt_bytes(receipt.receipt)


# --- the copies ----------------------------------------------------------------------------


@dataclass
class Row:
    values: dict[str, Any]
    position: int  # in the order SELECT * returned it
    rowid: int | None = None  # SQLite, where the table has one
    ctid: tuple[int, int] | None = None  # PostgreSQL
    xmin: int | None = None  # PostgreSQL


@dataclass
class Dump:
    """The database as live SQL (or a backup) shows it."""

    dialect: str
    tables: dict[str, list[Row]]
    heap: dict[str, Haystack] = field(default_factory=dict)  # PostgreSQL: tuples by (xmin, xmax)
    log: "WalView | None" = None  # SQLite: the -wal file copied with the database

    def values_blob(self) -> bytes:
        """Every value of every row, and the raw pages: where plaintext would show."""
        parts = [repr(row.values).encode() for rows in self.tables.values() for row in rows]
        parts += [haystack.data for haystack in self.heap.values()]
        if self.log is not None:
            parts.append(self.log.haystack.data)
        return b"\n".join(parts)


def dump(engine: Engine) -> Dump:
    if engine.dialect.name == "postgresql":
        return _dump_postgres(engine)
    return _dump_sqlite(engine)


def _plain(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value


def _dump_postgres(engine: Engine) -> Dump:
    tables: dict[str, list[Row]] = {}
    heap: dict[str, Haystack] = {}
    with engine.connect() as connection:
        connection.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
        connection.commit()
        for table in Base.metadata.sorted_tables:
            result = connection.execute(
                text(f'SELECT ctid::text AS _ctid, xmin::text AS _xmin, * FROM "{table.name}"')  # noqa: S608
            )
            rows = []
            for position, row in enumerate(result.mappings()):
                page, item = row["_ctid"].strip("()").split(",")
                values = {k: _plain(v) for k, v in row.items() if not k.startswith("_")}
                rows.append(
                    Row(values, position, ctid=(int(page), int(item)), xmin=int(row["_xmin"]))
                )
            tables[table.name] = rows
            pages = connection.scalar(
                text("SELECT pg_relation_size(:name) / current_setting('block_size')::int"),
                {"name": table.name},
            )
            items: list[tuple[tuple[int, int], bytes]] = []
            for page in range(pages or 0):
                for xmin, xmax, data in connection.execute(
                    text(
                        "SELECT t_xmin::text, t_xmax::text, t_data FROM "
                        "heap_page_items(get_raw_page(:name, :page)) WHERE t_data IS NOT NULL"
                    ),
                    {"name": table.name, "page": page},
                ):
                    items.append(((int(xmin), int(xmax)), bytes(data)))
            heap[table.name] = Haystack(items)
    return Dump("postgresql", tables, heap=heap)


def _dump_sqlite(engine: Engine) -> Dump:
    tables: dict[str, list[Row]] = {}
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            try:
                result = connection.execute(text(f'SELECT rowid AS _rowid, * FROM "{table.name}"'))  # noqa: S608
                with_rowid = True
            except DBAPIError:  # WITHOUT ROWID
                connection.rollback()
                result = connection.execute(text(f'SELECT * FROM "{table.name}"'))  # noqa: S608
                with_rowid = False
            tables[table.name] = [
                Row(
                    {k: _plain(v) for k, v in row.items() if k != "_rowid"},
                    position,
                    rowid=row["_rowid"] if with_rowid else None,
                )
                for position, row in enumerate(result.mappings())
            ]
    return Dump("sqlite", tables, log=WalView.sqlite(read_wal(sqlite_wal_path(engine))))


def sqlite_wal_path(engine: Engine) -> Path:
    assert engine.url.database is not None
    return Path(engine.url.database + "-wal")


WAL_HEADER = 32
WAL_FRAME_HEADER = 24


def read_wal(path: Path) -> list[tuple[tuple[int, int, int], bytes]]:
    """Every frame in SQLite's write-ahead log file, current or left over from an earlier
    round, in the order written, each labelled (ordinal of the transaction that wrote it, page
    number, ordinal of the frame).

    A checkpoint lets the next writer start the log again from the top, adding one to the
    first salt; frames of the earlier round past the new end are still in the file.
    """
    if not path.exists() or path.stat().st_size < WAL_HEADER:
        return []
    data = path.read_bytes()
    page_size = int.from_bytes(data[8:12], "big")
    frames: list[tuple[int, int, int, bool, bytes]] = []  # round, index, page, commits, data
    offset, index = WAL_HEADER, 0
    while offset + WAL_FRAME_HEADER + page_size <= len(data):
        header = data[offset : offset + WAL_FRAME_HEADER]
        page_number = int.from_bytes(header[0:4], "big")
        commit_size = int.from_bytes(header[4:8], "big")
        salt_round = int.from_bytes(header[8:12], "big")
        page = data[offset + WAL_FRAME_HEADER : offset + WAL_FRAME_HEADER + page_size]
        frames.append((salt_round, index, page_number, commit_size != 0, page))
        offset += WAL_FRAME_HEADER + page_size
        index += 1
    frames.sort(key=lambda frame: (frame[0], frame[1]))
    ordered: list[tuple[tuple[int, int, int], bytes]] = []
    transaction = 0
    for ordinal, (_round, _index, page_number, commits, page) in enumerate(frames):
        ordered.append(((transaction, page_number, ordinal), page))
        if commits:
            transaction += 1
    return ordered


Event = tuple[bytes, Callable[[bytes], bool] | None]  # a value, and what must follow it


def just_used(following: bytes) -> bool:
    """A code row's status right after its hash: "used", not "unused"."""
    return b"used" in following and b"unused" not in following


@dataclass
class WalView:
    """A copy of the write-ahead log, searchable for values: where (when) each first occurs.

    PostgreSQL: the archive's pages without their headers, one stream in log order; a value's
    time is the LSN where it occurs; the log's records also give the transaction that wrote
    a value (:meth:`transactions`) or first changed a row (:meth:`first_updates`). SQLite: the
    -wal file's frames; a value's time is the transaction of the first frame holding it,
    provided the log also holds an earlier copy of that page without it (else the value may
    be older than the log), or, for the order within one transaction, the frame's ordinal.
    """

    dialect: str
    haystack: Haystack
    stream: WalStream | None = None  # PostgreSQL
    first_logged: dict[int, int] = field(default_factory=dict)  # SQLite: page → transaction

    @classmethod
    def postgres(cls, pages: dict[int, bytes]) -> "WalView":
        stream = wal_stream(pages)
        return cls("postgresql", Haystack([("wal", stream.data)]), stream)

    @classmethod
    def sqlite(cls, frames: list[tuple[tuple[int, int, int], bytes]]) -> "WalView":
        first: dict[int, int] = {}
        for (transaction, page_number, _ordinal), _page in frames:
            first.setdefault(page_number, transaction)
        return cls("sqlite", Haystack(frames), first_logged=first)

    def lsn(self, position: int) -> int:
        assert self.stream is not None
        return self.stream.lsn(position)

    def transactions(self, values: dict[Any, bytes]) -> dict[Any, float | None]:
        assert self.stream is not None
        return self.stream.transactions(values)

    def first_updates(self, rows: dict[Any, bytes]) -> dict[Any, float | None]:
        assert self.stream is not None
        return self.stream.first_updates(rows)

    def times(
        self, events: dict[Any, Event], *, since: int | None = None, frame: bool = False
    ) -> dict[Any, float | None]:
        """When each event (by key) first shows in the log: see the class."""
        found = self.haystack.positions(needle for needle, _after in events.values())
        times: dict[Any, float | None] = {}
        for key, (needle, after) in events.items():
            times[key] = None
            for position in found[needle]:
                end = position + len(needle)
                if after is not None and not after(self.haystack.data[end : end + USED_WINDOW]):
                    continue
                if self.dialect == "postgresql":
                    lsn = self.lsn(position)
                    if since is not None and lsn < since:
                        continue
                    times[key] = float(lsn)
                    break
                transaction, page_number, ordinal = self.haystack.label_at(position)
                if frame:
                    times[key] = float(ordinal)
                elif self.first_logged[page_number] < transaction:
                    times[key] = float(transaction)
                break
        return times


@dataclass
class Copies:
    """What the attacker copied, by moment: the database (live SQL, or a backup) and the log."""

    dumps: dict[str, Dump] = field(default_factory=dict)
    logs: dict[str, WalView] = field(default_factory=dict)
    tally_start: int | None = None  # PostgreSQL: the log's end when the tally began


# --- what the attacker reads from the copies -----------------------------------------------

Values = dict[Any, float | None]  # an ordering value per row


@dataclass
class Entities:
    """Rows of one kind as the attacker sees them: the group each is in (0 where storage
    shows none), named orderings, and the value that marks each row's event in the log."""

    groups: dict[Any, int] = field(default_factory=dict)
    orders: dict[str, Values] = field(default_factory=dict)
    events: dict[Any, Event] = field(default_factory=dict)
    identities: dict[Any, bytes] = field(default_factory=dict)  # a value each row holds

    def pooled(self) -> "Entities":
        return Entities(dict.fromkeys(self.groups, 0), self.orders, self.events, self.identities)

    def only(self, keys: set[Any]) -> "Entities":
        return Entities(
            {key: group for key, group in self.groups.items() if key in keys},
            {name: {k: v for k, v in vs.items() if k in keys} for name, vs in self.orders.items()},
            {key: event for key, event in self.events.items() if key in keys},
            {key: value for key, value in self.identities.items() if key in keys},
        )


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _number(value: bytes | None) -> float | None:
    return float(int.from_bytes(value[:8], "big")) if value is not None else None


def _storage_orders(
    data: Dump,
    table: str,
    rows: dict[Any, Row],
    identities: dict[Any, bytes],
    events: dict[Any, Event],
    *,
    first: bool,
) -> dict[str, Values]:
    """Where each row is stored, and when: PostgreSQL ``ctid``, ``xmin``, and the
    transaction ids of the row's versions in the raw heap (found by its ``identities``
    value; the earliest version's, or the latest's); SQLite rowid (or the order rows come
    back in) and the log's time of the row's event."""
    if data.dialect == "postgresql":
        heap = data.heap[table]
        versions = heap.positions(identities.values())
        heap_time: Values = {}
        for key, needle in identities.items():
            xmins = [heap.label_at(position)[0] for position in versions[needle]]
            heap_time[key] = float(min(xmins) if first else max(xmins)) if xmins else None
        return {
            "position": {
                key: float(row.ctid[0] * 1000 + row.ctid[1]) if row.ctid else None
                for key, row in rows.items()
            },
            "time": {key: float(row.xmin or 0) for key, row in rows.items()},
            "heap time": heap_time,
        }
    assert data.log is not None
    return {
        "position": {
            key: float(row.rowid if row.rowid is not None else row.position)
            for key, row in rows.items()
        },
        "time": data.log.times(events),
    }


def _known(orders: dict[str, Values]) -> set[Any]:
    """The rows that some ordering places: those the copy shows."""
    return {key for values in orders.values() for key, value in values.items() if value is not None}


def _merge(*parts: dict[str, Values]) -> dict[str, Values]:
    merged: dict[str, Values] = defaultdict(dict)
    for part in parts:
        for name, values in part.items():
            merged[name].update(values)
    return dict(merged)


def records_in(data: Dump, campaign_id: int) -> Entities:
    """The campaign's used code rows and served roster members, in their rater groups.

    A record's event is its issuance: the blinded hash it took, or for a code used directly
    the status "used" after its hash."""
    tables = data.tables
    batch_group = {
        row.values["id"]: row.values["rater_group_id"]
        for row in tables["code_batches"]
        if row.values["campaign_id"] == campaign_id
    }
    found = Entities()
    parts = []
    blinded: Values = {}
    stable: Values = {}
    for table in ("admission_codes", "roster_members"):
        rows: dict[Any, Row] = {}
        identities: dict[Any, bytes] = {}
        for row in tables[table]:
            values = row.values
            if table == "admission_codes":
                if values["batch_id"] not in batch_group or values["status"] != "used":
                    continue
                key = (table, values["code_hash"])
                found.groups[key] = batch_group[values["batch_id"]]
                identities[key] = values["code_hash"]
                stable[key] = _number(values["code_hash"])
            else:
                if values["campaign_id"] != campaign_id or not values["credential_issued"]:
                    continue
                key = (table, values["id"])
                found.groups[key] = values["rater_group_id"]
                identities[key] = values["identifier_hash"]
                stable[key] = float(values["id"])
            rows[key] = row
            found.identities[key] = identities[key]
            blinded[key] = _number(values["blinded_hash"])
            found.events[key] = (
                (values["blinded_hash"], None)
                if values["blinded_hash"] is not None
                else (values["code_hash"], just_used)
            )
        parts.append(_storage_orders(data, table, rows, identities, found.events, first=False))
    found.orders = _merge(*parts) | {"blinded": blinded, "stable": stable}
    return found


def ballots_in(data: Dump, campaign_id: int) -> Entities:
    """The campaign's ballots in the box, by tracker; the box shows no group."""
    rows = {
        bytes(row.values["tracker"]): row
        for row in data.tables["ballot_box"]
        if row.values["campaign_id"] == campaign_id
    }
    identities = {tracker: tracker for tracker in rows}
    found = Entities(groups=dict.fromkeys(rows, 0), identities=identities)
    found.events = {tracker: (tracker, None) for tracker in rows}
    found.orders = _storage_orders(data, "ballot_box", rows, identities, found.events, first=True)
    found.orders["tracker"] = {tracker: _number(tracker) for tracker in rows}
    return found


@dataclass
class Content:
    """What the tally wrote: evaluations (in their rater groups) and comment copies (no
    group), by their random ids; and, for the test only, how to tell whose each is."""

    evaluations: Entities
    comments: Entities
    evaluation_of: dict[tuple[int, int, str], Any]  # (group, target, answers) → id
    comment_of: dict[str, Any]  # text → id


def content_in(data: Dump, campaign_id: int) -> Content:
    kinds = []
    evaluation_of: dict[tuple[int, int, str], Any] = {}
    comment_of: dict[str, Any] = {}
    for table in ("evaluations", "comment_reviews"):
        rows: dict[Any, Row] = {}
        entities = Entities()
        for row in data.tables[table]:
            values = row.values
            if values["campaign_id"] != campaign_id:
                continue
            key = _uuid(values["id"])
            rows[key] = row
            if table == "evaluations":
                entities.groups[key] = values["rater_group_id"]
                answers = (values["rater_group_id"], values["target_id"], values["answers"])
                evaluation_of[answers] = key
            else:
                entities.groups[key] = 0
                comment_of[values["text"]] = key
        stored = {
            key: key.bytes if data.dialect == "postgresql" else key.hex.encode() for key in rows
        }
        entities.events = {key: (value, None) for key, value in stored.items()}
        entities.orders = _storage_orders(data, table, rows, stored, entities.events, first=True)
        entities.orders["id"] = {key: float(key.int) for key in rows}
        kinds.append(entities)
    return Content(kinds[0], kinds[1], evaluation_of, comment_of)


# --- the attacks ---------------------------------------------------------------------------

Prediction = dict[Any, Any]  # what an attack links: a ballot, or a content row → an identity


def time_link(records: Values, ballots: Values) -> Prediction:
    """Ballot → record, assigned preferring short delays (``log(1 + gap)``), never a ballot
    before its issuance; a record or ballot without a time costs the same whatever."""
    record_keys = list(records)
    ballot_keys = list(ballots)
    if not record_keys or not ballot_keys:
        return {}
    cost = np.full((len(ballot_keys), len(record_keys)), UNKNOWN_GAP_COST)
    ballot_times = np.array([_nan(ballots[key]) for key in ballot_keys])
    record_times = np.array([_nan(records[key]) for key in record_keys])
    gaps = ballot_times[:, None] - record_times[None, :]
    known = ~np.isnan(gaps)
    cost[known] = np.where(gaps[known] < 0, INFEASIBLE, np.log1p(np.abs(gaps[known])))
    rows, columns = linear_sum_assignment(cost)
    chosen = dict(zip(rows.tolist(), columns.tolist(), strict=True))
    return {
        ballot: record_keys[chosen.get(index, int(np.argmin(cost[index])))]
        for index, ballot in enumerate(ballot_keys)
    }


def rank_link(
    identities: Entities, identity_order: Values, contents: Entities, content_order: Values
) -> Prediction:
    """Each row of ``contents`` goes with the identity of nearest normalised rank, within its
    group (pooled where either side shows no group)."""
    pooled = set(identities.groups.values()) == {0} or set(contents.groups.values()) == {0}
    pools: dict[int, tuple[list[Any], list[Any]]] = defaultdict(lambda: ([], []))
    for key, group in identities.groups.items():
        pools[0 if pooled else group][0].append(key)
    for key, group in contents.groups.items():
        pools[0 if pooled else group][1].append(key)
    prediction: Prediction = {}
    for identity_keys, content_keys in pools.values():
        if not identity_keys or not content_keys:
            continue
        identity_ranks = _normalised_ranks([identity_order.get(key) for key in identity_keys])
        content_ranks = _normalised_ranks([content_order.get(key) for key in content_keys])
        known = ~np.isnan(identity_ranks)
        candidates = np.flatnonzero(known) if known.any() else np.arange(len(identity_keys))
        for key, rank in zip(content_keys, content_ranks, strict=True):
            if np.isnan(rank) or not known.any():
                prediction[key] = identity_keys[int(candidates[0])]
                continue
            nearest = candidates[int(np.argmin(np.abs(identity_ranks[candidates] - rank)))]
            prediction[key] = identity_keys[int(nearest)]
    return prediction


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def _normalised_ranks(values: list[float | None]) -> np.ndarray:
    ranks = np.full(len(values), np.nan)
    known = [(value, index) for index, value in enumerate(values) if value is not None]
    known.sort()
    for rank, (_value, index) in enumerate(known):
        ranks[index] = rank / max(1, len(known) - 1)
    return ranks


# --- scoring -------------------------------------------------------------------------------


@dataclass
class Score:
    """Raters linked, raters the copies show, and the sum of their chances, per category."""

    right: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    raters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    chance: dict[str, float] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0.0))

    @property
    def total(self) -> int:
        return sum(self.right.values())

    @property
    def shown(self) -> int:
        return sum(self.raters.values())


@dataclass
class Truth:
    """Each rater's rows, known to the test only."""

    raters: list[Rater]
    evaluation: dict[int, Any]  # rater index → the id of the rater's first evaluation
    comment: dict[int, Any]  # rater index → the id of the rater's comment copy


def find_truth(simulation: Simulation, final: Dump, content: Content) -> Truth:
    tables = final.tables
    campaign_id = simulation.campaign_id
    group_ids = {
        row.values["key"]: row.values["id"]
        for row in tables["campaign_rater_groups"]
        if row.values["campaign_id"] == campaign_id
    }
    department_codes = {row.values["id"]: row.values["code"] for row in tables["departments"]}
    target_ids = {
        department_codes[row.values["department_id"]]: row.values["id"]
        for row in tables["campaign_targets"]
        if row.values["campaign_id"] == campaign_id
    }
    truth = Truth(simulation.raters, {}, {})
    for rater in simulation.raters:
        first = (group_ids[rater.group], target_ids[rater.targets[0]], rater.patterns[0])
        if first in content.evaluation_of:
            truth.evaluation[rater.index] = content.evaluation_of[first]
        if rater.marker in content.comment_of:
            truth.comment[rater.index] = content.comment_of[rater.marker]
    return truth


def score(
    prediction: Prediction,
    truth: Truth,
    subject: Callable[[Rater], Any],
    identity: Callable[[Rater], Any],
    identities: Entities,
    subjects: set[Any],
) -> Score:
    """Raters whose ``subject`` (ballot, evaluation, comment) the attack links to their own
    ``identity`` (record, tracker), among raters whose subject and identity the copies show;
    chance is one over the identities the rater's could be (its group's, or all)."""
    pool_sizes: dict[int, int] = defaultdict(int)
    for group in identities.groups.values():
        pool_sizes[group] += 1
    result = Score()
    for rater in truth.raters:
        key, own = subject(rater), identity(rater)
        if key not in subjects or own not in identities.groups:
            continue
        category = rater.category
        result.raters[category] += 1
        result.right[category] += prediction.get(key) == own
        result.chance[category] += 1 / pool_sizes[identities.groups[own]]
    return result


def chance_bound(groups: int, attacks_tried: int, significance: float = SIGNIFICANCE) -> int:
    """The least k with P(k or more right) ≤ significance / attacks under no information."""
    k = 1
    while groups**k / math.factorial(k) > significance / attacks_tried:
        k += 1
    return k


def record_of(rater: Rater) -> Any:
    return rater.record


def tracker_of(rater: Rater) -> bytes:
    return rater.tracker


# --- running the attacks on the copies -----------------------------------------------------


@dataclass
class Finding:
    family: str  # "live SQL", "(a) write-ahead log", …
    copy: str  # what was copied, when
    links_to: str  # "ciphertext" or "content"
    attack: str
    score: Score


@dataclass
class Attacker:
    """Runs every attack on the copies, and scores it against the truth."""

    copies: Copies
    simulation: Simulation
    dialect: str
    findings: list[Finding] = field(default_factory=list)

    def __post_init__(self) -> None:
        campaign_id = self.simulation.campaign_id
        final = self.copies.dumps["final"]
        self.content = content_in(final, campaign_id)
        self.truth = find_truth(self.simulation, final, self.content)
        self.storage = ["position", "time", "heap time"] if self.heap else ["position", "time"]

    @property
    def heap(self) -> bool:
        return self.dialect == "postgresql"

    def records(self, moment: str) -> Entities:
        return records_in(self.copies.dumps[moment], self.simulation.campaign_id)

    def ballots(self, moment: str) -> Entities:
        return ballots_in(self.copies.dumps[moment], self.simulation.campaign_id)

    # Before the tally: records → ciphertexts

    def to_ciphertexts(
        self, family: str, copy: str, records: Entities, ballots: Entities, orders: list[str]
    ) -> dict[str, Prediction]:
        """``time`` by each ordering both sides have, and ranks of the records' orderings
        against the ballots' storage positions; every ballot → record prediction made."""
        predictions = {
            f"time ({order})": time_link(records.orders[order], ballots.orders[order])
            for order in orders
        }
        pooled = records.pooled()  # the box shows no group
        for order in ("position", "blinded", "stable"):
            predictions[f"rank {order} ~ position"] = rank_link(
                pooled, pooled.orders[order], ballots, ballots.orders["position"]
            )
        for name, prediction in predictions.items():
            self.findings.append(
                Finding(
                    family,
                    copy,
                    "ciphertext",
                    name,
                    score(
                        prediction, self.truth, tracker_of, record_of, pooled, set(ballots.groups)
                    ),
                )
            )
        return predictions

    def log_orders(
        self, log: WalView, records: Entities, ballots: Entities
    ) -> tuple[dict[str, Values], dict[str, Values]]:
        """When the log shows each record's issuance and each ballot's arrival: by position
        (PostgreSQL: LSN; SQLite: transaction), and on PostgreSQL by transaction id read from
        the log's records."""
        record_orders = {"log position": log.times(records.events)}
        ballot_orders = {"log position": log.times(ballots.events)}
        if self.dialect == "postgresql":
            record_orders["log transaction"] = log.first_updates(records.identities)
            ballot_orders["log transaction"] = log.transactions(ballots.identities)
        return record_orders, ballot_orders

    # After the tally: records (or receipts) → content

    def to_content(
        self,
        family: str,
        copy: str,
        identities: Entities,
        identity_orders: dict[str, Values],
        content_orders: dict[str, tuple[Values, Values]],
        identity: Callable[[Rater], Any] = record_of,
        through: tuple[Prediction, Entities, str] | None = None,
    ) -> None:
        """Every identity ordering against every content ordering, for evaluations and for
        comments. ``through``: the identities are ballots, linked to records by that
        ballot → record prediction (among those records)."""
        content = self.content
        kinds = (
            ("evaluation", content.evaluations, 0, lambda r: self.truth.evaluation.get(r.index)),
            ("comment", content.comments, 1, lambda r: self.truth.comment.get(r.index)),
        )
        for identity_name, identity_order in identity_orders.items():
            for content_name, orders in content_orders.items():
                for kind, entities, which, subject in kinds:
                    prediction = rank_link(identities, identity_order, entities, orders[which])
                    scored = identities
                    name = f"rank {identity_name} ~ {kind} {content_name}"
                    if through is not None:
                        to_records, records, link = through
                        prediction = {k: to_records.get(b) for k, b in prediction.items()}
                        scored = records.pooled()
                        name += f", ballots linked to records by {link}"
                    self.findings.append(
                        Finding(
                            family,
                            copy,
                            "content",
                            name,
                            score(
                                prediction,
                                self.truth,
                                subject,
                                identity,
                                scored,
                                set(entities.groups),
                            ),
                        )
                    )

    def run(self) -> list[Finding]:
        copies = self.copies
        postgres = self.dialect == "postgresql"
        mid_records, mid_ballots = self.records("mid"), self.ballots("mid")
        closed_ballots = self.ballots("closed")
        final_records, final_ballots = self.records("final"), self.ballots("final")
        time_orders = ["time", "heap time"] if postgres else ["time"]

        # Before the tally: what links records to ciphertexts.
        self.to_ciphertexts(
            "live SQL", "after close and seal", self.records("closed"), closed_ballots, time_orders
        )
        backup_links = self.to_ciphertexts(
            "(b) backup mid-campaign", "the backup", mid_records, mid_ballots, time_orders
        )
        log_copies = {
            "mid": "copied mid-campaign",
            "closed" if postgres else "submitted": (
                "copied at close" if postgres else "copied at the end of the submissions"
            ),
        }
        log_links: dict[str, Prediction] = {}
        for moment, copy in log_copies.items():
            record_orders, ballot_orders = self.log_orders(
                copies.logs[moment], final_records, final_ballots
            )
            # What this copy shows: records used and ballots put in by then.
            records = Entities(final_records.groups, record_orders).only(_known(record_orders))
            ballots = Entities(final_ballots.groups, ballot_orders).only(_known(ballot_orders))
            for order in record_orders:
                name = f"time ({order})"
                log_links[f"{moment} {name}"] = prediction = time_link(
                    records.orders[order], ballots.orders[order]
                )
                shown = score(
                    prediction,
                    self.truth,
                    tracker_of,
                    record_of,
                    final_records.pooled(),
                    set(ballots.groups),
                )
                self.findings.append(
                    Finding("(a) write-ahead log", copy, "ciphertext", name, shown)
                )

        # After the tally: what could link records or receipts to content.
        content = self.content
        content_orders = {
            name: (content.evaluations.orders[name], content.comments.orders[name])
            for name in [*self.storage, "id"]
        }
        log_before = copies.logs["final" if postgres else "submitted"]
        log_tally = copies.logs["final" if postgres else "tallied"]
        since, frames = copies.tally_start, not postgres
        logged = {
            "log": (
                log_tally.times(content.evaluations.events, since=since, frame=frames),
                log_tally.times(content.comments.events, since=since, frame=frames),
            )
        }
        record_log, ballot_log = self.log_orders(log_before, final_records, final_ballots)
        ballot_orders = {f"ballot {name}": values for name, values in ballot_log.items()} | {
            "ballot tracker": final_ballots.orders["tracker"],
            "ballot log at tally": log_tally.times(final_ballots.events, since=since, frame=frames),
            "ballot position at close": closed_ballots.orders["position"],
            "ballot position after tally": final_ballots.orders["position"],
        }
        record_storage = {name: final_records.orders[name] for name in self.storage}
        self.to_content(
            "live SQL",
            "after the tally",
            final_records,
            record_storage
            | {"blinded": final_records.orders["blinded"]}
            | {"stable": final_records.orders["stable"]},
            content_orders,
        )
        log_copy = "archive through the tally" if postgres else "every copy, through the tally"
        both = logged | content_orders
        self.to_content(
            "(a) write-ahead log",
            log_copy,
            final_records,
            {f"record {name}": values for name, values in record_log.items()},
            both,
        )
        strongest = "closed time (log transaction)" if postgres else "submitted time (log position)"
        self.to_content(
            "(a) write-ahead log",
            log_copy,
            final_ballots,
            ballot_orders,
            both,
            through=(log_links[strongest], final_records, strongest.split(" ", 1)[1]),
        )
        self.to_content(
            "(b) backup mid-campaign",
            "the backup + the tallied database",
            mid_records,
            {name: mid_records.orders[name] for name in self.storage},
            content_orders,
        )
        self.to_content(
            "(b) backup mid-campaign",
            "the backup + the tallied database",
            mid_ballots,
            {
                "ballot tracker": mid_ballots.orders["tracker"],
                "ballot position": mid_ballots.orders["position"],
                "ballot position at close": closed_ballots.orders["position"],
            },
            content_orders,
            through=(backup_links["time (time)"], mid_records, "time (time)"),
        )
        self.to_content(
            "(c) receipt + write-ahead log",
            "receipt + log through the tally",
            final_ballots,
            ballot_orders,
            both,
            identity=tracker_of,
        )
        return self.findings


# --- what the copies hold before the tally -------------------------------------------------


def before_tally_logs(dialect: str) -> list[str]:
    return ["mid", "closed"] if dialect == "postgresql" else ["mid", "submitted"]


def assert_nothing_readable_before_the_tally(copies: Copies, simulation: Simulation) -> str:
    """No evaluation, no comment copy, no comment marker in any copy taken before the tally;
    and the log through the tally does show the markers (the search finds content that is
    there). Returns the note for the report."""
    dialect = copies.dumps["final"].dialect
    markers = [rater.marker.encode() for rater in simulation.raters]
    campaign_id = simulation.campaign_id
    for moment in ("mid", "closed"):
        data = copies.dumps[moment]
        for table in ("evaluations", "comment_reviews"):
            rows = [r for r in data.tables[table] if r.values["campaign_id"] == campaign_id]
            assert not rows, f"{table} rows in the {moment} copy, before the tally"
        found = Haystack([(moment, data.values_blob())]).positions(markers)
        assert not any(found.values()), f"comment markers in the {moment} copy"
    for moment in before_tally_logs(dialect):
        found = copies.logs[moment].haystack.positions(markers)
        assert not any(found.values()), f"comment markers in the log copied {moment}"
    after = copies.logs["final" if dialect == "postgresql" else "tallied"]
    assert all(after.haystack.positions(markers).values()), "the log shows the tally's copies"
    return (
        f"before the tally no copy holds content: 0 evaluations, 0 comment copies, 0 of "
        f"{len(markers)} comment markers in the backups, live SQL or log copies; the tally's "
        "log shows all of them"
    )


# --- the report ----------------------------------------------------------------------------


def _cell(score: Score, category: str) -> str:
    shown = score.raters[category]
    if not shown:
        return "—"
    share = score.right[category] / shown
    chance = score.chance[category] / shown
    return f"{score.right[category]}/{shown} {share:.1%} (chance {chance:.2%})"


def _best_for(findings: list[Finding], category: str) -> Finding:
    return max(findings, key=lambda finding: finding.score.right[category])


def report(
    dialect: str, simulation: Simulation, findings: list[Finding], bound: int, note: str
) -> str:
    counts = {category: 0 for category in CATEGORIES}
    for rater in simulation.raters:
        counts[rater.category] += 1
    content_attacks = sum(1 for finding in findings if finding.links_to == "content")
    lines = [
        f"{dialect}: {len(simulation.raters)} raters: "
        + ", ".join(f"{count} {category}" for category, count in counts.items()),
        note,
        f"after the tally: {content_attacks} attacks on content; significance bound "
        f"{bound} right (P ≤ {SIGNIFICANCE} / {content_attacks} under no information)",
        "cell: raters linked / raters the copy shows, share (chance); the best attack of the "
        "row for each category",
        "",
    ]
    header = ["family", "copy", "links to", *CATEGORIES, "best attack (all categories)"]
    rows = [header]
    groups: dict[tuple[str, str, str], list[Finding]] = defaultdict(list)
    for finding in findings:
        groups[(finding.family, finding.copy, finding.links_to)].append(finding)
    for (family, copy, links_to), members in groups.items():
        best = max(members, key=lambda finding: finding.score.total)
        cells = [_cell(_best_for(members, category).score, category) for category in CATEGORIES]
        moment = "before" if links_to == "ciphertext" else "after"
        rows.append([family, copy, f"{links_to} ({moment} tally)", *cells, best.attack])
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    for row in rows:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    lines += ["", "every attack (linked / shown):"]
    for finding in findings:
        lines.append(
            f"  {finding.family} | {finding.copy} | {finding.links_to} | {finding.attack}: "
            f"{finding.score.total}/{finding.score.shown}"
        )
    return "\n".join(lines)


def write_artifact(dialect: str, text_block: str) -> None:
    """test-artifacts/linkage.txt, one section per database (a run replaces its own)."""
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    sections: dict[str, str] = {}
    if ARTIFACT.exists():
        for section in ARTIFACT.read_text(encoding="utf-8").split("\n=== ")[1:]:
            name, _, body = section.partition(" ===\n")
            sections[name] = body.rstrip("\n")
    sections[dialect] = text_block
    ARTIFACT.write_text(
        "".join(f"\n=== {name} ===\n{body}\n" for name, body in sorted(sections.items())),
        encoding="utf-8",
    )


# --- taking the copies ---------------------------------------------------------------------


def take_copies(
    engine: Engine, counts: dict[str, int], *, targets: int = TARGETS
) -> tuple[Simulation, Copies]:
    """Run the campaign, close it, tally it, copying what an administrator could on the way:
    the database half-way, at close and after the tally; the log (PostgreSQL: an archive of
    pg_wal since the campaign began, copied at those moments; SQLite: the -wal half-way, at
    the end of the submissions, and as the tally committed, before the seal's checkpoint
    empties it)."""
    if engine.dialect.name != "postgresql":
        return _take_copies(engine, counts, targets, None)
    with WalArchive.kept(engine) as archive:
        return _take_copies(engine, counts, targets, archive)


def _take_copies(
    engine: Engine, counts: dict[str, int], targets: int, archive: WalArchive | None
) -> tuple[Simulation, Copies]:
    copies = Copies()

    def watch(done: int, total: int) -> None:
        if done == total // 2:
            copies.dumps["mid"] = dump(engine)
            if archive is not None:
                archive.capture(engine)
                copies.logs["mid"] = WalView.postgres(archive.snapshot())
            else:
                assert copies.dumps["mid"].log is not None
                copies.logs["mid"] = copies.dumps["mid"].log

    simulation = simulate(engine, counts, watch, targets=targets)
    if archive is None:
        copies.logs["submitted"] = WalView.sqlite(read_wal(sqlite_wal_path(engine)))
    with Session(engine) as session:
        campaign = session.get_one(Campaign, simulation.campaign_id)
        lifecycle.close_campaign(session, campaign, actor="test")
        session.commit()
    copies.dumps["closed"] = dump(engine)
    if archive is not None:
        copies.tally_start = archive.capture(engine)
        copies.logs["closed"] = WalView.postgres(archive.snapshot())

    tallied: dict[str, list[tuple[tuple[int, int, int], bytes]]] = {}
    vacuum = sealing.reset_physical_order

    def copy_log_then_vacuum(bound: Engine, *args: Any, **options: Any) -> bool:
        if archive is None and "frames" not in tallied:
            tallied["frames"] = read_wal(sqlite_wal_path(engine))
        return vacuum(bound, *args, **options)

    with pytest.MonkeyPatch.context() as patch, Session(engine) as session:
        patch.setattr(sealing, "reset_physical_order", copy_log_then_vacuum)
        campaign = session.get_one(Campaign, simulation.campaign_id)
        lifecycle.tally_campaign(session, campaign, trustee_shares(campaign)[:2], actor="test")
        session.commit()
    if archive is not None:
        end = archive.capture(engine)
        lost = archive.missing_pages(end)
        assert not lost, f"the archive lost {len(lost)} pages of pg_wal"
        copies.logs["final"] = WalView.postgres(archive.snapshot())
    else:
        copies.logs["tallied"] = WalView.sqlite(tallied["frames"])
    copies.dumps["final"] = dump(engine)
    return simulation, copies


# --- the tests -----------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def committed_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = new_sqlite_engine()
    else:
        databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
        engine = databases.create()
    migrate(engine)
    yield engine
    engine.dispose()


def finding(findings: list[Finding], family: str, copy: str, attack: str) -> Score:
    return next(f.score for f in findings if (f.family, f.copy, f.attack) == (family, copy, attack))


def test_no_copy_links_a_rater_to_what_they_said(committed_engine: Engine) -> None:
    dialect = committed_engine.dialect.name
    simulation, copies = take_copies(committed_engine, RATERS)
    assert len(simulation.raters) >= 500
    note = assert_nothing_readable_before_the_tally(copies, simulation)

    attacker = Attacker(copies, simulation, dialect)
    assert len(attacker.truth.evaluation) == len(simulation.raters), "every evaluation counted"
    assert len(attacker.truth.comment) == len(simulation.raters), "every comment copied"
    findings = attacker.run()
    on_content = [f for f in findings if f.links_to == "content"]
    groups = len({rater.group for rater in simulation.raters})
    bound = chance_bound(groups, len(on_content))
    text_block = report(dialect, simulation, findings, bound, note)
    print()
    print(text_block)
    write_artifact(dialect, text_block)

    linked = {
        f"{f.family} | {f.copy} | {f.attack}": f.score.total
        for f in on_content
        if f.score.total >= bound
    }
    assert not linked, f"after the tally, attacks on content beat chance: {linked}"
    sealed = {
        f.attack: f.score.total
        for f in findings
        if (f.family, f.links_to) == ("live SQL", "ciphertext") and f.score.total >= bound
    }
    assert not sealed, f"after close and seal, live SQL links records to ciphertexts: {sealed}"
    if dialect == "sqlite":
        # The attack has power: what is left of the log links raters to their ciphertexts.
        linked_mid = finding(
            findings, "(a) write-ahead log", "copied mid-campaign", "time (log position)"
        )
        assert linked_mid.total >= bound, linked_mid
    else:
        # The attacks have power: the log and the backup link most direct codes to their
        # ciphertexts (chance is under 1%). Other databases' transactions on a shared server
        # interleave in the log, so not all of them: 84% was seen beside parallel test runs.
        for family, copy, attack in [
            ("(a) write-ahead log", "copied at close", "time (log transaction)"),
            ("(b) backup mid-campaign", "the backup", "time (time)"),
        ]:
            linked_direct = finding(findings, family, copy, attack)
            assert linked_direct.right[DIRECT] >= 0.75 * linked_direct.raters[DIRECT], (
                family,
                linked_direct,
            )


class _NoShuffle:
    def shuffle(self, items: list[Any]) -> None:
        pass


@pytest.mark.postgres
def test_the_log_would_link_a_tally_that_did_not_shuffle(
    postgres_databases: PostgresDatabases,
) -> None:
    """The control: were the tally to write evaluations and comment copies in the box's
    order (by tracker), the receipt and the log would link nearly every rater."""
    engine = postgres_databases.create()
    migrate(engine)
    try:
        unshuffled = types.SimpleNamespace(SystemRandom=_NoShuffle)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(opening, "secrets", unshuffled)
            patch.setattr(comment_service, "secrets", unshuffled)
            simulation, copies = take_copies(engine, {"code": 120}, targets=1)
        findings = Attacker(copies, simulation, "postgresql").run()
        family, copy = "(c) receipt + write-ahead log", "receipt + log through the tally"
        print()
        for attack in ("rank ballot tracker ~ evaluation log", "rank ballot tracker ~ comment log"):
            linked = finding(findings, family, copy, attack)
            print(f"control, tally without shuffling: {attack}: {linked.total}/{linked.shown}")
            assert linked.total >= 0.9 * linked.shown, (attack, linked)
    finally:
        engine.dispose()
