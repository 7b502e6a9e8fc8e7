"""A new batch's codes, held encrypted until the office has downloaded them once.

The plaintext codes exist only when a batch is issued. The console keeps them, encrypted
under a key derived from the server secret, until the office has downloaded them once as
CSV and once as a PDF of slips, or until they expire; then the row is deleted. Nothing
else ever holds them: not a URL, a log line or the audit trail.
"""

import base64
import datetime as dt
import enum
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import NoReturn

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.admission.models import CodeBatch, PendingCodes
from app.admission.service import IssuedBatch, list_batches
from app.campaigns.models import Campaign, RaterGroup, Target
from app.errors import NotFound, PingyiError
from app.i18n import N_

PENDING_KEY_CONTEXT = b"pingyi pending codes v1"
PENDING_LIFETIME = dt.timedelta(hours=24)


class DownloadFormat(enum.StrEnum):
    CSV = "csv"
    PDF = "pdf"


class CodesUnavailable(PingyiError):
    """A batch's codes cannot be downloaded (any more) in the format asked for."""

    status_code = 410
    code = "codes_unavailable"
    message = N_(
        "The codes of batch %(batch)s can no longer be downloaded: each file can be downloaded "
        "only once, before it expires. If the codes were lost, revoke the batch and issue a "
        "new one."
    )


class CodesAlreadyTaken(CodesUnavailable):
    status_code = 409
    code = "codes_taken"
    message = N_(
        "The %(format)s file of batch %(batch)s has already been downloaded. Each file can be "
        "downloaded only once."
    )


class CodesExpired(CodesUnavailable):
    code = "codes_expired"
    message = N_(
        "The codes of batch %(batch)s were not downloaded in time and have been deleted. "
        "Revoke the batch and issue a new one."
    )


class CodesUndecryptable(PingyiError):
    """Not a :class:`CodesUnavailable`: nothing may be marked taken when this is raised."""

    status_code = 500
    code = "codes_undecryptable"
    message = N_(
        "The codes of batch %(batch)s cannot be decrypted: the server secret has changed since "
        "they were issued. Revoke the batch and issue a new one."
    )


@dataclass(frozen=True)
class PendingDownload:
    """A batch's files that can still be downloaded, and until when."""

    batch_id: int
    formats: tuple[DownloadFormat, ...]
    expires_at: dt.datetime  # UTC


@dataclass(frozen=True)
class BatchSummary:
    batch: CodeBatch
    rater_group: RaterGroup
    target: Target | None  # None: the batch admits to every target
    pending: PendingDownload | None  # None: nothing left to download


def pending_codes_key(server_secret: bytes) -> bytes:
    """The Fernet key for held codes, derived so the server secret is never used directly."""
    digest = hmac.new(server_secret, PENDING_KEY_CONTEXT, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest)


def hold_for_download(
    session: Session,
    issued: IssuedBatch,
    key: bytes,
    *,
    lifetime: dt.timedelta,
    now: dt.datetime | None = None,
) -> PendingCodes:
    """Keep a new batch's codes, encrypted, until each format is downloaded once or expires.

    The plaintext names its batch, so a ciphertext copied onto another batch's row is refused
    when it is decrypted.
    """
    if lifetime <= dt.timedelta(0):
        raise ValueError(f"the download lifetime must be positive, not {lifetime}")
    plaintext = json.dumps(
        {"batch": issued.batch.id, "codes": issued.codes}, separators=(",", ":")
    ).encode("ascii")
    pending = PendingCodes(
        batch_id=issued.batch.id,
        ciphertext=Fernet(key).encrypt(plaintext),
        csv_taken=False,
        pdf_taken=False,
        expires_at=_utc(now) + lifetime,
    )
    session.add(pending)
    session.flush()
    return pending


def take_codes(
    session: Session,
    campaign: Campaign,
    batch_id: int,
    fmt: DownloadFormat,
    key: bytes,
    *,
    now: dt.datetime | None = None,
) -> list[str]:
    """The batch's codes for one download in ``fmt``, marking that format taken.

    Marking is a conditional UPDATE checked by its result, so of two concurrent takes of one
    format only one gets the codes. When both formats are taken the row is deleted. A second
    take of a format raises :class:`CodesAlreadyTaken`; an expired row, or one of a revoked
    batch, is deleted and :class:`CodesUnavailable` raised: the caller should still commit,
    so the deletion holds (the console answers such a refusal with a page, not an error).
    """
    batch = _campaign_batch(session, campaign, batch_id)
    current = _utc(now)
    if batch.revoked:
        _delete_pending(session, batch.id)
        raise CodesUnavailable(batch=batch.id)
    taken = PendingCodes.csv_taken if fmt == DownloadFormat.CSV else PendingCodes.pdf_taken
    row = session.execute(
        update(PendingCodes)
        .where(
            PendingCodes.batch_id == batch.id,
            taken.is_(False),
            PendingCodes.expires_at > current,
        )
        .values({taken: True})
        .returning(PendingCodes.ciphertext, PendingCodes.csv_taken, PendingCodes.pdf_taken)
        .execution_options(synchronize_session="fetch")
    ).one_or_none()
    if row is None:
        _refuse_take(session, batch.id, fmt, current)
    plaintext = _decrypt(key, batch.id, row.ciphertext)
    if row.csv_taken and row.pdf_taken:
        _delete_pending(session, batch.id)
    return plaintext


def pending_downloads(
    session: Session, campaign: Campaign, *, now: dt.datetime | None = None
) -> dict[int, PendingDownload]:
    """The campaign's batches with files still to download, by batch id (no ciphertext read)."""
    rows = session.execute(
        select(
            PendingCodes.batch_id,
            PendingCodes.csv_taken,
            PendingCodes.pdf_taken,
            PendingCodes.expires_at,
        )
        .join(CodeBatch, PendingCodes.batch_id == CodeBatch.id)
        .where(
            CodeBatch.campaign_id == campaign.id,
            CodeBatch.revoked.is_(False),
            PendingCodes.expires_at > _utc(now),
        )
    )
    pending: dict[int, PendingDownload] = {}
    for batch_id, csv_taken, pdf_taken, expires_at in rows:
        formats = tuple(
            fmt
            for fmt, taken in ((DownloadFormat.CSV, csv_taken), (DownloadFormat.PDF, pdf_taken))
            if not taken
        )
        if formats:
            pending[batch_id] = PendingDownload(batch_id, formats, _utc(expires_at))
    return pending


def batch_summaries(
    session: Session, campaign: Campaign, *, now: dt.datetime | None = None
) -> list[BatchSummary]:
    """The campaign's batches, oldest first, with their group, scope and pending downloads."""
    groups = {group.id: group for group in campaign.rater_groups}
    targets = {target.id: target for target in campaign.targets}
    pending = pending_downloads(session, campaign, now=now)
    return [
        BatchSummary(
            batch=batch,
            rater_group=groups[batch.rater_group_id],
            target=targets[batch.target_id] if batch.target_id is not None else None,
            pending=pending.get(batch.id),
        )
        for batch in list_batches(session, campaign)
    ]


def batch_summary(
    session: Session, campaign: Campaign, batch_id: int, *, now: dt.datetime | None = None
) -> BatchSummary:
    batch = _campaign_batch(session, campaign, batch_id)
    target = next((t for t in campaign.targets if t.id == batch.target_id), None)
    return BatchSummary(
        batch=batch,
        rater_group=next(g for g in campaign.rater_groups if g.id == batch.rater_group_id),
        target=target,
        pending=pending_downloads(session, campaign, now=now).get(batch.id),
    )


def discard_pending(session: Session, campaign: Campaign, batch_id: int) -> bool:
    """Delete a batch's held codes (when it is revoked, say); whether there were any."""
    batch = _campaign_batch(session, campaign, batch_id)
    return _delete_pending(session, batch.id) > 0


def discard_expired(session: Session, *, now: dt.datetime | None = None) -> int:
    """Delete every expired row of held codes, of any campaign; returns how many."""
    result = session.execute(
        delete(PendingCodes)
        .where(PendingCodes.expires_at <= _utc(now))
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount  # type: ignore[attr-defined, no-any-return]


def _campaign_batch(session: Session, campaign: Campaign, batch_id: int) -> CodeBatch:
    batch = session.get(CodeBatch, batch_id)
    if batch is None or batch.campaign_id != campaign.id:
        raise NotFound(name=f"{campaign.slug}/batch {batch_id}")
    return batch


def _refuse_take(
    session: Session, batch_id: int, fmt: DownloadFormat, now: dt.datetime
) -> NoReturn:
    """Raise why a take changed nothing; an expired row is deleted first."""
    row = session.execute(
        select(PendingCodes.csv_taken, PendingCodes.pdf_taken, PendingCodes.expires_at).where(
            PendingCodes.batch_id == batch_id
        )
    ).one_or_none()
    if row is None:
        raise CodesUnavailable(batch=batch_id)
    if _utc(row.expires_at) <= now:
        _delete_pending(session, batch_id)
        raise CodesExpired(batch=batch_id)
    raise CodesAlreadyTaken(batch=batch_id, format=fmt.value.upper())


def _decrypt(key: bytes, batch_id: int, ciphertext: bytes) -> list[str]:
    try:
        held = json.loads(Fernet(key).decrypt(ciphertext))
    except InvalidToken:
        raise CodesUndecryptable(batch=batch_id) from None
    if held.get("batch") != batch_id:
        raise CodesUndecryptable(batch=batch_id)
    return [str(code) for code in held["codes"]]


def _delete_pending(session: Session, batch_id: int) -> int:
    result = session.execute(
        delete(PendingCodes)
        .where(PendingCodes.batch_id == batch_id)
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount  # type: ignore[attr-defined, no-any-return]


def _utc(moment: dt.datetime | None) -> dt.datetime:
    """``moment`` (now if None) as an aware UTC time; a naive one (SQLite's) is taken as UTC."""
    if moment is None:
        return dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)
