"""The audit trail: an append-only, hash-chained record of staff actions.

Each entry's hash covers its sequence number, time, actor, action, object, detail and the
previous entry's hash, so an edited, deleted or reordered entry breaks the chain at that
point. The chain's head (last sequence and hash) lives in one row that every append updates
first, which serialises appends on both engines. Deleting the newest entries *and* rewriting
the head is only caught against a head recorded elsewhere (``pingyi audit verify`` prints it).
"""

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.audit.models import GENESIS_HASH, AuditEntry, AuditHead

HEAD_ID = 1
CLI_ACTOR_PREFIX = "cli:"


def entry_hash(
    *,
    sequence: int,
    occurred_at: dt.datetime,
    actor: str,
    action: str,
    object: str,
    detail: dict[str, Any],
    previous_hash: str,
) -> str:
    canonical = json.dumps(
        [
            sequence,
            occurred_at.isoformat(timespec="microseconds"),
            actor,
            action,
            object,
            detail,
            previous_hash,
        ],
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _hash_of(entry: AuditEntry) -> str:
    return entry_hash(
        sequence=entry.sequence,
        occurred_at=entry.occurred_at,
        actor=entry.actor,
        action=entry.action,
        object=entry.object,
        detail=entry.detail,
        previous_hash=entry.previous_hash,
    )


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    object: str,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append an entry in the caller's transaction; it commits or rolls back with the action."""
    head = session.execute(
        update(AuditHead)
        .where(AuditHead.id == HEAD_ID)
        .values(sequence=AuditHead.sequence + 1)
        .returning(AuditHead.sequence, AuditHead.entry_hash)
    ).one()
    occurred_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    entry = AuditEntry(
        sequence=head.sequence,
        occurred_at=occurred_at,
        actor=actor,
        action=action,
        object=object,
        detail=detail or {},
        previous_hash=head.entry_hash,
    )
    entry.entry_hash = _hash_of(entry)
    session.add(entry)
    session.execute(
        update(AuditHead).where(AuditHead.id == HEAD_ID).values(entry_hash=entry.entry_hash)
    )
    return entry


@dataclass(frozen=True)
class Verification:
    entries: int
    head_hash: str
    first_broken: int | None = None  # sequence number where the chain first breaks
    problem: str | None = None

    @property
    def intact(self) -> bool:
        return self.first_broken is None


def verify(session: Session) -> Verification:
    """Walk the chain from the start; report the first entry where it breaks."""
    previous = GENESIS_HASH
    expected = 1
    checked = 0
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.sequence)).yield_per(1000)
    for entry in entries:
        if entry.sequence != expected:
            return Verification(checked, previous, expected, "entry missing")
        if entry.previous_hash != previous:
            return Verification(
                checked, previous, entry.sequence, "does not follow the entry before"
            )
        if _hash_of(entry) != entry.entry_hash:
            return Verification(checked, previous, entry.sequence, "content changed")
        previous = entry.entry_hash
        expected += 1
        checked += 1
    head = session.get_one(AuditHead, HEAD_ID)
    if head.sequence != checked or head.entry_hash != previous:
        return Verification(checked, previous, checked + 1, "newest entries missing")
    return Verification(checked, previous)


def has_entry_hash(session: Session, hash_hex: str) -> bool:
    found = session.scalar(select(AuditEntry.sequence).where(AuditEntry.entry_hash == hash_hex))
    return found is not None


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    object: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None


def list_entries(
    session: Session, filters: AuditFilter, *, limit: int = 100, offset: int = 0
) -> tuple[Sequence[AuditEntry], int]:
    """Newest first, with the total count matching the filters."""
    query = select(AuditEntry)
    if filters.actor:
        query = query.where(AuditEntry.actor == filters.actor)
    if filters.action:
        query = query.where(AuditEntry.action == filters.action)
    if filters.object:
        query = query.where(AuditEntry.object.contains(filters.object, autoescape=True))
    if filters.since:
        query = query.where(AuditEntry.occurred_at >= dt.datetime.combine(filters.since, dt.time()))
    if filters.until:
        end = dt.datetime.combine(filters.until + dt.timedelta(days=1), dt.time())
        query = query.where(AuditEntry.occurred_at < end)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = session.scalars(
        query.order_by(AuditEntry.sequence.desc()).limit(limit).offset(offset)
    ).all()
    return page, total


def known_actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))


def actor_of(session: Session, *, action: str, object: str, **detail: object) -> str | None:
    """Who did ``action`` on ``object`` most recently, among entries whose detail holds every
    key and value of ``detail`` (say, the account that issued batch 7), or None."""
    entries = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == action, AuditEntry.object == object)
        .order_by(AuditEntry.sequence.desc())
    )
    for entry in entries:
        if all(entry.detail.get(key) == value for key, value in detail.items()):
            return entry.actor
    return None
