"""Admission code format: Crockford base32 groups with a check character.

A code is 19 random symbols (95 bits from the operating system's CSPRNG) and one check
symbol, printed as five groups of four: ``7K3M-Q9XA-2HNP-4RTW-8CVJ``. The check symbol is
the Luhn mod 32 checksum over the Crockford alphabet, so every single mistyped symbol and
most swaps of two neighbours are caught before any database lookup.

Input is forgiving, as Crockford intends: lower case, spaces, hyphens, full-width characters
from a Chinese input method, and the look-alikes O→0, I/L→1 are accepted.
"""

import hashlib
import hmac
import secrets
import unicodedata

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_SYMBOLS = 19
CODE_LENGTH = RANDOM_SYMBOLS + 1
GROUP_SIZE = 4
ENTROPY_BITS = RANDOM_SYMBOLS * 5
_VALUE = {symbol: index for index, symbol in enumerate(ALPHABET)}
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = str.maketrans("", "", " -_.\u00a0\u3000\t\r\n")
_HASH_CONTEXT = b"pingyi admission code v1"


class MalformedCode(ValueError):
    """The text cannot be a code: wrong length, a symbol outside the alphabet, or a bad check."""


def generate() -> str:
    """A new random code, grouped for printing."""
    value = secrets.randbits(ENTROPY_BITS)
    symbols = "".join(ALPHABET[(value >> (5 * i)) & 0b11111] for i in range(RANDOM_SYMBOLS))
    return group(symbols + check_symbol(symbols))


def check_symbol(symbols: str) -> str:
    """Luhn mod N check symbol (N = 32) for ``symbols`` from :data:`ALPHABET`."""
    base = len(ALPHABET)
    total = 0
    double = True
    for symbol in reversed(symbols):
        value = _VALUE[symbol]
        if double:
            value *= 2
            value = value // base + value % base
        total += value
        double = not double
    return ALPHABET[(base - total % base) % base]


def normalize(text: str) -> str:
    """The canonical, ungrouped form of a typed code; raises :class:`MalformedCode`."""
    folded = unicodedata.normalize("NFKC", text).upper().translate(_SEPARATORS)
    folded = folded.translate(_LOOK_ALIKES)
    if len(folded) != CODE_LENGTH or any(symbol not in _VALUE for symbol in folded):
        raise MalformedCode(text)
    if check_symbol(folded[:-1]) != folded[-1]:
        raise MalformedCode(text)
    return folded


def group(symbols: str) -> str:
    return "-".join(symbols[i : i + GROUP_SIZE] for i in range(0, len(symbols), GROUP_SIZE))


def hashing_key(server_secret: bytes) -> bytes:
    """The key for code hashes, derived so the server secret is never used directly."""
    return hmac.new(server_secret, _HASH_CONTEXT, hashlib.sha256).digest()


def keyed_hash(key: bytes, normalized_code: str) -> bytes:
    """HMAC-SHA256 of a normalized code: what the database stores instead of the code."""
    return hmac.new(key, normalized_code.encode("ascii"), hashlib.sha256).digest()
