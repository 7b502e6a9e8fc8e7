"""Blind-signed credentials: signing keys, rosters, the spent set, and receipts.

What each table may hold follows docs/privacy.md ("Admission"): the issuing side records only that a
voucher or roster member *has received* its credential; the collecting side records only a
hash of each spent message. Neither holds anything that ties the two together, and neither
holds a time. ``tests/test_schema.py`` keeps an allow-list of these tables' columns.
"""

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, LargeBinary, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

HASH_BYTES = 32  # SHA-256 / HMAC-SHA256


class CredentialKey(Base):
    """One signing key per campaign, rater group and scope (all targets, or one target).

    A scoped key signs credentials for codes scoped to one department, so the scope survives
    the blind signature. The private key is encrypted at rest under a key derived from the
    server secret; a collector deployment holds only the public half (``private_key`` null).
    """

    __tablename__ = "credential_keys"
    __table_args__ = (UniqueConstraint("campaign_id", "rater_group_id", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    rater_group_id: Mapped[int] = mapped_column(ForeignKey("campaign_rater_groups.id"))
    target_id: Mapped[int | None] = mapped_column(ForeignKey("campaign_targets.id"))
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # SPKI DER
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary(HASH_BYTES))  # SHA-256 of the DER
    private_key: Mapped[bytes | None] = mapped_column(LargeBinary)  # encrypted PKCS#8
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class RosterMember(Base):
    """A known rater (a cadre, a registered enterprise) who may fetch one credential.

    ``identifier_hash`` is a keyed hash of what identifies them (a phone number, a registration
    number); ``password_hash`` an Argon2 hash of the one-time password sent to them out of band.
    ``credential_issued`` is the only trace of issuance: no time, no count.
    """

    __tablename__ = "roster_members"
    __table_args__ = (UniqueConstraint("campaign_id", "identifier_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    rater_group_id: Mapped[int] = mapped_column(ForeignKey("campaign_rater_groups.id"))
    identifier_hash: Mapped[bytes] = mapped_column(LargeBinary(HASH_BYTES))
    password_hash: Mapped[str]
    credential_issued: Mapped[bool] = mapped_column(default=False)
    blinded_hash: Mapped[bytes | None] = mapped_column(LargeBinary(HASH_BYTES))  # see AdmissionCode


class SpentCredential(Base):
    """The spent set: a hash of each credential message that has been used to rate."""

    __tablename__ = "spent_credentials"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 - SQLAlchemy reads it

    message_hash: Mapped[bytes] = mapped_column(LargeBinary(HASH_BYTES), primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("credential_keys.id"), index=True)
