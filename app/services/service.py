"""The service catalog: importing it, and reading it per department and per category."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.departments import service as department_service
from app.departments.models import Department
from app.file_imports import ImportReport
from app.grouping import by_category
from app.services import importer
from app.services.models import Service


@dataclass(frozen=True)
class DepartmentCatalog:
    department: Department
    services: list[Service]


def import_file(session: Session, content: bytes) -> ImportReport:
    """Create or update services from a CSV or XLSX file.

    Every row is checked first (:func:`app.services.importer.parse`); if any is bad, nothing is
    imported and every problem is reported. A service whose department and name are in the
    catalog already is updated (only from the columns the file has); the others are added.
    """
    department_ids = {
        department.code: department.id
        for department in department_service.list_departments(session)
    }
    rows = importer.parse(content, department_ids.keys())
    existing = {
        (service.department_id, service.name): service
        for service in session.scalars(
            select(Service).where(
                Service.department_id.in_(
                    {department_ids[row.service.department_code] for row in rows}
                )
            )
        )
    }
    created = 0
    for row in rows:
        department_id = department_ids[row.service.department_code]
        fields = row.service.model_dump(exclude_unset=True, exclude={"department_code"})
        service = existing.get((department_id, row.service.name))
        if service is None:
            defaults = row.service.model_dump(exclude={"department_code"})
            session.add(Service(department_id=department_id, position=row.line, **defaults))
            created += 1
        else:
            for field, value in fields.items():
                setattr(service, field, value)
            service.position = row.line
    session.flush()
    return ImportReport(created=created, updated=len(rows) - created)


def services_of(session: Session, department: Department) -> list[Service]:
    """The department's services, in the order its file listed them."""
    return list(
        session.scalars(
            select(Service)
            .where(Service.department_id == department.id)
            .order_by(Service.position, Service.name)
        )
    )


def services_of_code(session: Session, department_code: str) -> list[Service]:
    """The services of the department with this code (none for an unknown code)."""
    return list(
        session.scalars(
            select(Service)
            .join(Service.department)
            .where(Department.code == department_code)
            .order_by(Service.position, Service.name)
        )
    )


def catalog_by_category(
    session: Session, *, with_empty: bool = False
) -> list[tuple[str, list[DepartmentCatalog]]]:
    """Departments with their services, grouped by category (categories and codes in order).

    A department without services is left out unless ``with_empty`` (the console shows it).
    """
    services = session.scalars(
        select(Service).order_by(Service.department_id, Service.position, Service.name)
    )
    per_department: dict[int, list[Service]] = {}
    for service in services:
        per_department.setdefault(service.department_id, []).append(service)
    catalogs = [
        DepartmentCatalog(department, per_department.get(department.id, []))
        for _, departments in department_service.departments_by_category(session)
        for department in departments
        if with_empty or department.id in per_department
    ]
    return list(by_category(catalogs, lambda catalog: catalog.department.category).items())
