"""After a restore: what the database lost against the high-water mark, and closing the
codes and credentials it re-opened so nobody can rate twice (``pingyi db check``).

A restored database has forgotten the ballots acknowledged after its backup, and with them
that their codes were used and their credentials spent: those codes and credentials work
again. :func:`compare` finds both from the mark (``app.ops.high_water``); :func:`void_reopened`
marks the codes used and puts the credentials back in the spent set, in the caller's
transaction. The lost ballots themselves cannot come back from this database.
"""

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from app.admission.models import AdmissionCode, CodeStatus
from app.credentials.models import CredentialKey, RosterMember, SpentCredential
from app.ops import high_water

CHUNK = 500  # hashes per IN (...) list, well under SQLite's limit on bound parameters
_T = TypeVar("_T")


@dataclass
class CampaignLoss:
    """What one campaign lost against the mark; the hashes are kept for voiding, never shown."""

    slug: str
    campaign_missing: bool = False
    ballots_missing: int = 0
    evaluations_missing: int = 0
    reopened_by_batch: Counter[int] = field(default_factory=Counter)
    codes_gone: int = 0  # used codes whose rows are gone with their batch: they admit nobody
    reopened_codes: list[bytes] = field(default_factory=list)
    respendable: list[tuple[bytes, int]] = field(default_factory=list)  # (hash, key id)
    reserved_members: list[bytes] = field(default_factory=list)  # could be served again

    @property
    def any(self) -> bool:
        return bool(
            self.campaign_missing
            or self.ballots_missing
            or self.evaluations_missing
            or self.reopened_codes
            or self.respendable
            or self.reserved_members
            or self.codes_gone
        )

    def line(self) -> str:
        if self.campaign_missing:
            return (
                f"campaign {self.slug}: missing from the database, with "
                f"{count(self.ballots_missing, 'ballot', 'ballots')} and "
                f"{count(self.evaluations_missing, 'evaluation', 'evaluations')} acknowledged "
                "before the restore"
            )
        parts: list[str] = []
        if self.ballots_missing:
            parts.append(
                f"{count(self.ballots_missing, 'ballot', 'ballots')} acknowledged before the "
                f"restore {_are(self.ballots_missing)} missing"
            )
        if self.evaluations_missing:
            parts.append(
                f"{count(self.evaluations_missing, 'evaluation', 'evaluations')} stored before "
                f"the restore {_are(self.evaluations_missing)} missing"
            )
        if self.reopened_codes:
            batches = ", ".join(
                f"batch {batch}: {count}" for batch, count in sorted(self.reopened_by_batch.items())
            )
            parts.append(
                f"{count(len(self.reopened_codes), 'code', 'codes')} used before the restore "
                f"{_are(len(self.reopened_codes))} usable again ({batches})"
            )
        if self.respendable:
            parts.append(
                f"{count(len(self.respendable), 'credential', 'credentials')} spent before the "
                "restore could be spent again"
            )
        if self.reserved_members:
            parts.append(
                f"{count(len(self.reserved_members), 'roster member', 'roster members')} served "
                "a credential before the restore could be served another"
            )
        if self.codes_gone:
            parts.append(
                f"{count(self.codes_gone, 'code', 'codes')} used before the restore "
                f"{_are(self.codes_gone)} gone with {'its' if self.codes_gone == 1 else 'their'} "
                "batch (such slips admit nobody now)"
            )
        return f"campaign {self.slug}: " + "; ".join(parts)


@dataclass
class Report:
    """The comparison of the database with the mark."""

    audit_problem: str | None
    campaigns: list[CampaignLoss]

    @property
    def losses(self) -> list[CampaignLoss]:
        return [campaign for campaign in self.campaigns if campaign.any]

    @property
    def reopened(self) -> bool:
        return any(
            campaign.reopened_codes or campaign.respendable or campaign.reserved_members
            for campaign in self.campaigns
        )

    @property
    def ok(self) -> bool:
        return self.audit_problem is None and not self.losses

    def lines(self) -> list[str]:
        lines = [campaign.line() for campaign in self.losses]
        if self.audit_problem is not None:
            lines.append(self.audit_problem)
        return lines


def compare(session: Session, mark: high_water.Mark) -> Report:
    """Compare the database, in the session's transaction, with ``mark``."""
    state = high_water.database_state(session)
    campaigns: list[CampaignLoss] = []
    for slug, recorded in sorted(mark.campaigns.items()):
        loss = CampaignLoss(slug)
        now = state.campaigns.get(slug)
        if now is None:
            loss.campaign_missing = True
            now = high_water.CampaignMark()
        loss.ballots_missing = len(recorded.ballots - now.ballots)
        loss.evaluations_missing = max(0, recorded.evaluations - now.evaluations)
        _find_reopened_codes(session, recorded.used_codes - now.used_codes, loss)
        for fingerprint, hashes in sorted(recorded.spent_credentials.items()):
            missing = hashes - now.spent_credentials.get(fingerprint, set())
            if missing:
                _find_respendable(session, fingerprint, missing, loss)
        loss.reserved_members = sorted(
            bytes.fromhex(value) for value in recorded.served_members - now.served_members
        )
        campaigns.append(loss)
    return Report(audit_problem=_audit_problem(session, mark, state), campaigns=campaigns)


def _find_reopened_codes(session: Session, hashes: set[str], loss: CampaignLoss) -> None:
    seen = 0
    for chunk in _chunks(sorted(hashes)):
        rows = session.execute(
            select(AdmissionCode.code_hash, AdmissionCode.batch_id, AdmissionCode.status).where(
                AdmissionCode.code_hash.in_([bytes.fromhex(value) for value in chunk])
            )
        )
        for code_hash, batch_id, status in rows:
            seen += 1
            if status == CodeStatus.UNUSED:  # a revoked code admits nobody: nothing to void
                loss.reopened_codes.append(bytes(code_hash))
                loss.reopened_by_batch[batch_id] += 1
    loss.codes_gone = len(hashes) - seen


def _find_respendable(
    session: Session, fingerprint: str, hashes: set[str], loss: CampaignLoss
) -> None:
    """Spent credentials the spent set has forgotten, if their key is still there to verify
    them (without it they admit nobody)."""
    key_id = session.scalar(
        select(CredentialKey.id).where(CredentialKey.fingerprint == bytes.fromhex(fingerprint))
    )
    if key_id is not None:
        loss.respendable.extend((bytes.fromhex(value), key_id) for value in sorted(hashes))


def _audit_problem(session: Session, mark: high_water.Mark, state: high_water.Mark) -> str | None:
    if high_water.audit_head_kept(session, mark):
        return None
    if state.audit_sequence < mark.audit_sequence:
        missing = mark.audit_sequence - state.audit_sequence
        return (
            f"audit trail: {count(missing, 'entry', 'entries')} recorded before the restore "
            f"{_are(missing)} missing (the database ends at entry {state.audit_sequence}; the "
            f"mark recorded entry {mark.audit_sequence}, hash {mark.audit_hash})"
        )
    return (
        f"audit trail: entry {mark.audit_sequence} is not the one recorded (hash "
        f"{mark.audit_hash}): the trail was restored or rewritten and has grown again since"
    )


@dataclass(frozen=True)
class Voided:
    slug: str
    codes: int
    credentials: int
    roster_members: int


def void_reopened(session: Session, report: Report) -> list[Voided]:
    """Mark the re-opened codes used, add the forgotten spent credentials back and mark the
    roster members served again, in the
    caller's transaction (on SQLite, begin it IMMEDIATE). Codes used meanwhile stay used."""
    voided: list[Voided] = []
    for loss in report.campaigns:
        if not (loss.reopened_codes or loss.respendable or loss.reserved_members):
            continue
        codes = 0
        for code_chunk in _chunks(loss.reopened_codes):
            result = session.execute(
                update(AdmissionCode)
                .where(
                    AdmissionCode.code_hash.in_(code_chunk),
                    AdmissionCode.status == CodeStatus.UNUSED,
                )
                .values(status=CodeStatus.USED)
                .execution_options(synchronize_session=False)
            )
            codes += result.rowcount  # type: ignore[attr-defined]
        credentials = 0
        for chunk in _chunks(loss.respendable):
            spent = set(
                session.scalars(
                    select(SpentCredential.message_hash).where(
                        SpentCredential.message_hash.in_([value for value, _ in chunk])
                    )
                )
            )
            rows = [
                {"message_hash": value, "key_id": key_id}
                for value, key_id in chunk
                if value not in spent
            ]
            if rows:
                session.execute(insert(SpentCredential), rows)
                credentials += len(rows)
        members = 0
        for member_chunk in _chunks(loss.reserved_members):
            result = session.execute(
                update(RosterMember)
                .where(
                    RosterMember.identifier_hash.in_(member_chunk),
                    RosterMember.credential_issued.is_(False),
                )
                .values(credential_issued=True)
                .execution_options(synchronize_session=False)
            )
            members += result.rowcount  # type: ignore[attr-defined]
        voided.append(Voided(loss.slug, codes, credentials, members))
    return voided


def _chunks(values: Iterable[_T]) -> Iterator[list[_T]]:
    chunk: list[_T] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def count(number: int, singular: str, plural: str) -> str:
    return f"{number} {singular if number == 1 else plural}"


def _are(number: int) -> str:
    return "is" if number == 1 else "are"
