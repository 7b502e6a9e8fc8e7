"""Linkage test: with a full copy of the database, can anyone tell who rated what?

600 raters of one campaign, on a committed database (SQLite and PostgreSQL), through the real
services: 320 citizens exchange a voucher for a blind-signed credential
(``issue_for_voucher``) and rate with it later; 200 cadres sign in with a roster login and do
the same (``issue_for_member``); 80 citizens rate directly with their code, the path whose
weakness DESIGN.md admits (code and evaluations change in one transaction). Issuance and
submission interleave on a random schedule: most raters submit within a few events of
receiving their credential, some keep it and submit much later, others act in between.

Then the whole database is dumped, with what storage reveals about order: every table and
column; SQLite rowids, the order ``SELECT *`` returns rows in, and the pages of the write-ahead
log in commit order (a copy of the data directory has them); PostgreSQL ``ctid`` and ``xmin``,
and the raw heap pages (``pageinspect``) with superseded row versions and their transaction
ids. The attacks below use only that dump, and try to match each issuance record (a used code
row, a served roster member) to its evaluations:

- ``time``: order the issuance records and the evaluations by transaction (xmin; SQLite: the
  log's first transaction holding the row's new value), group evaluations stored by one
  transaction into ballots, and solve the assignment that prefers short delays between
  issuance and ballot (``log(1 + gap)``, never a ballot before its issuance);
- ``heap time`` (PostgreSQL): the same, with transaction ids read from the raw pages;
- ``rank a ~ b``: match by nearest normalised rank between an ordering of the records (storage
  position, transaction, blinded hash, their stable key) and one of the evaluations (storage
  position, transaction, id): if storage kept arrival order, early issuance goes with early
  ballots.

Scoring: one evaluation per rater (the first it stored); an attack is right for a rater when
it names that rater's record. Under "the dump says nothing", the pairing of records and
raters is a uniformly random bijection within each rater group, given the dump. Then for
any attack, P(at least k right) ≤ G^k / k! with G groups (a union bound over the k-sets of
raters that could all be right: each has probability at most ∏ 1/(n_g − i)). After sealing,
every attack must stay below the k where that bound is under 0.001 divided by the number of
attacks tried (Bonferroni). Before sealing, the best attack must be far above chance on
PostgreSQL; on SQLite rows without a rowid are kept in random key order, so the SQL view
shows no order, and only what is left of the write-ahead log links anything.
"""

import math
import random
import secrets
import uuid
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.admission import codes as admission_codes
from app.ballots import service as ballot_service
from app.ballots.models import Evaluation
from app.ballots.schemas import BallotIn, CredentialIn, EvaluationIn
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign
from app.config import get_settings
from app.credentials import blind_rsa, roster, sealing
from app.credentials import service as credential_service
from app.db import Base
from tests.conftest import PostgresDatabases, migrate, new_sqlite_engine
from tests.factories import HASHING_KEY, issue_codes, make_campaign, make_department

pytestmark = pytest.mark.slow

VOUCHER_RATERS = 320
CODE_RATERS = 80
ROSTER_RATERS = 200
UNUSED_CODES = 40
UNUSED_MEMBERS = 20
TARGETS = 3
SIGNIFICANCE = 0.001
QUICK_SHARE = 0.6  # raters who submit right after receiving their credential
QUICK_DELAY = 0.002  # mean delay of those, as a share of the campaign (a few events)
LATER_DELAY = 0.5  # the others submit up to half a campaign later
INFEASIBLE = 1e6
UNKNOWN_GAP_COST = 20.0  # above log1p of any real gap between two transactions
SEED = 20261126


# --- the raters and their schedule ---------------------------------------------------------


@dataclass
class Rater:
    index: int
    kind: str  # "voucher", "code" or "roster"
    group: str
    issue_at: float
    submit_at: float
    targets: list[str]
    code: str | None = None
    identifier: str | None = None
    password: str | None = None
    record: tuple[str, Any] = ("", None)  # (table, code hash or member id)
    credential: CredentialIn | None = None
    evaluation_ids: list[uuid.UUID] = field(default_factory=list)


def schedule(rng: random.Random, target_codes: list[str]) -> list[Rater]:
    raters: list[Rater] = []
    kinds = ["voucher"] * VOUCHER_RATERS + ["code"] * CODE_RATERS + ["roster"] * ROSTER_RATERS
    for index, kind in enumerate(kinds):
        issue_at = rng.random()
        if kind == "code":
            delay = 0.0
        elif rng.random() < QUICK_SHARE:
            delay = rng.expovariate(1 / QUICK_DELAY)
        else:
            delay = rng.uniform(0, LATER_DELAY)
        count = rng.randint(1, TARGETS)
        raters.append(
            Rater(
                index=index,
                kind=kind,
                group="cadres" if kind == "roster" else "citizens",
                issue_at=issue_at,
                submit_at=issue_at + delay,
                targets=rng.sample(target_codes, count),
            )
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


def simulate(engine: Engine) -> Simulation:
    rng = random.Random(SEED)
    secret = get_settings().secret_bytes()
    with Session(engine, expire_on_commit=False) as session:
        departments = [make_department(session) for _ in range(TARGETS)]
        campaign = make_campaign(session, departments=departments)
        credential_service.open_campaign_keys(session, campaign, secret)
        keys = {
            group.key: credential_service.public_key_of(
                next(
                    key
                    for key in credential_service.keys_of(session, campaign)
                    if key.rater_group_id == group.id and key.target_id is None
                )
            )
            for group in campaign.rater_groups
        }
        raters = schedule(rng, [department.code for department in departments])
        codes = issue_codes(session, campaign, count=VOUCHER_RATERS + CODE_RATERS + UNUSED_CODES)
        lines = [
            roster.RosterLine(line=index + 2, identifier=f"1390000{index:04d}")
            for index in range(ROSTER_RATERS + UNUSED_MEMBERS)
        ]
        entries = roster.import_roster(session, campaign, "cadres", lines, secret)
        session.commit()
        questionnaire = campaign_service.questionnaire_of(campaign)
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
    for _time, _order, action, rater in events(raters):
        public_key = keys[rater.group]
        if action == "issue":
            # What the rater's browser does: a random nonce, prepared and blinded.
            prepared = blind_rsa.prepare(secrets.token_bytes(credential_service.NONCE_LENGTH))
            blinded = blind_rsa.blind(public_key, prepared)
            if rater.kind == "voucher":
                with Session(engine) as session:
                    issued = credential_service.issue_for_voucher(
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
                    issued = credential_service.issue_for_member(
                        session, secret, member_id, signed_in.campaign.id, blinded.blinded_msg
                    )
                    session.commit()
            signature = blind_rsa.finalize(
                public_key, prepared, issued.blind_signature, blinded.inv
            )
            rater.credential = CredentialIn(
                rater_group=rater.group,
                message=credential_service.encode_b64url(prepared),
                signature=credential_service.encode_b64url(signature),
                campaign=slug,
            )
            continue
        evaluations = [
            EvaluationIn(
                target=target,
                answers={
                    item.id: rng.choice([*(level.value for level in item.levels), None])
                    for item in questionnaire.items_for(rater.group)
                },
            )
            for target in rater.targets
        ]
        ballot = (
            BallotIn(code=rater.code, evaluations=evaluations)
            if rater.kind == "code"
            else BallotIn(credential=rater.credential, evaluations=evaluations)
        )
        with Session(engine) as session:
            before = set(session.scalars(select(Evaluation.id)))
            ballot_service.submit_ballot(session, HASHING_KEY, ballot)
            session.commit()
            rater.evaluation_ids = sorted(set(session.scalars(select(Evaluation.id))) - before)
        assert len(rater.evaluation_ids) == len(rater.targets)
    return Simulation(campaign_id=campaign.id, raters=raters)


# --- the dump ------------------------------------------------------------------------------


@dataclass
class Row:
    values: dict[str, Any]
    position: int  # in the order SELECT * returned it
    rowid: int | None = None  # SQLite, where the table has one
    ctid: tuple[int, int] | None = None  # PostgreSQL
    xmin: int | None = None  # PostgreSQL


@dataclass
class Dump:
    dialect: str
    tables: dict[str, list[Row]]
    # Raw storage, in time order where it has one: PostgreSQL heap items (transaction id,
    # tuple bytes) per table; SQLite write-ahead log frames (transaction ordinal, page bytes).
    heap: dict[str, list[tuple[int, int, bytes]]] = field(default_factory=dict)  # xmin, xmax
    log_frames: list[tuple[tuple[int, int], bytes]] = field(default_factory=list)


def dump(engine: Engine) -> Dump:
    if engine.dialect.name == "postgresql":
        return _dump_postgres(engine)
    return _dump_sqlite(engine)


def _plain(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value


def _dump_postgres(engine: Engine) -> Dump:
    tables: dict[str, list[Row]] = {}
    heap: dict[str, list[tuple[int, int, bytes]]] = {}
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
            items: list[tuple[int, int, bytes]] = []
            for page in range(pages or 0):
                for xmin, xmax, data in connection.execute(
                    text(
                        "SELECT t_xmin::text, t_xmax::text, t_data FROM "
                        "heap_page_items(get_raw_page(:name, :page)) WHERE t_data IS NOT NULL"
                    ),
                    {"name": table.name, "page": page},
                ):
                    items.append((int(xmin), int(xmax), bytes(data)))
            heap[table.name] = items
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
    assert engine.url.database is not None
    return Dump("sqlite", tables, log_frames=read_wal(Path(engine.url.database + "-wal")))


WAL_HEADER = 32
WAL_FRAME_HEADER = 24


def read_wal(path: Path) -> list[tuple[tuple[int, int], bytes]]:
    """Every frame in the write-ahead log file, current or left over from an earlier round,
    in the order written, each labelled (ordinal of the transaction that wrote it, page
    number).

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
    ordered: list[tuple[tuple[int, int], bytes]] = []
    transaction = 0
    for _round, _index, page_number, commits, page in frames:
        ordered.append(((transaction, page_number), page))
        if commits:
            transaction += 1
    return ordered


class Haystack:
    """Byte strings with a label each, searchable for where a value occurs."""

    def __init__(self, chunks: list[tuple[Any, bytes]]) -> None:
        self.labels = [label for label, _ in chunks]
        self.starts: list[int] = []
        position = 0
        for _, chunk in chunks:
            self.starts.append(position)
            position += len(chunk) + 1
        self.data = b"\x00".join(chunk for _, chunk in chunks)

    def labels_of(
        self, needle: bytes, after: Callable[[bytes], bool] | None = None
    ) -> Iterator[Any]:
        """The label of each chunk where ``needle`` occurs (followed by what ``after`` wants)."""
        start = 0
        while (found := self.data.find(needle, start)) >= 0:
            end = found + len(needle)
            if after is None or after(self.data[end : end + 8]):
                yield self.labels[bisect_right(self.starts, found) - 1]
            start = found + 1


def just_used(following: bytes) -> bool:
    """A code row's status right after its hash and batch number: "used", not "unused"."""
    return b"used" in following and b"unused" not in following


# --- what the attacker reads from the dump -------------------------------------------------


@dataclass
class Entity:
    key: Any
    group: int
    features: dict[str, float | None]
    target: int | None = None


@dataclass
class Observed:
    records: list[Entity]  # used code rows and served roster members
    evaluations: list[Entity]


def observe(data: Dump, campaign_id: int) -> Observed:
    tables = data.tables
    batch_group = {
        row.values["id"]: row.values["rater_group_id"]
        for row in tables["code_batches"]
        if row.values["campaign_id"] == campaign_id
    }
    haystacks = _haystacks(data)
    first_logged: dict[int, int] = {}  # page number → first transaction in the log writing it
    for (transaction, page_number), _page in data.log_frames:
        first_logged.setdefault(page_number, transaction)
    records: list[Entity] = []
    for row in tables["admission_codes"]:
        values = row.values
        if values["batch_id"] not in batch_group or values["status"] != "used":
            continue
        code_hash, blinded = values["code_hash"], values["blinded_hash"]
        event = (blinded, None) if blinded is not None else (code_hash, just_used)
        records.append(
            Entity(
                key=("admission_codes", code_hash),
                group=batch_group[values["batch_id"]],
                features=_features(
                    data, row, "admission_codes", haystacks, first_logged, event, code_hash
                )
                | {"blinded": _number(blinded), "stable": _number(code_hash)},
            )
        )
    for row in tables["roster_members"]:
        values = row.values
        if values["campaign_id"] != campaign_id or not values["credential_issued"]:
            continue
        records.append(
            Entity(
                key=("roster_members", values["id"]),
                group=values["rater_group_id"],
                features=_features(
                    data,
                    row,
                    "roster_members",
                    haystacks,
                    first_logged,
                    (values["blinded_hash"], None),
                    values["identifier_hash"],
                )
                | {"blinded": _number(values["blinded_hash"]), "stable": values["id"]},
            )
        )
    evaluations = []
    for row in tables["evaluations"]:
        values = row.values
        if values["campaign_id"] != campaign_id:
            continue
        identifier = _uuid(values["id"])
        stored = identifier.bytes if data.dialect == "postgresql" else identifier.hex.encode()
        evaluations.append(
            Entity(
                key=identifier,
                group=values["rater_group_id"],
                target=values["target_id"],
                features=_features(
                    data,
                    row,
                    "evaluations",
                    haystacks,
                    first_logged,
                    (stored, None),
                    stored,
                    first=True,
                )
                | {"id": float(identifier.int)},
            )
        )
    return Observed(records, evaluations)


def _haystacks(data: Dump) -> dict[str, Haystack]:
    if data.dialect == "postgresql":
        return {
            table: Haystack([((xmin, xmax), tuple_data) for xmin, xmax, tuple_data in items])
            for table, items in data.heap.items()
        }
    return {"log": Haystack(data.log_frames)}


def _features(
    data: Dump,
    row: Row,
    table: str,
    haystacks: dict[str, Haystack],
    first_logged: dict[int, int],
    event: tuple[bytes, Callable[[bytes], bool] | None],
    identity: bytes,
    *,
    first: bool = False,
) -> dict[str, float | None]:
    """Where the row is stored, and when (by transaction) it got the value that marks the
    event: a record's blinded hash or "used" status, an evaluation's id."""
    if data.dialect == "postgresql":
        assert row.ctid is not None
        # In the raw heap: every version holding the row's identity, with its transaction ids.
        versions = list(haystacks[table].labels_of(identity))
        xmins = [xmin for xmin, _xmax in versions]
        heap_time = (min(xmins) if first else max(xmins)) if xmins else None
        return {
            "position": float(row.ctid[0] * 1000 + row.ctid[1]),
            "time": float(row.xmin) if row.xmin is not None else None,
            "heap time": float(heap_time) if heap_time is not None else None,
        }
    # In the log: the first transaction whose copy of a page holds the new value, provided
    # the log also holds an earlier copy of that page without it (else it may be older).
    needle, after = event
    first_seen = next(haystacks["log"].labels_of(needle, after), None)
    time = None
    if first_seen is not None:
        transaction, page_number = first_seen
        if first_logged[page_number] < transaction:
            time = float(transaction)
    return {
        "position": float(row.rowid if row.rowid is not None else row.position),
        "time": time,
    }


def _number(value: bytes | None) -> float | None:
    return float(int.from_bytes(value[:8], "big")) if value is not None else None


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


# --- the attacks ---------------------------------------------------------------------------

Prediction = dict[uuid.UUID, Any]  # evaluation id → the record key it is linked to


def time_attack(observed: Observed, feature: str) -> Prediction:
    """Group evaluations written by one transaction into ballots; assign ballots to records
    preferring short delays (log(1 + gap)), never a ballot before its issuance."""
    prediction: Prediction = {}
    for _group, records, evaluations in _by_group(observed):
        units = _ballots(evaluations, feature)
        cost = np.full((len(units), len(records)), UNKNOWN_GAP_COST)
        unit_times = np.array([_nan(unit[0].features[feature]) for unit in units])
        record_times = np.array([_nan(record.features[feature]) for record in records])
        gaps = unit_times[:, None] - record_times[None, :]
        known = ~np.isnan(gaps)
        cost[known] = np.where(gaps[known] < 0, INFEASIBLE, np.log1p(np.abs(gaps[known])))
        rows, columns = linear_sum_assignment(cost)
        chosen = dict(zip(rows.tolist(), columns.tolist(), strict=True))
        for unit_index, unit in enumerate(units):
            column = chosen.get(unit_index, int(np.argmin(cost[unit_index])))
            for evaluation in unit:
                prediction[evaluation.key] = records[column].key
    return prediction


def rank_attack(observed: Observed, record_feature: str, evaluation_feature: str) -> Prediction:
    """Each evaluation goes with the record of nearest normalised rank."""
    prediction: Prediction = {}
    for _group, records, evaluations in _by_group(observed):
        record_ranks = _normalised_ranks([r.features.get(record_feature) for r in records])
        evaluation_ranks = _normalised_ranks(
            [e.features.get(evaluation_feature) for e in evaluations]
        )
        known = ~np.isnan(record_ranks)
        candidates = np.flatnonzero(known) if known.any() else np.arange(len(records))
        for evaluation, rank in zip(evaluations, evaluation_ranks, strict=True):
            if np.isnan(rank) or not known.any():
                prediction[evaluation.key] = records[int(candidates[0])].key
                continue
            nearest = candidates[int(np.argmin(np.abs(record_ranks[candidates] - rank)))]
            prediction[evaluation.key] = records[int(nearest)].key
    return prediction


def _by_group(observed: Observed) -> Iterator[tuple[int, list[Entity], list[Entity]]]:
    records: dict[int, list[Entity]] = defaultdict(list)
    evaluations: dict[int, list[Entity]] = defaultdict(list)
    for record in observed.records:
        records[record.group].append(record)
    for evaluation in observed.evaluations:
        evaluations[evaluation.group].append(evaluation)
    for group in sorted(evaluations):
        yield group, records[group], evaluations[group]


def _ballots(evaluations: list[Entity], feature: str) -> list[list[Entity]]:
    """Evaluations sharing a transaction make a ballot, if they could (at most one per target
    and at most TARGETS); otherwise each evaluation is a unit of its own."""
    by_time: dict[float, list[Entity]] = defaultdict(list)
    units: list[list[Entity]] = []
    for evaluation in evaluations:
        time = evaluation.features.get(feature)
        if time is None:
            units.append([evaluation])
        else:
            by_time[time].append(evaluation)
    for members in by_time.values():
        targets = {member.target for member in members}
        if len(members) <= TARGETS and len(targets) == len(members):
            units.append(members)
        else:
            units.extend([member] for member in members)
    return units


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def _normalised_ranks(values: list[float | None]) -> np.ndarray:
    ranks = np.full(len(values), np.nan)
    known = [(value, index) for index, value in enumerate(values) if value is not None]
    known.sort()
    for rank, (_value, index) in enumerate(known):
        ranks[index] = rank / max(1, len(known) - 1)
    return ranks


def attacks(observed: Observed, dialect: str) -> dict[str, Prediction]:
    found: dict[str, Prediction] = {"time": time_attack(observed, "time")}
    if dialect == "postgresql":
        found["heap time"] = time_attack(observed, "heap time")
    record_orders = ["position", "time", "blinded", "stable"]
    evaluation_orders = ["position", "time", "id"]
    for record_order in record_orders:
        for evaluation_order in evaluation_orders:
            found[f"rank {record_order} ~ {evaluation_order}"] = rank_attack(
                observed, record_order, evaluation_order
            )
    return found


# --- scoring -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    right: int
    raters: int
    chance: float  # expected share right for a guess within the rater's group

    @property
    def accuracy(self) -> float:
        return self.right / self.raters


def score(prediction: Prediction, simulation: Simulation, observed: Observed) -> Score:
    group_sizes: dict[int, int] = defaultdict(int)
    group_of_record: dict[Any, int] = {}
    for record in observed.records:
        group_sizes[record.group] += 1
        group_of_record[record.key] = record.group
    right = 0
    chance = 0.0
    for rater in simulation.raters:
        right += prediction.get(rater.evaluation_ids[0]) == rater.record
        chance += 1 / group_sizes[group_of_record[rater.record]]
    raters = len(simulation.raters)
    return Score(right=right, raters=raters, chance=chance / raters)


def chance_bound(groups: int, attacks_tried: int, significance: float = SIGNIFICANCE) -> int:
    """The least k with P(k or more right) ≤ significance / attacks under no information."""
    k = 1
    while groups**k / math.factorial(k) > significance / attacks_tried:
        k += 1
    return k


# --- the test ------------------------------------------------------------------------------


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


def run_attacks(engine: Engine, simulation: Simulation) -> tuple[dict[str, Score], int]:
    data = dump(engine)
    observed = observe(data, simulation.campaign_id)
    assert len(observed.records) == len(simulation.raters)
    assert len(observed.evaluations) == sum(len(r.evaluation_ids) for r in simulation.raters)
    found = attacks(observed, data.dialect)
    groups = len({record.group for record in observed.records})
    return {name: score(p, simulation, observed) for name, p in found.items()}, groups


def report(engine: Engine, moment: str, scores: dict[str, Score], bound: int) -> str:
    best = max(scores, key=lambda name: scores[name].right)
    chance = next(iter(scores.values())).chance
    lines = [
        f"{engine.dialect.name} {moment}: best attack {best!r} links "
        f"{scores[best].right}/{scores[best].raters} raters ({scores[best].accuracy:.1%}); "
        f"chance {chance:.2%}; significance bound {bound} right"
    ]
    lines += [f"    {name}: {s.right} ({s.accuracy:.1%})" for name, s in scores.items()]
    return "\n".join(lines)


def test_after_sealing_no_attack_links_raters_better_than_chance(
    committed_engine: Engine,
) -> None:
    simulation = simulate(committed_engine)
    assert len(simulation.raters) >= 500

    before, groups = run_attacks(committed_engine, simulation)
    with Session(committed_engine, expire_on_commit=False) as session:
        campaign = session.get_one(Campaign, simulation.campaign_id)
    sealing.seal(committed_engine, campaign)
    after, _groups = run_attacks(committed_engine, simulation)

    bound = chance_bound(groups, len(after))
    print()
    print(report(committed_engine, "before sealing", before, bound))
    print(report(committed_engine, "after sealing", after, bound))

    linked_after = {name: s.right for name, s in after.items() if s.right >= bound}
    assert not linked_after, f"after sealing, attacks beat chance: {linked_after}"
    best_before = max(s.right for s in before.values())
    if committed_engine.dialect.name == "postgresql":
        # The attack is real: without the seal, transaction ids link most raters.
        assert best_before >= max(bound, 0.2 * len(simulation.raters)), before
