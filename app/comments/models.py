import enum
import uuid

from sqlalchemy import ForeignKey, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, string_enum


class CommentStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class CommentForReview(Base):
    """A rater's comment, scrubbed, copied out for the office's approval before publication.

    Copies are made together, after close, in random order, with random ids: nothing links
    one to the evaluation it came from (docs/methodology.md, "Disclosure control"). Only approved
    copies are ever published.
    """

    __tablename__ = "comment_reviews"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 - SQLAlchemy reads it

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("campaign_targets.id"))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[CommentStatus] = mapped_column(
        string_enum(CommentStatus, name="comment_status", length=8),
        default=CommentStatus.PENDING,
    )
