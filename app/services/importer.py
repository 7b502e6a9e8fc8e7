"""Reading a service catalog file (CSV or XLSX) into checked rows, or every problem in it.

Nothing is stored here: :func:`app.services.service.import_file` stores the rows once the
whole file has been checked. A file is XLSX when it starts as a ZIP archive does, CSV
(UTF-8, with or without BOM) otherwise, whatever its name says.
"""

import codecs
import csv
import datetime
import io
import zipfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from pydantic import ValidationError

from app import text_rules
from app.file_imports import FileImportInvalid
from app.services.schemas import ServiceIn

HEADER_ALIASES = {
    "department_code": "department_code",
    "department": "department_code",
    "code": "department_code",
    "单位代码": "department_code",
    "部门代码": "department_code",
    "代码": "department_code",
    "name": "name",
    "service": "name",
    "事项名称": "name",
    "服务事项": "name",
    "事项": "name",
    "procedure": "procedure",
    "办理流程": "procedure",
    "流程": "procedure",
    "materials": "materials",
    "申请材料": "materials",
    "材料": "materials",
    "time_limit": "time_limit",
    "承诺时限": "time_limit",
    "办理时限": "time_limit",
    "时限": "time_limit",
    "fees": "fees",
    "收费标准": "fees",
    "收费": "fees",
    "legal_basis": "legal_basis",
    "设定依据": "legal_basis",
    "依据": "legal_basis",
    "complaint_channel": "complaint_channel",
    "complaints": "complaint_channel",
    "投诉渠道": "complaint_channel",
    "投诉": "complaint_channel",
}
REQUIRED_COLUMNS = ("department_code", "name")
TEXT_FIELDS = (
    "name",
    "procedure",
    "materials",
    "time_limit",
    "fees",
    "legal_basis",
    "complaint_channel",
)
XLSX_SIGNATURE = b"PK\x03\x04"
NOT_UTF8 = "the file is not UTF-8 (in Excel, save it as “CSV UTF-8”, or upload the .xlsx file)"


@dataclass(frozen=True)
class LineProblem:
    """What is wrong on one line of the file (the header is line 1), and in which field."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.field}: {self.message}"


@dataclass(frozen=True)
class CatalogRow:
    line: int
    service: ServiceIn


class ServiceImportInvalid(FileImportInvalid):
    """The file has bad rows; nothing was imported."""


def parse(content: bytes, department_codes: Collection[str]) -> list[CatalogRow]:
    """Every row of the file, checked; raises :class:`ServiceImportInvalid` listing every
    problem (``department_codes``: the codes of the departments that exist)."""
    is_xlsx = content.startswith(XLSX_SIGNATURE)
    lines = _xlsx_lines(content) if is_xlsx else _csv_lines(content)
    header = next(lines, None)
    if header is None:
        raise ServiceImportInvalid([LineProblem(1, "file", "the file is empty")])
    columns = _columns(header[1])
    rows: list[CatalogRow] = []
    problems: list[LineProblem] = []
    first_line_of: dict[tuple[str, str], int] = {}
    for line, values in lines:
        if not any(value.strip() for value in values):
            continue
        if is_xlsx and len(values) < len(columns):  # empty cells at a row's end are left out
            values = values + [""] * (len(columns) - len(values))
        if len(values) != len(columns):
            problems.append(
                LineProblem(line, "row", f"expected {len(columns)} fields, found {len(values)}")
            )
            continue
        record = dict(zip(columns, values, strict=True))
        row_problems = _row_problems(line, record, department_codes)
        if row_problems:
            problems += row_problems
            continue
        service = ServiceIn.model_validate(record)
        key = (service.department_code, service.name)
        if key in first_line_of:
            problems.append(
                LineProblem(
                    line,
                    "name",
                    f"the service “{service.name}” of department “{service.department_code}” "
                    f"already appears on line {first_line_of[key]}",
                )
            )
            continue
        first_line_of[key] = line
        rows.append(CatalogRow(line, service))
    if problems:
        raise ServiceImportInvalid(problems)
    if not rows:
        raise ServiceImportInvalid([LineProblem(2, "file", "the file has a header but no rows")])
    return rows


def _columns(header: list[str]) -> list[str]:
    columns = [HEADER_ALIASES.get(name.strip().lower(), name.strip()) for name in header]
    known = set(HEADER_ALIASES.values())
    problems = [
        LineProblem(1, column, f"missing column “{column}”")
        for column in REQUIRED_COLUMNS
        if column not in columns
    ]
    problems += [
        LineProblem(1, name or "(empty)", f"unknown column “{name}”")
        for name in columns
        if name not in known
    ]
    problems += [
        LineProblem(1, name, f"more than one column holds “{name}”")
        for name in sorted({name for name in columns if columns.count(name) > 1} & known)
    ]
    if problems:
        raise ServiceImportInvalid(problems)
    return columns


def _row_problems(
    line: int, record: dict[str, str], department_codes: Collection[str]
) -> list[LineProblem]:
    problems: list[LineProblem] = []
    try:
        service = ServiceIn.model_validate(record)
    except ValidationError as error:
        for detail in error.errors():
            field = ".".join(str(part) for part in detail["loc"])
            problems.append(LineProblem(line, field, detail["msg"]))
        service = None
    for field in TEXT_FIELDS:
        problem = text_rules.staff_text_problem(record.get(field) or "")
        if problem is not None:
            problems.append(LineProblem(line, field, problem))
    code = (record.get("department_code") or "").strip()
    if service is not None and code not in department_codes:
        problems.append(
            LineProblem(line, "department_code", f"no department has the code “{code}”")
        )
    return problems


def _csv_lines(content: bytes) -> Iterator[tuple[int, list[str]]]:
    """Each record of the CSV with the line it starts on."""
    reader = csv.reader(io.StringIO(_decode(content), newline=""))
    line = 0
    for values in reader:
        start_line, line = line + 1, reader.line_num
        yield start_line, values


def _decode(content: bytes) -> str:
    """The file as text (any UTF-8 BOM removed), or a problem for every line not in UTF-8."""
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
            problems.append(LineProblem(number, "file", NOT_UTF8))
    raise ServiceImportInvalid(problems)


def _xlsx_lines(content: bytes) -> Iterator[tuple[int, list[str]]]:
    """Each row of the workbook's first sheet with its row number, cells as text.

    Formulas are read as the values Excel saved with them, never evaluated or kept.
    """
    from openpyxl import load_workbook  # type: ignore[import-untyped]  # slow to import

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise ServiceImportInvalid(
            [LineProblem(1, "file", f"the file is not a readable XLSX workbook ({error})")]
        ) from None
    try:
        sheet = workbook.worksheets[0]
        for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, _trimmed([_cell_text(cell) for cell in cells])
    finally:
        workbook.close()


def _trimmed(values: list[str]) -> list[str]:
    """Without the empty cells at the row's end (a sheet's rows are as wide as its widest)."""
    while values and not values[-1].strip():
        values.pop()
    return values


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date().isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)
