"""Mystery inspections (暗访): findings, their evidence files, 通报单 and inspection scores.

Nothing here touches raters: a finding is what an inspector saw at a department, recorded
under the inspector's own account. Evidence files live on disk under ``var_dir`` (the rectification
package's evidence store); a row names the file by its random name and keeps a cleaned name.
"""

import datetime as dt
import enum

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, string_enum


class InspectionMethod(enum.StrEnum):
    SIMULATED_APPLICATION = "simulated_application"  # 模拟办事: posing as an applicant
    PHONE_CHECK = "phone_check"  # 电话查询
    SITE_VISIT = "site_visit"  # 现场查看
    OTHER = "other"


class Finding(Base):
    """One problem an inspector found at a department on one day (a day, never a time)."""

    __tablename__ = "inspection_findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    found_on: Mapped[dt.date] = mapped_column(Date)
    method: Mapped[InspectionMethod] = mapped_column(
        string_enum(InspectionMethod, name="inspection_method", length=32)
    )
    category: Mapped[str] = mapped_column(String(100))  # 问题类别, e.g. 工作纪律
    description: Mapped[str] = mapped_column(Text)
    organisation: Mapped[str] = mapped_column(String(200), default="")  # e.g. a third party
    recorded_by: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    evidence: Mapped[list["FindingEvidence"]] = relationship(
        back_populates="finding", order_by="FindingEvidence.id"
    )


class FindingEvidence(Base):
    """An evidence file (photo, PDF, recording) of a finding, stored under a random name."""

    __tablename__ = "inspection_evidence"
    __table_args__ = (CheckConstraint("size_bytes >= 0", name="evidence_size"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("inspection_findings.id"), index=True)
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    original_name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int]

    finding: Mapped[Finding] = relationship(back_populates="evidence")


class BulletinFinding(Base):
    """A finding listed in a 通报单, at its place in the list."""

    __tablename__ = "inspection_bulletin_findings"

    bulletin_id: Mapped[int] = mapped_column(
        ForeignKey("inspection_bulletins.id"), primary_key=True
    )
    finding_id: Mapped[int] = mapped_column(ForeignKey("inspection_findings.id"), primary_key=True)
    position: Mapped[int]

    finding: Mapped[Finding] = relationship()


class InspectionBulletin(Base):
    """A 通报单: findings issued under a document number 〔year〕number号."""

    __tablename__ = "inspection_bulletins"
    __table_args__ = (UniqueConstraint("year", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int]
    number: Mapped[int]
    issued_on: Mapped[dt.date] = mapped_column(Date)
    issuing_office: Mapped[str] = mapped_column(String(200))  # 发文机关
    title: Mapped[str] = mapped_column(String(200))
    copy_to: Mapped[str] = mapped_column(String(500), default="")  # 抄送
    created_by: Mapped[str] = mapped_column(String(64))

    entries: Mapped[list[BulletinFinding]] = relationship(order_by=BulletinFinding.position)

    @property
    def findings(self) -> list[Finding]:
        return [entry.finding for entry in self.entries]


class InspectionScore(Base):
    """The office's inspection score (0–100) for a department in a campaign, in hundredths
    so it stays exact on every database."""

    __tablename__ = "inspection_scores"
    __table_args__ = (
        CheckConstraint("score_hundredths >= 0 AND score_hundredths <= 10000", name="score_range"),
    )

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), primary_key=True)
    score_hundredths: Mapped[int]
