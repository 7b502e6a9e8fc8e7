"""Departments and their CSV import."""

import codecs
import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import text_rules
from app.departments.models import (
    CATEGORY_MAX_LENGTH,
    CODE_MAX_LENGTH,
    NAME_MAX_LENGTH,
    Department,
)
from app.departments.schemas import DepartmentIn
from app.errors import InvalidInput, NotFound
from app.file_imports import FileImportInvalid, ImportReport
from app.grouping import by_category
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
    "category_en": "category_en",
    "类别英文名称": "category_en",
    "英文类别": "category_en",
}
REQUIRED_COLUMNS = ("code", "name", "category")
# The texts staff type for a department, with how a message names each (app.text_rules).
TEXT_FIELDS = {
    "name": N_("The department's name"),
    "category": N_("The category"),
    "name_en": N_("The department's English name"),
    "category_en": N_("The category's English name"),
}
NOT_UTF8 = "the file is not UTF-8 (in Excel, save it as “CSV UTF-8”)"


@dataclass(frozen=True)
class LineProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class DepartmentImportInvalid(FileImportInvalid):
    """The CSV has bad rows; nothing was imported."""


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
        for optional in ("name_en", "category_en"):  # an empty cell clears it; no column keeps it
            if optional in record and not (record[optional] or "").strip():
                record[optional] = None
        try:
            row = DepartmentIn.model_validate(record)
        except ValidationError as error:
            for detail in error.errors():
                field = ".".join(str(part) for part in detail["loc"])
                problems.append(LineProblem(start_line, f"{field}: {detail['msg']}"))
            continue
        refused = [
            f"{field}: {problem}"
            for field in TEXT_FIELDS
            if (problem := text_rules.staff_text_problem(getattr(row, field) or "")) is not None
        ]
        if refused:
            problems += [LineProblem(start_line, text) for text in refused]
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


class DepartmentInvalid(InvalidInput):
    """A department's fields break the rules; ``problems`` holds one error per bad field."""

    message = N_("Please correct the marked fields.")

    def __init__(self, problems: list[InvalidInput]) -> None:
        self.problems = problems
        super().__init__(field=problems[0].field if problems else None)


FIELD_RULES = {  # field: (what a valid value looks like, its maximum length)
    "code": (
        N_("A code has 1 to %(maximum)s letters, digits, dashes or underscores."),
        CODE_MAX_LENGTH,
    ),
    "name": (N_("A name is required, at most %(maximum)s characters."), NAME_MAX_LENGTH),
    "category": (
        N_("A category is required, at most %(maximum)s characters."),
        CATEGORY_MAX_LENGTH,
    ),
    "name_en": (N_("The English name has at most %(maximum)s characters."), NAME_MAX_LENGTH),
}


def get_department(session: Session, code: str) -> Department:
    department = session.scalar(select(Department).where(Department.code == code))
    if department is None:
        raise NotFound(name=code)
    return department


def departments_by_category(session: Session) -> list[tuple[str, list[Department]]]:
    """Every department, grouped by category; categories and codes in order."""
    ordered = session.scalars(select(Department).order_by(Department.category, Department.code))
    return list(by_category(ordered, lambda department: department.category).items())


def category_labels(departments: Iterable[Department], locale: str) -> dict[str, str]:
    """How pages in ``locale`` name each category of ``departments``.

    In English, a category takes the English name its departments give (the first found);
    Chinese where none does, and where two categories would share one English name (they
    would read as one category, and ranks are within a category).
    """
    labels: dict[str, str] = {}
    for department in departments:
        labels.setdefault(department.category, department.category)
        if (
            locale == "en"
            and department.category_en
            and labels[department.category] == (department.category)
        ):
            labels[department.category] = department.category_en
    english = [label for category, label in labels.items() if label != category]
    shared = {label for label in english if english.count(label) > 1}
    return {category: category if label in shared else label for category, label in labels.items()}


def categories(session: Session) -> list[str]:
    return list(
        session.scalars(select(Department.category).distinct().order_by(Department.category))
    )


def create_department(
    session: Session, *, code: str, name: str, category: str, name_en: str | None = None
) -> Department:
    """Add one department; its code must be new."""
    checked = _checked(code=code, name=name, category=category, name_en=name_en)
    taken = session.scalar(select(Department.id).where(Department.code == checked.code))
    if taken is not None:
        raise InvalidInput(
            N_("A department with the code “%(code)s” exists already."),
            field="code",
            code=checked.code,
        )
    department = Department(**checked.model_dump())
    session.add(department)
    session.flush()
    return department


def update_department(
    session: Session, code: str, *, name: str, category: str, name_en: str | None = None
) -> list[str]:
    """Change a department's names and category (its code stays); returns the changed fields."""
    department = get_department(session, code)
    checked = _checked(code=department.code, name=name, category=category, name_en=name_en)
    changed = []
    for field in ("name", "name_en", "category"):
        value = getattr(checked, field)
        if getattr(department, field) != value:
            setattr(department, field, value)
            changed.append(field)
    session.flush()
    return changed


def _checked(*, code: str, name: str, category: str, name_en: str | None) -> DepartmentIn:
    """The fields as a valid DepartmentIn (an empty English name means none), or every problem."""
    record = {"code": code, "name": name, "category": category, "name_en": name_en}
    if not (name_en or "").strip():
        record["name_en"] = None
    try:
        checked = DepartmentIn.model_validate(record)
    except ValidationError as error:
        fields = {str(detail["loc"][0]) for detail in error.errors() if detail["loc"]}
        raise DepartmentInvalid(
            [
                InvalidInput(rule, field=field, maximum=maximum)
                for field, (rule, maximum) in FIELD_RULES.items()
                if field in fields
            ]
        ) from None
    refused: list[InvalidInput] = []
    for field, what in TEXT_FIELDS.items():
        try:
            text_rules.check_staff_text(getattr(checked, field), field=field, what=what)
        except InvalidInput as problem:
            refused.append(problem)
    if refused:
        raise DepartmentInvalid(refused)
    return checked
