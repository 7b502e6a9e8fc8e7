"""Findings for the inspection tests."""

import datetime as dt

from sqlalchemy.orm import Session

from app.accounts.models import StaffUser
from app.departments.models import Department
from app.inspections import service as inspection_service
from app.inspections.models import Finding, InspectionMethod

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def record(
    session: Session,
    inspector: StaffUser,
    department: Department,
    *,
    day: dt.date = dt.date(2026, 11, 10),
    method: InspectionMethod = InspectionMethod.SIMULATED_APPLICATION,
    category: str = "工作纪律",
    description: str = "窗口工作人员上班时间玩手机，群众等候二十分钟无人接待。",
) -> Finding:
    return inspection_service.record_finding(
        session,
        inspector,
        department_code=department.code,
        found_on=day,
        method=method,
        category=category,
        description=description,
        organisation="某第三方评估机构",
        today=dt.date(2026, 12, 6),
    )
