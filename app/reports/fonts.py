"""Which font file PDF output embeds for Chinese text.

PINGYI_PDF_FONT (and PINGYI_PDF_FONT_INDEX for a face inside a ``.ttc`` collection) names the
file when set; otherwise the first of a few well-known Debian paths that exists is used.
"""

from dataclasses import dataclass
from pathlib import Path

from app.config import Settings, get_settings
from app.errors import PingyiError
from app.i18n import N_


@dataclass(frozen=True)
class CjkFont:
    """A font face for Chinese text and, where the same file has one, a monospaced face."""

    path: Path
    index: int = 0  # the face within a .ttc collection
    monospace_index: int | None = None  # a monospaced face in the same file, if known


NOTO_SANS_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")

# In Debian's order of preference; the face indices are those of the files Debian ships.
CANDIDATES: tuple[CjkFont, ...] = (
    # fonts-noto-cjk: face 2 is Noto Sans CJK SC, face 7 is Noto Sans Mono CJK SC.
    CjkFont(NOTO_SANS_CJK, index=2, monospace_index=7),
    CjkFont(Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")),  # fonts-wqy-zenhei
    CjkFont(Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")),  # fonts-wqy-microhei
    CjkFont(Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf")),
)


class PdfFontMissing(PingyiError):
    """No font for Chinese text: PDF output is impossible until one is installed or named."""

    status_code = 500
    code = "pdf_font_missing"
    message = N_(
        "No font for Chinese text was found, so no PDF can be made. Install Debian's "
        "fonts-noto-cjk package, or set PINGYI_PDF_FONT to a .ttf, .otf or .ttc font file."
    )


def find_cjk_font(settings: Settings | None = None) -> CjkFont:
    """The configured font, else the first installed candidate; raises :class:`PdfFontMissing`."""
    settings = settings or get_settings()
    if settings.pdf_font is not None:
        if not settings.pdf_font.is_file():
            raise PdfFontMissing(
                N_(
                    "The font file “%(path)s” named by PINGYI_PDF_FONT does not exist. Install "
                    "Debian's fonts-noto-cjk package, or set PINGYI_PDF_FONT to a .ttf, .otf "
                    "or .ttc font file."
                ),
                path=str(settings.pdf_font),
            )
        configured = CjkFont(settings.pdf_font, index=settings.pdf_font_index)
        for candidate in CANDIDATES:  # a known face keeps its monospaced sibling
            if (candidate.path, candidate.index) == (configured.path, configured.index):
                return candidate
        return configured
    for candidate in CANDIDATES:
        if candidate.path.is_file():
            return candidate
    raise PdfFontMissing()
