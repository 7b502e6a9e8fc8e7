"""The 通报单 (inspection bulletin) as an A4 PDF in the layout of official documents.

After GB/T 9704 (党政机关公文格式), simplified: the issuing office in red, centred, as the
document's masthead; the document number (文号, 〔2026〕3号) under it; a red rule; the title
centred; the body (an opening sentence, then each finding numbered 一、二、三…, naming the
department, the day, the method and the problem category, then its description); the issuing
office and the date (2026年12月6日) at the right; and at the foot, between two rules, the 抄送
line. Texts go through the message catalog (Chinese by default) and are set in the embedded CJK
font (:mod:`app.reports.fonts`), like :mod:`app.reports.bulletin`.
"""

import datetime as dt
from typing import BinaryIO

from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

from app.i18n import N_, current_locale, gettext
from app.inspections import service as inspection_service
from app.inspections.models import InspectionBulletin
from app.reports import fonts

SANS = "pingyi-sans"
MARGIN_TOP = 37.0  # GB/T 9704: 37 mm top margin
MARGIN_SIDE = 28.0  # 28 mm left (about 26 mm right)
MARGIN_BOTTOM = 35.0
MASTHEAD_SIZE = 26.0  # points
NUMBER_SIZE = 14.0
TITLE_SIZE = 18.0
BODY_SIZE = 14.0  # 3号 is 16 pt; 14 pt keeps long findings to a page
SMALL_SIZE = 12.0
LINE_HEIGHT = 8.0  # millimetres
RED = (200, 16, 46)
INK = 0

OPENING = N_(
    "The following problems were found in mystery inspections and are hereby notified. "
    "The departments concerned are to rectify them and report on their rectification."
)
FINDING_HEADING = N_("%(department)s (%(method)s, %(day)s): %(category)s")
COPY_TO = N_("Copy to: %(copy_to)s")
PAGE = N_("Page %(page)s")

CHINESE_DIGITS = "零一二三四五六七八九"


def chinese_ordinal(number: int) -> str:
    """一, 二 … 十, 十一 … 九十九 (the numbering of official documents)."""
    if not 1 <= number <= 99:
        return str(number)
    tens, ones = divmod(number, 10)
    text = ("" if tens == 1 else CHINESE_DIGITS[tens]) + "十" if tens else ""
    return text + (CHINESE_DIGITS[ones] if ones else "")


def day_text(day: dt.date) -> str:
    if current_locale() == "en":
        return day.isoformat()
    return f"{day.year}年{day.month}月{day.day}日"


class _Document(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.set_margins(MARGIN_SIDE, MARGIN_TOP, MARGIN_SIDE - 2)
        self.set_auto_page_break(auto=True, margin=MARGIN_BOTTOM)
        self.set_creator("Pingyi")
        self.set_title(title)

    def footer(self) -> None:
        self.set_y(-MARGIN_BOTTOM + 12)
        self.set_font(SANS, size=SMALL_SIZE)
        self.cell(0, 6, gettext(PAGE) % {"page": self.page_no()}, align=Align.C)


def render_bulletin(
    bulletin: InspectionBulletin, department_names: dict[int, str], stream: BinaryIO
) -> int:
    """Write the 通报单 to ``stream``; returns the page count. ``department_names`` maps
    department ids to their names. Raises :class:`app.reports.fonts.PdfFontMissing`."""
    font = fonts.find_cjk_font()
    pdf = _Document(bulletin.title)
    pdf.add_font(SANS, fname=font.path, collection_font_number=font.index)
    pdf.add_page()

    pdf.set_text_color(*RED)
    pdf.set_font(SANS, size=MASTHEAD_SIZE)
    pdf.multi_cell(
        0, 14, bulletin.issuing_office, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    pdf.ln(6)
    pdf.set_text_color(INK)
    pdf.set_font(SANS, size=NUMBER_SIZE)
    pdf.cell(
        0,
        8,
        inspection_service.document_number(bulletin),
        align=Align.C,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(2)
    pdf.set_draw_color(*RED)
    pdf.set_line_width(0.8)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(10)

    pdf.set_font(SANS, size=TITLE_SIZE)
    pdf.multi_cell(0, 10, bulletin.title, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(6)

    pdf.set_font(SANS, size=BODY_SIZE)
    indent = "\u3000\u3000"  # two full-width spaces: the first-line indent of Chinese prose
    pdf.multi_cell(0, LINE_HEIGHT, indent + gettext(OPENING), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for number, finding in enumerate(bulletin.findings, start=1):
        heading = gettext(FINDING_HEADING) % {
            "department": department_names.get(finding.department_id, str(finding.department_id)),
            "method": inspection_service.method_name(finding.method),
            "day": day_text(finding.found_on),
            "category": finding.category,
        }
        ordinal = f"{chinese_ordinal(number)}、" if current_locale() != "en" else f"{number}. "
        pdf.multi_cell(
            0, LINE_HEIGHT, indent + ordinal + heading, new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        pdf.multi_cell(
            0, LINE_HEIGHT, indent + finding.description, new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )

    pdf.ln(12)
    pdf.multi_cell(
        0, LINE_HEIGHT, bulletin.issuing_office, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    pdf.cell(
        0,
        LINE_HEIGHT,
        day_text(bulletin.issued_on),
        align=Align.R,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )

    if bulletin.copy_to:
        pdf.ln(14)
        pdf.set_draw_color(INK)
        pdf.set_line_width(0.35)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
        pdf.ln(1)
        pdf.set_font(SANS, size=SMALL_SIZE)
        pdf.multi_cell(
            0,
            7,
            gettext(COPY_TO) % {"copy_to": bulletin.copy_to},
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        pdf.line(pdf.l_margin, pdf.get_y() + 1, pdf.w - pdf.r_margin, pdf.get_y() + 1)
    pdf.output(stream)
    return pdf.page_no()
