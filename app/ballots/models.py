import uuid

from sqlalchemy import ForeignKey, LargeBinary, SmallInteger, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

ANSWERS_MAX_LENGTH = 60  # one character per questionnaire item; see surveys.schemas.MAX_ITEMS
STRAIGHT_LINING = 1  # quality flag: every answered item at the same level
TOO_FAST = 2  # quality flag: submitted implausibly soon after the form was shown
HASH_BYTES = 32  # SHA-256


class Evaluation(Base):
    """One rater's answers about one target (评价).

    Holds only what privacy rule 1 allows: campaign, target, rater group, answers,
    comment, quality flags and a random UUID. ``tests/test_schema.py`` keeps an allow-list
    of these columns; read docs/privacy.md before adding one.

    ``answers`` has one character per item of the campaign's frozen questionnaire, in its
    order: the level's digit, ``0`` for 不了解 (don't know), ``-`` for an item this rater
    group does not see. See ``app.ballots.answers``.
    """

    __tablename__ = "evaluations"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 - SQLAlchemy reads it

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("campaign_targets.id"))
    rater_group_id: Mapped[int] = mapped_column(ForeignKey("campaign_rater_groups.id"))
    answers: Mapped[str] = mapped_column(String(ANSWERS_MAX_LENGTH))
    comment: Mapped[str | None] = mapped_column(Text)
    quality_flags: Mapped[int] = mapped_column(SmallInteger, default=0)


class Receipt(Base):
    """A hash of the receipt each ballot of a campaign opened before the ballot box handed back
    to its rater (ballots in the box have their tracker instead).

    Published, sorted, after close, so a rater can see their ballot was counted; the receipt
    is random and says nothing about what the ballot held.
    """

    __tablename__ = "receipts"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 - SQLAlchemy reads it

    receipt_hash: Mapped[bytes] = mapped_column(LargeBinary(HASH_BYTES), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
