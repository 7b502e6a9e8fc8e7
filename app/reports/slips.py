"""Printable admission slips: A4 sheets of ten, each with a code and a QR code, to cut apart.

Each slip shows the campaign, the rater group (and the department when the code is scoped to
one), the code in large monospaced groups, a QR code and a line of instructions. The QR code
carries ``{base_url}/r#{code}``: the code is in the URL fragment, which browsers never send to
a server, so it stays out of access logs and Referer headers (privacy rule 4).

Slips are printed for raters in Chinese, whatever the language of the operator printing them,
so the fixed texts below are Chinese, as are the names that callers put on a :class:`Slip`.

Speed (10,000 slips in a batch are normal): the font file is read once per document, texts
that many slips share are laid out once, and each QR code is one filled path of a rectangle
per horizontal run of dark modules, written as raw PDF operators in module units.

Every QR code uses the same data mask (:data:`QR_MASK`) instead of segno trying all eight
and scoring each, as ISO/IEC 18004 §7.8.3 has an encoder do: that scoring was 60% of the
time of a batch. The score only steers away from patterns that might slow a reader (long
runs, blocks, finder-like sequences); every mask gives a valid symbol that every reader
decodes. Mask 2 was chosen because, over random codes in this URL's shape, its score is
the closest to the best on average (and it is the best for about a quarter of codes).
"""

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

import segno

from app.admission import service as admission_service
from app.campaigns.models import Campaign
from app.reports import fonts

if TYPE_CHECKING:
    # fpdf takes about a second to import, so only rendering imports it: `pingyi codes issue`
    # imports this module even when it writes no PDF.
    from fpdf import FPDF

PAGE_WIDTH = 210.0  # A4 portrait, in millimetres like every length below
PAGE_HEIGHT = 297.0
COLUMNS = 2
ROWS = 5
SLIPS_PER_PAGE = COLUMNS * ROWS
MARGIN_X = 6.0  # most printers cannot print the outer 4 to 5 mm of a sheet
MARGIN_Y = 8.5
SLIP_WIDTH = (PAGE_WIDTH - 2 * MARGIN_X) / COLUMNS  # 99 mm
SLIP_HEIGHT = (PAGE_HEIGHT - 2 * MARGIN_Y) / ROWS  # 56 mm
PADDING_X = 4.0
PADDING_Y = 3.0
INNER_WIDTH = SLIP_WIDTH - 2 * PADDING_X

QR_SIDE = 30.0  # the QR code with its quiet zone
QR_QUIET_ZONE = 4  # modules of light around the symbol, as ISO/IEC 18004 requires
QR_ERROR_LEVEL = "m"  # 15% of the symbol may be damaged; segno raises it when that fits
QR_MASK = 2  # ISO/IEC 18004 data mask pattern 2, for every code: see the module's docstring
COLUMN_GAP = 2.0  # between the texts and the QR code
TEXT_WIDTH = INNER_WIDTH - QR_SIDE - COLUMN_GAP

PT = 25.4 / 72  # one typographic point, in millimetres
TITLE_SIZE = 10.5  # points, like every font size
TITLE_MAX_LINES = 2
DETAIL_SIZE = 9.0
DEPARTMENT_MAX_LINES = 2
LABEL_SIZE = 7.5
CODE_MAX_SIZE = 18.0
INSTRUCTION_SIZE = 7.5
INSTRUCTION_MAX_LINES = 3
LINE_SPACING = 1.4  # line height as a multiple of the font size
CODE_LINE_SPACING = 1.2
ASCENT = 0.88  # of Noto Sans CJK, as a fraction of the font size

CUT_LINE_GRAY = 150
CUT_LINE_WIDTH = 0.2
CUT_DASH = 2.0
CUT_GAP = 1.5
SCISSORS = "✂"

GROUP_LABEL = "评议主体："
DEPARTMENT_LABEL = "被评议单位："
CODE_LABEL = "评议码"
INSTRUCTION = ("请用手机扫描二维码，或访问 {address} 输入评议码。", "匿名评价，每码限用一次。")
RATING_PATH = "/r"

SANS = "pingyi-sans"
MONO = "pingyi-mono"
CORE_MONO = "Courier"  # a PDF core font, for fonts without a monospaced face of their own
ELLIPSIS = "…"
_NO_LINE_START = frozenset("，。、；：？！）》」』】,.;:?!)]}")
_WRAP_TOKENS = re.compile(r"[!-~]+|\s|.")  # runs of printable ASCII (addresses) stay whole
_DARK_RUNS = re.compile(b"\x01+")
_SCHEME = re.compile(r"^https?://")


@dataclass(frozen=True)
class Slip:
    code: str
    campaign_title: str
    rater_group_name: str
    target_name: str | None


def rating_url(base_url: str, code: str) -> str:
    """The address in a slip's QR code; the code is in the fragment, which is never sent."""
    return f"{base_url.rstrip('/')}{RATING_PATH}#{code}"


def slips_for_batch(campaign: Campaign, issued: admission_service.IssuedBatch) -> list[Slip]:
    """The slips of a batch just issued, named in Chinese; needs the campaign's session."""
    batch = issued.batch
    group = next(group for group in campaign.rater_groups if group.id == batch.rater_group_id)
    target_name = None
    if batch.target_id is not None:
        target = next(target for target in campaign.targets if target.id == batch.target_id)
        target_name = target.department.name
    return [
        Slip(
            code=code,
            campaign_title=campaign.title_zh,
            rater_group_name=group.name_zh,
            target_name=target_name,
        )
        for code in issued.codes
    ]


def render_slips_pdf(slips: Sequence[Slip], *, base_url: str, stream: BinaryIO) -> int:
    """Write the slips to ``stream`` as an A4 PDF, ten to a page; returns the page count.

    Raises :class:`app.reports.fonts.PdfFontMissing` when no font for Chinese is installed.
    """
    if not slips:
        raise ValueError("render_slips_pdf needs at least one slip")
    font = fonts.find_cjk_font()
    from fpdf import FPDF

    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.set_margin(0)
    pdf.set_creator("Pingyi")
    pdf.add_font(SANS, fname=font.path, collection_font_number=font.index)
    mono_family = CORE_MONO
    if font.monospace_index is not None:
        pdf.add_font(MONO, fname=font.path, collection_font_number=font.monospace_index)
        mono_family = MONO
    sheet = _Sheet(pdf, mono_family=mono_family, base_url=base_url)
    page_count = 0
    for first in range(0, len(slips), SLIPS_PER_PAGE):
        pdf.add_page()
        page_count += 1
        sheet.draw_cut_lines()
        for position, slip in enumerate(slips[first : first + SLIPS_PER_PAGE]):
            row, column = divmod(position, COLUMNS)
            sheet.draw_slip(slip, x=MARGIN_X + column * SLIP_WIDTH, y=MARGIN_Y + row * SLIP_HEIGHT)
    pdf.output(stream)
    return page_count


def dark_runs(qr: segno.QRCode) -> Iterator[tuple[int, int, int]]:
    """``(row, first column, length)`` of each horizontal run of dark modules (no quiet zone)."""
    for row, modules in enumerate(qr.matrix):
        for run in _DARK_RUNS.finditer(modules):
            yield row, run.start(), run.end() - run.start()


class _Sheet:
    """Draws slips into one document, laying out each shared text only once."""

    def __init__(self, pdf: "FPDF", *, mono_family: str, base_url: str) -> None:
        self.pdf = pdf
        self.mono_family = mono_family
        self.base_url = base_url
        self._wrapped_lines: dict[tuple[str, float, float, int], list[str]] = {}
        self._code_sizes: dict[int, float] = {}
        address = _SCHEME.sub("", base_url.rstrip("/")) + RATING_PATH
        self.instruction_lines = self._instruction_lines(
            [sentence.format(address=address) for sentence in INSTRUCTION]
        )
        pdf.set_font(SANS)
        font = pdf.current_font
        self.has_scissors = font is not None and ord(SCISSORS) in getattr(font, "cmap", {})

    def draw_cut_lines(self) -> None:
        """Dashed lines around and between the slips; scissors mark the horizontal ones."""
        pdf = self.pdf
        pdf.set_draw_color(CUT_LINE_GRAY)
        pdf.set_line_width(CUT_LINE_WIDTH)
        pdf.set_dash_pattern(dash=CUT_DASH, gap=CUT_GAP)
        left, top = MARGIN_X, MARGIN_Y
        right, bottom = PAGE_WIDTH - MARGIN_X, PAGE_HEIGHT - MARGIN_Y
        for column in range(COLUMNS + 1):
            x = left + column * SLIP_WIDTH
            pdf.line(x, top, x, bottom)
        for row in range(ROWS + 1):
            y = top + row * SLIP_HEIGHT
            pdf.line(left, y, right, y)
        pdf.set_dash_pattern()
        if self.has_scissors:
            pdf.set_font(SANS, size=LABEL_SIZE)
            pdf.set_text_color(CUT_LINE_GRAY)
            pdf.set_fill_color(255)
            width = pdf.get_string_width(SCISSORS)
            height = LABEL_SIZE * PT
            for row in range(ROWS + 1):
                y = top + row * SLIP_HEIGHT
                pdf.rect(left + 2, y - height / 2, width + 1, height, style="F")
                pdf.text(left + 2.5, y + height * 0.35, SCISSORS)
            pdf.set_text_color(0)
        pdf.set_fill_color(0)

    def draw_slip(self, slip: Slip, *, x: float, y: float) -> None:
        """One slip with its top left corner at (x, y): texts on the left, the QR code right."""
        left, top = x + PADDING_X, y + PADDING_Y

        line_top = top
        for text in self._wrapped(slip.campaign_title, TITLE_SIZE, TEXT_WIDTH, TITLE_MAX_LINES):
            line_top = self._text_line(left, line_top, text, SANS, TITLE_SIZE)
        line_top += 1.0
        details = [(GROUP_LABEL + slip.rater_group_name, 1)]
        if slip.target_name is not None:
            details.append((DEPARTMENT_LABEL + slip.target_name, DEPARTMENT_MAX_LINES))
        for detail, max_lines in details:
            for text in self._wrapped(detail, DETAIL_SIZE, TEXT_WIDTH, max_lines):
                line_top = self._text_line(left, line_top, text, SANS, DETAIL_SIZE)

        label_top = top + QR_SIDE - LABEL_SIZE * PT * LINE_SPACING
        self._text_line(left, label_top, CODE_LABEL, SANS, LABEL_SIZE)
        code_size = self._code_size(slip.code)
        line_top = self._text_line(
            left, top + QR_SIDE + 0.5, slip.code, self.mono_family, code_size, CODE_LINE_SPACING
        )
        line_top += 0.5
        for text in self.instruction_lines:
            line_top = self._text_line(left, line_top, text, SANS, INSTRUCTION_SIZE)

        self._draw_qr(rating_url(self.base_url, slip.code), x=left + INNER_WIDTH - QR_SIDE, y=top)

    def _text_line(
        self,
        x: float,
        top: float,
        text: str,
        family: str,
        size: float,
        spacing: float = LINE_SPACING,
    ) -> float:
        """Write one line whose box starts at ``top``; returns where the next line starts."""
        self.pdf.set_font(family, size=size)
        size_mm = size * PT
        line_height = size_mm * spacing
        self.pdf.text(x, top + (line_height - size_mm) / 2 + size_mm * ASCENT, text)
        return top + line_height

    def _code_size(self, code: str) -> float:
        """The largest size, up to CODE_MAX_SIZE, at which the code fits the slip's width."""
        if len(code) not in self._code_sizes:
            self.pdf.set_font(self.mono_family, size=CODE_MAX_SIZE)
            width = self.pdf.get_string_width(code)
            self._code_sizes[len(code)] = min(CODE_MAX_SIZE, CODE_MAX_SIZE * INNER_WIDTH / width)
        return self._code_sizes[len(code)]

    def _draw_qr(self, url: str, *, x: float, y: float) -> None:
        """The QR code for ``url`` with its top left corner (quiet zone included) at (x, y).

        One path of ``column row length 1 re`` rectangles in module units, under a ``cm``
        transformation that scales modules to the page and flips the y axis, filled once.
        It goes to the page through fpdf's ``_out``, as fpdf's own ``rect`` does: a code has
        some 270 runs, and a call of ``rect`` for each was most of the drawing time.
        """
        qr = segno.make_qr(url, error=QR_ERROR_LEVEL, mask=QR_MASK)
        modules, _ = qr.symbol_size(border=QR_QUIET_ZONE)
        pdf = self.pdf
        module = QR_SIDE / modules  # in mm
        scale = module * pdf.k  # one module, in points
        origin_x = (x + QR_QUIET_ZONE * module) * pdf.k
        origin_y = (pdf.h - y - QR_QUIET_ZONE * module) * pdf.k  # PDF's y axis points up
        runs = " ".join(f"{column} {row} {length} 1 re" for row, column, length in dark_runs(qr))
        pdf._out(  # fpdf has no public way to add a path of many rectangles
            f"q {scale:.5f} 0 0 {-scale:.5f} {origin_x:.3f} {origin_y:.3f} cm {runs} f Q"
        )

    def _instruction_lines(self, sentences: list[str]) -> list[str]:
        """One line if it fits; else each sentence on lines of its own if they fit; else wrap."""
        whole = "".join(sentences)
        lines = self._wrapped(whole, INSTRUCTION_SIZE, INNER_WIDTH, 1)
        if lines == [whole]:
            return lines
        by_sentence = [
            line
            for sentence in sentences
            for line in self._wrapped(
                sentence, INSTRUCTION_SIZE, INNER_WIDTH, INSTRUCTION_MAX_LINES
            )
        ]
        if len(by_sentence) <= INSTRUCTION_MAX_LINES:
            return by_sentence
        return self._wrapped(whole, INSTRUCTION_SIZE, INNER_WIDTH, INSTRUCTION_MAX_LINES)

    def _wrapped(self, text: str, size: float, width: float, max_lines: int) -> list[str]:
        key = (text, size, width, max_lines)
        if key not in self._wrapped_lines:
            self._wrapped_lines[key] = self._wrap(text, size, width, max_lines)
        return self._wrapped_lines[key]

    def _wrap(self, text: str, size: float, width: float, max_lines: int) -> list[str]:
        """Break ``text`` into at most ``max_lines`` lines of ``width``; an ellipsis ends a cut.

        Lines break between Chinese characters, at spaces, or inside an ASCII run too long for
        a line; closing punctuation never starts a line.
        """
        self.pdf.set_font(SANS, size=size)
        measure = self.pdf.get_string_width
        tokens: list[str] = []
        for token in _WRAP_TOKENS.findall(text):
            if tokens and token[0] in _NO_LINE_START:
                tokens[-1] += token
            else:
                tokens.append(token)
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
                fitting = (
                    end for end in range(len(current) - 1, 1, -1) if measure(current[:end]) <= width
                )
                end = next(fitting, 1)
                lines.append(current[:end])
                current = current[end:]
        if current.strip():
            lines.append(current.rstrip())
        if len(lines) <= max_lines:
            return lines
        last = lines[max_lines - 1]
        while last and measure(last + ELLIPSIS) > width:
            last = last[:-1]
        return [*lines[: max_lines - 1], last + ELLIPSIS]
