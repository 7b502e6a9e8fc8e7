"""Trustees' shares in the office console: handed out once after the tally key is made, and
taken in one by one when the trustees open the ballot box.

Out. When the office makes a campaign's tally key in the console, each trustee's share is
held (:class:`~app.ballot_box.models.PendingShare`) until it has been downloaded once as a
share file (JSON) and once as a printable page (PDF), or for 24 hours; then it is deleted.
A share is encrypted with Fernet under a key derived (HKDF-SHA256) from the server secret
*and* a random 32-byte key that lives only in a cookie of the browser that made the tally
key, bound to the account that made it (:func:`pending_shares_key`). Neither the database
with the server secret (a database administrator who also reads the configuration) nor the
cookie alone (whoever copies the browser's cookies) can read a share: it takes both, and
only for those 24 hours. Nothing else holds a share: no URL, log line or audit entry.

In. For the tally, each trustee enters their share in their own console session. A share is
checked against the campaign and its key, and against the shares already held (same
SLIP-0039 identifier, a trustee not yet counted), and kept
(:class:`~app.ballot_box.models.EnteredShare`) encrypted under a key derived from the server
secret. At most threshold − 1 shares are ever stored: the share that completes the threshold
is never written anywhere. In that same request the held shares are decrypted, the box is
opened and counted (``app.campaigns.lifecycle.tally_campaign``), and the held shares are
deleted, all in one transaction. An administrator can discard the held shares at any time.

What this trusts: entering shares in the console trusts the server while the tally runs.
The tally key is rebuilt in the server's memory, and the shares held until then are readable
by whoever has the database and the server secret; an operator who changed the running code
could keep the key. The offline tally (``pingyi ballot-box export``, then ``pingyi tally
--offline`` on a trustee's machine) does not: the key is rebuilt only on that machine.

Services here never commit; the console's request commits once.
"""

import base64
import binascii
import datetime as dt
import enum
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

import shamir_mnemonic
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.audit import service as audit_service
from app.ballot_box import service as box_service
from app.ballot_box import shares as share_format
from app.ballot_box.models import EnteredShare, PendingShare, Tally, TallyKey
from app.campaigns import lifecycle
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign
from app.errors import InvalidInput, PingyiError
from app.i18n import N_, gettext

SHARES_COOKIE = "pingyi_trustee_shares"
PENDING_LIFETIME = dt.timedelta(hours=24)
BROWSER_KEY_BYTES = 32
_PENDING_CONTEXT = b"pingyi pending trustee shares v1"
_ENTERED_CONTEXT = b"pingyi entered trustee shares v1"


class ShareFormat(enum.StrEnum):
    JSON = "json"
    PDF = "pdf"


# --- out: the shares of a new tally key, each downloaded once per format -------------------


class ShareDownloadRefused(PingyiError):
    """A share cannot be downloaded (any more) in the format asked for."""

    status_code = 410
    code = "share_unavailable"
    message = N_(
        "The share of trustee %(trustee)s can no longer be downloaded: each file can be "
        "downloaded only once, within %(hours)s hours of making the tally key. If a share was "
        "lost, make the tally key again while the campaign is a draft."
    )


class ShareAlreadyTaken(ShareDownloadRefused):
    status_code = 409
    code = "share_taken"
    message = N_(
        "The %(format)s file of trustee %(trustee)s's share has already been downloaded. Each "
        "file can be downloaded only once."
    )


class SharesExpired(ShareDownloadRefused):
    code = "shares_expired"
    message = N_(
        "The shares were not downloaded within %(hours)s hours and have been deleted. Make the "
        "tally key again while the campaign is a draft."
    )


class ShareNotThisBrowser(ShareDownloadRefused):
    """The browser key is missing or is not the one the shares were held under: nothing is
    marked taken."""

    status_code = 403
    code = "share_not_this_browser"
    message = N_(
        "The shares of “%(slug)s” can be downloaded only in the browser, and by the account, "
        "that made the tally key. This browser holds no key to them: it is another browser or "
        "another account, or its cookies were deleted. If they cannot be downloaded there, make "
        "the tally key again while the campaign is a draft."
    )


@dataclass(frozen=True)
class PendingDownload:
    """A trustee's share files that can still be downloaded, and until when."""

    trustee: int
    formats: tuple[ShareFormat, ...]
    expires_at: dt.datetime  # UTC


def new_browser_key() -> bytes:
    """The random key that only the creating browser's cookie holds."""
    return secrets.token_bytes(BROWSER_KEY_BYTES)


def browser_key_text(browser_key: bytes) -> str:
    """A browser key as cookie text (URL-safe base64, unpadded)."""
    return base64.urlsafe_b64encode(browser_key).rstrip(b"=").decode("ascii")


def browser_key_from_text(text: str | None) -> bytes | None:
    """The browser key a cookie holds, or None when there is none or it is malformed."""
    if not text or len(text) > 2 * BROWSER_KEY_BYTES:
        return None
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return key if len(key) == BROWSER_KEY_BYTES else None


def pending_shares_key(
    server_secret: bytes, browser_key: bytes, *, campaign_id: int, staff_id: int
) -> bytes:
    """The Fernet key for a campaign's held shares: HKDF-SHA256 of the browser key, salted
    with a key derived from the server secret, for one campaign and one staff account. Either
    secret alone derives nothing useful."""
    if len(browser_key) != BROWSER_KEY_BYTES:
        raise ValueError(f"a browser key has {BROWSER_KEY_BYTES} bytes, not {len(browser_key)}")
    salt = hmac.new(server_secret, _PENDING_CONTEXT, hashlib.sha256).digest()
    info = _PENDING_CONTEXT + f" campaign {campaign_id} staff {staff_id}".encode("ascii")
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(browser_key)
    return base64.urlsafe_b64encode(derived)


def lifetime_hours() -> int:
    return int(PENDING_LIFETIME.total_seconds() // 3600)


def hold_shares(
    session: Session,
    campaign: Campaign,
    made: box_service.NewTallyKey,
    key: bytes,
    *,
    lifetime: dt.timedelta = PENDING_LIFETIME,
    now: dt.datetime | None = None,
) -> list[PendingShare]:
    """Keep a new tally key's shares, encrypted, until each format is downloaded once.

    Shares held for an earlier key of the campaign are deleted first: they open nothing now.
    Each plaintext names its campaign, trustee and key, so a ciphertext copied onto another
    row is refused when it is decrypted.
    """
    if lifetime <= dt.timedelta(0):
        raise ValueError(f"the download lifetime must be positive, not {lifetime}")
    discard_pending(session, campaign)
    expires_at = _utc(now) + lifetime
    fernet = Fernet(key)
    held = [
        PendingShare(
            campaign_id=campaign.id,
            trustee=share.trustee,
            ciphertext=fernet.encrypt(
                _held_plaintext(campaign.id, share.trustee, share.fingerprint, share.dump())
            ),
            json_taken=False,
            pdf_taken=False,
            expires_at=expires_at,
        )
        for share in made.share_files
    ]
    session.add_all(held)
    session.flush()
    return held


def pending_downloads(
    session: Session, campaign: Campaign, *, now: dt.datetime | None = None
) -> list[PendingDownload]:
    """The campaign's shares with files still to download, by trustee (no ciphertext read)."""
    rows = session.execute(
        select(
            PendingShare.trustee,
            PendingShare.json_taken,
            PendingShare.pdf_taken,
            PendingShare.expires_at,
        )
        .where(PendingShare.campaign_id == campaign.id, PendingShare.expires_at > _utc(now))
        .order_by(PendingShare.trustee)
    )
    downloads: list[PendingDownload] = []
    for trustee, json_taken, pdf_taken, expires_at in rows:
        formats = tuple(
            fmt
            for fmt, taken in ((ShareFormat.JSON, json_taken), (ShareFormat.PDF, pdf_taken))
            if not taken
        )
        if formats:
            downloads.append(PendingDownload(trustee, formats, _utc(expires_at)))
    return downloads


def take_share(
    session: Session,
    campaign: Campaign,
    trustee: int,
    fmt: ShareFormat,
    key: bytes | None,
    *,
    now: dt.datetime | None = None,
) -> share_format.ShareFile:
    """A trustee's share for one download in ``fmt``, marking that format taken.

    ``key`` is :func:`pending_shares_key` of this browser's cookie, or None when it has none.
    The share is decrypted before anything is marked, so a browser without the key changes
    nothing (:class:`ShareNotThisBrowser`). Marking is then a conditional UPDATE checked by
    its result, so of two concurrent takes of one format only one gets the share. When both
    formats are taken the row is deleted; an expired row is deleted and
    :class:`SharesExpired` raised: the caller should still commit, so the deletion holds.
    """
    current = _utc(now)
    row = session.execute(
        select(
            PendingShare.ciphertext,
            PendingShare.json_taken,
            PendingShare.pdf_taken,
            PendingShare.expires_at,
        ).where(PendingShare.campaign_id == campaign.id, PendingShare.trustee == trustee)
    ).one_or_none()
    hours = lifetime_hours()
    if row is None:
        raise ShareDownloadRefused(trustee=trustee, hours=hours)
    if _utc(row.expires_at) <= current:
        discard_expired(session, now=current)
        raise SharesExpired(hours=hours)
    taken_before = row.json_taken if fmt == ShareFormat.JSON else row.pdf_taken
    if taken_before:
        raise ShareAlreadyTaken(trustee=trustee, format=fmt.value.upper())
    if key is None:
        raise ShareNotThisBrowser(slug=campaign.slug)
    share = _decrypt_held(key, campaign, trustee, bytes(row.ciphertext))
    taken = PendingShare.json_taken if fmt == ShareFormat.JSON else PendingShare.pdf_taken
    marked = session.execute(
        update(PendingShare)
        .where(
            PendingShare.campaign_id == campaign.id,
            PendingShare.trustee == trustee,
            taken.is_(False),
            PendingShare.expires_at > current,
        )
        .values({taken: True})
        .returning(PendingShare.json_taken, PendingShare.pdf_taken)
        .execution_options(synchronize_session="fetch")
    ).one_or_none()
    if marked is None:  # taken (or expired) by a concurrent request since the read above
        raise ShareAlreadyTaken(trustee=trustee, format=fmt.value.upper())
    if marked.json_taken and marked.pdf_taken:
        session.execute(
            delete(PendingShare)
            .where(PendingShare.campaign_id == campaign.id, PendingShare.trustee == trustee)
            .execution_options(synchronize_session="fetch")
        )
    return share


def discard_pending(session: Session, campaign: Campaign) -> int:
    """Delete every share held for download of the campaign; how many there were."""
    result = session.execute(
        delete(PendingShare)
        .where(PendingShare.campaign_id == campaign.id)
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount  # type: ignore[attr-defined, no-any-return]


def discard_expired(session: Session, *, now: dt.datetime | None = None) -> int:
    """Delete every expired held share, of any campaign; how many there were."""
    result = session.execute(
        delete(PendingShare)
        .where(PendingShare.expires_at <= _utc(now))
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount  # type: ignore[attr-defined, no-any-return]


def _held_plaintext(campaign_id: int, trustee: int, fingerprint: str, share_text: str) -> bytes:
    document = {
        "campaign": campaign_id,
        "trustee": trustee,
        "fingerprint": fingerprint,
        "share": share_text,
    }
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


def _decrypt_held(
    key: bytes, campaign: Campaign, trustee: int, ciphertext: bytes
) -> share_format.ShareFile:
    try:
        held = json.loads(Fernet(key).decrypt(ciphertext))
    except InvalidToken:
        raise ShareNotThisBrowser(slug=campaign.slug) from None
    if held.get("campaign") != campaign.id or held.get("trustee") != trustee:
        raise ShareNotThisBrowser(slug=campaign.slug)
    return share_format.ShareFile.model_validate_json(held["share"])


# --- in: trustees' shares entered for the tally --------------------------------------------


NO_TALLY_KEY = N_(
    "Campaign “%(slug)s” has no tally key: its ballots were stored as they came, so opening "
    "it needs no trustee's share."
)
TRUSTEE_OUT_OF_RANGE = N_(
    "%(source)s is the share of trustee %(trustee)s, but the tally key of “%(slug)s” was "
    "shared among %(count)s trustees: it belongs to another key."
)
OTHER_THRESHOLD = N_(
    "%(source)s needs %(needed)s shares to open its box, but the tally key of “%(slug)s” needs "
    "%(threshold)s: it belongs to another key."
)
OTHER_SPLIT = N_(
    "%(source)s does not belong with the shares already entered for “%(slug)s”: it was made "
    "for another key (another campaign's, or a key made again before the campaign opened). "
    "If the shares already entered are the wrong ones, an administrator can discard them."
)
TRUSTEE_TWICE = N_(
    "The share of trustee %(trustee)s has already been entered (by %(entered_by)s). Each "
    "trustee's share counts once: the next share must be another trustee's."
)


class SharesUndecryptable(PingyiError):
    """The held shares cannot be read back: the server secret changed since they were
    entered, or a row was tampered with."""

    status_code = 409
    code = "shares_undecryptable"
    message = N_(
        "The shares entered so far for “%(slug)s” cannot be read back: the server secret has "
        "changed since they were entered. An administrator must discard them; then the "
        "trustees enter their shares again."
    )


@dataclass(frozen=True)
class Entered:
    """What entering a share did: kept it, or completed the threshold and opened the box."""

    trustee: int
    tally: Tally | None  # the tally, when this share opened the box (it was never stored)


def entered_shares_key(server_secret: bytes) -> bytes:
    """The Fernet key for entered shares, derived so the server secret is never used directly."""
    digest = hmac.new(server_secret, _ENTERED_CONTEXT, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest)


def entered_shares(session: Session, campaign: Campaign) -> list[EnteredShare]:
    """The shares entered for the campaign's tally so far, by trustee."""
    return list(
        session.scalars(
            select(EnteredShare)
            .where(EnteredShare.campaign_id == campaign.id)
            .order_by(EnteredShare.trustee)
        )
    )


def enter_share(
    session: Session,
    campaign: Campaign,
    share: share_format.Share,
    key: bytes,
    *,
    entered_by: str,
) -> Entered:
    """Take one trustee's share for the tally of a closed campaign (see the module).

    Refused (:class:`~app.errors.InvalidInput`, nothing changed) when the share names another
    campaign or key, does not match the shares already held, or is a trustee's already held.
    A share that leaves the held ones short of the threshold is stored encrypted; the one
    that completes it opens the box at once, in this transaction, and is never stored.
    Audited as ``tally_share_enter`` (trustee number and who entered it, never the share).
    """
    tally_key = _lock_for_tally(session, campaign)
    _check_share(campaign, tally_key, share)
    held = _held_shares(session, campaign, key)
    identifier = share.identifier
    for row, held_share in held:
        if row.trustee == share.index:
            raise InvalidInput(
                TRUSTEE_TWICE, field="share", trustee=row.trustee, entered_by=row.entered_by
            )
        if held_share.identifier != identifier:
            raise InvalidInput(
                OTHER_SPLIT, field="share", source=_source(share), slug=campaign.slug
            )
    detail: dict[str, object] = {"trustee": share.index, "entered_by": entered_by}
    if len(held) + 1 < tally_key.threshold:
        session.add(
            EnteredShare(
                campaign_id=campaign.id,
                trustee=share.index,
                ciphertext=Fernet(key).encrypt(
                    _entered_plaintext(campaign.id, share.index, share.words)
                ),
                entered_by=entered_by,
            )
        )
        session.flush()
        _audit(session, entered_by, campaign, "tally_share_enter", detail)
        return Entered(trustee=share.index, tally=None)
    # The last share: open the box now. Whether the shares rebuild this campaign's key is
    # checked before anything is written, so that a refusal leaves the held shares as they
    # were; the tally refuses nothing else once the campaign is locked and closed. (Not a
    # savepoint: releasing one runs the seal's after-commit vacuum while this transaction is
    # still open, and the vacuum then waits on this very transaction.)
    entered = [held_share for _row, held_share in held] + [share]
    share_format.rebuild_key(
        entered,
        campaign_slug=campaign.slug,
        key_fingerprint=bytes(tally_key.fingerprint),
        threshold=tally_key.threshold,
    )
    _delete_entered(session, campaign)
    _audit(session, entered_by, campaign, "tally_share_enter", {**detail, "opens_box": True})
    tally = lifecycle.tally_campaign(session, campaign, entered, actor=entered_by)
    return Entered(trustee=share.index, tally=tally)


def discard_entered(session: Session, campaign: Campaign, *, actor: str) -> int:
    """Delete the shares entered for the campaign's tally (audited); how many there were."""
    discarded = _delete_entered(session, campaign)
    if discarded:
        _audit(session, actor, campaign, "tally_shares_discard", {"discarded": discarded})
    return discarded


def _lock_for_tally(session: Session, campaign: Campaign) -> TallyKey:
    """Lock the campaign row and refuse unless its box can be opened; its tally key.

    Entering shares for one campaign is thereby one at a time (PostgreSQL; on SQLite the
    console's write transaction already is), so never more than threshold − 1 are stored.
    """
    session.execute(select(Campaign.id).where(Campaign.id == campaign.id).with_for_update())
    session.refresh(campaign, ["status"])
    refusal = campaign_service.transition_refusal(campaign, "tally")
    if refusal is not None:
        raise refusal
    tally_key = box_service.tally_key_of(session, campaign)
    if tally_key is None:
        raise InvalidInput(NO_TALLY_KEY, field="share", slug=campaign.slug)
    return tally_key


def _check_share(campaign: Campaign, tally_key: TallyKey, share: share_format.Share) -> None:
    """What can be checked of one share alone: its file's campaign and key, its number and
    threshold against the campaign's key."""
    source = _source(share)
    if share.campaign is not None and share.campaign != campaign.slug:
        raise InvalidInput(
            share_format.WRONG_CAMPAIGN,
            field="share",
            source=source,
            other=share.campaign,
            slug=campaign.slug,
        )
    if share.fingerprint is not None and share.fingerprint != bytes(tally_key.fingerprint).hex():
        raise InvalidInput(share_format.WRONG_KEY, field="share", source=source, slug=campaign.slug)
    parsed = shamir_mnemonic.Share.from_mnemonic(share.words)
    if share.index > tally_key.share_count:
        raise InvalidInput(
            TRUSTEE_OUT_OF_RANGE,
            field="share",
            source=source,
            trustee=share.index,
            slug=campaign.slug,
            count=tally_key.share_count,
        )
    if int(parsed.member_threshold) != tally_key.threshold:
        raise InvalidInput(
            OTHER_THRESHOLD,
            field="share",
            source=source,
            needed=int(parsed.member_threshold),
            slug=campaign.slug,
            threshold=tally_key.threshold,
        )


def _held_shares(
    session: Session, campaign: Campaign, key: bytes
) -> list[tuple[EnteredShare, share_format.Share]]:
    held: list[tuple[EnteredShare, share_format.Share]] = []
    fernet = Fernet(key)
    for row in entered_shares(session, campaign):
        try:
            document = json.loads(fernet.decrypt(bytes(row.ciphertext)))
        except InvalidToken:
            raise SharesUndecryptable(slug=campaign.slug) from None
        if document.get("campaign") != campaign.id or document.get("trustee") != row.trustee:
            raise SharesUndecryptable(slug=campaign.slug)
        held.append((row, share_format.Share(words=str(document["words"]))))
    return held


def _entered_plaintext(campaign_id: int, trustee: int, words: str) -> bytes:
    document = {"campaign": campaign_id, "trustee": trustee, "words": words}
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


def _delete_entered(session: Session, campaign: Campaign) -> int:
    result = session.execute(
        delete(EnteredShare)
        .where(EnteredShare.campaign_id == campaign.id)
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount  # type: ignore[attr-defined, no-any-return]


def _source(share: share_format.Share) -> str:
    return share.source or gettext(share_format.A_SHARE)


def _audit(
    session: Session, actor: str, campaign: Campaign, action: str, detail: dict[str, object]
) -> None:
    audit_service.record(
        session, actor=actor, action=action, object=f"campaign:{campaign.slug}", detail=detail
    )


def _utc(moment: dt.datetime | None) -> dt.datetime:
    """``moment`` (now if None) as an aware UTC time; a naive one (SQLite's) is taken as UTC."""
    if moment is None:
        return dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)
