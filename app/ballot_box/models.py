"""The sealed ballot box: a campaign's tally key, its sealed ballots, and the tally's record.

What each table may hold follows the privacy design ("Sealed ballot box"): a sealed ballot is
one opaque ciphertext with its tracker (the SHA-256 of that ciphertext) and nothing else: no
time, no code, no credential, no order. ``tests/test_schema.py`` keeps an allow-list of these
columns. The tally key's private half is never stored: it exists only as the trustees' shares.
"""

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

HASH_BYTES = 32  # SHA-256


class TallyKey(Base):
    """A campaign's tally key: the public half and how its private half was shared out.

    ``applied_on`` is the day the box began to apply to a campaign that was already open when
    the deployment was upgraded (its earlier ballots were stored as evaluations at once); null
    when the box applied from the start. A day, never a time.
    """

    __tablename__ = "tally_keys"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # ML-KEM-768 ‖ X25519, raw
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary(HASH_BYTES))  # SHA-256 of public_key
    share_count: Mapped[int]
    threshold: Mapped[int]
    applied_on: Mapped[dt.date | None] = mapped_column(Date)


class SealedBallot(Base):
    """One ballot in the box: its ciphertext and its tracker, nothing else.

    After the tally the ciphertext is deleted and the tracker kept (null ``ciphertext``), so
    raters can still find their tracker among the counted ones.
    """

    __tablename__ = "ballot_box"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 - SQLAlchemy reads it

    tracker: Mapped[bytes] = mapped_column(LargeBinary(HASH_BYTES), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)


class Tally(Base):
    """What a campaign's tally found: ballots in the box, ballots counted, and the trackers
    of those it could not count, with the reason (``rejected``: ``[[tracker hex, reason]]``).
    """

    __tablename__ = "tallies"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    ballots_in_box: Mapped[int]
    ballots_counted: Mapped[int]
    box_digest: Mapped[bytes] = mapped_column(LargeBinary(HASH_BYTES))  # of the sorted trackers
    rejected: Mapped[list[Any]] = mapped_column(JSON, default=list)
    offline: Mapped[bool] = mapped_column(default=False)


class PendingShare(Base):
    """A trustee's share made in the console, until it is downloaded once as a share file
    (JSON) and once as a printable page (PDF), or expires; then deleted.

    Encrypted under a key derived from the server secret *and* a random key kept only in the
    browser of the staff member who made the tally key (a cookie): neither the database with
    the server secret nor the cookie alone can read it (``app.ballot_box.console_shares``).
    """

    __tablename__ = "pending_trustee_shares"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    trustee: Mapped[int] = mapped_column(primary_key=True)  # 1 … share_count
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    json_taken: Mapped[bool] = mapped_column(default=False)
    pdf_taken: Mapped[bool] = mapped_column(default=False)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class EnteredShare(Base):
    """A share a trustee entered in the console for the tally, until the tally runs.

    At most threshold − 1 are ever kept: the share that completes the set opens the box in
    the same request and is never stored. Encrypted under the server secret; deleted by the
    tally that uses them.
    """

    __tablename__ = "entered_trustee_shares"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    trustee: Mapped[int] = mapped_column(primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    entered_by: Mapped[str] = mapped_column(String(64))
