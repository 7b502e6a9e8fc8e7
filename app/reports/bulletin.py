"""The results bulletin (通报): an A4 PDF for leadership and the public.

Title, evaluation period, a short summary (departments ranked, grades, 末位, evaluations),
the ranking table of each department category, a bar chart per dimension, the methodology in
plain words (the public methodology page's text) and the list of figures not published.

Everything comes from one :class:`CampaignResults`, so the bulletin withholds exactly what the
JSON, CSV, XLSX and pages withhold. A withheld figure is printed as "—" on a grey ground, and
each table with one says below it what "—" means; in charts, a withheld bar is a grey box
saying "not published". Texts go through the message catalog (Chinese by default) and are set
in the embedded CJK font (:mod:`app.reports.fonts`). Bars are drawn as fpdf2 rectangles.

fpdf2 builds a document in memory before writing it; a bulletin is a few pages per hundred
departments, so that is small.
"""

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import BinaryIO

from fpdf import FPDF
from fpdf.enums import Align, RenderStyle, WrapMode
from fpdf.fonts import FontFace

from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign
from app.campaigns.policy import BulletinSettings
from app.grouping import by_category
from app.i18n import N_, current_locale, gettext
from app.public import methodology as public_methodology
from app.public.methodology import Section, Table
from app.public.views import decimal_text, join_names, points_maximum
from app.reports import fonts
from app.results.schemas import CampaignResults, TargetResult

PT = 25.4 / 72  # one typographic point, in millimetres like every length below
MARGIN = 18.0
FOOTER_HEIGHT = 12.0
LINE_SPACING = 1.5  # line height as a multiple of the font size

TITLE_SIZE = 18.0  # points, like every font size
SUBTITLE_SIZE = 13.0
HEADING_SIZE = 13.5
SUBHEADING_SIZE = 11.5
BODY_SIZE = 10.0
TABLE_SIZE = 9.0
SMALL_SIZE = 8.0

INK = 0
MUTED_INK = (74, 85, 99)
BAR_FILL = (11, 79, 138)
TRACK_FILL = (243, 246, 249)
HEADER_FILL = (220, 230, 240)
WITHHELD_FILL = (217, 217, 217)
WITHHELD_LINE = (150, 160, 170)
MASTHEAD_INK = (190, 0, 0)  # the red masthead (红头) of an official document

CHART_LABEL_WIDTH = 52.0
CHART_VALUE_WIDTH = 18.0
CHART_GAP = 2.0
CHART_ROW_HEIGHT = 6.5
CHART_BAR_HEIGHT = 4.2
PARAGRAPH_GAP = 1.2
GRADES_TABLE_WIDTH = 80.0
KEEP_WITH_NEXT = 25.0  # a heading needs this much room below it, or it starts a new page

SANS = "pingyi-sans"
WITHHELD_MARK = "—"
ELLIPSIS = "…"
_NO_LINE_START = frozenset("，。、；：？！）》」』】,.;:?!)]}%")
_NO_LINE_END = frozenset("（《「『【([{“‘")
_WRAP_TOKENS = re.compile(r"[!-~]+|\s|.")  # runs of printable ASCII (words, figures) stay whole

BULLETIN_TITLE = N_("Results bulletin")
PERIOD = N_("Evaluation period: %(dates)s")
NOT_YET_PUBLISHED = N_("These results are not published yet: for internal use only.")
SUMMARY = N_("Summary")
RANKED = N_(
    "%(ranked)s of the %(departments)s departments rated have a published composite score and "
    "are ranked."
)
EVALUATIONS = N_("Evaluations counted: %(evaluations)s.")
EVALUATIONS_WITHHELD = N_(
    "The number of evaluations is not published, to protect raters' anonymity."
)
LAST_PLACE = N_("Last place in %(category)s (末位): %(departments)s.")
NO_LAST_PLACE = N_("No department is in last place in any category.")
PRIVACY_NOTE = N_(
    "The figures carry calibrated random noise for differential privacy (ε = %(epsilon)s)."
)
GRADES_CAPTION = N_("Number of departments by grade")
ISSUED_BY = N_("Issued by: %(office)s")
ISSUED_ON = N_("Issued on: %(date)s")
COPY_TO = N_("Copy to: %(offices)s")
RANKING_HEADING = N_("Ranking · %(category)s")
CHARTS_HEADING = N_("Score by dimension")
CHART_TITLE = N_("Dimension score · %(dimension)s")
METHODOLOGY_HEADING = N_("How the results are computed")
WITHHELD_HEADING = N_("Figures not published")
NOTHING_WITHHELD = N_("Every figure of this campaign is published.")
FOOTNOTE = N_("“%(mark)s”: not published, to protect raters' anonymity.")
NOT_PUBLISHED = N_("not published")
NOT_RANKED = N_("not ranked")
TIED = N_("%(rank)s (tied)")
FROM_GROUPS = N_("From %(groups)s only")
PAGE = N_("Page %(page)s of %(pages)s")


@dataclass(frozen=True)
class BulletinContext:
    """What a bulletin needs besides the results: the campaign's dates and methodology, and
    the official document layout from the campaign's results policy (``bulletin``)."""

    dates: str
    methodology: Sequence[Section]
    document: BulletinSettings = field(default_factory=BulletinSettings)


def bulletin_context(campaign: Campaign, results: CampaignResults) -> BulletinContext:
    """The context of ``campaign``'s bulletin; needs the campaign's session."""
    policy = campaign_service.policy_of(campaign)
    view = public_methodology.methodology(campaign, results, policy)
    dates = " – ".join(day.isoformat() for day in (campaign.starts_on, campaign.ends_on) if day)
    return BulletinContext(dates=dates, methodology=view.sections, document=policy.bulletin)


def render_bulletin(results: CampaignResults, context: BulletinContext, stream: BinaryIO) -> int:
    """Write the bulletin to ``stream`` as an A4 PDF; returns the page count.

    Raises :class:`app.reports.fonts.PdfFontMissing` when no font for Chinese is installed.
    """
    font = fonts.find_cjk_font()
    pdf = _Document(footer_text=results.title)
    pdf.add_font(SANS, fname=font.path, collection_font_number=font.index)
    writer = _Writer(pdf, results)
    pdf.add_page()
    writer.title_block(context.dates, context.document)
    writer.summary()
    writer.rankings()
    writer.dimension_charts()
    writer.methodology(context.methodology)
    writer.withheld_list()
    writer.closing(context.document)
    pdf.output(stream)
    return pdf.page_no()


class _Document(FPDF):
    """An A4 page with margins and a footer naming the bulletin and the page."""

    def __init__(self, *, footer_text: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.footer_text = footer_text
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(auto=True, margin=MARGIN + FOOTER_HEIGHT / 2)
        self.set_creator("Pingyi")
        self.set_title(footer_text)

    def footer(self) -> None:
        self.set_y(-(MARGIN + FOOTER_HEIGHT / 2) + 4)
        self.set_font(SANS, size=SMALL_SIZE)
        self.set_text_color(*MUTED_INK)
        page = gettext(PAGE) % {"page": self.page_no(), "pages": self.str_alias_nb_pages}
        self.cell(self.epw / 2, 5, self.footer_text, align=Align.L)
        self.cell(self.epw / 2, 5, page, align=Align.R)
        self.set_text_color(INK)


class _Writer:
    """Lays the bulletin's parts out one after the other."""

    def __init__(self, pdf: _Document, results: CampaignResults) -> None:
        self.pdf = pdf
        self.results = results
        self.wrapmode = WrapMode.CHAR if current_locale() == "zh_CN" else WrapMode.WORD
        self.group_names = {group.key: group.name for group in results.rater_groups}

    # Blocks of text

    def title_block(self, dates: str, document: BulletinSettings) -> None:
        """The masthead of an official document (发文机关, 文号) when set, then the title."""
        if document.issuing_office:
            self.paragraph(
                document.issuing_office, size=TITLE_SIZE + 4, align=Align.C, color=MASTHEAD_INK
            )
        if document.document_number:
            self.paragraph(document.document_number, align=Align.C)
        if document.issuing_office or document.document_number:
            pdf = self.pdf
            pdf.set_draw_color(*MASTHEAD_INK)
            pdf.set_line_width(0.6)
            pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + pdf.epw, pdf.get_y())
            pdf.set_line_width(0.2)
            pdf.set_draw_color(INK)
            pdf.ln(3)
        self.paragraph(self.results.title, size=TITLE_SIZE, align=Align.C)
        self.paragraph(gettext(BULLETIN_TITLE), size=SUBTITLE_SIZE, align=Align.C)
        if dates:
            self.paragraph(gettext(PERIOD) % {"dates": dates}, align=Align.C, muted=True)
        if self.results.status != "published":
            self.paragraph(gettext(NOT_YET_PUBLISHED), align=Align.C, muted=True)
        self.pdf.ln(3)

    def heading(self, text: str, size: float = HEADING_SIZE) -> None:
        """A heading, on a new page if too little room would be left below it."""
        pdf = self.pdf
        if pdf.get_y() + KEEP_WITH_NEXT > pdf.page_break_trigger:
            pdf.add_page()
        pdf.ln(2)
        self.paragraph(text, size=size)

    def paragraph(
        self,
        text: str,
        *,
        size: float = BODY_SIZE,
        align: Align = Align.L,
        muted: bool = False,
        indent: float = 0.0,
        mark: str = "",
        color: tuple[int, int, int] | None = None,
    ) -> None:
        """Text wrapped to the page, ``mark`` (a bullet, a number) hanging before its lines."""
        pdf = self.pdf
        pdf.set_font(SANS, size=size)
        if muted:
            pdf.set_text_color(*MUTED_INK)
        elif color is not None:
            pdf.set_text_color(*color)
        mark_width = pdf.get_string_width(mark) if mark else 0.0
        width = pdf.epw - indent - mark_width
        line_height = size * PT * LINE_SPACING
        for number, line in enumerate(wrap(pdf, text, width)):
            if pdf.get_y() + line_height > pdf.page_break_trigger:
                pdf.add_page()
                pdf.set_font(SANS, size=size)
            pdf.set_x(pdf.l_margin + indent)
            if mark_width:
                pdf.cell(mark_width, line_height, mark if number == 0 else "")
            pdf.cell(width, line_height, line, align=align)
            pdf.ln(line_height)
        pdf.set_text_color(INK)
        pdf.ln(PARAGRAPH_GAP)

    def bullets(self, texts: Sequence[str], *, numbered: bool = False) -> None:
        for number, text in enumerate(texts, start=1):
            mark = f"{number}. " if numbered else "• "
            self.paragraph(text, indent=2.0, mark=mark)

    def table(
        self,
        headers: Sequence[str],
        rows: Sequence[Sequence[str | None]],
        *,
        widths: Sequence[float],
        align: Sequence[Align],
        width: float | None = None,
    ) -> None:
        """A table whose ``None`` cells are withheld figures: "—" on grey, with a footnote.

        ``widths`` are relative; the table spans ``width`` millimetres, the page by default.
        """
        pdf = self.pdf
        pdf.set_font(SANS, size=TABLE_SIZE)
        pdf.set_fill_color(255)
        pdf.set_draw_color(INK)
        withheld_style = FontFace(color=MUTED_INK, fill_color=WITHHELD_FILL)
        any_withheld = False
        with pdf.table(
            col_widths=tuple(widths),
            width=width or pdf.epw,
            align=Align.L,
            text_align=tuple(align),
            line_height=TABLE_SIZE * PT * LINE_SPACING,
            headings_style=FontFace(emphasis="", fill_color=HEADER_FILL),
            wrapmode=self.wrapmode,
            padding=(0.8, 1.2),
        ) as table:
            table.row(list(headers))
            for values in rows:
                row = table.row()
                for value in values:
                    if value is None:
                        any_withheld = True
                        row.cell(WITHHELD_MARK, align=Align.C, style=withheld_style)
                    else:
                        row.cell(value)
        if any_withheld:
            pdf.ln(0.5)
            self.paragraph(gettext(FOOTNOTE) % {"mark": WITHHELD_MARK}, size=SMALL_SIZE, muted=True)
        pdf.ln(2)

    # The parts

    def summary(self) -> None:
        results = self.results
        self.heading(gettext(SUMMARY))
        ranked = [target for target in results.targets if target.rank is not None]
        lines = [
            gettext(RANKED) % {"ranked": len(ranked), "departments": len(results.targets)},
            gettext(EVALUATIONS) % {"evaluations": results.evaluations}
            if results.evaluations is not None
            else gettext(EVALUATIONS_WITHHELD),
        ]
        bottom = [target for target in results.targets if target.bottom]
        for category, targets in by_category(bottom, lambda target: target.category).items():
            lines.append(  # one line per category: each category has its own last place
                gettext(LAST_PLACE)
                % {"category": category, "departments": join_names(t.name for t in targets)}
            )
        if not bottom:
            lines.append(gettext(NO_LAST_PLACE))
        if results.privacy is not None:
            lines.append(gettext(PRIVACY_NOTE) % {"epsilon": results.privacy.epsilon})
        self.bullets(lines)
        if results.grades:
            self.pdf.ln(1)
            self.paragraph(gettext(GRADES_CAPTION))
            counts = {band.name: 0 for band in results.grades}
            for target in ranked:
                if target.grade is not None:
                    counts[target.grade] = counts.get(target.grade, 0) + 1
            self.table(
                [gettext("Grade"), gettext("Departments")],
                [[name, str(count)] for name, count in counts.items()],
                widths=(3, 1),
                align=(Align.L, Align.R),
                width=GRADES_TABLE_WIDTH,
            )

    def rankings(self) -> None:
        for category, targets in by_category(
            self.results.targets, lambda target: target.category
        ).items():
            self.heading(gettext(RANKING_HEADING) % {"category": category})
            ordered = sorted(targets, key=lambda target: (target.rank is None, target.rank or 0))
            self.table(
                [
                    gettext("Rank"),
                    gettext("Department"),
                    gettext("Composite score"),
                    gettext("Grade"),
                    gettext("Evaluations"),
                    gettext("Note"),
                ],
                [self._ranking_row(target, ordered) for target in ordered],
                widths=(16, 50, 22, 22, 20, 44),
                align=(Align.C, Align.L, Align.R, Align.C, Align.R, Align.L),
            )

    def _ranking_row(self, target: TargetResult, ordered: list[TargetResult]) -> list[str | None]:
        withheld = set(target.withheld)
        if target.rank is not None:
            tied = any(other.rank == target.rank for other in ordered if other is not target)
            rank: str | None = gettext(TIED) % {"rank": target.rank} if tied else str(target.rank)
        else:
            rank = None if "rank" in withheld else gettext(NOT_RANKED)
        notes = []
        if target.bottom:
            notes.append(gettext("last place"))
        if target.composite_score is not None and len(target.composite_groups) < len(
            self.group_names
        ):
            notes.append(
                gettext(FROM_GROUPS)
                % {
                    "groups": join_names(
                        self.group_names.get(key, key) for key in target.composite_groups
                    )
                }
            )
        return [
            rank,
            target.name,
            _points(target.composite_score),
            target.grade,
            None if target.evaluations is None else str(target.evaluations),
            "；".join(notes) if current_locale() == "zh_CN" else "; ".join(notes),
        ]

    def dimension_charts(self) -> None:
        results = self.results
        if not results.dimensions:
            return
        self.heading(gettext(CHARTS_HEADING))
        maximum = points_maximum(results)
        for dimension in results.dimensions:
            bars = [
                (
                    target.name,
                    next(
                        (
                            shown.score
                            for shown in target.dimensions
                            if shown.dimension == dimension.id
                        ),
                        None,
                    ),
                )
                for target in results.targets
            ]
            self._bar_chart(gettext(CHART_TITLE) % {"dimension": dimension.name}, bars, maximum)

    def _bar_chart(
        self, title: str, bars: Sequence[tuple[str, float | None]], maximum: float
    ) -> None:
        """One row per bar: label, bar (its length value / maximum), value; withheld rows get
        a grey box saying "not published". Rows continue on the next page when needed."""
        pdf = self.pdf
        self.heading(title, size=SUBHEADING_SIZE)
        left = pdf.l_margin
        track_x = left + CHART_LABEL_WIDTH + CHART_GAP
        track_width = pdf.epw - CHART_LABEL_WIDTH - CHART_VALUE_WIDTH - 2 * CHART_GAP
        not_published = gettext(NOT_PUBLISHED)
        for label, value in bars:
            if pdf.get_y() + CHART_ROW_HEIGHT > pdf.page_break_trigger:
                pdf.add_page()
            top = pdf.get_y()
            bar_top = top + (CHART_ROW_HEIGHT - CHART_BAR_HEIGHT) / 2
            pdf.set_font(SANS, size=TABLE_SIZE)
            pdf.set_xy(left, top)
            pdf.cell(
                CHART_LABEL_WIDTH,
                CHART_ROW_HEIGHT,
                _fit(pdf, label, CHART_LABEL_WIDTH),
                align=Align.R,
            )
            if value is None:
                pdf.set_fill_color(*WITHHELD_FILL)
                pdf.set_draw_color(*WITHHELD_LINE)
                pdf.set_line_width(0.2)
                pdf.set_dash_pattern(dash=1.2, gap=0.8)
                pdf.rect(
                    track_x,
                    bar_top,
                    track_width + CHART_GAP + CHART_VALUE_WIDTH,
                    CHART_BAR_HEIGHT,
                    style=RenderStyle.DF,
                )
                pdf.set_dash_pattern()
                pdf.set_text_color(*MUTED_INK)
                pdf.set_font(SANS, size=SMALL_SIZE)
                pdf.set_xy(track_x + 1.5, top)
                pdf.cell(track_width, CHART_ROW_HEIGHT, f"{WITHHELD_MARK} {not_published}")
                pdf.set_text_color(INK)
            else:
                fraction = min(max(value / maximum, 0.0), 1.0)
                pdf.set_fill_color(*TRACK_FILL)
                pdf.rect(track_x, bar_top, track_width, CHART_BAR_HEIGHT, style=RenderStyle.F)
                if fraction > 0:
                    pdf.set_fill_color(*BAR_FILL)
                    pdf.rect(
                        track_x,
                        bar_top,
                        track_width * fraction,
                        CHART_BAR_HEIGHT,
                        style=RenderStyle.F,
                    )
                pdf.set_xy(track_x + track_width + CHART_GAP, top)
                pdf.cell(CHART_VALUE_WIDTH, CHART_ROW_HEIGHT, _points(value) or "", align=Align.R)
            pdf.set_xy(left, top + CHART_ROW_HEIGHT)
        pdf.set_fill_color(255)
        pdf.set_draw_color(INK)
        pdf.ln(3)

    def methodology(self, sections: Sequence[Section]) -> None:
        if not sections:
            return
        self.pdf.add_page()
        self.heading(gettext(METHODOLOGY_HEADING))
        for section in sections:
            self.heading(section.heading, size=SUBHEADING_SIZE)
            for text in section.paragraphs:
                self.paragraph(text)
            self.bullets(section.bullets)
            for table in section.tables:
                self._methodology_table(table)

    def _methodology_table(self, table: Table) -> None:
        self.pdf.ln(1)
        self.paragraph(table.caption, size=TABLE_SIZE, muted=True)
        columns = len(table.headers)
        self.table(
            table.headers,
            table.rows,
            widths=(2, *([1] * (columns - 1))),
            align=(Align.L, *([Align.L] * (columns - 1))),
        )

    def withheld_list(self) -> None:
        self.heading(gettext(WITHHELD_HEADING))
        if not self.results.withheld_figures:
            self.paragraph(gettext(NOTHING_WITHHELD))
            return
        self.bullets(self.results.withheld_figures, numbered=True)

    def closing(self, document: BulletinSettings) -> None:
        """The signature (发文机关 and 成文日期, to the right), then 抄送 between two rules."""
        if document.issuing_office or document.issued_on:
            self.pdf.ln(6)
        if document.issuing_office:
            self.paragraph(gettext(ISSUED_BY) % {"office": document.issuing_office}, align=Align.R)
        if document.issued_on:
            issued = _document_date(document.issued_on)
            self.paragraph(gettext(ISSUED_ON) % {"date": issued}, align=Align.R)
        if document.copy_to:
            pdf = self.pdf
            pdf.ln(4)
            pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + pdf.epw, pdf.get_y())
            pdf.ln(1)
            offices = ("，" if current_locale() == "zh_CN" else ", ").join(document.copy_to)
            self.paragraph(gettext(COPY_TO) % {"offices": offices})
            pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + pdf.epw, pdf.get_y())


def _document_date(day: dt.date) -> str:
    """A date as official documents write it: 2026年3月31日, or ISO in English."""
    if current_locale() == "zh_CN":
        return f"{day.year}年{day.month}月{day.day}日"
    return day.isoformat()


def _points(value: float | None) -> str | None:
    return None if value is None else decimal_text(Decimal(repr(value)), 2)


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """The text, cut with an ellipsis if wider than ``width`` in the current font."""
    if pdf.get_string_width(text) <= width - 1:
        return text
    while text and pdf.get_string_width(text + ELLIPSIS) > width - 1:
        text = text[:-1]
    return text + ELLIPSIS


def wrap(pdf: FPDF, text: str, width: float) -> list[str]:
    """``text`` broken into lines of at most ``width`` in the current font.

    Lines break between Chinese characters, at spaces, or inside a run of ASCII too long for
    a line; closing punctuation never starts a line and opening punctuation never ends one.
    """
    measure = pdf.get_string_width
    tokens: list[str] = []
    glue_next = False
    for token in _WRAP_TOKENS.findall(text):
        if tokens and (glue_next or token[0] in _NO_LINE_START):
            tokens[-1] += token
        else:
            tokens.append(token)
        glue_next = token[-1] in _NO_LINE_END
    lines: list[str] = []
    current = ""
    for token in tokens:
        if measure(current + token) <= width:
            current += token
            continue
        if current.strip():
            lines.append(current.rstrip())
        current = token.lstrip()
        while measure(current) > width:  # a token longer than a whole line
            end = next(
                (end for end in range(len(current) - 1, 0, -1) if measure(current[:end]) <= width),
                1,
            )
            lines.append(current[:end])
            current = current[end:]
    if current.strip():
        lines.append(current.rstrip())
    return lines or [""]
