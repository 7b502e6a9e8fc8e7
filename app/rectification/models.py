"""Rectification tables. Office side only: nothing here is touched by ratings, and nothing
names, counts or describes a rater (docs/privacy.md, "Rules for stored data").

A problem item's text comes from published figures and approved comments only; a task, its
notes and evidence are written by staff and liaisons.
"""

import datetime as dt
import enum
from typing import TYPE_CHECKING

from sqlalchemy import Date, DateTime, Float, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, string_enum

if TYPE_CHECKING:
    from app.campaigns.models import Target

TITLE_MAX_LENGTH = 200
POST_MAX_LENGTH = 100
FILE_NAME_MAX_LENGTH = 200
ACTOR_MAX_LENGTH = 64


class ProblemKind(enum.StrEnum):
    ITEM = "item"  # an item's published mean, satisfaction rate or 差评 share
    BOTTOM = "bottom"  # 末位 in its category
    COMMENT = "comment"  # an approved, published comment
    MANUAL = "manual"  # added by staff


class TaskStatus(enum.StrEnum):
    ASSIGNED = "assigned"
    PLAN_SUBMITTED = "plan_submitted"
    IN_PROGRESS = "in_progress"
    REPORT_SUBMITTED = "report_submitted"
    ACCEPTED = "accepted"
    RETURNED = "returned"


class NoteKind(enum.StrEnum):
    PROGRESS = "progress"  # the liaison's progress note
    REPORT = "report"  # the liaison's completion report
    RETURNED = "returned"  # the office's reason for returning a report
    ACCEPTED = "accepted"  # the office's words on accepting it


class RectificationSettings(Base):
    """A campaign's thresholds for its problem list, and the usual deadline."""

    __tablename__ = "rectification_settings"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    item_mean_below: Mapped[float] = mapped_column(Float)  # points
    satisfaction_below: Mapped[float] = mapped_column(Float)  # a share, 0–1
    poor_share_above: Mapped[float] = mapped_column(Float)  # a share, 0–1
    working_days: Mapped[int] = mapped_column(Integer)  # the default deadline


class RectificationTask(Base):
    """One 整改 task of one department, from its assignment to the office's acceptance."""

    __tablename__ = "rectification_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("campaign_targets.id"), index=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX_LENGTH))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[TaskStatus] = mapped_column(
        string_enum(TaskStatus, name="rectification_task_status", length=20),
        default=TaskStatus.ASSIGNED,
    )
    assigned_on: Mapped[dt.date] = mapped_column(Date)
    working_days: Mapped[int] = mapped_column(Integer)
    deadline: Mapped[dt.date] = mapped_column(Date)
    measures: Mapped[str | None] = mapped_column(Text)
    responsible_post: Mapped[str | None] = mapped_column(String(POST_MAX_LENGTH))
    plan_starts_on: Mapped[dt.date | None] = mapped_column(Date)
    plan_ends_on: Mapped[dt.date | None] = mapped_column(Date)
    report_submitted_on: Mapped[dt.date | None] = mapped_column(Date)
    accepted_on: Mapped[dt.date | None] = mapped_column(Date)

    target: Mapped["Target"] = relationship(lazy="joined")
    notes: Mapped[list["TaskNote"]] = relationship(order_by="TaskNote.id")
    evidence: Mapped[list["EvidenceFile"]] = relationship(order_by="EvidenceFile.id")


class ProblemItem(Base):
    """One line of a department's 问题清单, until (and after) it is assigned as a task."""

    __tablename__ = "rectification_problems"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("campaign_targets.id"))
    kind: Mapped[ProblemKind] = mapped_column(
        string_enum(ProblemKind, name="rectification_problem_kind", length=10)
    )
    text: Mapped[str] = mapped_column(Text)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("rectification_tasks.id"))


class TaskNote(Base):
    """A progress note, a completion report, or the office's reason for its decision."""

    __tablename__ = "rectification_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("rectification_tasks.id"), index=True)
    kind: Mapped[NoteKind] = mapped_column(
        string_enum(NoteKind, name="rectification_note_kind", length=10)
    )
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(ACTOR_MAX_LENGTH))  # a staff username
    written_on: Mapped[dt.date] = mapped_column(Date)


class EvidenceFile(Base):
    """An evidence file a liaison uploaded, stored under a random name outside the web root."""

    __tablename__ = "rectification_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("rectification_tasks.id"), index=True)
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)  # random hex
    file_name: Mapped[str] = mapped_column(String(FILE_NAME_MAX_LENGTH))  # as shown, cleaned
    media_type: Mapped[str] = mapped_column(String(100))  # decided from the content
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(ACTOR_MAX_LENGTH))
    uploaded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class WorkdayOverride(Base):
    """A day the office declares a working day or a day off, over the holiday calendar."""

    __tablename__ = "rectification_workday_overrides"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    working: Mapped[bool]
    note: Mapped[str] = mapped_column(String(100), default="")
