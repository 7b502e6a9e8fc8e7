"""A small line chart as inline SVG, for a department's trend across a series.

Drawn like :mod:`app.reports.charts`: a fixed ``viewBox`` sized to its container, SVG
presentation attributes only (no ``style=``, so the CSP without ``'unsafe-inline'`` allows it),
no script, no library. The chart is one image (``role="img"``) named by its ``<title>`` and
described by a ``<desc>`` listing every value, so nothing is conveyed by position alone; lines
differ by dash pattern as well as colour. A withheld value (``None``) gets no point: the line
breaks there and a hollow grey square sits on the axis, and the description says
"not published". The page shows the same figures in a table.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from markupsafe import Markup

WIDTH = 400
PLOT_LEFT = 44
PLOT_RIGHT = 370  # room for the last label, centred on its point
PLOT_TOP = 34
PLOT_BOTTOM = 174
AXIS_LABEL_BASELINE = 192
LEGEND_TOP = 206
LEGEND_ROW = 18
FONT_SIZE = 12
TITLE_FONT_SIZE = 14
TICKS = 4  # gridlines above the baseline
MUTED_INK = "#4a5563"
GRID = "#dde3ea"
WITHHELD = "#aab4bf"
COLOURS = ("#0b4f8a", "#b35806", "#1b7837", "#762a83", "#8c510a", "#2d004b")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "4 4", "1 2")


@dataclass(frozen=True)
class Line:
    name: str
    values: Sequence[float | None]  # one per label; None where withheld


def _text(value: float, decimals: int, unit: str) -> str:
    rounded = Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return f"{rounded:f}{unit}"


def line_chart(
    title: str,
    labels: Sequence[str],
    lines: Sequence[Line],
    *,
    maximum: float = 100.0,
    withheld_label: str,
    decimals: int = 2,
    unit: str = "",
) -> Markup:
    """An ``<svg>`` with one line per :class:`Line` over ``labels``, from 0 to ``maximum``."""
    if maximum <= 0:
        raise ValueError(f"chart maximum must be positive, not {maximum!r}")
    for line in lines:
        if len(line.values) != len(labels):
            raise ValueError(f"line “{line.name}” has {len(line.values)} values for {len(labels)}")
    digest = hashlib.sha256(
        repr((title, labels, [(line.name, line.values) for line in lines])).encode()
    )
    chart_id = "trend-" + digest.hexdigest()[:12]
    height = LEGEND_TOP + LEGEND_ROW * len(lines) + 4
    span = PLOT_BOTTOM - PLOT_TOP

    def x_at(index: int) -> float:
        if len(labels) == 1:
            return (PLOT_LEFT + PLOT_RIGHT) / 2
        return PLOT_LEFT + (PLOT_RIGHT - PLOT_LEFT) * index / (len(labels) - 1)

    def y_at(value: float) -> float:
        clamped = min(max(value, 0.0), maximum)
        return round(PLOT_BOTTOM - span * clamped / maximum, 2)

    parts: list[Markup] = []
    for tick in range(TICKS + 1):
        value = maximum * tick / TICKS
        y = y_at(value)
        parts.append(
            Markup('<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}"/>').format(
                PLOT_LEFT, y, PLOT_RIGHT, y, GRID
            )
        )
        parts.append(
            Markup(
                '<text x="{}" y="{}" font-size="{}" fill="{}" text-anchor="end">{}</text>'
            ).format(PLOT_LEFT - 4, y + 4, FONT_SIZE - 2, MUTED_INK, _text(value, 0, unit))
        )
    for index, label in enumerate(labels):
        parts.append(
            Markup(
                '<text x="{}" y="{}" font-size="{}" fill="{}" text-anchor="middle">{}</text>'
            ).format(round(x_at(index), 2), AXIS_LABEL_BASELINE, FONT_SIZE, MUTED_INK, label)
        )
    descriptions: list[str] = []
    for number, line in enumerate(lines):
        colour = COLOURS[number % len(COLOURS)]
        dash = DASHES[number % len(DASHES)]
        dash_attribute = Markup(' stroke-dasharray="{}"').format(dash) if dash else Markup("")
        segment: list[str] = []
        segments: list[list[str]] = []
        shown: list[str] = []
        for index, point in enumerate(line.values):
            x = round(x_at(index), 2)
            if point is None:
                if segment:
                    segments.append(segment)
                segment = []
                parts.append(
                    Markup(
                        '<rect x="{}" y="{}" width="8" height="8" fill="none" stroke="{}"/>'
                    ).format(x - 4, PLOT_BOTTOM - 4, WITHHELD)
                )
                shown.append(f"{labels[index]} {withheld_label}")
                continue
            segment.append(f"{x},{y_at(point)}")
            parts.append(
                Markup('<circle cx="{}" cy="{}" r="3.5" fill="{}"/>').format(x, y_at(point), colour)
            )
            shown.append(f"{labels[index]} {_text(point, decimals, unit)}")
        if segment:
            segments.append(segment)
        for points in segments:
            if len(points) > 1:
                parts.append(
                    Markup(
                        '<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{}/>'
                    ).format(" ".join(points), colour, dash_attribute)
                )
        legend_y = LEGEND_TOP + LEGEND_ROW * number
        parts.append(
            Markup('<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="2"{}/>').format(
                PLOT_LEFT, legend_y, PLOT_LEFT + 24, legend_y, colour, dash_attribute
            )
        )
        parts.append(
            Markup('<text x="{}" y="{}" font-size="{}" fill="{}">{}</text>').format(
                PLOT_LEFT + 30, legend_y + 4, FONT_SIZE, MUTED_INK, line.name
            )
        )
        descriptions.append(f"{line.name}: " + "; ".join(shown))
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        'role="img" aria-labelledby="{id}-title {id}-desc" class="trend-chart">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>'
        '<text x="{left}" y="20" font-size="{size}" fill="#1f2933">{title}</text>{parts}</svg>'
    ).format(
        width=WIDTH,
        height=height,
        id=chart_id,
        title=title,
        desc="\n".join(descriptions),
        left=PLOT_LEFT,
        size=TITLE_FONT_SIZE,
        parts=Markup("").join(parts),
    )
