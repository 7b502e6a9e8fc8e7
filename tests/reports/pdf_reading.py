"""Reading generated PDFs back the way a printer and a phone would: text and QR codes."""

from dataclasses import dataclass

import pypdfium2 as pdfium  # type: ignore[import-untyped]
import zxingcpp

RENDER_SCALE = 3  # 216 dpi: about 6 pixels per QR module on a slip


@dataclass(frozen=True)
class PdfPage:
    text: str  # the text layer, lines separated by CR LF
    qr_texts: list[str]  # what each QR code on the page decodes to, in no particular order

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


def read_pdf(data: bytes) -> list[PdfPage]:
    # Made per call, not at import: nanobind reports an instance still alive at exit as a leak.
    qr_only = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    document = pdfium.PdfDocument(data)
    try:
        pages = []
        for page in document:
            text_page = page.get_textpage()
            text = text_page.get_text_range()
            text_page.close()
            image = page.render(scale=RENDER_SCALE, grayscale=True).to_pil()
            page.close()
            barcodes = zxingcpp.read_barcodes(image, formats=qr_only)
            pages.append(PdfPage(text=text, qr_texts=[barcode.text for barcode in barcodes]))
        return pages
    finally:
        document.close()
