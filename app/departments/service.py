"""Departments and their CSV import."""

import codecs
import csv
import io
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.departments.models import Department
from app.departments.schemas import DepartmentIn
from app.errors import InvalidInput
from app.i18n import N_

HEADER_ALIASES = {
    "code": "code",
    "代码": "code",
    "单位代码": "code",
    "编码": "code",
    "name": "name",
    "名称": "name",
    "单位名称": "name",
    "category": "category",
    "类别": "category",
    "分类": "category",
    "单位类别": "category",
    "name_en": "name_en",
    "英文名称": "name_en",
}
REQUIRED_COLUMNS = ("code", "name", "category")
NOT_UTF8 = "the file is not UTF-8 (in Excel, save it as “CSV UTF-8”)"


@dataclass(frozen=True)
class LineProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class ImportReport:
    created: int
    updated: int


class DepartmentImportInvalid(InvalidInput):
    """The CSV has bad rows; nothing was imported."""

    message = N_("Nothing was imported: %(count)s problem(s) in the file.")

    def __init__(self, problems: list[LineProblem]) -> None:
        self.problems = problems
        super().__init__(count=len(problems))


def list_departments(session: Session) -> list[Department]:
    return list(session.scalars(select(Department).order_by(Department.id)))


def departments_by_code(session: Session, codes: list[str]) -> dict[str, Department]:
    found = session.scalars(select(Department).where(Department.code.in_(codes)))
    return {department.code: department for department in found}


def import_csv(session: Session, content: bytes) -> ImportReport:
    """Create or update departments from CSV (UTF-8, with or without BOM).

    All rows are checked first; if any is bad, nothing is imported and every problem is
    reported with its line number.
    """
    rows = parse_csv(content)
    existing = departments_by_code(session, [row.code for row in rows])
    for row in rows:
        department = existing.get(row.code)
        if department is None:
            session.add(Department(**row.model_dump()))
        else:
            for field, value in row.model_dump(exclude_unset=True).items():
                setattr(department, field, value)
    session.flush()
    created = sum(1 for row in rows if row.code not in existing)
    return ImportReport(created=created, updated=len(rows) - created)


def parse_csv(content: bytes) -> list[DepartmentIn]:
    text = _decode(content)
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise DepartmentImportInvalid([LineProblem(1, "the file is empty")])
    columns = [HEADER_ALIASES.get(name.strip().lower(), name.strip()) for name in header]
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    unknown = [name for name in columns if name not in HEADER_ALIASES.values()]
    repeated = sorted({name for name in columns if columns.count(name) > 1} - set(unknown))
    if missing or unknown or repeated:
        header_problems = [f"missing column “{column}”" for column in missing]
        header_problems += [f"unknown column “{name}”" for name in unknown]
        header_problems += [f"more than one column holds “{name}”" for name in repeated]
        raise DepartmentImportInvalid([LineProblem(1, "; ".join(header_problems))])

    rows: list[DepartmentIn] = []
    problems: list[LineProblem] = []
    first_line_of_code: dict[str, int] = {}
    line = reader.line_num
    for values in reader:
        start_line, line = line + 1, reader.line_num
        if not any(value.strip() for value in values):
            continue
        if len(values) != len(columns):
            problems.append(
                LineProblem(start_line, f"expected {len(columns)} fields, found {len(values)}")
            )
            continue
        record: dict[str, str | None] = dict(zip(columns, values, strict=True))
        if "name_en" in record and not (record["name_en"] or "").strip():
            record["name_en"] = None  # an empty cell clears it; a file without the column keeps it
        try:
            row = DepartmentIn.model_validate(record)
        except ValidationError as error:
            for detail in error.errors():
                field = ".".join(str(part) for part in detail["loc"])
                problems.append(LineProblem(start_line, f"{field}: {detail['msg']}"))
            continue
        if row.code in first_line_of_code:
            problems.append(
                LineProblem(
                    start_line,
                    f"code “{row.code}” already appears on line {first_line_of_code[row.code]}",
                )
            )
            continue
        first_line_of_code[row.code] = start_line
        rows.append(row)
    if problems:
        raise DepartmentImportInvalid(problems)
    if not rows:
        raise DepartmentImportInvalid([LineProblem(2, "the file has a header but no rows")])
    return rows


def _decode(content: bytes) -> str:
    """The file as text (any UTF-8 BOM removed), or a problem for every line that is not UTF-8.

    Lines are split on the newline byte, which no UTF-8 or GBK multi-byte character contains.
    """
    body = content.removeprefix(codecs.BOM_UTF8)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    problems = []
    for number, line in enumerate(body.split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(LineProblem(number, NOT_UTF8))
    raise DepartmentImportInvalid(problems)
