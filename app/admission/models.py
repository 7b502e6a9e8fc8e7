import datetime as dt
import enum

from sqlalchemy import DateTime, ForeignKey, LargeBinary, func, true
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, string_enum

CODE_HASH_BYTES = 32  # HMAC-SHA256


class CodeStatus(enum.StrEnum):
    UNUSED = "unused"
    USED = "used"
    REVOKED = "revoked"


class CodeBatch(Base):
    """Codes issued together for one rater group, optionally scoped to one target."""

    __tablename__ = "code_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    rater_group_id: Mapped[int] = mapped_column(ForeignKey("campaign_rater_groups.id"))
    target_id: Mapped[int | None] = mapped_column(ForeignKey("campaign_targets.id"))
    size: Mapped[int]
    revoked: Mapped[bool] = mapped_column(default=False)
    # Usable only once its slips and code file are written (``pingyi codes issue``).
    ready: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class AdmissionCode(Base):
    """One admission code (评议码), stored only as its keyed hash.

    Deliberately no timestamps and no sequence: see privacy rule 3. Without a rowid
    (SQLite) the table is kept in hash order, which says nothing about issue or use order.
    """

    __tablename__ = "admission_codes"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 - SQLAlchemy reads it

    code_hash: Mapped[bytes] = mapped_column(LargeBinary(CODE_HASH_BYTES), primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("code_batches.id"), index=True)
    status: Mapped[CodeStatus] = mapped_column(
        string_enum(CodeStatus, name="code_status", length=8),
        default=CodeStatus.UNUSED,
    )
    # When the code was exchanged for a blind-signed credential: SHA-256 of the blinded
    # message it was signed for, so a dropped response can be fetched again for the same
    # blinded message (and no other). Blinding makes it independent of the credential.
    blinded_hash: Mapped[bytes | None] = mapped_column(LargeBinary(CODE_HASH_BYTES))


class PendingCodes(Base):
    """A new batch's codes, encrypted with a key derived from the server secret, until the
    office has downloaded them once as CSV and once as PDF (or they expire); then deleted.
    """

    __tablename__ = "pending_code_downloads"

    batch_id: Mapped[int] = mapped_column(ForeignKey("code_batches.id"), primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    csv_taken: Mapped[bool] = mapped_column(default=False)
    pdf_taken: Mapped[bool] = mapped_column(default=False)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
