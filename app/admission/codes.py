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
_BASE = len(ALPHABET)
_VALUE = {symbol: index for index, symbol in enumerate(ALPHABET)}
_DOUBLED = {symbol: sum(divmod(2 * value, _BASE)) for symbol, value in _VALUE.items()}
# A random byte's low five bits as a symbol: 256 is a multiple of 32, so each symbol is uniform.
_SYMBOL_OF_BYTE = bytes(ALPHABET.encode("ascii")[byte % _BASE] for byte in range(256))
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = str.maketrans("", "", " -_.\u00a0\u3000\t\r\n")
_HASH_CONTEXT = b"pingyi admission code v1"


class MalformedCode(ValueError):
    """The text cannot be a code: wrong length, a symbol outside the alphabet, or a bad check."""


def generate() -> str:
    """A new random code, grouped for printing."""
    return group(generate_normalized(1)[0])


def generate_normalized(count: int) -> list[str]:
    """``count`` new random codes in normalized (ungrouped) form, as :func:`normalize` gives.

    Fast for large batches: the randomness is read in one call, one random byte per symbol,
    and turned into symbols by one ``bytes.translate`` (each symbol takes the byte's low five
    bits, so a code still holds :data:`ENTROPY_BITS` uniformly random bits).
    """
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    size = RANDOM_SYMBOLS
    text = secrets.token_bytes(size * count).translate(_SYMBOL_OF_BYTE).decode("ascii")
    payloads = [text[start : start + size] for start in range(0, size * count, size)]
    return [payload + check_symbol(payload) for payload in payloads]


def check_symbol(symbols: str) -> str:
    """Luhn mod N check symbol (N = 32) for ``symbols`` from :data:`ALPHABET`.

    Every second symbol, counting from the last one, is doubled (digits of the double in
    base 32 summed): those are in :data:`_DOUBLED`, the others count their plain value.
    """
    doubled_start = (len(symbols) - 1) % 2
    total = sum(map(_DOUBLED.__getitem__, symbols[doubled_start::2])) + sum(
        map(_VALUE.__getitem__, symbols[1 - doubled_start :: 2])
    )
    return ALPHABET[-total % _BASE]


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
    return "-".join([symbols[i : i + GROUP_SIZE] for i in range(0, len(symbols), GROUP_SIZE)])


def hashing_key(server_secret: bytes) -> bytes:
    """The key for code hashes, derived so the server secret is never used directly."""
    return hmac.new(server_secret, _HASH_CONTEXT, hashlib.sha256).digest()


def keyed_hash(key: bytes, normalized_code: str) -> bytes:
    """HMAC-SHA256 of a normalized code: what the database stores instead of the code."""
    return hmac.digest(key, normalized_code.encode("ascii"), "sha256")
