"""Writing results to files: JSON, and CSV that Excel opens correctly (UTF-8 with BOM).

The CSV is made line by line (:func:`csv_lines`), so a route can stream it and a command can
write it without holding the whole file in memory. Every row starts with its kind and the
department's code, name and category; then, per kind:

- 综合 (composite), one per department: evaluations, composite score, grade, rank in its
  category, departments ranked in the category, 末位, the rater groups in the composite, and
  each dimension's department score and satisfaction rate;
- 评议主体 (rater group), per department × rater group: evaluations, score with its standard
  deviation and 95% interval, and the trimmed score when the campaign trims;
- 维度 (dimension), per department × rater group × dimension: answers, 不了解, mean points,
  standard deviation, 95% interval, satisfaction rate and answers per level;
- 题目 (item), per department × rater group × item: respondents, 不了解, mean points, standard
  deviation, 95% interval, satisfaction rate and answers per level.

A withheld figure is an empty cell, and the row's last column names it by its column's header
(the answers per level together, as the distribution). A cell that is empty and not named
there has no figure in that kind of row. Headers follow the current locale.

Every cell goes through :func:`app.reports.cells.csv_text`: a name or text that starts like a
formula (``=``, ``+``, ``-``, ``@``) gets a single quote in front; figures stay as they are.
"""

import csv
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TextIO

from app.i18n import N_, current_locale, gettext
from app.public import views as public_views
from app.reports import cells
from app.results.schemas import (
    CampaignResults,
    DimensionResult,
    GroupResult,
    ItemResult,
    TargetResult,
)
from app.surveys.schemas import SCALES, ScaleName

BYTE_ORDER_MARK = "\ufeff"

ROW_COMPOSITE = N_("composite")
ROW_GROUP = N_("rater group")
ROW_DIMENSION = N_("dimension")
ROW_ITEM = N_("item")

# The figure columns, by the field they hold, with their headers; the answers per level
# (named together as the distribution when withheld) go after the satisfaction rate.
FIGURE_HEADERS = {
    "evaluations": N_("evaluations"),
    "respondents": N_("respondents"),
    "answers": N_("answers"),
    "not_applicable": N_("don't know"),
    "mean_points": N_("mean points"),
    "score": N_("score"),
    "standard_deviation": N_("standard deviation"),
    "ci_low": N_("95% CI low"),
    "ci_high": N_("95% CI high"),
    "trimmed_score": N_("trimmed score"),
    "satisfaction_rate": N_("satisfaction rate"),
}
DISTRIBUTION = N_("distribution")
TARGET_HEADERS = {
    "composite_score": N_("composite score"),
    "grade": N_("grade"),
    "rank": N_("rank in category"),
    "ranked_in_category": N_("departments ranked in category"),
    "bottom": N_("last place"),
    "composite_groups": N_("From rater groups"),
}
LAST_PLACE = N_("last place")  # the 末位 column's mark

# Where each kind of result puts its figures: its field -> the column's field.
GROUP_COLUMNS = {
    "evaluations": "evaluations",
    "score": "score",
    "score_standard_deviation": "standard_deviation",
    "score_ci_low": "ci_low",
    "score_ci_high": "ci_high",
    "trimmed_score": "trimmed_score",
}
SPREAD_FIGURES = ("not_applicable", "mean_points", "standard_deviation", "ci_low", "ci_high")
DIMENSION_COLUMNS = {name: name for name in ("answers", *SPREAD_FIGURES, "satisfaction_rate")}
ITEM_COLUMNS = {name: name for name in ("respondents", *SPREAD_FIGURES, "satisfaction_rate")}
TARGET_COLUMNS = {name: name for name in ("evaluations", "composite_score", "grade", "rank")}


def write_json(results: CampaignResults, stream: TextIO) -> None:
    stream.write(json_text(results))


def json_text(results: CampaignResults) -> str:
    return results.model_dump_json(indent=2) + "\n"


def write_csv(results: CampaignResults, stream: TextIO) -> None:
    """Write :func:`csv_lines` to ``stream`` (opened with ``newline=""``)."""
    for line in csv_lines(results):
        stream.write(line)


def csv_lines(results: CampaignResults) -> Iterator[str]:
    """The CSV file line by line, the first starting with the byte order mark.

    Per department its composite row, then per rater group the group's row, its dimensions'
    rows and its items' rows.
    """
    table = _Table(results)
    writer = csv.writer(_Line())

    def line(row: list[str]) -> str:
        formatted: str = writer.writerow(cells.csv_row(row))  # no cell starts a formula
        return formatted

    yield BYTE_ORDER_MARK + line(table.header())
    for target in results.targets:
        yield line(table.target_row(target))
        for group in target.groups:
            yield line(table.group_row(target, group))
            for dimension in group.dimensions:
                yield line(table.dimension_row(target, group, dimension))
            for item in group.items:
                yield line(table.item_row(target, group, item))


class _Line:
    """A file for :func:`csv.writer` whose ``write`` hands the formatted line back."""

    def write(self, line: str) -> str:
        return line


@dataclass(frozen=True)
class _Column:
    key: str  # a field of FIGURE_HEADERS or TARGET_HEADERS, "level:<n>" or "<field>:<dimension>"
    header: str  # translated


class _Table:
    """The file's columns, and each kind of row laid out in them."""

    def __init__(self, results: CampaignResults) -> None:
        self.levels = level_columns(results)
        self.group_names = {group.key: group.name for group in results.rater_groups}
        self.item_texts = {item.id: item.text for item in results.items}
        trimmed = results.trim_share > 0
        self.level_keys = [f"level:{level}" for level, _ in self.levels]
        self.columns = [
            *[
                _Column(field, gettext(header))
                for field, header in FIGURE_HEADERS.items()
                if trimmed or field != "trimmed_score"
            ],
            *[
                _Column(key, label)
                for key, (_, label) in zip(self.level_keys, self.levels, strict=True)
            ],
            *[_Column(field, gettext(header)) for field, header in TARGET_HEADERS.items()],
            *[
                _Column(f"{field}:{dimension.id}", f"{dimension.name} · {gettext(header)}")
                for dimension in results.dimensions
                for field, header in (
                    ("score", FIGURE_HEADERS["score"]),
                    ("satisfaction_rate", FIGURE_HEADERS["satisfaction_rate"]),
                )
            ],
        ]

    def header(self) -> list[str]:
        head = [
            N_("row type"),
            N_("department code"),
            N_("department"),
            N_("category"),
            N_("rater group"),
            N_("dimension"),
            N_("item id"),
            N_("item"),
        ]
        return [
            *[gettext(name) for name in head],
            *[column.header for column in self.columns],
            gettext("withheld"),
        ]

    def target_row(self, target: TargetResult) -> list[str]:
        cells = _cells(target, TARGET_COLUMNS)
        withheld = _withheld(target.withheld, TARGET_COLUMNS)
        ranked = "rank" not in target.withheld
        cells["bottom"] = gettext(LAST_PLACE) if ranked and target.bottom else ""
        if not ranked:  # unranked, so neither last nor not: withheld with the rank
            withheld.add("bottom")
        cells["ranked_in_category"] = _text(target.ranked_in_category)
        cells["composite_groups"] = public_views.join_names(
            self.group_names.get(key, key) for key in target.composite_groups
        )
        for dimension in target.dimensions:
            for field in ("score", "satisfaction_rate"):
                key = f"{field}:{dimension.dimension}"
                cells[key] = _text(getattr(dimension, field))
                if field in dimension.withheld:
                    withheld.add(key)
        return self._row(ROW_COMPOSITE, target, ["", "", "", ""], cells, withheld)

    def group_row(self, target: TargetResult, group: GroupResult) -> list[str]:
        return self._row(
            ROW_GROUP,
            target,
            [self.group_names[group.rater_group], "", "", ""],
            _cells(group, GROUP_COLUMNS),
            _withheld(group.withheld, GROUP_COLUMNS),
        )

    def dimension_row(
        self, target: TargetResult, group: GroupResult, dimension: DimensionResult
    ) -> list[str]:
        return self._row(
            ROW_DIMENSION,
            target,
            [self.group_names[group.rater_group], dimension.name, "", ""],
            {**_cells(dimension, DIMENSION_COLUMNS), **self._levels(dimension.distribution)},
            self._distribution_withheld(dimension.withheld, DIMENSION_COLUMNS),
        )

    def item_row(self, target: TargetResult, group: GroupResult, item: ItemResult) -> list[str]:
        return self._row(
            ROW_ITEM,
            target,
            [self.group_names[group.rater_group], "", item.item, self.item_texts[item.item]],
            {**_cells(item, ITEM_COLUMNS), **self._levels(item.distribution)},
            self._distribution_withheld(item.withheld, ITEM_COLUMNS),
        )

    def _levels(self, distribution: Mapping[int, int] | None) -> dict[str, str]:
        """Answers per level; levels outside the scale stay empty."""
        return {
            key: _text((distribution or {}).get(level))
            for key, (level, _) in zip(self.level_keys, self.levels, strict=True)
        }

    def _distribution_withheld(
        self, withheld: Sequence[str], columns: Mapping[str, str]
    ) -> set[str]:
        keys = _withheld(withheld, columns)
        if "distribution" in withheld:
            keys.update(self.level_keys)
        return keys

    def _row(
        self,
        kind: str,
        target: TargetResult,
        place: list[str],
        cells: Mapping[str, str],
        withheld: set[str],
    ) -> list[str]:
        """``place`` is the rater group, dimension, item id and item the row is about."""
        return [
            gettext(kind),
            target.target,
            target.name,
            target.category,
            *place,
            *[cells.get(column.key, "") for column in self.columns],
            self._withheld_names(withheld),
        ]

    def _withheld_names(self, withheld: set[str]) -> str:
        """The withheld columns' headers in the file's order, the levels as one name."""
        names: list[str] = []
        for column in self.columns:
            if column.key not in withheld:
                continue
            name = gettext(DISTRIBUTION) if column.key in self.level_keys else column.header
            if name not in names:
                names.append(name)
        return "; ".join(names)


def _cells(result: object, columns: Mapping[str, str]) -> dict[str, str]:
    """The result's figures, each in its column."""
    return {column: _text(getattr(result, field)) for field, column in columns.items()}


def _withheld(withheld: Sequence[str], columns: Mapping[str, str]) -> set[str]:
    """The columns of the withheld figures this file has a column for."""
    return {columns[field] for field in withheld if field in columns}


def level_columns(results: CampaignResults) -> list[tuple[int, str]]:
    """Distribution columns ``(level, label)``, highest first: the scale's labels when all
    items share one scale, else numbered levels."""
    scales: set[ScaleName] = {item.scale for item in results.items}
    if len(scales) == 1:
        (scale,) = scales
        return [(level.value, level.label.get(current_locale())) for level in SCALES[scale]]
    values = sorted({level.value for scale in scales for level in SCALES[scale]}, reverse=True)
    return [(value, gettext("level %(level)s") % {"level": value}) for value in values]


def _text(value: float | int | str | None) -> str:
    """A figure as written in the file: a withheld (None) one as an empty cell."""
    return "" if value is None else str(value)
