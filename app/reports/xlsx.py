"""A campaign's results as an Excel workbook, written row by row in openpyxl's write-only mode.

Five sheets, all made from one :class:`CampaignResults`, so they withhold exactly what the
JSON, CSV, PDF and pages withhold:

- ranking: per department its category, rank within the category (类别内排名), how many
  departments the category ranks (类别内参评单位数), composite score, grade, evaluations, 末位
  and the rater groups in the composite; an unranked department's rank and 末位 are withheld;
- dimensions: per department and dimension the score and satisfaction rate, then each rater
  group's dimension figures;
- rater groups: per department and rater group the evaluations, score, deviation, interval
  and trimmed score;
- distributions: per department, rater group and item every figure, answers per level too;
- methodology: points, weights, threshold, protection width, trim share, grades, low-quality
  evaluations, differential privacy if used, and the plain-words list of withheld figures.

Headers go through the message catalog (Chinese by default, English with locale ``en``).
Points carry the number format ``0.00``, rates ``0.00%`` (the pages' two decimals), counts
``0``. A withheld figure is an empty cell with a grey fill, and the row's last column names
every figure withheld in it; the methodology sheet says what the grey means.

Text is written through :mod:`app.reports.cells`, so a department name or item text that
starts like a formula (``=HYPERLINK(…)``) is a string cell, never a formula.

Write-only worksheets stream their rows to temporary files, so memory stays flat however many
rows a campaign has; the workbook is zipped when saved.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, BinaryIO, Protocol

from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]
from openpyxl.styles import Alignment, Font, PatternFill  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

from app.grouping import by_category
from app.i18n import N_, current_locale, gettext
from app.public.methodology import LEVELS, QUALITY_HANDLING, SCALE_NAMES
from app.public.views import join_names, setting_text
from app.reports import cells
from app.results.export import level_columns
from app.results.schemas import (
    CampaignResults,
    DimensionResult,
    GroupResult,
    ItemResult,
    PrivacyInfo,
    QualitySummary,
    TargetDimension,
    TargetResult,
)
from app.surveys.schemas import NOT_APPLICABLE_LABEL

SHEET_RANKING = N_("Ranking")
SHEET_DIMENSIONS = N_("Dimensions")
SHEET_GROUPS = N_("Rater groups")
SHEET_DISTRIBUTIONS = N_("Distributions")
SHEET_METHODOLOGY = N_("Methodology")

POINTS_FORMAT = "0.00"
RATE_FORMAT = "0.00%"
COUNT_FORMAT = "0"
SETTING_FORMAT = "General"

WITHHELD_FILL = PatternFill(fill_type="solid", fgColor="FFD9D9D9")
HEADER_FILL = PatternFill(fill_type="solid", fgColor="FFDCE6F0")
HEADER_FONT = Font(bold=True)
SECTION_FONT = Font(bold=True)
WRAPPED = Alignment(wrap_text=True, vertical="top")

# Names of figures in the "withheld figures" column, by their field in the schema.
FIGURE_NAMES = {
    "evaluations": N_("evaluations"),
    "respondents": N_("respondents"),
    "answers": N_("answers"),
    "not_applicable": N_("don't know"),
    "score": N_("score"),
    "mean_points": N_("mean points"),
    "standard_deviation": N_("standard deviation"),
    "ci_low": N_("95% CI low"),
    "ci_high": N_("95% CI high"),
    "score_standard_deviation": N_("standard deviation"),
    "score_ci_low": N_("95% CI low"),
    "score_ci_high": N_("95% CI high"),
    "trimmed_score": N_("trimmed score"),
    "satisfaction_rate": N_("satisfaction rate"),
    "distribution": N_("distribution"),
    "composite_score": N_("composite score"),
    "grade": N_("grade"),
    "rank": N_("rank in category"),
    "bottom": N_("last place"),
}
COMPOSITE_ROW = N_("composite")
GREY_LEGEND = N_(
    "A grey empty cell is a figure not published, to protect raters' anonymity; the last "
    "column of its row names it. Every figure not published is listed below."
)


class Kind(Enum):
    """How a column's values are written and formatted."""

    TEXT = "text"
    COUNT = COUNT_FORMAT
    POINTS = POINTS_FORMAT
    RATE = RATE_FORMAT
    SETTING = SETTING_FORMAT


@dataclass(frozen=True)
class Column:
    header: str  # already translated
    kind: Kind
    width: float  # in characters of the default font; a CJK character takes about two


@dataclass(frozen=True)
class Figure:
    """A value in a column that may be withheld (then ``value`` is None)."""

    value: float | int | str | None
    withheld: bool


def write_xlsx(results: CampaignResults, stream: BinaryIO) -> None:
    """Write the workbook to ``stream`` (a binary file; it need not be seekable)."""
    workbook = Workbook(write_only=True)
    _ranking_sheet(workbook, results)
    _dimensions_sheet(workbook, results)
    _groups_sheet(workbook, results)
    _distributions_sheet(workbook, results)
    _methodology_sheet(workbook, results)
    workbook.save(stream)


class _Sheet:
    """A write-only worksheet with a frozen, styled header row and typed columns."""

    def __init__(
        self, workbook: Any, title: str, columns: Sequence[Column], *, frozen_columns: int = 0
    ) -> None:
        self.columns = list(columns)
        self.worksheet = workbook.create_sheet(title=gettext(title)[:31])
        for index, column in enumerate(self.columns, start=1):
            self.worksheet.column_dimensions[get_column_letter(index)].width = column.width
        self.worksheet.freeze_panes = f"{get_column_letter(frozen_columns + 1)}2"
        self.worksheet.append([self._header(column.header) for column in self.columns])

    def append(self, values: Sequence[object]) -> None:
        """One row: a value per column; a :class:`Figure` may be withheld."""
        self.worksheet.append(
            [
                self._cell(value, column.kind)
                for value, column in zip(values, self.columns, strict=True)
            ]
        )

    def section(self, title: str) -> None:
        """A row naming the section below it (the methodology sheet)."""
        cell = cells.xlsx_text(self.worksheet, title)
        cell.font = SECTION_FONT
        self.worksheet.append([cell])

    def _header(self, text: str) -> Any:
        cell = cells.xlsx_text(self.worksheet, text)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = WRAPPED
        return cell

    def _cell(self, value: object, kind: Kind) -> Any:
        if isinstance(value, Figure):
            if value.withheld and value.value is None:
                cell = WriteOnlyCell(self.worksheet)
                cell.fill = WITHHELD_FILL
                return cell
            value = value.value
        if isinstance(value, str):  # staff's texts among them: never a formula
            return cells.xlsx_value(self.worksheet, value)
        if value is None or kind in (Kind.TEXT, Kind.SETTING):
            return value
        cell = WriteOnlyCell(self.worksheet, value=value)
        cell.number_format = kind.value
        return cell


class _Result(Protocol):
    withheld: list[str]


def _figure(result: _Result, name: str) -> Figure:
    """The figure ``name`` of a result, withheld when the result lists it so."""
    return Figure(getattr(result, name), name in result.withheld)


def _withheld_names(
    withheld: Iterable[str], shown_here: Iterable[str], renamed: dict[str, str] | None = None
) -> str:
    """The withheld figures of a row that the sheet has a column for, by the column's name
    (``renamed`` maps a field to the field whose name its column carries)."""
    columns = set(shown_here)
    names: list[str] = []
    for field in withheld:
        if field in columns and field in FIGURE_NAMES:
            name = gettext(FIGURE_NAMES[(renamed or {}).get(field, field)])
            if name not in names:
                names.append(name)
    return join_names(names)


def _text(header: str, width: float = 12) -> Column:
    return Column(gettext(header), Kind.TEXT, width)


def _number(header: str, kind: Kind, width: float = 11) -> Column:
    return Column(gettext(header), kind, width)


def _level_columns(results: CampaignResults) -> list[Column]:
    return [Column(label, Kind.COUNT, 10) for _, label in level_columns(results)]


def _department_columns() -> list[Column]:
    return [
        _text(N_("department code"), 10),
        _text(N_("department"), 24),
        _text(N_("category"), 12),
    ]


def _department(target: TargetResult) -> list[object]:
    return [target.target, target.name, target.category]


# Ranking


RANKING_FIGURES = ("rank", "composite_score", "grade", "evaluations", "bottom")


def _ranking_sheet(workbook: Any, results: CampaignResults) -> None:
    sheet = _Sheet(
        workbook,
        SHEET_RANKING,
        [
            _text(N_("category"), 12),
            _number(N_("rank in category"), Kind.COUNT, 10),
            _number(N_("departments ranked in category"), Kind.COUNT, 12),
            _text(N_("department code"), 10),
            _text(N_("department"), 24),
            _number(N_("composite score"), Kind.POINTS),
            _text(N_("grade"), 12),
            _number(N_("evaluations"), Kind.COUNT),
            _text(N_("last place"), 8),
            _text(N_("From rater groups"), 22),
            _text(N_("withheld figures"), 28),
        ],
        frozen_columns=5,
    )
    group_names = {group.key: group.name for group in results.rater_groups}
    for targets in by_category(results.targets, lambda target: target.category).values():
        for target in sorted(targets, key=lambda target: (target.rank is None, target.rank or 0)):
            withheld = _ranking_withheld(target)
            sheet.append(
                [
                    target.category,
                    _figure(target, "rank"),
                    target.ranked_in_category,
                    target.target,
                    target.name,
                    _figure(target, "composite_score"),
                    _figure(target, "grade"),
                    _figure(target, "evaluations"),
                    Figure(
                        gettext("last place")
                        if target.bottom and "bottom" not in withheld
                        else None,
                        "bottom" in withheld,
                    ),
                    join_names(group_names.get(key, key) for key in target.composite_groups),
                    _withheld_names(withheld, RANKING_FIGURES),
                ]
            )


def _ranking_withheld(target: TargetResult) -> list[str]:
    """The ranking row's withheld figures in its columns' order: an unranked department is
    neither last nor not, so its 末位 is withheld with its rank."""
    withheld = set(target.withheld)
    if "rank" in withheld:
        withheld.add("bottom")
    return [name for name in RANKING_FIGURES if name in withheld]


# Dimensions


DIMENSION_FIGURES = (
    "answers",
    "not_applicable",
    "mean_points",
    "standard_deviation",
    "ci_low",
    "ci_high",
    "satisfaction_rate",
    "distribution",
)


def _dimensions_sheet(workbook: Any, results: CampaignResults) -> None:
    levels = level_columns(results)
    sheet = _Sheet(
        workbook,
        SHEET_DIMENSIONS,
        [
            *_department_columns(),
            _text(N_("dimension"), 14),
            _text(N_("rater group"), 14),
            _number(N_("answers"), Kind.COUNT),
            _number(N_("don't know"), Kind.COUNT),
            _number(N_("score"), Kind.POINTS),
            _number(N_("standard deviation"), Kind.POINTS),
            _number(N_("95% CI low"), Kind.POINTS),
            _number(N_("95% CI high"), Kind.POINTS),
            _number(N_("satisfaction rate"), Kind.RATE),
            *_level_columns(results),
            _text(N_("withheld figures"), 28),
        ],
        frozen_columns=5,
    )
    group_names = {group.key: group.name for group in results.rater_groups}
    composite = gettext(COMPOSITE_ROW)
    for target in results.targets:
        for dimension in target.dimensions:
            sheet.append(_target_dimension_row(target, dimension, composite, len(levels)))
            for group in target.groups:
                for result in group.dimensions:
                    if result.dimension == dimension.dimension:
                        sheet.append(
                            _group_dimension_row(
                                target, result, group_names[group.rater_group], levels
                            )
                        )


def _target_dimension_row(
    target: TargetResult, dimension: TargetDimension, composite: str, level_count: int
) -> list[object]:
    return [
        *_department(target),
        dimension.name,
        composite,
        None,
        None,
        _figure(dimension, "score"),
        None,
        None,
        None,
        _figure(dimension, "satisfaction_rate"),
        *[None] * level_count,
        _withheld_names(dimension.withheld, ("score", "satisfaction_rate")),
    ]


def _group_dimension_row(
    target: TargetResult,
    dimension: DimensionResult,
    group_name: str,
    levels: list[tuple[int, str]],
) -> list[object]:
    return [
        *_department(target),
        dimension.name,
        group_name,
        _figure(dimension, "answers"),
        _figure(dimension, "not_applicable"),
        _figure(dimension, "mean_points"),
        _figure(dimension, "standard_deviation"),
        _figure(dimension, "ci_low"),
        _figure(dimension, "ci_high"),
        _figure(dimension, "satisfaction_rate"),
        *_distribution(dimension.distribution, "distribution" in dimension.withheld, levels),
        _withheld_names(dimension.withheld, DIMENSION_FIGURES, {"mean_points": "score"}),
    ]


def _distribution(
    distribution: dict[int, int] | None, withheld: bool, levels: list[tuple[int, str]]
) -> list[Figure]:
    """Answers per level; levels outside the item's scale are empty, not withheld."""
    return [
        Figure((distribution or {}).get(level), withheld and distribution is None)
        for level, _ in levels
    ]


# Rater groups


def _groups_sheet(workbook: Any, results: CampaignResults) -> None:
    trimmed = results.trim_share > 0
    group_figures = [
        "evaluations",
        "score",
        "score_standard_deviation",
        "score_ci_low",
        "score_ci_high",
        *(["trimmed_score"] if trimmed else []),
    ]
    sheet = _Sheet(
        workbook,
        SHEET_GROUPS,
        [
            *_department_columns(),
            _text(N_("rater group"), 14),
            _number(N_("weight"), Kind.SETTING, 8),
            _number(N_("evaluations"), Kind.COUNT),
            _number(N_("score"), Kind.POINTS),
            _number(N_("standard deviation"), Kind.POINTS),
            _number(N_("95% CI low"), Kind.POINTS),
            _number(N_("95% CI high"), Kind.POINTS),
            *([_number(N_("trimmed score"), Kind.POINTS)] if trimmed else []),
            _text(N_("withheld figures"), 28),
        ],
        frozen_columns=4,
    )
    groups = {group.key: group for group in results.rater_groups}
    for target in results.targets:
        for group in target.groups:
            info = groups[group.rater_group]
            sheet.append(
                [
                    *_department(target),
                    info.name,
                    info.weight,
                    *[_figure(group, name) for name in group_figures],
                    _withheld_names(group.withheld, group_figures),
                ]
            )


# Distributions


ITEM_FIGURES = (
    "respondents",
    "not_applicable",
    "mean_points",
    "standard_deviation",
    "ci_low",
    "ci_high",
    "satisfaction_rate",
    "distribution",
)


def _distributions_sheet(workbook: Any, results: CampaignResults) -> None:
    levels = level_columns(results)
    sheet = _Sheet(
        workbook,
        SHEET_DISTRIBUTIONS,
        [
            *_department_columns(),
            _text(N_("rater group"), 14),
            _text(N_("item id"), 12),
            _text(N_("item"), 30),
            _number(N_("respondents"), Kind.COUNT),
            _number(N_("don't know"), Kind.COUNT),
            _number(N_("mean points"), Kind.POINTS),
            _number(N_("standard deviation"), Kind.POINTS),
            _number(N_("95% CI low"), Kind.POINTS),
            _number(N_("95% CI high"), Kind.POINTS),
            _number(N_("satisfaction rate"), Kind.RATE),
            *_level_columns(results),
            _text(N_("withheld figures"), 28),
        ],
        frozen_columns=6,
    )
    group_names = {group.key: group.name for group in results.rater_groups}
    item_texts = {item.id: item.text for item in results.items}
    for target in results.targets:
        for group in target.groups:
            for item in group.items:
                sheet.append(_item_row(target, group, item, group_names, item_texts, levels))


def _item_row(
    target: TargetResult,
    group: GroupResult,
    item: ItemResult,
    group_names: dict[str, str],
    item_texts: dict[str, str],
    levels: list[tuple[int, str]],
) -> list[object]:
    return [
        *_department(target),
        group_names[group.rater_group],
        item.item,
        item_texts[item.item],
        *[_figure(item, name) for name in ITEM_FIGURES[:-1]],
        *_distribution(item.distribution, "distribution" in item.withheld, levels),
        _withheld_names(item.withheld, ITEM_FIGURES),
    ]


# Methodology


def _methodology_sheet(workbook: Any, results: CampaignResults) -> None:
    sheet = _Sheet(
        workbook,
        SHEET_METHODOLOGY,
        [_text(N_("Setting"), 48), Column(gettext("Value"), Kind.SETTING, 24)],
    )
    sheet.section(gettext("Campaign"))
    sheet.append([gettext("Title"), results.title])
    sheet.append([gettext("Slug"), results.campaign])
    sheet.append([gettext("Status"), gettext(results.status)])
    sheet.append(
        [
            gettext("Evaluations"),
            Figure(results.evaluations, withheld=results.evaluations is None),
        ]
    )

    sheet.section(gettext("What is not published, and why"))
    sheet.append([gettext("Disclosure threshold"), results.disclosure_threshold])
    sheet.append([gettext("Protection width"), results.protection_width])
    sheet.append([gettext(GREY_LEGEND), None])

    sheet.section(gettext("How scores are computed"))
    sheet.append([gettext("Trim share (each end)"), results.trim_share])

    _points_rows(sheet, results)

    sheet.section(gettext("Weights of the rater groups"))
    for group in results.rater_groups:
        sheet.append([group.name, group.weight])

    if results.grades:
        sheet.section(gettext("Grades by composite score"))
        for band in sorted(results.grades, key=lambda band: band.minimum, reverse=True):
            sheet.append([band.name, band.minimum])

    if results.quality is not None:
        _quality_rows(sheet, results.quality)
    if results.privacy is not None:
        _privacy_rows(sheet, results.privacy)

    sheet.section(gettext("Figures not published"))
    if not results.withheld_figures:
        sheet.append([gettext("Every figure of this campaign is published."), None])
    for line in results.withheld_figures:
        sheet.append([line, None])


def _points_rows(sheet: _Sheet, results: CampaignResults) -> None:
    locale = current_locale()
    items = {item.id: item for item in results.items}
    for key, points in results.points.items():  # per scale, or per item with its own points
        if key in LEVELS:
            caption, levels = gettext(SCALE_NAMES.get(key, key)), LEVELS[key]
        elif key in items:
            caption = gettext("Question “%(question)s”") % {"question": items[key].text}
            levels = LEVELS[items[key].scale]
        else:
            continue
        sheet.section(f"{gettext('Points for each answer')} · {caption}")
        for level in levels:
            if level.value in points:
                sheet.append([level.label.get(locale), points[level.value]])
        sheet.append([NOT_APPLICABLE_LABEL.get(locale), gettext("not counted")])


def _quality_rows(sheet: _Sheet, quality: QualitySummary) -> None:
    sheet.section(gettext("Low-quality evaluations"))
    handling = QUALITY_HANDLING.get(quality.handling)
    if handling is not None:
        weight = quality.down_weight if quality.down_weight is not None else 0.0
        sheet.append([gettext(handling) % {"weight": setting_text(weight)}, None])
    for label, count in [
        (N_("Flagged evaluations"), quality.flagged),
        (N_("Flagged for the same answer throughout"), quality.straight_lining),
        (N_("Flagged for speed"), quality.too_fast),
    ]:
        sheet.append([gettext(label), Figure(count, withheld=count is None)])
    sheet.append(
        [
            gettext("Evaluations stored"),
            Figure(quality.evaluations, withheld=quality.evaluations is None),
        ]
    )


PRIVACY_LABELS = {
    "mechanism": N_("Method"),
    "epsilon": N_("Privacy budget ε"),
    "unit": N_("What is protected"),
    "sensitivity": N_("Sensitivity"),
    "library": N_("Library"),
}


def _privacy_rows(sheet: _Sheet, privacy: PrivacyInfo) -> None:
    """Every field of the release's description; fields added later appear by name."""
    sheet.section(gettext("Differential privacy"))
    for name, value in privacy.model_dump().items():
        label = gettext(PRIVACY_LABELS[name]) if name in PRIVACY_LABELS else name
        shown = value if isinstance(value, (int, float, str)) or value is None else str(value)
        sheet.append([label, shown])
