"""A trustee's share on one printable A4 page: the words, a QR code, and what to do with it.

Paper outlasts disks and is easy to lock in a safe. The page carries the share twice: as its
33 words, numbered, to type back in, and as a QR code of the whole share file, to scan. It
names the campaign, the trustee's number, how many shares open the box, and the tally key's
fingerprint, and says in plain Chinese how to keep it. Printed for the trustee, so in
Chinese whatever the operator's language.
"""

import io
from typing import IO

import segno

from app.ballot_box import shares, tally_key
from app.reports import fonts

SANS = "pingyi-sans"
MONO = "pingyi-mono"
MARGIN = 18.0  # millimetres
QR_SIDE = 70.0
WORD_COLUMNS = 3
KEEPING = (
    "这是开启本次评议投票箱所需的密钥份额之一。任何 {threshold} 位开启人的份额合在一起，"
    "才能在评议结束后打开投票箱计票；少于 {threshold} 份则什么也打不开。",
    "请妥善保管：放入保险柜或加锁抽屉，不要拍照、复印、发送或存入联网设备。",
    "计票时，请将本页交给评议办指定的计票人员，或扫描二维码、逐个输入下列单词。",
    "如本页遗失或可能被他人看到，请立即告知评议办。只要其余份额不少于 {threshold} 份，"
    "仍可计票；评议开始前可重新生成全部份额。",
)


def render_share_pdf(share: shares.ShareFile, stream: IO[bytes]) -> None:
    from fpdf import FPDF  # fpdf takes a while to import; only PDF output needs it

    font = fonts.find_cjk_font()
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.add_font(SANS, fname=font.path, collection_font_number=font.index)
    mono = SANS
    if font.monospace_index is not None:
        pdf.add_font(MONO, fname=font.path, collection_font_number=font.monospace_index)
        mono = MONO
    pdf.set_title(f"{share.campaign} 评议结果开启人密钥份额 {share.trustee}/{share.count}")
    pdf.add_page()
    width = pdf.w - 2 * MARGIN

    pdf.set_font(SANS, size=18)
    pdf.multi_cell(width, 9, "评议结果开启人密钥份额", align="C")
    pdf.set_font(SANS, size=12)
    pdf.multi_cell(width, 7, share.title or share.campaign, align="C")
    pdf.ln(3)
    pdf.set_font(SANS, size=10.5)
    for line in (
        f"评议活动代码：{share.campaign}",
        f"开启人：第 {share.trustee} 位，共 {share.count} 位；"
        f"任 {share.threshold} 位合在一起可开启投票箱",
        "计票密钥指纹（SHA-256）：",
    ):
        pdf.multi_cell(width, 6, line)
    pdf.set_font(mono, size=9.5)
    pdf.multi_cell(width, 5.5, tally_key.fingerprint_text(bytes.fromhex(share.fingerprint)))
    pdf.ln(3)

    top = pdf.get_y()
    qr = segno.make(share.model_dump_json(), error="m")
    image = io.BytesIO()
    qr.save(image, kind="png", scale=8, border=4)
    image.seek(0)
    pdf.image(image, x=(pdf.w - QR_SIDE) / 2, y=top, w=QR_SIDE, h=QR_SIDE)
    pdf.set_y(top + QR_SIDE + 4)

    pdf.set_font(SANS, size=10.5)
    pdf.multi_cell(width, 6, f"份额单词（共 {len(share.words.split())} 个，按顺序）：")
    pdf.set_font(mono, size=10)
    words = share.words.split()
    rows = -(-len(words) // WORD_COLUMNS)
    column_width = width / WORD_COLUMNS
    y = pdf.get_y() + 1
    for index, word in enumerate(words):
        column, row = divmod(index, rows)
        pdf.set_xy(MARGIN + column * column_width, y + row * 5.6)
        pdf.cell(column_width, 5.6, f"{index + 1:2d}. {word}")
    pdf.set_y(y + rows * 5.6 + 4)

    pdf.set_font(SANS, size=9.5)
    for paragraph in KEEPING:
        pdf.multi_cell(width, 5.2, paragraph.format(threshold=share.threshold))
        pdf.ln(1)
    stream.write(bytes(pdf.output()))
