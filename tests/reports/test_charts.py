"""Server-rendered SVG bar charts: well-formed, accessible, proportional, escaped."""

import math
import xml.etree.ElementTree as ET

import pytest

from app.reports import charts
from app.reports.charts import Bar, horizontal_bar_chart

SVG = "{http://www.w3.org/2000/svg}"
WITHHELD = "人数不足，不公布"


def render(
    bars: list[Bar], *, maximum: float = 100.0, unit: str = "", decimals: int = 2
) -> ET.Element:
    markup = horizontal_bar_chart(
        "满意度", bars, maximum=maximum, unit=unit, withheld_label=WITHHELD, decimals=decimals
    )
    return parse(markup)


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))  # noqa: S314 - our own output; the test is that it parses


def rows(svg: ET.Element) -> list[ET.Element]:
    return [group for group in svg.iter(f"{SVG}g") if "row" in classes(group)]


def classes(element: ET.Element) -> list[str]:
    return (element.get("class") or "").split()


def child(row: ET.Element, tag: str, css_class: str) -> ET.Element | None:
    for element in row.iter(f"{SVG}{tag}"):
        if css_class in classes(element):
            return element
    return None


def bar_width(row: ET.Element) -> float:
    bar = child(row, "rect", "bar")
    assert bar is not None
    return float(bar.get("width", "nan"))


def text_of(row: ET.Element, css_class: str) -> str:
    element = child(row, "text", css_class)
    assert element is not None
    return element.text or ""


class TestWellFormedSvg:
    def test_chart_is_one_svg_element_that_parses_as_xml(self) -> None:
        svg = render([Bar("公安局", 90.0), Bar("税务局", None)])

        assert svg.tag == f"{SVG}svg"
        assert len(rows(svg)) == 2

    def test_chart_scales_with_a_view_box_and_no_fixed_size(self) -> None:
        svg = render([Bar("公安局", 90.0)])

        min_x, min_y, width, height = (float(part) for part in svg.get("viewBox", "").split())
        assert (min_x, min_y) == (0, 0)
        assert width > 0
        assert height > 0
        assert svg.get("width") == "100%"
        assert svg.get("height") is None

    def test_chart_has_no_inline_style_or_script(self) -> None:
        svg = render([Bar("公安局", 90.0, note="n=12"), Bar("税务局", None)])

        assert all(element.get("style") is None for element in svg.iter())
        assert all(not name.startswith("on") for element in svg.iter() for name in element.attrib)
        assert not list(svg.iter(f"{SVG}style"))
        assert not list(svg.iter(f"{SVG}script"))

    def test_chart_grows_a_row_at_a_time(self) -> None:
        one = render([Bar("公安局", 90.0)])
        three = render([Bar("公安局", 90.0), Bar("税务局", 80.0), Bar("民政局", 70.0)])

        one_height = float(one.get("viewBox", "").split()[3])
        three_height = float(three.get("viewBox", "").split()[3])
        assert three_height == one_height + 2 * charts.ROW_HEIGHT

    def test_chart_without_bars_still_parses(self) -> None:
        svg = render([])

        assert rows(svg) == []


class TestAccessibleName:
    def test_chart_is_an_image_labelled_by_its_title(self) -> None:
        svg = parse(
            horizontal_bar_chart("各单位满意度", [Bar("公安局", 1)], withheld_label=WITHHELD)
        )

        assert svg.get("role") == "img"
        title = svg.find(f"{SVG}title")
        assert title is not None
        assert title.text == "各单位满意度"
        assert svg.get("aria-labelledby") == title.get("id")

    def test_description_lists_every_label_with_its_value(self) -> None:
        svg = render([Bar("公安局", 92.5, note="12人"), Bar("税务局", None)], unit="%", decimals=1)

        description = svg.find(f"{SVG}desc")
        assert description is not None
        assert svg.get("aria-describedby") == description.get("id")
        assert description.text == f"公安局: 92.5% (12人); 税务局: {WITHHELD}"

    def test_two_different_charts_on_one_page_have_different_ids(self) -> None:
        first = render([Bar("公安局", 90.0)])
        second = render([Bar("公安局", 80.0)])

        first_ids = {element.get("id") for element in first.iter()} - {None}
        second_ids = {element.get("id") for element in second.iter()} - {None}
        assert first_ids
        assert not first_ids & second_ids


class TestBarLength:
    def test_bar_widths_are_proportional_to_values(self) -> None:
        svg = render([Bar("公安局", 80.0), Bar("税务局", 20.0)])

        high, low = (bar_width(row) for row in rows(svg))
        assert high == pytest.approx(4 * low, abs=0.02)

    def test_bar_width_is_value_over_maximum_of_the_track(self) -> None:
        svg = render([Bar("公安局", 3.0), Bar("税务局", 5.0)], maximum=5.0)

        three, five = rows(svg)
        assert bar_width(three) == pytest.approx(charts.TRACK_WIDTH * 3 / 5, abs=0.01)
        assert bar_width(five) == pytest.approx(charts.TRACK_WIDTH)

    def test_bars_start_at_the_same_place(self) -> None:
        svg = render([Bar("公安局", 80.0), Bar("一个很长很长很长的单位名称", 20.0)])

        bars = [child(row, "rect", "bar") for row in rows(svg)]
        assert len({bar.get("x") for bar in bars if bar is not None}) == 1


class TestValueText:
    def test_each_value_is_written_beside_its_bar_with_its_unit(self) -> None:
        svg = render([Bar("公安局", 92.5), Bar("税务局", 100.0)], unit="%")

        assert [text_of(row, "value") for row in rows(svg)] == ["92.50%", "100.00%"]

    def test_values_are_rounded_half_up_to_the_decimals_asked(self) -> None:
        svg = render([Bar("公安局", 92.345), Bar("税务局", 12.0)], unit="分", decimals=1)

        assert [text_of(row, "value") for row in rows(svg)] == ["92.3分", "12.0分"]
        svg = render([Bar("公安局", 92.345)])
        assert text_of(rows(svg)[0], "value") == "92.35"

    def test_note_is_written_under_its_bar(self) -> None:
        svg = render([Bar("公安局", 90.0, note="评议人数 12"), Bar("税务局", 80.0)])

        noted, plain = rows(svg)
        assert text_of(noted, "note") == "评议人数 12"
        assert child(plain, "text", "note") is None


class TestWithheldFigure:
    def test_withheld_value_draws_no_bar_and_says_why(self) -> None:
        svg = render([Bar("公安局", 90.0), Bar("税务局", None)])

        withheld = rows(svg)[1]
        assert "withheld" in classes(withheld)
        assert child(withheld, "rect", "bar") is None
        assert child(withheld, "text", "value") is None
        assert text_of(withheld, "withheld-label") == WITHHELD

    def test_withheld_row_is_marked_with_a_hatched_placeholder(self) -> None:
        svg = render([Bar("税务局", None)])

        placeholder = child(rows(svg)[0], "rect", "placeholder")
        assert placeholder is not None
        patterns = {pattern.get("id") for pattern in svg.iter(f"{SVG}pattern")}
        assert placeholder.get("fill") in {f"url(#{pattern_id})" for pattern_id in patterns}

    def test_zero_is_shown_as_zero_not_as_withheld(self) -> None:
        svg = render([Bar("税务局", 0.0)])

        row = rows(svg)[0]
        assert "withheld" not in classes(row)
        assert bar_width(row) == 0
        assert text_of(row, "value") == "0.00"


class TestClamping:
    def test_negative_value_draws_no_length_but_shows_the_value(self) -> None:
        svg = render([Bar("公安局", -3.0)])

        row = rows(svg)[0]
        assert bar_width(row) == 0
        assert text_of(row, "value") == "-3.00"

    def test_value_over_the_maximum_fills_the_track_and_shows_the_value(self) -> None:
        svg = render([Bar("公安局", 120.0), Bar("税务局", 100.0)])

        over, full = rows(svg)
        assert bar_width(over) == bar_width(full) == charts.TRACK_WIDTH
        assert text_of(over, "value") == "120.00"

    def test_tiny_negative_value_is_not_written_as_minus_zero(self) -> None:
        svg = render([Bar("公安局", -0.001)])

        assert text_of(rows(svg)[0], "value") == "0.00"

    @pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
    def test_value_that_is_not_a_finite_number_is_refused(self, value: float) -> None:
        with pytest.raises(ValueError, match="公安局"):
            render([Bar("公安局", value)])

    @pytest.mark.parametrize("maximum", [0.0, -100.0, math.nan, math.inf])
    def test_maximum_that_is_not_a_positive_number_is_refused(self, maximum: float) -> None:
        with pytest.raises(ValueError, match="maximum"):
            render([Bar("公安局", 1.0)], maximum=maximum)


class TestEscaping:
    @pytest.mark.parametrize(
        "name",
        [
            "<script>alert(1)</script>",
            "A & B 局",
            '"><svg onload=alert(1)>',
            "]]><!-- &amp;",
        ],
    )
    def test_label_is_inert_text(self, name: str) -> None:
        svg = parse(horizontal_bar_chart(name, [Bar(name, 50.0)], withheld_label=name))

        assert not list(svg.iter(f"{SVG}script"))
        assert all(not attr.startswith("on") for element in svg.iter() for attr in element.attrib)
        title = svg.find(f"{SVG}title")
        assert title is not None
        assert title.text == name
        row = rows(svg)[0]
        row_title = row.find(f"{SVG}title")
        assert row_title is not None
        assert row_title.text == name

    def test_unit_and_note_are_escaped(self) -> None:
        svg = render([Bar("公安局", 1.0, note="<b>n</b>")], unit="<%>")

        shown = rows(svg)[0]
        assert text_of(shown, "value") == "1.00<%>"
        assert text_of(shown, "note") == "<b>n</b>"
        assert not list(svg.iter(f"{SVG}b"))

    def test_control_characters_are_dropped_so_the_chart_stays_xml(self) -> None:
        svg = render([Bar("公安\x00局\x1b", 1.0, note="a\x0bb")])

        row = rows(svg)[0]
        assert text_of(row, "label") == "公安 局"
        assert text_of(row, "note") == "a b"


class TestLongLabels:
    def test_ten_cjk_characters_fit_whole(self) -> None:
        name = "人力资源和社会保障局"

        svg = render([Bar(name, 50.0)])

        assert len(name) == 10
        assert text_of(rows(svg)[0], "label") == name

    def test_longer_label_wraps_onto_two_lines_whole(self) -> None:
        name = "区人力资源和社会保障局"

        svg = render([Bar(name, 50.0)])

        label = child(rows(svg)[0], "text", "label")
        assert label is not None
        lines = [tspan.text or "" for tspan in label.iter(f"{SVG}tspan")]
        assert len(lines) == 2
        assert "".join(lines) == name
        assert all(len(line) <= 10 for line in lines)

    def test_wrapped_label_makes_its_row_taller(self) -> None:
        short = render([Bar("公安局", 50.0), Bar("税务局", 50.0)])
        wrapped = render([Bar("区人力资源和社会保障局", 50.0), Bar("税务局", 50.0)])

        assert _height(wrapped) == _height(short) + charts.LABEL_LINE_HEIGHT

    def test_label_longer_than_two_lines_is_cut_and_kept_whole_in_the_row_title(
        self,
    ) -> None:
        name = "市场监督管理局行政审批服务科第二办事窗口综合受理组"

        svg = render([Bar(name, 50.0)])

        row = rows(svg)[0]
        label = child(row, "text", "label")
        assert label is not None
        shown = "".join(label.itertext())
        assert shown.endswith("…")
        assert name.startswith(shown[:-1])
        assert len(shown) <= 20
        row_title = row.find(f"{SVG}title")
        assert row_title is not None
        assert row_title.text == name

    def test_long_latin_label_wraps_at_a_space(self) -> None:
        name = "Municipal Human Resources and Social Security Bureau"

        svg = render([Bar(name, 50.0)])

        label = child(rows(svg)[0], "text", "label")
        assert label is not None
        lines = [tspan.text or "" for tspan in label.iter(f"{SVG}tspan")]
        assert len(lines) == 2
        assert lines[0].startswith("Municipal")
        assert not lines[0].endswith(" ")
        assert name.startswith(lines[0] + " ")


def _height(svg: ET.Element) -> float:
    return float((svg.get("viewBox") or "").split()[3])
