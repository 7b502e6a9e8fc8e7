"""The XLSX workbook: the JSON's figures, sheet by sheet, with withheld cells empty and marked.

Results come from a small rated campaign (threshold 3) where some figures are withheld: the
first department's single enterprise, the second department's citizens (nobody), and
everything of the third department (nobody rated it).
"""

import io
from collections.abc import Iterator
from typing import Any

import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]
from openpyxl.cell import Cell  # type: ignore[import-untyped]
from openpyxl.worksheet.worksheet import Worksheet  # type: ignore[import-untyped]
from sqlalchemy.orm import Session

from app import i18n
from app.campaigns.models import Campaign
from app.campaigns.policy import ResultsPolicy
from app.i18n import gettext
from app.reports import xlsx
from app.results import export
from app.results import service as results_service
from app.results.schemas import CampaignResults, PrivacyInfo
from tests import factories
from tests.factories import make_department

THRESHOLD = 3
FIRST, SECOND, THIRD = "市政务服务中心", "市住建局", "市市场监管局"
GREY = "FFD9D9D9"


def rated_campaign(session: Session, *, trim_share: float = 0.2) -> Campaign:
    """Three departments, two in 窗口类. Answers are (courtesy, speed, overall).

    First: citizens rate it, one enterprise (withheld). Second: enterprises rate it, no
    citizens. Third (执法类): nobody, so every figure of it is withheld. The campaign is
    closed and its ballot box counted (tallied), not published.
    """
    departments = [
        make_department(session, name=FIRST, category="窗口类"),
        make_department(session, name=SECOND, category="窗口类"),
        make_department(session, name=THIRD, category="执法类"),
    ]
    return factories.rated_campaign(
        session,
        [
            (0, "citizens", [(5, 3, 4), (4, 2, 4), (2, 1, 3), (4, None, 2)]),
            (0, "enterprises", [(5, 3, 5)]),
            (1, "enterprises", [(5, 3, 3), (4, 3, 3), (3, 2, 3), (5, 2, None)]),
        ],
        groups={"citizens": 2.0, "enterprises": 1.0},
        departments=departments,
        threshold=THRESHOLD,
        policy=ResultsPolicy(trim_share=trim_share),
    )


def rated_results(session: Session, locale: i18n.Locale = "zh_CN") -> CampaignResults:
    return results_service.campaign_results(session, rated_campaign(session), locale)


def workbook_of(results: CampaignResults) -> Any:
    stream = io.BytesIO()
    xlsx.write_xlsx(results, stream)
    return load_workbook(io.BytesIO(stream.getvalue()))


def sheet(workbook: Any, title: str) -> Worksheet:
    return workbook[gettext(title)]


def rows_of(worksheet: Worksheet) -> Iterator[dict[str, Cell]]:
    """Each row after the header as {header: cell}."""
    header, *rows = worksheet.iter_rows()
    names = [cell.value for cell in header]
    for row in rows:
        yield dict(zip(names, row, strict=True))


def withheld_cell(cell: Cell) -> bool:
    return cell.value is None and cell.fill.fgColor.rgb == GREY


def check(cell: Cell, value: Any, *, withheld: bool) -> None:
    """The cell holds ``value``; a withheld one is empty and grey, a shown one not grey."""
    if withheld:
        assert value is None
        assert withheld_cell(cell), cell.coordinate
    else:
        assert cell.value == value, (cell.coordinate, cell.value, value)
        assert cell.fill.fgColor.rgb != GREY, cell.coordinate


def marked(cell: Cell, figures: list[str]) -> set[str]:
    text = cell.value or ""
    return {name for name in figures if gettext(xlsx.FIGURE_NAMES[name]) in text}


@pytest.fixture
def results(session: Session) -> CampaignResults:
    computed = rated_results(session)
    # the campaign withholds something at each level, so every marking is exercised
    assert computed.withheld_figures
    assert any(group.evaluations is None for target in computed.targets for group in target.groups)
    assert any(target.composite_score is None for target in computed.targets)
    return computed


class TestWorkbook:
    def test_five_sheets_with_frozen_headers_in_the_catalogs_language(
        self, results: CampaignResults
    ) -> None:
        workbook = workbook_of(results)

        assert workbook.sheetnames == [
            gettext(title)
            for title in (
                xlsx.SHEET_RANKING,
                xlsx.SHEET_DIMENSIONS,
                xlsx.SHEET_GROUPS,
                xlsx.SHEET_DISTRIBUTIONS,
                xlsx.SHEET_METHODOLOGY,
            )
        ]
        for worksheet in workbook.worksheets:
            assert worksheet.freeze_panes is not None
            assert worksheet.freeze_panes.endswith("2")
            assert all(cell.font.b for cell in next(worksheet.iter_rows()))

    def test_headers_are_english_with_locale_en(self, session: Session) -> None:
        i18n.set_locale("en")
        workbook = workbook_of(rated_results(session, "en"))

        distributions = sheet(workbook, xlsx.SHEET_DISTRIBUTIONS)
        header = [cell.value for cell in next(distributions.iter_rows())]
        assert distributions.title == "Distributions"
        assert header[:3] == ["department code", "department", "category"]
        assert header[-1] == "withheld figures"
        assert "Very satisfied" not in header  # mixed scales: numbered levels
        assert "level 5" in header

    def test_columns_have_widths_and_number_formats(self, results: CampaignResults) -> None:
        workbook = workbook_of(results)

        groups = sheet(workbook, xlsx.SHEET_GROUPS)
        assert groups.column_dimensions["B"].width == 24
        row = next(row for row in rows_of(groups) if row[gettext("evaluations")].value is not None)
        assert row[gettext("evaluations")].number_format == "0"
        assert row[gettext("score")].number_format == "0.00"
        distributions = next(
            row
            for row in rows_of(sheet(workbook, xlsx.SHEET_DISTRIBUTIONS))
            if row[gettext("satisfaction rate")].value is not None
        )
        assert distributions[gettext("satisfaction rate")].number_format == "0.00%"


class TestSameFiguresAsJson:
    """Every figure of the JSON, found in its sheet; withheld ones empty, grey and named."""

    def test_ranking(self, results: CampaignResults) -> None:
        rows = {
            row[gettext("department code")].value: row
            for row in rows_of(sheet(workbook_of(results), xlsx.SHEET_RANKING))
        }

        assert set(rows) == {target.target for target in results.targets}
        for target in results.targets:
            row = rows[target.target]
            assert row[gettext("department")].value == target.name
            assert row[gettext("category")].value == target.category
            for field, header in [
                ("rank", "rank in category"),
                ("composite_score", "composite score"),
                ("grade", "grade"),
                ("evaluations", "evaluations"),
            ]:
                check(
                    row[gettext(header)],
                    getattr(target, field),
                    withheld=field in target.withheld,
                )
            # how many the category ranks is shown on every row, ranked or not
            check(
                row[gettext("departments ranked in category")],
                target.ranked_in_category,
                withheld=False,
            )
            unranked = "rank" in target.withheld
            check(
                row[gettext("last place")],
                gettext("last place") if target.bottom else None,
                withheld=unranked,  # an unranked department is neither last nor not
            )
            assert marked(row[gettext("withheld figures")], list(xlsx.RANKING_FIGURES)) == set(
                target.withheld
            ) | ({"bottom"} if unranked else set())

    def test_ranking_lists_categories_together_ranked_first(self, results: CampaignResults) -> None:
        rows = list(rows_of(sheet(workbook_of(results), xlsx.SHEET_RANKING)))

        categories = [row[gettext("category")].value for row in rows]
        assert categories == ["窗口类", "窗口类", "执法类"]
        ranks = [row[gettext("rank in category")].value for row in rows[:2]]
        assert ranks == sorted(ranks)

    def test_rank_columns_hold_the_rank_and_how_many_the_category_ranks(
        self, results: CampaignResults
    ) -> None:
        header, *rows = sheet(workbook_of(results), xlsx.SHEET_RANKING).iter_rows(values_only=True)
        rank, ranked = header.index("类别内排名"), header.index("类别内参评单位数")

        ranks = [(row[0], row[rank], row[ranked]) for row in rows]

        assert ranks[:2] == [("窗口类", 1, 2), ("窗口类", 2, 2)]
        assert ranks[2] == ("执法类", None, 0)  # nobody rated it: unranked, withheld

    def test_rater_groups(self, results: CampaignResults) -> None:
        rows = {
            (row[gettext("department code")].value, row[gettext("rater group")].value): row
            for row in rows_of(sheet(workbook_of(results), xlsx.SHEET_GROUPS))
        }
        names = {group.key: group for group in results.rater_groups}

        assert len(rows) == sum(len(target.groups) for target in results.targets)
        for target in results.targets:
            for group in target.groups:
                row = rows[(target.target, names[group.rater_group].name)]
                assert row[gettext("weight")].value == names[group.rater_group].weight
                for field, header in [
                    ("evaluations", "evaluations"),
                    ("score", "score"),
                    ("score_standard_deviation", "standard deviation"),
                    ("score_ci_low", "95% CI low"),
                    ("score_ci_high", "95% CI high"),
                    ("trimmed_score", "trimmed score"),
                ]:
                    check(
                        row[gettext(header)],
                        getattr(group, field),
                        withheld=field in group.withheld,
                    )
                assert marked(
                    row[gettext("withheld figures")], ["evaluations", "score", "trimmed_score"]
                ) == {"evaluations", "score", "trimmed_score"} & set(group.withheld)

    def test_distributions(self, results: CampaignResults) -> None:
        rows = {
            (
                row[gettext("department code")].value,
                row[gettext("rater group")].value,
                row[gettext("item id")].value,
            ): row
            for row in rows_of(sheet(workbook_of(results), xlsx.SHEET_DISTRIBUTIONS))
        }
        names = {group.key: group.name for group in results.rater_groups}
        levels = export.level_columns(results)
        texts = {item.id: item.text for item in results.items}
        checked = 0

        for target in results.targets:
            for group in target.groups:
                for item in group.items:
                    row = rows.pop((target.target, names[group.rater_group], item.item))
                    assert row[gettext("item")].value == texts[item.item]
                    for field, header in [
                        ("respondents", "respondents"),
                        ("not_applicable", "don't know"),
                        ("mean_points", "mean points"),
                        ("standard_deviation", "standard deviation"),
                        ("ci_low", "95% CI low"),
                        ("ci_high", "95% CI high"),
                        ("satisfaction_rate", "satisfaction rate"),
                    ]:
                        check(
                            row[gettext(header)],
                            getattr(item, field),
                            withheld=field in item.withheld,
                        )
                    for level, label in levels:
                        if item.distribution is not None:
                            check(row[label], item.distribution.get(level), withheld=False)
                        elif "distribution" in item.withheld:
                            assert withheld_cell(row[label])
                    assert marked(row[gettext("withheld figures")], list(xlsx.ITEM_FIGURES)) == {
                        name for name in item.withheld if name in xlsx.ITEM_FIGURES
                    }
                    checked += 1
        assert rows == {}
        assert checked > 0

    def test_dimensions(self, results: CampaignResults) -> None:
        rows = {
            (
                row[gettext("department code")].value,
                row[gettext("dimension")].value,
                row[gettext("rater group")].value,
            ): row
            for row in rows_of(sheet(workbook_of(results), xlsx.SHEET_DIMENSIONS))
        }
        names = {group.key: group.name for group in results.rater_groups}
        levels = export.level_columns(results)
        composite = gettext(xlsx.COMPOSITE_ROW)

        for target in results.targets:
            for dimension in target.dimensions:
                row = rows.pop((target.target, dimension.name, composite))
                check(
                    row[gettext("score")], dimension.score, withheld="score" in dimension.withheld
                )
                check(
                    row[gettext("satisfaction rate")],
                    dimension.satisfaction_rate,
                    withheld="satisfaction_rate" in dimension.withheld,
                )
            for group in target.groups:
                for result in group.dimensions:
                    row = rows.pop((target.target, result.name, names[group.rater_group]))
                    for field, header in [
                        ("answers", "answers"),
                        ("not_applicable", "don't know"),
                        ("mean_points", "score"),
                        ("standard_deviation", "standard deviation"),
                        ("ci_low", "95% CI low"),
                        ("ci_high", "95% CI high"),
                        ("satisfaction_rate", "satisfaction rate"),
                    ]:
                        check(
                            row[gettext(header)],
                            getattr(result, field),
                            withheld=field in result.withheld,
                        )
                    for level, label in levels:
                        if result.distribution is not None:
                            check(row[label], result.distribution.get(level), withheld=False)
                        else:
                            assert withheld_cell(row[label])
        assert rows == {}

    def test_methodology_lists_settings_and_every_withheld_figure(
        self, results: CampaignResults
    ) -> None:
        worksheet = sheet(workbook_of(results), xlsx.SHEET_METHODOLOGY)
        values = {row[0].value: row[1] for row in worksheet.iter_rows(min_row=2) if len(row) > 1}
        texts = [row[0].value for row in worksheet.iter_rows(min_row=2)]

        assert values[gettext("Disclosure threshold")].value == THRESHOLD
        assert values[gettext("Protection width")].value == results.protection_width
        assert values[gettext("Trim share (each end)")].value == results.trim_share
        for group in results.rater_groups:
            assert values[group.name].value == group.weight
        for band in results.grades:
            assert values[band.name].value == band.minimum
        assert results.quality is not None
        assert values[gettext("Flagged evaluations")].value == results.quality.flagged
        check(
            values[gettext("Evaluations")],
            results.evaluations,
            withheld=results.evaluations is None,
        )
        for line in results.withheld_figures:
            assert line in texts
        assert gettext(xlsx.GREY_LEGEND) in texts


class TestPrivacy:
    def test_a_private_release_is_described(self, results: CampaignResults) -> None:
        private = results.model_copy(
            update={
                "privacy": PrivacyInfo(
                    mechanism="Laplace",
                    epsilon=1.5,
                    unit="one rater's ballot",
                    sensitivity=1.0,
                    library="OpenDP 0.12",
                )
            }
        )

        worksheet = sheet(workbook_of(private), xlsx.SHEET_METHODOLOGY)

        values = {row[0].value: row[1].value for row in worksheet.iter_rows() if len(row) > 1}
        assert values[gettext("Privacy budget ε")] == 1.5
        assert values[gettext("Library")] == "OpenDP 0.12"

    def test_no_privacy_section_without_a_private_release(self, results: CampaignResults) -> None:
        worksheet = sheet(workbook_of(results), xlsx.SHEET_METHODOLOGY)

        assert gettext("Differential privacy") not in [
            row[0].value for row in worksheet.iter_rows()
        ]
