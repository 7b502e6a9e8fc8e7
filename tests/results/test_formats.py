"""JSON, CSV and XLSX of one campaign hold the same figures, figure by figure.

The JSON file (:func:`export.json_text`, read back with :mod:`json`) is the reference; the CSV
is read with :mod:`csv` and the XLSX with openpyxl. The campaign (threshold 3, trim share 0.2)
has two department categories; in 窗口类 two departments tie for first place, in 执法类 one
department is unranked (nobody rated it). Some rater groups are withheld whole (too few
evaluations), some items and dimensions of shown groups are withheld (too few answers), and
every rater gives answers of their own, so no group is withheld for unanimity.
"""

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]
from openpyxl.cell import Cell  # type: ignore[import-untyped]
from openpyxl.worksheet.worksheet import Worksheet  # type: ignore[import-untyped]
from sqlalchemy.orm import Session

from app import i18n
from app.campaigns.policy import ResultsPolicy
from app.i18n import gettext
from app.public.views import join_names
from app.reports import xlsx
from app.results import export
from app.results import service as results_service
from app.results.schemas import CampaignResults
from tests import factories
from tests.factories import make_department
from tests.results.helpers import Level

THRESHOLD = 3
TRIM_SHARE = 0.2
GREY = "FFD9D9D9"

Json = dict[str, Any]
Answers = list[tuple[Level, Level, Level]]  # (courtesy, speed, overall) per rater

CITIZENS: Answers = [(5, 3, 4), (4, 2, 4), (2, 1, 3), (4, None, 2), (5, 2, 5)]
ENTERPRISES: Answers = [(5, 3, 3), (4, 3, 5), (3, 2, 3), (5, 2, None)]

# Per department: code, name, category, then the citizens' and the enterprises' answers.
DEPARTMENTS: list[tuple[str, str, str, Answers, Answers]] = [
    ("W1", "市政务服务中心", "窗口类", CITIZENS, ENTERPRISES),
    ("W2", "市公积金中心", "窗口类", CITIZENS, ENTERPRISES),  # the same answers: tied with W1
    (
        "W3",
        "市不动产登记中心",
        "窗口类",
        [(3, 2, 3), (2, 1, 2), (4, 2, None), (1, 1, 1)],
        [(4, 3, 4)],  # one enterprise: withheld
    ),
    (
        "E1",
        "市市场监管局",
        "执法类",
        [(5, 3, 5), (4, 3, None), (5, 2, 4)],  # two overall answers: that item withheld
        [(4, None, 4), (3, None, 3), (5, 3, 5), (4, 1, 4)],  # two speed answers: withheld
    ),
    ("E2", "市城管局", "执法类", [(3, 2, 3), (4, 2, 4), (2, 2, 1), (4, 3, 3)], []),
    ("E3", "市生态环境局", "执法类", [], []),  # nobody: unranked
]


@dataclass(frozen=True)
class Figure:
    """A figure of one kind of row: its JSON field and its column's header in each file."""

    field: str
    csv_header: str  # message id
    xlsx_header: str  # message id, in the row's sheet

    def csv_column(self) -> str:
        return gettext(self.csv_header)

    def xlsx_column(self) -> str:
        return gettext(self.xlsx_header)


def figure(field: str, header: str, xlsx_header: str | None = None) -> Figure:
    return Figure(field, header, xlsx_header or header)


SPREAD = [
    figure("not_applicable", "don't know"),
    figure("standard_deviation", "standard deviation"),
    figure("ci_low", "95% CI low"),
    figure("ci_high", "95% CI high"),
    figure("satisfaction_rate", "satisfaction rate"),
]
ITEM_FIGURES = [
    figure("respondents", "respondents"),
    figure("mean_points", "mean points"),
    *SPREAD,
]
DIMENSION_FIGURES = [
    figure("answers", "answers"),
    figure("mean_points", "mean points", "score"),  # the dimensions sheet calls it the score
    *SPREAD,
]
GROUP_FIGURES = [
    figure("evaluations", "evaluations"),
    figure("score", "score"),
    figure("score_standard_deviation", "standard deviation"),
    figure("score_ci_low", "95% CI low"),
    figure("score_ci_high", "95% CI high"),
    figure("trimmed_score", "trimmed score"),
]
TARGET_FIGURES = [
    figure("evaluations", "evaluations"),
    figure("composite_score", "composite score"),
    figure("grade", "grade"),
    figure("rank", "rank in category"),
    figure("ranked_in_category", "departments ranked in category"),
]
TARGET_DIMENSION_FIGURES = [
    figure("score", "score"),
    figure("satisfaction_rate", "satisfaction rate"),
]


def rated_campaign(session: Session) -> CampaignResults:
    """The results of the campaign of ``DEPARTMENTS``, rated, closed and tallied."""
    departments = [
        make_department(session, code=code, name=name, category=category)
        for code, name, category, _, _ in DEPARTMENTS
    ]
    campaign = factories.rated_campaign(
        session,
        [
            (index, group, answers)
            for index, (_, _, _, citizens, enterprises) in enumerate(DEPARTMENTS)
            for group, answers in (("citizens", citizens), ("enterprises", enterprises))
        ],
        groups={"citizens": 2.0, "enterprises": 1.0},
        departments=departments,
        threshold=THRESHOLD,
        policy=ResultsPolicy(trim_share=TRIM_SHARE),
    )
    return results_service.campaign_results(session, campaign, i18n.current_locale())


@pytest.fixture
def results(session: Session) -> CampaignResults:
    computed = rated_campaign(session)
    targets = {target.target: target for target in computed.targets}
    # what the campaign is for: every case below is present
    assert computed.trim_share == TRIM_SHARE
    assert (targets["W1"].rank, targets["W2"].rank, targets["W3"].rank) == (1, 1, 3)
    assert targets["W3"].bottom
    assert targets["E2"].bottom
    assert targets["E3"].rank is None
    assert "rank" in targets["E3"].withheld
    assert targets["E3"].ranked_in_category == 2
    groups = [group for target in computed.targets for group in target.groups]
    assert any(group.trimmed_score is not None for group in groups)
    assert any("evaluations" in group.withheld for group in groups)
    assert any(group.evaluations is not None and group.score is None for group in groups)
    items = [item for group in groups if group.evaluations is not None for item in group.items]
    assert any(item.mean_points is not None for item in items)
    assert any("mean_points" in item.withheld for item in items)
    dimensions = [dimension for group in groups for dimension in group.dimensions]
    assert any("mean_points" in dimension.withheld for dimension in dimensions)
    assert any(dimension.mean_points is not None for dimension in dimensions)
    return computed


def json_of(results: CampaignResults) -> Json:
    parsed: Json = json.loads(export.json_text(results))
    return parsed


# The CSV


CsvKey = tuple[str, str, str, str, str]  # row type, department code, group, dimension, item id


@dataclass
class CsvFile:
    header: list[str]
    rows: dict[CsvKey, dict[str, str]]


def csv_of(results: CampaignResults) -> CsvFile:
    text = "".join(export.csv_lines(results))
    assert text.startswith("\ufeff")
    header, *lines = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    assert len(header) == len(set(header))
    rows: dict[CsvKey, dict[str, str]] = {}
    for line in lines:
        assert len(line) == len(header)
        row = dict(zip(header, line, strict=True))
        key = (
            row[gettext("row type")],
            row[gettext("department code")],
            row[gettext("rater group")],
            row[gettext("dimension")],
            row[gettext("item id")],
        )
        assert key not in rows, key
        rows[key] = row
    return CsvFile(header, rows)


def withheld_named(row: dict[str, str]) -> set[str]:
    named = row[gettext("withheld")]
    return set(named.split("; ")) if named else set()


def check_csv(row: dict[str, str], column: str, value: Any, *, withheld: bool) -> None:
    """The cell holds ``value`` as written (a number that reads back equal); a withheld one is
    empty and named in the row's last column, a shown one is not named."""
    if withheld:
        assert value is None
        assert row[column] == "", (column, row[column])
        assert column in withheld_named(row), (column, row[gettext("withheld")])
        return
    assert column not in withheld_named(row), column
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        assert row[column] != "", column
        assert float(row[column]) == value, (column, row[column], value)
    else:
        assert row[column] == ("" if value is None else value), (column, row[column], value)


def check_csv_levels(
    row: dict[str, str], distribution: dict[str, int] | None, results: CampaignResults
) -> None:
    levels = export.level_columns(results)
    if distribution is None:
        assert all(row[label] == "" for _, label in levels)
        assert gettext("distribution") in withheld_named(row)
        return
    for level, label in levels:
        expected = distribution.get(str(level))
        assert row[label] == ("" if expected is None else str(expected)), label
    assert gettext("distribution") not in withheld_named(row)


def expected_names(
    withheld: list[str], figures: list[Figure], *, distribution: bool = False
) -> set[str]:
    """The CSV's names of the withheld figures among ``figures``."""
    names = {entry.csv_column() for entry in figures if entry.field in withheld}
    if distribution and "distribution" in withheld:
        names.add(gettext("distribution"))
    return names


# The XLSX


def workbook_of(results: CampaignResults) -> Any:
    stream = io.BytesIO()
    xlsx.write_xlsx(results, stream)
    return load_workbook(io.BytesIO(stream.getvalue()))


def rows_of(worksheet: Worksheet) -> Iterator[dict[str, Cell]]:
    """Each row after the header as {header: cell}."""
    header, *rows = worksheet.iter_rows()
    names = [cell.value for cell in header]
    for row in rows:
        yield dict(zip(names, row, strict=True))


def sheet_rows(workbook: Any, title: str) -> list[dict[str, Cell]]:
    return list(rows_of(workbook[gettext(title)]))


def grey(cell: Cell) -> bool:
    return bool(cell.fill.fgColor.rgb == GREY)


def check_xlsx(cell: Cell, value: Any, *, withheld: bool) -> None:
    """The cell holds ``value``; a withheld one is empty and grey, a shown one not grey."""
    if withheld:
        assert value is None
        assert cell.value is None, cell.coordinate
        assert grey(cell), cell.coordinate
    else:
        assert cell.value == value, (cell.coordinate, cell.value, value)
        assert not grey(cell), cell.coordinate


def xlsx_names(cell: Cell) -> str:
    return str(cell.value or "")


def check_xlsx_levels(
    row: dict[str, Cell], distribution: dict[str, int] | None, results: CampaignResults
) -> None:
    for level, label in export.level_columns(results):
        if distribution is None:
            check_xlsx(row[label], None, withheld=True)
        else:
            check_xlsx(row[label], distribution.get(str(level)), withheld=False)


@pytest.fixture
def reference(results: CampaignResults) -> Json:
    return json_of(results)


@pytest.fixture
def csv_file(results: CampaignResults) -> CsvFile:
    return csv_of(results)


@pytest.fixture
def workbook(results: CampaignResults) -> Any:
    return workbook_of(results)


def group_names(reference: Json) -> dict[str, str]:
    return {group["key"]: group["name"] for group in reference["rater_groups"]}


class TestEveryRowIsThere:
    def test_csv_has_a_row_per_department_group_dimension_and_item_and_no_other(
        self, reference: Json, csv_file: CsvFile
    ) -> None:
        names = group_names(reference)
        composite, group_row, dimension_row, item_row = (
            gettext(export.ROW_COMPOSITE),
            gettext(export.ROW_GROUP),
            gettext(export.ROW_DIMENSION),
            gettext(export.ROW_ITEM),
        )
        expected: list[CsvKey] = []
        for target in reference["targets"]:
            code = target["target"]
            expected.append((composite, code, "", "", ""))
            for group in target["groups"]:
                name = names[group["rater_group"]]
                expected.append((group_row, code, name, "", ""))
                expected += [
                    (dimension_row, code, name, dimension["name"], "")
                    for dimension in group["dimensions"]
                ]
                expected += [(item_row, code, name, "", item["item"]) for item in group["items"]]

        assert list(csv_file.rows) == expected
        assert any(key[0] == dimension_row for key in expected)

    def test_xlsx_sheets_have_a_row_per_figure_row_of_the_json(
        self, reference: Json, workbook: Any
    ) -> None:
        targets = reference["targets"]
        groups = [group for target in targets for group in target["groups"]]

        assert len(sheet_rows(workbook, xlsx.SHEET_RANKING)) == len(targets)
        assert len(sheet_rows(workbook, xlsx.SHEET_GROUPS)) == len(groups)
        assert len(sheet_rows(workbook, xlsx.SHEET_DISTRIBUTIONS)) == sum(
            len(group["items"]) for group in groups
        )
        assert len(sheet_rows(workbook, xlsx.SHEET_DIMENSIONS)) == sum(
            len(target["dimensions"]) for target in targets
        ) + sum(len(group["dimensions"]) for group in groups)


class TestDepartmentFigures:
    """Composite, grade, rank, ranked in category, 末位, evaluations, dimension scores."""

    def test_csv_composite_rows(
        self, reference: Json, csv_file: CsvFile, results: CampaignResults
    ) -> None:
        names = group_names(reference)
        for target in reference["targets"]:
            row = csv_file.rows[(gettext(export.ROW_COMPOSITE), target["target"], "", "", "")]
            assert row[gettext("department")] == target["name"]
            assert row[gettext("category")] == target["category"]
            withheld = target["withheld"]
            for entry in TARGET_FIGURES:
                check_csv(
                    row, entry.csv_column(), target[entry.field], withheld=entry.field in withheld
                )
            unranked = "rank" in withheld
            last_place = gettext("last place")
            assert row[last_place] == (last_place if target["bottom"] and not unranked else "")
            assert (last_place in withheld_named(row)) == unranked
            assert row[gettext("From rater groups")] == join_names(
                names[key] for key in target["composite_groups"]
            )
            dimension_names: set[str] = set()
            for dimension in target["dimensions"]:
                for entry in TARGET_DIMENSION_FIGURES:
                    column = f"{dimension['name']} · {entry.csv_column()}"
                    check_csv(
                        row,
                        column,
                        dimension[entry.field],
                        withheld=entry.field in dimension["withheld"],
                    )
                    if entry.field in dimension["withheld"]:
                        dimension_names.add(column)
            assert withheld_named(row) == (
                expected_names(withheld, TARGET_FIGURES)
                | ({last_place} if unranked else set())
                | dimension_names
            )
        assert results.dimensions  # the dimension columns were checked

    def test_xlsx_ranking_sheet(self, reference: Json, workbook: Any) -> None:
        rows = {
            row[gettext("department code")].value: row
            for row in sheet_rows(workbook, xlsx.SHEET_RANKING)
        }
        names = group_names(reference)

        for target in reference["targets"]:
            row = rows.pop(target["target"])
            assert row[gettext("department")].value == target["name"]
            assert row[gettext("category")].value == target["category"]
            withheld = target["withheld"]
            for entry in TARGET_FIGURES:
                check_xlsx(
                    row[entry.xlsx_column()],
                    target[entry.field],
                    withheld=entry.field in withheld,
                )
            unranked = "rank" in withheld
            last_place = row[gettext("last place")]
            if unranked:
                check_xlsx(last_place, None, withheld=True)
            else:
                check_xlsx(
                    last_place, gettext("last place") if target["bottom"] else None, withheld=False
                )
            assert row[gettext("From rater groups")].value == (
                join_names(names[key] for key in target["composite_groups"]) or None
            )
            named = xlsx_names(row[gettext("withheld figures")])
            for entry in TARGET_FIGURES:
                assert (entry.xlsx_column() in named) == (entry.field in withheld), entry.field
            assert (gettext("last place") in named) == unranked
        assert rows == {}

    def test_xlsx_dimension_scores(self, reference: Json, workbook: Any) -> None:
        composite = gettext(xlsx.COMPOSITE_ROW)
        rows = {
            (row[gettext("department code")].value, row[gettext("dimension")].value): row
            for row in sheet_rows(workbook, xlsx.SHEET_DIMENSIONS)
            if row[gettext("rater group")].value == composite
        }

        for target in reference["targets"]:
            for dimension in target["dimensions"]:
                row = rows.pop((target["target"], dimension["name"]))
                for entry in TARGET_DIMENSION_FIGURES:
                    check_xlsx(
                        row[entry.xlsx_column()],
                        dimension[entry.field],
                        withheld=entry.field in dimension["withheld"],
                    )
        assert rows == {}


class TestRankColumns:
    """The audit's case: 类别内排名 holds the rank, 类别内参评单位数 the number ranked."""

    def test_csv_and_xlsx_name_the_rank_columns_in_chinese(
        self, csv_file: CsvFile, workbook: Any
    ) -> None:
        ranking_header = [
            cell.value for cell in next(workbook[gettext(xlsx.SHEET_RANKING)].iter_rows())
        ]

        for header in (csv_file.header, ranking_header):
            assert "类别内排名" in header
            assert "类别内参评单位数" in header
            assert "末位" in header

    def test_tied_departments_share_the_rank_and_the_unranked_one_is_withheld(
        self, csv_file: CsvFile, workbook: Any
    ) -> None:
        rank, ranked, last = (
            gettext("rank in category"),
            gettext("departments ranked in category"),
            gettext("last place"),
        )
        composite = gettext(export.ROW_COMPOSITE)
        csv_rows = {key[1]: row for key, row in csv_file.rows.items() if key[0] == composite}
        xlsx_rows = {
            row[gettext("department code")].value: row
            for row in sheet_rows(workbook, xlsx.SHEET_RANKING)
        }

        expected = {
            "W1": ("1", "3", ""),
            "W2": ("1", "3", ""),
            "W3": ("3", "3", last),
            "E1": ("1", "2", ""),
            "E2": ("2", "2", last),
            "E3": ("", "2", ""),
        }
        assert {
            code: (row[rank], row[ranked], row[last]) for code, row in csv_rows.items()
        } == expected
        assert {rank, last} <= withheld_named(csv_rows["E3"])
        assert {
            code: (row[rank].value, row[ranked].value, row[last].value)
            for code, row in xlsx_rows.items()
        } == {
            code: (int(place) if place else None, int(count), mark or None)
            for code, (place, count, mark) in expected.items()
        }
        unranked = xlsx_rows["E3"]
        assert grey(unranked[rank])
        assert grey(unranked[last])
        assert not grey(unranked[ranked])
        assert rank in xlsx_names(unranked[gettext("withheld figures")])
        assert last in xlsx_names(unranked[gettext("withheld figures")])


class TestGroupFigures:
    def test_csv_group_rows(self, reference: Json, csv_file: CsvFile) -> None:
        names = group_names(reference)
        for target in reference["targets"]:
            for group in target["groups"]:
                key = (gettext(export.ROW_GROUP), target["target"], names[group["rater_group"]])
                row = csv_file.rows[(*key, "", "")]
                for entry in GROUP_FIGURES:
                    check_csv(
                        row,
                        entry.csv_column(),
                        group[entry.field],
                        withheld=entry.field in group["withheld"],
                    )
                assert withheld_named(row) == expected_names(group["withheld"], GROUP_FIGURES)

    def test_xlsx_rater_groups_sheet(self, reference: Json, workbook: Any) -> None:
        rows = {
            (row[gettext("department code")].value, row[gettext("rater group")].value): row
            for row in sheet_rows(workbook, xlsx.SHEET_GROUPS)
        }
        names = group_names(reference)

        for target in reference["targets"]:
            for group in target["groups"]:
                row = rows.pop((target["target"], names[group["rater_group"]]))
                for entry in GROUP_FIGURES:
                    check_xlsx(
                        row[entry.xlsx_column()],
                        group[entry.field],
                        withheld=entry.field in group["withheld"],
                    )
        assert rows == {}


class TestDimensionFigures:
    def test_csv_dimension_rows(
        self, reference: Json, csv_file: CsvFile, results: CampaignResults
    ) -> None:
        names = group_names(reference)
        for target in reference["targets"]:
            for group in target["groups"]:
                name = names[group["rater_group"]]
                for dimension in group["dimensions"]:
                    key = (gettext(export.ROW_DIMENSION), target["target"], name)
                    row = csv_file.rows[(*key, dimension["name"], "")]
                    for entry in DIMENSION_FIGURES:
                        check_csv(
                            row,
                            entry.csv_column(),
                            dimension[entry.field],
                            withheld=entry.field in dimension["withheld"],
                        )
                    check_csv_levels(row, dimension["distribution"], results)
                    assert withheld_named(row) == expected_names(
                        dimension["withheld"], DIMENSION_FIGURES, distribution=True
                    )

    def test_xlsx_dimensions_sheet(
        self, reference: Json, workbook: Any, results: CampaignResults
    ) -> None:
        rows = {
            (
                row[gettext("department code")].value,
                row[gettext("dimension")].value,
                row[gettext("rater group")].value,
            ): row
            for row in sheet_rows(workbook, xlsx.SHEET_DIMENSIONS)
        }
        names = group_names(reference)

        for target in reference["targets"]:
            for group in target["groups"]:
                for dimension in group["dimensions"]:
                    row = rows.pop(
                        (target["target"], dimension["name"], names[group["rater_group"]])
                    )
                    for entry in DIMENSION_FIGURES:
                        check_xlsx(
                            row[entry.xlsx_column()],
                            dimension[entry.field],
                            withheld=entry.field in dimension["withheld"],
                        )
                    check_xlsx_levels(row, dimension["distribution"], results)
        composite = gettext(xlsx.COMPOSITE_ROW)
        assert all(key[2] == composite for key in rows)  # only the departments' rows are left


class TestItemFigures:
    def test_csv_item_rows(
        self, reference: Json, csv_file: CsvFile, results: CampaignResults
    ) -> None:
        names = group_names(reference)
        texts = {item["id"]: item["text"] for item in reference["items"]}
        for target in reference["targets"]:
            for group in target["groups"]:
                name = names[group["rater_group"]]
                for item in group["items"]:
                    key = (gettext(export.ROW_ITEM), target["target"], name, "")
                    row = csv_file.rows[(*key, item["item"])]
                    assert row[gettext("item")] == texts[item["item"]]
                    for entry in ITEM_FIGURES:
                        check_csv(
                            row,
                            entry.csv_column(),
                            item[entry.field],
                            withheld=entry.field in item["withheld"],
                        )
                    check_csv_levels(row, item["distribution"], results)
                    assert withheld_named(row) == expected_names(
                        item["withheld"], ITEM_FIGURES, distribution=True
                    )

    def test_xlsx_distributions_sheet(
        self, reference: Json, workbook: Any, results: CampaignResults
    ) -> None:
        rows = {
            (
                row[gettext("department code")].value,
                row[gettext("rater group")].value,
                row[gettext("item id")].value,
            ): row
            for row in sheet_rows(workbook, xlsx.SHEET_DISTRIBUTIONS)
        }
        names = group_names(reference)

        for target in reference["targets"]:
            for group in target["groups"]:
                for item in group["items"]:
                    row = rows.pop((target["target"], names[group["rater_group"]], item["item"]))
                    for entry in ITEM_FIGURES:
                        check_xlsx(
                            row[entry.xlsx_column()],
                            item[entry.field],
                            withheld=entry.field in item["withheld"],
                        )
                    check_xlsx_levels(row, item["distribution"], results)
        assert rows == {}


class TestNoNullText:
    def test_no_withheld_figure_is_written_as_none_or_null(
        self, results: CampaignResults, workbook: Any
    ) -> None:
        text = "".join(export.csv_lines(results))
        assert "None" not in text
        assert "null" not in text.lower()
        for worksheet in workbook.worksheets:
            for row in worksheet.iter_rows():
                for cell in row:
                    if isinstance(cell.value, str):
                        assert "None" not in cell.value, cell.coordinate
                        assert "null" not in cell.value.lower(), cell.coordinate

    def test_withheld_campaign_counts_are_grey_on_the_methodology_sheet(
        self, results: CampaignResults, workbook: Any
    ) -> None:
        values = {
            row[0].value: row[1]
            for row in workbook[gettext(xlsx.SHEET_METHODOLOGY)].iter_rows()
            if len(row) > 1
        }
        assert results.quality is not None

        for label, count in [
            ("Flagged evaluations", results.quality.flagged),
            ("Flagged for the same answer throughout", results.quality.straight_lining),
            ("Flagged for speed", results.quality.too_fast),
            ("Evaluations", results.evaluations),
        ]:
            check_xlsx(values[gettext(label)], count, withheld=count is None)


class TestEnglish:
    def test_csv_headers_and_dimension_columns_follow_the_locale(self, session: Session) -> None:
        i18n.set_locale("en")
        results = rated_campaign(session)

        header = csv_of(results).header

        assert header[:8] == [
            "row type",
            "department code",
            "department",
            "category",
            "rater group",
            "dimension",
            "item id",
            "item",
        ]
        assert "rank in category" in header
        assert "departments ranked in category" in header
        assert "Attitude · score" in header
        assert header[-1] == "withheld"
