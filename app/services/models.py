"""A department's published services (事项) and what a citizen needs to know about each."""

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base
from app.departments.models import Department

SERVICE_NAME_MAX_LENGTH = 200
TIME_LIMIT_MAX_LENGTH = 200
DETAIL_MAX_LENGTH = 4000  # procedure, materials, fees, legal basis, complaint channel


class Service(Base):
    """One service a department offers (一个办事事项), as the public catalog shows it.

    A service is known by its department and its name: importing a file again updates the
    services it names and adds the others.
    """

    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("department_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # order within the department, from the file
    name: Mapped[str] = mapped_column(String(SERVICE_NAME_MAX_LENGTH))
    procedure: Mapped[str] = mapped_column(Text)  # 办理流程
    materials: Mapped[str] = mapped_column(Text)  # 申请材料
    time_limit: Mapped[str] = mapped_column(String(TIME_LIMIT_MAX_LENGTH))  # 承诺时限
    fees: Mapped[str] = mapped_column(Text)  # 收费标准
    legal_basis: Mapped[str] = mapped_column(Text)  # 设定依据
    complaint_channel: Mapped[str] = mapped_column(Text)  # 投诉渠道

    department: Mapped[Department] = relationship(lazy="joined")
