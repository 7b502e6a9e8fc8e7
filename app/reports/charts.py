"""Horizontal bar charts as inline SVG: no JavaScript, no library, no inline styles.

The chart is drawn in a fixed coordinate system (``viewBox``) and sized to 100% of its
container, so it shrinks to a phone's width; a page's stylesheet may cap its ``max-width``.
Only SVG presentation attributes are used (``fill``, ``font-size`` …), never ``style=``, so a
Content-Security-Policy without ``'unsafe-inline'`` allows it.

For assistive technology the whole chart is one image (``role="img"``) named by its
``<title>`` and described by a ``<desc>`` listing every label and value. Each value is also
drawn as text beside its bar, so no figure is conveyed by bar length alone. A withheld
figure (value ``None``) gets no bar: a hatched placeholder with the withheld text instead.
"""

import hashlib
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from markupsafe import Markup

WIDTH = 400  # viewBox units; about 0.8 of that in CSS pixels on a phone
PADDING = 8
TITLE_FONT_SIZE = 16
TITLE_BASELINE = 22
TITLE_EMS = 24.0  # what fits on the title line, in em of its font
ROWS_TOP = 34
LABEL_FONT_SIZE = 14
LABEL_EMS = 10.0  # per line: ten CJK characters, or about eighteen Latin ones
LABEL_LINE_HEIGHT = 16  # a long label wraps onto a second line, the row growing by this
LABEL_RIGHT = 150  # labels are right-aligned against the bars
TRACK_X = 158
VALUE_COLUMN = 72  # room for "100.00%" right of the bars
TRACK_WIDTH = WIDTH - PADDING - VALUE_COLUMN - TRACK_X
PLACEHOLDER_WIDTH = WIDTH - PADDING - TRACK_X  # a withheld row has no value to show
BAR_HEIGHT = 18
BAR_OFFSET = 6  # from the top of a row to the top of its bar
TEXT_OFFSET = 19.5  # from the top of a row to the baseline of its texts
ROW_HEIGHT = 30
NOTE_FONT_SIZE = 12
NOTE_HEIGHT = 16
NOTE_EMS = 19.0
WITHHELD_FONT_SIZE = 13
WITHHELD_INSET = 6
WITHHELD_EMS = 17.0
ELLIPSIS = "…"
ELLIPSIS_EMS = 1.0  # full width in CJK fonts

BAR_FILL = "#0b4f8a"
TRACK_FILL = "#f3f6f9"
HATCH_LINE = "#aab4bf"
MUTED_INK = "#4a5563"
NARROW_CHARACTERS = frozenset(" .,:;!|()[]'`ijlrtf-")
WIDE_LATIN_CHARACTERS = frozenset("MWmw@%")


@dataclass(frozen=True)
class Bar:
    """One row: a label, its value in the chart's unit, ``None`` if withheld, and a note."""

    label: str
    value: float | None
    note: str = ""


def horizontal_bar_chart(
    title: str,
    bars: Sequence[Bar],
    *,
    maximum: float = 100.0,
    unit: str = "",
    withheld_label: str,
    decimals: int = 2,
) -> Markup:
    """An ``<svg>`` element with one bar per row, its length ``value / maximum`` of the track.

    Values below zero draw no bar and values above ``maximum`` a full one; the text beside
    the bar always gives the value itself. Labels wider than about ten CJK characters wrap
    onto a second line (the row grows), and only past two lines are cut with an ellipsis;
    the row's ``<title>`` (a tooltip) and the chart's ``<desc>`` keep them whole. Element
    ids derive from the content, so a page showing one chart twice repeats them, and charts
    that differ get different ones.
    """
    if not math.isfinite(maximum) or maximum <= 0:
        raise ValueError(f"chart maximum must be a positive number, not {maximum!r}")
    if decimals < 0:
        raise ValueError(f"chart decimals must not be negative, not {decimals!r}")
    for bar in bars:
        if bar.value is not None and not math.isfinite(bar.value):
            raise ValueError(f"bar “{bar.label}” has no finite value: {bar.value!r}")

    title = _clean(title)
    unit = _clean(unit)
    withheld_label = _clean(withheld_label)
    chart_id = _chart_id(title, bars, maximum, unit, withheld_label, decimals)
    hatch_id = f"{chart_id}-hatch"

    rows: list[Markup] = []
    descriptions: list[str] = []
    top = float(ROWS_TOP)
    for bar in bars:
        label = _clean(bar.label)
        note = _clean(bar.note)
        shown = (
            withheld_label
            if bar.value is None
            else _format_value(bar.value, decimals=decimals, unit=unit)
        )
        descriptions.append(f"{label}: {shown}" + (f" ({note})" if note else ""))
        rows.append(
            _row(
                top,
                label=label,
                note=note,
                value=bar.value,
                shown=shown,
                maximum=maximum,
                hatch_id=hatch_id,
            )
        )
        wrapped = len(_label_lines(label)) > 1
        top += ROW_HEIGHT + max(NOTE_HEIGHT if note else 0, LABEL_LINE_HEIGHT if wrapped else 0)
    height = top + PADDING

    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"'
        ' viewBox="0 0 {width} {height}" width="100%"'
        ' aria-labelledby="{chart_id}-title" aria-describedby="{chart_id}-desc">'
        '<title id="{chart_id}-title">{title}</title>'
        '<desc id="{chart_id}-desc">{description}</desc>'
        "<defs>{hatch}</defs>"
        '<text class="chart-title" x="{padding}" y="{title_baseline}"'
        ' font-size="{title_font_size}" font-weight="600" fill="currentColor">{short_title}</text>'
        "{rows}"
        "</svg>"
    ).format(
        width=WIDTH,
        height=_number(height),
        chart_id=chart_id,
        title=title,
        description="; ".join(descriptions),
        hatch=_hatch_pattern(hatch_id),
        padding=PADDING,
        title_baseline=TITLE_BASELINE,
        title_font_size=TITLE_FONT_SIZE,
        short_title=_truncate(title, TITLE_EMS),
        rows=Markup("").join(rows),
    )


def _row(
    top: float,
    *,
    label: str,
    note: str,
    value: float | None,
    shown: str,
    maximum: float,
    hatch_id: str,
) -> Markup:
    text_y = _number(top + TEXT_OFFSET)
    bar_y = _number(top + BAR_OFFSET)
    parts = [
        Markup("<title>{}</title>").format(f"{label}\n{note}" if note else label),
        _label_text(label, text_y),
    ]
    if value is None:
        parts += [
            Markup(
                '<rect class="placeholder" x="{}" y="{}" width="{}" height="{}"'
                ' fill="url(#{})" stroke="{}" stroke-dasharray="4 3"/>'
            ).format(TRACK_X, bar_y, PLACEHOLDER_WIDTH, BAR_HEIGHT, hatch_id, HATCH_LINE),
            Markup(
                '<text class="withheld-label" x="{}" y="{}" font-size="{}" fill="{}"'
                ' stroke="{}" stroke-width="3" paint-order="stroke">{}</text>'
            ).format(
                TRACK_X + WITHHELD_INSET,
                text_y,
                WITHHELD_FONT_SIZE,
                MUTED_INK,
                TRACK_FILL,
                _truncate(shown, WITHHELD_EMS),
            ),
        ]
    else:
        fraction = min(max(value / maximum, 0.0), 1.0)
        parts += [
            Markup('<rect class="track" x="{}" y="{}" width="{}" height="{}" fill="{}"/>').format(
                TRACK_X, bar_y, TRACK_WIDTH, BAR_HEIGHT, TRACK_FILL
            ),
            Markup('<rect class="bar" x="{}" y="{}" width="{}" height="{}" fill="{}"/>').format(
                TRACK_X, bar_y, _number(TRACK_WIDTH * fraction), BAR_HEIGHT, BAR_FILL
            ),
            Markup(
                '<text class="value" x="{}" y="{}" text-anchor="end" font-size="{}"'
                ' fill="currentColor">{}</text>'
            ).format(WIDTH - PADDING, text_y, LABEL_FONT_SIZE, shown),
        ]
    if note:
        parts.append(
            Markup('<text class="note" x="{}" y="{}" font-size="{}" fill="{}">{}</text>').format(
                TRACK_X,
                _number(top + ROW_HEIGHT + NOTE_FONT_SIZE - 2),
                NOTE_FONT_SIZE,
                MUTED_INK,
                _truncate(note, NOTE_EMS),
            )
        )
    row_class = "row withheld" if value is None else "row"
    return Markup('<g class="{}">{}</g>').format(row_class, Markup("").join(parts))


def _label_text(label: str, text_y: str) -> Markup:
    """The label right-aligned against the bars: one line, or two ``<tspan>`` lines."""
    lines = _label_lines(label)
    if len(lines) == 1:
        content = Markup("{}").format(lines[0])
    else:
        content = Markup("").join(
            Markup('<tspan x="{}" dy="{}">{}</tspan>').format(
                LABEL_RIGHT, 0 if index == 0 else LABEL_LINE_HEIGHT, line
            )
            for index, line in enumerate(lines)
        )
    return Markup(
        '<text class="label" x="{}" y="{}" text-anchor="end" font-size="{}"'
        ' fill="currentColor">{}</text>'
    ).format(LABEL_RIGHT, text_y, LABEL_FONT_SIZE, content)


def _label_lines(label: str) -> list[str]:
    """One line if it fits; else two of about equal width (at a space in Latin text when
    there is one), the second cut with an ellipsis if still too wide."""
    widths = [_ems(char) for char in label]
    total = sum(widths)
    if total <= LABEL_EMS:
        return [label]
    split, width = 0, 0.0
    half = min(total / 2, LABEL_EMS)
    while split < len(label) and width + widths[split] <= half + 0.5:
        width += widths[split]
        split += 1
    space = label.rfind(" ", 0, split + 1)
    if space > 0 and space >= split // 2:
        split = space
    first, second = label[:split].rstrip(), label[split:].lstrip()
    return [first, _truncate(second, LABEL_EMS)] if second else [_truncate(first, LABEL_EMS)]


def _hatch_pattern(hatch_id: str) -> Markup:
    return Markup(
        '<pattern id="{id}" width="6" height="6" patternUnits="userSpaceOnUse"'
        ' patternTransform="rotate(45)">'
        '<rect width="6" height="6" fill="{background}"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="{line}" stroke-width="2"/>'
        "</pattern>"
    ).format(id=hatch_id, background=TRACK_FILL, line=HATCH_LINE)


def _chart_id(
    title: str,
    bars: Sequence[Bar],
    maximum: float,
    unit: str,
    withheld_label: str,
    decimals: int,
) -> str:
    content = repr((title, tuple(bars), maximum, unit, withheld_label, decimals))
    return "chart-" + hashlib.blake2b(content.encode(), digest_size=6).hexdigest()


def _clean(text: str) -> str:
    """One line of text that XML accepts: control and other unprintable characters go."""
    return " ".join("".join(char if char.isprintable() else " " for char in text).split())


def _ems(char: str) -> float:
    """A rough width of the character in em; generous for capitals, exact for CJK."""
    if unicodedata.combining(char):
        return 0.0
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return 1.0
    if char in NARROW_CHARACTERS:
        return 0.35
    if char in WIDE_LATIN_CHARACTERS:
        return 1.0
    if char.isupper():
        return 0.8
    return 0.62


def _truncate(text: str, ems: float) -> str:
    """The text, cut with an ellipsis if it is wider than ``ems`` (a CJK character is 1)."""
    if sum(_ems(char) for char in text) <= ems:
        return text
    kept: list[str] = []
    width = 0.0
    for char in text:
        width += _ems(char)
        if width > ems - ELLIPSIS_EMS:
            break
        kept.append(char)
    return "".join(kept).rstrip() + ELLIPSIS


def _format_value(value: float, *, decimals: int, unit: str) -> str:
    """The value rounded half up (四舍五入) as written, so 92.345 shows as 92.35."""
    rounded = Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)  # no "-0.00"
    return f"{rounded:f}{unit}"


def _number(value: float) -> str:
    """A coordinate, to a hundredth of a unit, without trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
