"""Writing results to files: JSON, and CSV that Excel opens correctly (UTF-8 with BOM).

The CSV is made line by line (:func:`csv_lines`), so a route can stream it and a command can
write it without holding the whole file in memory.
"""

import csv
from collections.abc import Iterator
from typing import TextIO

from app.i18n import N_, current_locale, gettext
from app.results.schemas import CampaignResults
from app.surveys.schemas import SCALES, ScaleName

BYTE_ORDER_MARK = "\ufeff"

FIELD_NAMES = {
    "evaluations": N_("evaluations"),
    "respondents": N_("respondents"),
    "not_applicable": N_("don't know"),
    "score": N_("score"),
    "mean_points": N_("mean points"),
    "satisfaction_rate": N_("satisfaction rate"),
    "distribution": N_("distribution"),
    "composite_score": N_("composite score"),
}
ROW_COMPOSITE = N_("composite")
ROW_GROUP = N_("rater group")
ROW_ITEM = N_("item")


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

    One row per target (evaluations and composite), per target × group, and per target ×
    group × item. Withheld figures are left blank and named in the last column.
    """
    levels = level_columns(results)
    item_texts = {item.id: item.text for item in results.items}
    group_names = {group.key: group.name for group in results.rater_groups}
    writer = csv.writer(_Line())
    yield BYTE_ORDER_MARK + writer.writerow(
        [
            gettext("row type"),
            gettext("department code"),
            gettext("department"),
            gettext("category"),
            gettext("rater group"),
            gettext("item id"),
            gettext("item"),
            gettext("evaluations"),
            gettext("don't know"),
            gettext("score"),
            gettext("satisfaction rate"),
            *[label for _, label in levels],
            gettext("withheld"),
        ]
    )
    empty_levels = [""] * len(levels)
    for target in results.targets:
        head = [target.target, target.name, target.category]
        yield writer.writerow(
            [
                gettext(ROW_COMPOSITE),
                *head,
                "",
                "",
                "",
                _cell(target.evaluations),
                "",
                _cell(target.composite_score),
                "",
                *empty_levels,
                _withheld(target.withheld),
            ]
        )
        for group in target.groups:
            group_head = [*head, group_names[group.rater_group]]
            yield writer.writerow(
                [
                    gettext(ROW_GROUP),
                    *group_head,
                    "",
                    "",
                    _cell(group.evaluations),
                    "",
                    _cell(group.score),
                    "",
                    *empty_levels,
                    _withheld(group.withheld),
                ]
            )
            for item in group.items:
                distribution = item.distribution or {}
                yield writer.writerow(
                    [
                        gettext(ROW_ITEM),
                        *group_head,
                        item.item,
                        item_texts[item.item],
                        _cell(item.respondents),
                        _cell(item.not_applicable),
                        _cell(item.mean_points),
                        _cell(item.satisfaction_rate),
                        *[_cell(distribution.get(level)) for level, _ in levels],
                        _withheld(item.withheld),
                    ]
                )


class _Line:
    """A file for :func:`csv.writer` whose ``write`` hands the formatted line back."""

    def write(self, line: str) -> str:
        return line


def level_columns(results: CampaignResults) -> list[tuple[int, str]]:
    """Distribution columns ``(level, label)``, highest first: the scale's labels when all
    items share one scale, else numbered levels."""
    scales: set[ScaleName] = {item.scale for item in results.items}
    if len(scales) == 1:
        (scale,) = scales
        return [(level.value, level.label.get(current_locale())) for level in SCALES[scale]]
    values = sorted({level.value for scale in scales for level in SCALES[scale]}, reverse=True)
    return [(value, gettext("level %(level)s") % {"level": value}) for value in values]


def _cell(value: float | int | None) -> str:
    return "" if value is None else str(value)


def _withheld(fields: list[str]) -> str:
    """The withheld figures this file has a column for (spreads, grades and ranks it has not)."""
    return "; ".join(gettext(FIELD_NAMES[field]) for field in fields if field in FIELD_NAMES)
