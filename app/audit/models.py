import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

GENESIS_HASH = "0" * 64


class AuditEntry(Base):
    """One staff action, chained to the previous entry by its hash.

    ``occurred_at`` is naive UTC with microseconds, so it hashes the same on every engine.
    Never holds anything a rater submitted.
    """

    __tablename__ = "audit_entries"

    sequence: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=False))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50), index=True)
    object: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    previous_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's last sequence number and hash, in one row that appends lock."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    sequence: Mapped[int]
    entry_hash: Mapped[str] = mapped_column(String(64))
