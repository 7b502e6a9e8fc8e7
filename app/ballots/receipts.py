"""Receipts: a random value handed to the rater for each accepted ballot.

The rater keeps the receipt; the database keeps only its SHA-256 (``receipts`` table), in the
ballot's transaction. After close the sorted hashes are public, so a rater can check that
their ballot was counted. A receipt is 16 random bytes, unrelated to the code, credential or
answers: it proves that *a* ballot was counted, nothing about what it said.

Shown as lower-case hex in groups of four (``3f9a-0c12-…``, 39 characters); the hash is taken
over the 16 bytes, so any spelling of the same receipt (case, spaces, dashes) hashes alike.
"""

import hashlib
import re
import secrets

RECEIPT_BYTES = 16
GROUP_SIZE = 4  # hex digits per group
_SEPARATORS = re.compile(r"[\s\-]+")
_HEX = re.compile(f"[0-9a-f]{{{2 * RECEIPT_BYTES}}}")


class MalformedReceipt(ValueError):
    """The text is not 32 hex digits (after removing spaces and dashes)."""


def new_receipt() -> str:
    """A fresh receipt, grouped for reading aloud or writing down."""
    digits = secrets.token_bytes(RECEIPT_BYTES).hex()
    return "-".join(digits[i : i + GROUP_SIZE] for i in range(0, len(digits), GROUP_SIZE))


def receipt_bytes(text: str) -> bytes:
    """The 16 bytes a receipt spells; raises :class:`MalformedReceipt`."""
    digits = _SEPARATORS.sub("", text).lower()
    if not _HEX.fullmatch(digits):
        raise MalformedReceipt(text)
    return bytes.fromhex(digits)


def receipt_hash(text: str) -> bytes:
    """SHA-256 of the receipt's 16 bytes: what the database stores and the public list shows."""
    return hashlib.sha256(receipt_bytes(text)).digest()
