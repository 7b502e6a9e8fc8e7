"""Receipts: what a rater keeps to find their ballot among the counted ones.

A ballot's receipt is its **tracker**: the SHA-256 of its ciphertext in the ballot box
(``app.ballot_box``), shown as lower-case hex in groups of four (``3f9a-0c12-…``, 16
groups). After close the sorted trackers are public, so a rater can check that their ballot
is in the box and, after the tally, that it was counted. A tracker says nothing about what the
ballot held: without the trustees' key the ciphertext is unreadable, and after the tally the
ciphertexts are deleted.

A campaign opened before the ballot box existed gave 16 random bytes as the receipt (32 hex
digits) and kept only their SHA-256; those still verify. Either spelling is accepted in any
case, with or without spaces and dashes.
"""

import hashlib
import re
import secrets

RECEIPT_BYTES = 16  # an unsealed ballot's random receipt
TRACKER_BYTES = 32  # SHA-256
GROUP_SIZE = 4  # hex digits per group
_SEPARATORS = re.compile(r"[\s\-]+")
_HEX = re.compile("[0-9a-f]+")


class MalformedReceipt(ValueError):
    """The text is neither a tracker (64 hex digits) nor a receipt (32), after removing
    spaces and dashes."""


def grouped(value: bytes) -> str:
    digits = value.hex()
    return "-".join(digits[i : i + GROUP_SIZE] for i in range(0, len(digits), GROUP_SIZE))


def tracker_text(tracker: bytes) -> str:
    """A tracker as the rater reads it."""
    return grouped(tracker)


def new_receipt() -> str:
    """A fresh random receipt for a ballot stored without the box."""
    return grouped(secrets.token_bytes(RECEIPT_BYTES))


def receipt_bytes(text: str) -> bytes:
    """The bytes a receipt or tracker spells; raises :class:`MalformedReceipt`."""
    digits = _SEPARATORS.sub("", text).lower()
    if len(digits) not in (2 * RECEIPT_BYTES, 2 * TRACKER_BYTES) or not _HEX.fullmatch(digits):
        raise MalformedReceipt(text)
    return bytes.fromhex(digits)


def receipt_hash(text: str) -> bytes:
    """What the public list holds for a receipt: a tracker itself, or the SHA-256 of a
    random receipt's 16 bytes."""
    value = receipt_bytes(text)
    return value if len(value) == TRACKER_BYTES else hashlib.sha256(value).digest()


def qr_svg_data_uri(link: str) -> str:
    """A QR code of ``link`` as an SVG image in a ``data:`` URI (the page's CSP allows data
    images; nothing is fetched from anywhere), dark on white so that it scans when saved."""
    import segno  # the PDF slips use it too

    code = segno.make(link, error="m")
    return str(code.svg_data_uri(scale=4, border=4, dark="#000", light="#fff"))
