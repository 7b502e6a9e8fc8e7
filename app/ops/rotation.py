"""Rotating the server secret: re-encrypt what is encrypted under it, in one transaction.

The new secret is ``PINGYI_SECRET_KEY``; the old one is whichever of
``PINGYI_PREVIOUS_SECRET_KEYS`` the database's check value names. So the configuration that
runs the rotation is the one the service runs with afterwards, and an old secret too weak for
today's rule can still be rotated away from.

Re-encrypted: the credential signing keys' private keys, the codes of new batches held for
their one download, and the trustees' shares entered for a tally. The trustees' shares held
for download after a tally key is made cannot be: their key needs a browser's cookie too
(``app.ballot_box.console_shares``), so a rotation waits until they are downloaded or expire.

What rotation cannot change, the command says after it commits: admission codes and roster
identifiers are stored as hashes keyed by the old secret (it stays in
``PINGYI_PREVIOUS_SECRET_KEYS`` for looking them up), and everything signed with the old
secret (console and roster sessions, forms in flight) is no longer accepted.
"""

import datetime as dt
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.admission import pending as pending_codes
from app.admission.models import PendingCodes
from app.audit import service as audit_service
from app.ballot_box import console_shares
from app.ballot_box.models import EnteredShare, PendingShare
from app.credentials import blind_rsa
from app.credentials.models import CredentialKey
from app.errors import PingyiError
from app.i18n import N_
from app.ops import secret as secret_check
from app.ops.models import SecretCheck


class RotationRefused(PingyiError):
    """The secret cannot be rotated as things are; the message says why and what to do."""

    status_code = 409
    code = "rotation_refused"


NO_CHECK_VALUE = N_(
    "This database has no check value of its secret yet, so it cannot tell which secret it "
    "was set up with: run any command (for example `pingyi campaign list`) once with the old "
    "secret as PINGYI_SECRET_KEY, then rotate."
)
ALREADY_CURRENT = N_("Nothing to rotate: this database is already set up with PINGYI_SECRET_KEY.")
OLD_SECRET_UNKNOWN = N_(
    "None of the secrets in PINGYI_PREVIOUS_SECRET_KEYS is the one this database was set up "
    "with: put the old secret there (and the new one in PINGYI_SECRET_KEY), then rotate."
)
SHARES_HELD = N_(
    "Trustees' shares of %(campaigns)s are waiting in the console to be downloaded; they are "
    "encrypted with a key that only the browser that made them holds, so they cannot be "
    "re-encrypted. Download them (or wait until they expire, %(hours)s hours after they were "
    "made), then rotate."
)
UNDECRYPTABLE = N_(
    "%(what)s cannot be decrypted with the old secret, so nothing was changed: the data was "
    "not all encrypted under the secret this database's check value names."
)


@dataclass(frozen=True)
class Rotated:
    """How many things rotation re-encrypted."""

    credential_keys: int
    held_code_batches: int
    entered_shares: int


def old_secret_of(session: Session, new_secret: bytes, previous: tuple[bytes, ...]) -> bytes:
    """The secret the database was set up with, among ``previous``; refuses otherwise."""
    stored = secret_check.stored_check_value(session.connection())
    if stored is None:
        raise RotationRefused(NO_CHECK_VALUE)
    if secret_check.matches(stored, new_secret):
        raise RotationRefused(ALREADY_CURRENT)
    for candidate in previous:
        if secret_check.matches(stored, candidate):
            return candidate
    raise RotationRefused(OLD_SECRET_UNKNOWN)


def rotate(
    session: Session,
    new_secret: bytes,
    previous: tuple[bytes, ...],
    *,
    actor: str,
    now: dt.datetime | None = None,
) -> Rotated:
    """Re-encrypt everything under ``new_secret`` and record its check value (audited as
    ``secret_rotate``). In the caller's transaction: any failure leaves everything as it was.
    """
    moment = now or dt.datetime.now(dt.UTC)
    # The write lock first (SQLite), and the check value row locked (PostgreSQL): two
    # rotations, or a rotation and a first start, do not interleave.
    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
    session.execute(select(SecretCheck.id).with_for_update())
    old_secret = old_secret_of(session, new_secret, previous)
    _refuse_held_shares(session, moment)
    rotated = Rotated(
        credential_keys=_rotate_credential_keys(session, old_secret, new_secret),
        held_code_batches=_rotate_pending_codes(session, old_secret, new_secret),
        entered_shares=_rotate_entered_shares(session, old_secret, new_secret),
    )
    session.execute(
        update(SecretCheck)
        .where(SecretCheck.id == secret_check.CHECK_ROW_ID)
        .values(check_value=secret_check.check_value(new_secret))
    )
    audit_service.record(
        session,
        actor=actor,
        action="secret_rotate",
        object="server_secret",
        detail={
            "credential_keys": rotated.credential_keys,
            "held_code_batches": rotated.held_code_batches,
            "entered_shares": rotated.entered_shares,
        },
    )
    session.flush()
    return rotated


def _refuse_held_shares(session: Session, now: dt.datetime) -> None:
    from app.campaigns.models import Campaign

    slugs = list(
        session.scalars(
            select(Campaign.slug)
            .join(PendingShare, PendingShare.campaign_id == Campaign.id)
            .where(PendingShare.expires_at > now)
            .group_by(Campaign.slug)
            .order_by(func.min(Campaign.id))
        )
    )
    if slugs:
        raise RotationRefused(
            SHARES_HELD,
            campaigns=", ".join(f"“{slug}”" for slug in slugs),
            hours=console_shares.lifetime_hours(),
        )


def _rotate_credential_keys(session: Session, old_secret: bytes, new_secret: bytes) -> int:
    keys = session.scalars(
        select(CredentialKey)
        .where(CredentialKey.private_key.is_not(None))
        .order_by(CredentialKey.id)
    ).all()
    for key in keys:
        fingerprint = bytes(key.fingerprint)
        try:
            private_key = blind_rsa.decrypt_private_key(
                bytes(key.private_key or b""), old_secret, fingerprint
            )
        except blind_rsa.KeyDecryptionFailed:
            raise RotationRefused(UNDECRYPTABLE, what=f"credential key {key.id}") from None
        key.private_key = blind_rsa.encrypt_private_key(private_key, new_secret, fingerprint)
    return len(keys)


def _rotate_pending_codes(session: Session, old_secret: bytes, new_secret: bytes) -> int:
    old = Fernet(pending_codes.pending_codes_key(old_secret))
    new = Fernet(pending_codes.pending_codes_key(new_secret))
    rows = session.scalars(select(PendingCodes).order_by(PendingCodes.batch_id)).all()
    for row in rows:
        row.ciphertext = new.encrypt(
            _decrypted(old, bytes(row.ciphertext), f"the held codes of batch {row.batch_id}")
        )
    return len(rows)


def _rotate_entered_shares(session: Session, old_secret: bytes, new_secret: bytes) -> int:
    old = Fernet(console_shares.entered_shares_key(old_secret))
    new = Fernet(console_shares.entered_shares_key(new_secret))
    rows = session.scalars(
        select(EnteredShare).order_by(EnteredShare.campaign_id, EnteredShare.trustee)
    ).all()
    for row in rows:
        what = f"the share of trustee {row.trustee} entered for campaign {row.campaign_id}"
        row.ciphertext = new.encrypt(_decrypted(old, bytes(row.ciphertext), what))
    return len(rows)


def _decrypted(fernet: Fernet, ciphertext: bytes, what: str) -> bytes:
    try:
        return fernet.decrypt(ciphertext)
    except InvalidToken:
        raise RotationRefused(UNDECRYPTABLE, what=what) from None
