"""The high-water mark: what the database has acknowledged, kept in a file outside it.

A restore from a backup silently brings the database back to an earlier state: ballots that
were acknowledged with a receipt are gone, and the codes and credentials that admitted them
work again. Nothing inside the restored database can tell, so the mark is kept elsewhere: a
JSON file (``PINGYI_HIGH_WATER_FILE``, by default ``high-water.json`` under the var
directory), which belongs on another disk or host than the database, so that whatever
destroys or rolls back the one leaves the other. ``pingyi db check`` compares the database
with it (``app.ops.restore``).

What the mark holds, and why that is all: the audit trail's head (sequence and hash), and
per campaign the trackers of the ballots in its ballot box, how many evaluations it stores,
the keyed hashes of its used admission codes, the hashes of its spent credentials (by
signing key fingerprint) and the keyed identifier hashes of the roster members served a
credential. Only counts and sets of hashes the database already holds: no
plaintext code, no time for any code or ballot, no order (every set is written sorted). The
file is rewritten in place; kept copies of earlier versions would show which codes were used
between two recordings, which is what a database administrator watching live sees anyway
(and links only to ciphertext), but there is no reason to keep them: do not version it.

Recording merges monotonically, so a mark is never lowered: sets are unioned, counts take the
larger value, and the audit head moves only forward along the same chain. A restored database
recorded again (by the running server, every ``PINGYI_HIGH_WATER_SECONDS``) therefore cannot
erase the evidence of its own restore; only ``pingyi db check --acknowledge`` replaces the
mark, after the office has dealt with the report. Writes are atomic (temporary file, fsync,
rename) under an ``fcntl`` lock on a file beside the mark, so server workers and the CLI can
record at once.
"""

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anyio import to_thread
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.admission.models import AdmissionCode, CodeBatch, CodeStatus
from app.audit.models import GENESIS_HASH, AuditEntry, AuditHead
from app.ballot_box.models import SealedBallot
from app.ballots.models import Evaluation
from app.campaigns.models import Campaign
from app.config import get_settings
from app.credentials.models import CredentialKey, RosterMember, SpentCredential

FORMAT_VERSION = 1
DEFAULT_FILE_NAME = "high-water.json"
AUDIT_HEAD_ID = 1  # app.audit.service.HEAD_ID

log = logging.getLogger("pingyi.ops")


def mark_path() -> Path:
    configured = get_settings().high_water_file
    return configured if configured is not None else get_settings().var_dir / DEFAULT_FILE_NAME


class MarkFileProblem(Exception):
    """The mark file cannot be read or does not belong to this database."""


@dataclass
class CampaignMark:
    """One campaign's acknowledged state (hex strings throughout)."""

    ballots: set[str] = field(default_factory=set)  # trackers in the ballot box
    evaluations: int = 0
    used_codes: set[str] = field(default_factory=set)  # keyed hashes of used codes
    spent_credentials: dict[str, set[str]] = field(default_factory=dict)  # key fp → hashes
    served_members: set[str] = field(default_factory=set)  # keyed identifier hashes

    def to_json(self) -> dict[str, Any]:
        return {
            "ballot_count": len(self.ballots),
            "ballots": sorted(self.ballots),
            "evaluations": self.evaluations,
            "used_codes": sorted(self.used_codes),
            "spent_credentials": {
                fingerprint: sorted(hashes)
                for fingerprint, hashes in sorted(self.spent_credentials.items())
            },
            "served_members": sorted(self.served_members),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "CampaignMark":
        return cls(
            ballots=set(data.get("ballots", [])),
            evaluations=int(data.get("evaluations", 0)),
            used_codes=set(data.get("used_codes", [])),
            spent_credentials={
                fingerprint: set(hashes)
                for fingerprint, hashes in data.get("spent_credentials", {}).items()
            },
            served_members=set(data.get("served_members", [])),
        )

    def merged(self, other: "CampaignMark") -> "CampaignMark":
        spent = {key: set(hashes) for key, hashes in self.spent_credentials.items()}
        for key, hashes in other.spent_credentials.items():
            spent.setdefault(key, set()).update(hashes)
        return CampaignMark(
            ballots=self.ballots | other.ballots,
            evaluations=max(self.evaluations, other.evaluations),
            used_codes=self.used_codes | other.used_codes,
            spent_credentials=spent,
            served_members=self.served_members | other.served_members,
        )


@dataclass
class Mark:
    """The whole mark: the deployment role it belongs to, the audit head, the campaigns."""

    role: str
    audit_sequence: int = 0
    audit_hash: str = GENESIS_HASH
    campaigns: dict[str, CampaignMark] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "role": self.role,
            "audit": {"sequence": self.audit_sequence, "entry_hash": self.audit_hash},
            "campaigns": {
                slug: campaign.to_json() for slug, campaign in sorted(self.campaigns.items())
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Mark":
        audit = data.get("audit", {})
        return cls(
            role=str(data["role"]),
            audit_sequence=int(audit.get("sequence", 0)),
            audit_hash=str(audit.get("entry_hash", GENESIS_HASH)),
            campaigns={
                slug: CampaignMark.from_json(campaign)
                for slug, campaign in data.get("campaigns", {}).items()
            },
        )


def database_state(session: Session) -> Mark:
    """What the database holds now, as a mark, read in the session's transaction.

    The queries need not share one snapshot: each sees only committed rows, and a mark is
    never more than what was committed, so a comparison never finds a loss that is not one.
    """
    slugs = dict(session.execute(select(Campaign.id, Campaign.slug)).all())
    campaigns = {slug: CampaignMark() for slug in slugs.values()}
    for campaign_id, tracker in session.execute(
        select(SealedBallot.campaign_id, SealedBallot.tracker)
    ):
        campaigns[slugs[campaign_id]].ballots.add(bytes(tracker).hex())
    for campaign_id, count in session.execute(
        select(Evaluation.campaign_id, func.count()).group_by(Evaluation.campaign_id)
    ):
        campaigns[slugs[campaign_id]].evaluations = count
    for campaign_id, code_hash in session.execute(
        select(CodeBatch.campaign_id, AdmissionCode.code_hash)
        .join(CodeBatch, AdmissionCode.batch_id == CodeBatch.id)
        .where(AdmissionCode.status == CodeStatus.USED)
    ):
        campaigns[slugs[campaign_id]].used_codes.add(bytes(code_hash).hex())
    for campaign_id, fingerprint, message_hash in session.execute(
        select(
            CredentialKey.campaign_id, CredentialKey.fingerprint, SpentCredential.message_hash
        ).join(CredentialKey, SpentCredential.key_id == CredentialKey.id)
    ):
        spent = campaigns[slugs[campaign_id]].spent_credentials
        spent.setdefault(bytes(fingerprint).hex(), set()).add(bytes(message_hash).hex())
    for campaign_id, identifier_hash in session.execute(
        select(RosterMember.campaign_id, RosterMember.identifier_hash).where(
            RosterMember.credential_issued
        )
    ):
        campaigns[slugs[campaign_id]].served_members.add(bytes(identifier_hash).hex())
    head = session.get(AuditHead, AUDIT_HEAD_ID)
    return Mark(
        role=get_settings().role.value,
        audit_sequence=head.sequence if head is not None else 0,
        audit_hash=head.entry_hash if head is not None else GENESIS_HASH,
        campaigns=campaigns,
    )


def audit_head_kept(session: Session, mark: Mark) -> bool:
    """Whether the database's audit trail still holds the entry the mark recorded as head."""
    if mark.audit_sequence == 0:
        return True
    found = session.scalar(
        select(AuditEntry.sequence).where(
            AuditEntry.sequence == mark.audit_sequence,
            AuditEntry.entry_hash == mark.audit_hash,
        )
    )
    return found is not None


def merge(mark: Mark | None, state: Mark, *, head_kept: bool) -> Mark:
    """``mark`` raised to ``state``, never lowered (see the module)."""
    if mark is None:
        return state
    merged = Mark(role=mark.role, audit_sequence=mark.audit_sequence, audit_hash=mark.audit_hash)
    if head_kept and state.audit_sequence >= mark.audit_sequence:
        merged.audit_sequence, merged.audit_hash = state.audit_sequence, state.audit_hash
    for slug in mark.campaigns.keys() | state.campaigns.keys():
        merged.campaigns[slug] = mark.campaigns.get(slug, CampaignMark()).merged(
            state.campaigns.get(slug, CampaignMark())
        )
    return merged


# --- The file -----------------------------------------------------------------------------------


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path``'s lock file (beside it) while the block runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def read_mark(path: Path, *, role: str | None = None) -> Mark | None:
    """The mark in ``path``, or None if there is none yet; a mark of another deployment role
    (an issuer's and a collector's databases hold different things) is refused."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise MarkFileProblem(f"Cannot read the high-water mark {path}: {error}") from error
    try:
        mark = Mark.from_json(json.loads(text))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise MarkFileProblem(
            f"The high-water mark {path} is not a valid mark file ({error}); "
            "move it aside and record a new one with `pingyi db check --record`"
        ) from error
    expected = role or get_settings().role.value
    if mark.role != expected:
        raise MarkFileProblem(
            f"The high-water mark {path} belongs to a deployment of role {mark.role}, this one "
            f"is {expected}: give each database its own PINGYI_HIGH_WATER_FILE"
        )
    return mark


def write_mark(path: Path, mark: Mark) -> None:
    """Write atomically: a temporary file beside it, fsynced, renamed over it, directory
    fsynced. The caller holds :func:`locked`."""
    draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    payload = json.dumps(mark.to_json(), indent=1, sort_keys=True).encode() + b"\n"
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(draft, path)
    except BaseException:
        draft.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def record(session: Session, path: Path | None = None) -> Mark:
    """Raise the mark in ``path`` to what the database holds now; return the new mark.

    Reads in the session's transaction and writes nothing to the database.
    """
    path = path or mark_path()
    with locked(path):
        mark = read_mark(path)
        state = database_state(session)
        merged = merge(mark, state, head_kept=mark is None or audit_head_kept(session, mark))
        if mark is None or merged.to_json() != mark.to_json():
            write_mark(path, merged)
    return merged


def replace(session: Session, path: Path | None = None) -> Mark:
    """Make the mark what the database holds now, lowering it where the database holds
    less (``pingyi db check --acknowledge``, once a restore's losses are dealt with)."""
    path = path or mark_path()
    with locked(path):
        read_mark(path)  # refuses another deployment's mark
        state = database_state(session)
        write_mark(path, state)
    return state


def record_now() -> None:
    """Record the mark from a session of its own that writes nothing."""
    from app.db import get_session_factory

    with get_session_factory()() as session:
        try:
            record(session)
        finally:
            session.rollback()


# --- In the server ------------------------------------------------------------------------------


def install(app: FastAPI) -> None:
    """Record the mark every ``PINGYI_HIGH_WATER_SECONDS`` while ``app`` runs (0: never).

    A task of the application's lifespan, off every request path; it logs only that a
    recording failed, never counts or anything about ratings.
    """
    seconds = get_settings().high_water_seconds
    if seconds <= 0:
        return
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(running_app: Any) -> AsyncIterator[Any]:
        task = asyncio.create_task(_record_every(seconds))
        try:
            async with inner(running_app) as state:
                yield state
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.router.lifespan_context = lifespan


async def _record_every(seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await to_thread.run_sync(record_now)
        except MarkFileProblem as error:
            log.warning("The high-water mark was not recorded: %s", error)
        except Exception as error:  # the server keeps serving; the next round tries again
            log.warning("The high-water mark was not recorded: %s", type(error).__name__)
