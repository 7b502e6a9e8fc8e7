"""Printable slips, read back from the PDF: pages, the text layer and the QR codes."""

import io
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app.admission import codes
from app.config import Settings
from app.errors import PingyiError
from app.reports import fonts, slips
from app.reports.slips import Slip, rating_url, render_slips_pdf
from tests.reports.pdf_reading import PdfPage, read_pdf

BASE_URL = "https://pingyi.example.gov.cn/"
TITLE = "城关区2025年度机关作风评议"
GROUP = "办事群众"
DEPARTMENT = "区市场监督管理局"
UNSCOPED = 13  # the first 13 slips are for all targets, the other 10 for DEPARTMENT
INSTRUCTION_SENTENCES = (
    "请用手机扫描二维码，或访问 pingyi.example.gov.cn/r 输入评议码。",
    "匿名评价，每码限用一次。",
)


def make_slips(count: int, *, target_name: str | None = None, title: str = TITLE) -> list[Slip]:
    return [
        Slip(
            code=codes.generate(),
            campaign_title=title,
            rater_group_name=GROUP,
            target_name=target_name,
        )
        for _ in range(count)
    ]


def render(printable: list[Slip], base_url: str = BASE_URL) -> tuple[int, bytes]:
    stream = io.BytesIO()
    page_count = render_slips_pdf(printable, base_url=base_url, stream=stream)
    return page_count, stream.getvalue()


def on_page(printable: list[Slip], page_index: int) -> list[Slip]:
    return printable[page_index * slips.SLIPS_PER_PAGE : (page_index + 1) * slips.SLIPS_PER_PAGE]


@pytest.fixture(scope="module")
def printed() -> list[Slip]:
    return make_slips(UNSCOPED) + make_slips(10, target_name=DEPARTMENT)


@pytest.fixture(scope="module")
def rendered(printed: list[Slip]) -> tuple[int, list[PdfPage]]:
    """23 slips, rendered once for the module: (the page count returned, the pages read)."""
    page_count, data = render(printed)
    return page_count, read_pdf(data)


@pytest.fixture
def pages(rendered: tuple[int, list[PdfPage]]) -> list[PdfPage]:
    return rendered[1]


@pytest.mark.usefixtures("cjk_font")
class TestPages:
    def test_ten_slips_to_a_page_so_23_slips_take_three_pages(
        self, rendered: tuple[int, list[PdfPage]]
    ) -> None:
        page_count, pages = rendered

        assert slips.SLIPS_PER_PAGE == 10
        assert page_count == 3
        assert len(pages) == 3

    def test_no_slips_is_refused(self) -> None:
        with pytest.raises(ValueError, match="at least one slip"):
            render([])


@pytest.mark.usefixtures("cjk_font")
class TestTextLayer:
    def test_each_code_is_on_its_own_page_only(
        self, printed: list[Slip], pages: list[PdfPage]
    ) -> None:
        all_codes = {slip.code for slip in printed}
        for page_index, page in enumerate(pages):
            expected = {slip.code for slip in on_page(printed, page_index)}
            assert set(page.lines) & all_codes == expected, f"page {page_index + 1}"

    def test_every_slip_shows_title_group_label_and_instructions(
        self, printed: list[Slip], pages: list[PdfPage]
    ) -> None:
        for page_index, page in enumerate(pages):
            slip_count = len(on_page(printed, page_index))
            assert page.lines.count(TITLE) == slip_count
            assert page.lines.count(f"评议主体：{GROUP}") == slip_count
            assert page.lines.count("评议码") == slip_count
            for sentence in INSTRUCTION_SENTENCES:
                assert page.lines.count(sentence) == slip_count

    def test_department_is_shown_only_on_slips_scoped_to_it(
        self, printed: list[Slip], pages: list[PdfPage]
    ) -> None:
        for page_index, page in enumerate(pages):
            scoped = [slip for slip in on_page(printed, page_index) if slip.target_name]
            assert page.lines.count(f"被评议单位：{DEPARTMENT}") == len(scoped)

    def test_title_too_long_for_two_lines_ends_in_an_ellipsis(self) -> None:
        title = "城关区2025年度机关作风和营商环境群众满意度暨窗口单位服务质量综合评议活动"

        _, data = render(make_slips(1, title=title))

        (page,) = read_pdf(data)
        title_lines = page.lines[page.lines.index("评议主体：" + GROUP) - 2 :][:2]
        assert title.startswith(title_lines[0])
        assert title_lines[1].endswith("…")
        assert title.startswith(title_lines[0] + title_lines[1].removesuffix("…"))

    def test_font_without_a_monospaced_face_prints_codes_in_courier(
        self, monkeypatch: pytest.MonkeyPatch, cjk_font: fonts.CjkFont
    ) -> None:
        monkeypatch.setattr(
            fonts, "find_cjk_font", lambda: fonts.CjkFont(cjk_font.path, cjk_font.index)
        )
        printable = make_slips(2)

        _, data = render(printable)

        (page,) = read_pdf(data)
        assert {slip.code for slip in printable} <= set(page.lines)
        assert b"/BaseFont /Courier" in data


@pytest.mark.usefixtures("cjk_font")
class TestQrCodes:
    def test_each_qr_code_decodes_to_the_rating_url_of_a_slip_on_its_page(
        self, printed: list[Slip], pages: list[PdfPage]
    ) -> None:
        for page_index, page in enumerate(pages):
            expected = [rating_url(BASE_URL, slip.code) for slip in on_page(printed, page_index)]
            assert sorted(page.qr_texts) == sorted(expected), f"page {page_index + 1}"

    def test_code_travels_in_the_fragment_never_in_path_or_query(
        self, printed: list[Slip], pages: list[PdfPage]
    ) -> None:
        decoded = [text for page in pages for text in page.qr_texts]
        assert len(decoded) == len(printed)
        for text in decoded:
            url = urlsplit(text)
            assert (url.scheme, url.netloc, url.path, url.query) == (
                "https",
                "pingyi.example.gov.cn",
                "/r",
                "",
            )
            code = codes.normalize(url.fragment)
            assert code not in url.path.upper() + url.query.upper()

    @pytest.mark.parametrize(
        ("base_url", "expected"),
        [
            pytest.param("https://a.example", "https://a.example/r#{code}", id="bare host"),
            pytest.param("https://a.example/", "https://a.example/r#{code}", id="trailing slash"),
            pytest.param(
                "https://a.example/pingyi/", "https://a.example/pingyi/r#{code}", id="under a path"
            ),
        ],
    )
    def test_rating_url_puts_the_code_after_the_hash(self, base_url: str, expected: str) -> None:
        code = codes.generate()

        url = rating_url(base_url, code)

        assert url == expected.format(code=code)
        assert code not in urlsplit(url).path
        assert code not in urlsplit(url).query


class TestFontChoice:
    def test_configured_font_and_face_are_used(self, tmp_path: Path) -> None:
        font_file = tmp_path / "font.ttc"
        font_file.write_bytes(b"")

        found = fonts.find_cjk_font(Settings(pdf_font=font_file, pdf_font_index=3))

        assert found == fonts.CjkFont(font_file, index=3)

    def test_first_installed_candidate_is_used_when_none_is_configured(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        installed = tmp_path / "installed.ttf"
        installed.write_bytes(b"")
        candidates = (fonts.CjkFont(tmp_path / "absent.ttc", index=2), fonts.CjkFont(installed))
        monkeypatch.setattr(fonts, "CANDIDATES", candidates)

        assert fonts.find_cjk_font(Settings(pdf_font=None)) == fonts.CjkFont(installed)

    def test_configured_noto_sans_cjk_sc_keeps_its_monospaced_face(self) -> None:
        noto = fonts.CANDIDATES[0]
        if not noto.path.is_file():
            pytest.skip(f"{noto.path} is not installed")

        found = fonts.find_cjk_font(Settings(pdf_font=noto.path, pdf_font_index=noto.index))

        assert found.monospace_index == noto.monospace_index

    def test_noto_sans_cjk_sc_comes_first_with_its_monospaced_face(self) -> None:
        first = fonts.CANDIDATES[0]

        assert first.path == Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
        assert (first.index, first.monospace_index) == (2, 7)


class TestMissingFont:
    def test_no_installed_font_names_the_package_and_the_setting(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(fonts, "CANDIDATES", (fonts.CjkFont(tmp_path / "absent.ttc"),))

        with pytest.raises(fonts.PdfFontMissing) as raised:
            fonts.find_cjk_font(Settings(pdf_font=None))

        assert isinstance(raised.value, PingyiError)
        assert "fonts-noto-cjk" in raised.value.translated()
        assert "PINGYI_PDF_FONT" in raised.value.translated()

    def test_configured_font_that_does_not_exist_is_named(self, tmp_path: Path) -> None:
        absent = tmp_path / "absent.ttc"

        with pytest.raises(fonts.PdfFontMissing) as raised:
            fonts.find_cjk_font(Settings(pdf_font=absent))

        assert str(absent) in raised.value.translated()
        assert "fonts-noto-cjk" in raised.value.translated()

    def test_rendering_without_a_font_raises_before_writing_anything(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(fonts, "CANDIDATES", (fonts.CjkFont(tmp_path / "absent.ttc"),))
        monkeypatch.setattr(fonts, "get_settings", lambda: Settings(pdf_font=None))
        stream = io.BytesIO()

        with pytest.raises(fonts.PdfFontMissing):
            render_slips_pdf(make_slips(1), base_url=BASE_URL, stream=stream)

        assert stream.getvalue() == b""
