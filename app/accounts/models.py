import datetime as dt
import enum

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, string_enum


class Role(enum.StrEnum):
    ADMIN = "admin"  # office administrator: everything
    LIAISON = "liaison"  # department liaison: published results of their own department
    AUDITOR = "auditor"  # read-only: campaigns, results, audit trail
    TRUSTEE = "trustee"  # 评议结果开启人: enters their share of the tally key to open the box
    INSPECTOR = "inspector"  # 暗访: records mystery-inspection findings (may be a third party)


class StaffUser(Base):
    """An account of the evaluation office or a department. Raters never have accounts."""

    __tablename__ = "staff_users"
    __table_args__ = (
        CheckConstraint(
            "role <> 'liaison' OR department_id IS NOT NULL", name="liaison_department"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[Role] = mapped_column(string_enum(Role, name="staff_role", length=16))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(default=False)
    session_version: Mapped[int] = mapped_column(default=1)  # bumped to end every session
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
