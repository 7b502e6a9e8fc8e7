"""Hiding personal data in raters' comments before anyone reads them.

Replaced by :data:`PLACEHOLDER`:

- mainland mobile numbers: 11 digits from 13… to 19…, with or without +86/0086/(86), with
  spaces, dashes or dots anywhere between the digits;
- landline numbers with an area code: 010-12345678, 0755 1234 5678, (0755)12345678,
  +86 10 1234 5678, with an extension (转801, -801, ext. 801);
- resident ID numbers: 18 characters, the last a digit or X (also grouped 6-8-4, 6-4-4-4 or
  3-3-4-4-4), the old 15-digit ones (also 6-6-3), and any other unbroken run of 15 to 19
  digits (a mistyped ID number, a bank card number);
- e-mail addresses;
- each name on the campaign's list, as written (Latin letters in any case).

Matching runs on a shadow of the text in which every character that NFKC maps to one
character is replaced by it (full-width ０-９, ＋, ＠, Ｘ, Latin letters, the ideographic
space) and any other Unicode digit by its ASCII digit. Positions in the shadow are positions
in the text, so what is kept stays exactly as the rater typed it, full-width punctuation
included.

Ordinary numbers stay: dates, amounts, window and room numbers, percentages, postcodes, short
hotlines such as 12345 or 400 numbers. Numbers written in Chinese numerals or deliberately
disguised are not recognised: staff review before publication is the backstop.
"""

import re
import unicodedata
from collections.abc import Iterable

PLACEHOLDER = "〔已隐去〕"

# Between the digits of one number: spaces (not line breaks), dashes of every kind and dots,
# at most three of them in a row ("138 - 1234 - 5678").
_SEPARATOR = r"[^\S\n]|[-\u2010-\u2015\u2212.]"
_GAP = rf"(?:{_SEPARATOR}){{0,3}}"
_NOT_AFTER_DIGIT = r"(?<![0-9])"
_NOT_BEFORE_DIGIT = r"(?![0-9])"


def _digits(count: int) -> str:
    """``count`` digits, with a gap allowed before each."""
    return rf"(?:{_GAP}[0-9]){{{count}}}"


def _grouped(*groups: int, last: str = "[0-9]") -> str:
    """Digits in groups of the given sizes, a gap allowed only between groups; the final
    character matches ``last``."""
    parts = [rf"[0-9]{{{size}}}" for size in groups]
    parts[-1] = rf"[0-9]{{{groups[-1] - 1}}}{last}"
    return _GAP.join(parts)


_COUNTRY_CODE = (
    rf"(?:(?:\+|00){_GAP}86{_GAP}"  # +86 138…, 0086-138…
    rf"|\({_GAP}(?:\+|00)?86{_GAP}\){_GAP}"  # (+86) 138…, (86)138…
    r"|86(?=1[3-9][0-9]{9}(?![0-9])))"  # 8613812345678
)
MOBILE = re.compile(
    rf"{_NOT_AFTER_DIGIT}{_COUNTRY_CODE}?1{_GAP}[3-9]{_digits(9)}{_NOT_BEFORE_DIGIT}"
)

_AREA_CODE = r"0[1-9][0-9]{1,2}"  # 010, 021 … 029 and the four-digit 0xxx codes
LANDLINE = re.compile(
    rf"(?:{_NOT_AFTER_DIGIT}(?:{_AREA_CODE}|\({_GAP}{_AREA_CODE}{_GAP}\))"
    rf"|(?:\+|00){_GAP}86{_GAP}\(?{_GAP}0?[1-9][0-9]{{1,2}}{_GAP}\)?)"  # +86 10 …, +86 (755) …
    rf"{_GAP}[1-9]{_digits(6)}(?:{_GAP}[0-9])?"  # the local number: 7 or 8 digits
    rf"(?:{_GAP}(?:转|分机|ext\.?|x|-){_GAP}[0-9]{{1,6}})?"  # an extension
    rf"{_NOT_BEFORE_DIGIT}",
    re.IGNORECASE,
)

_CHECK = "[0-9Xx]"
RESIDENT_ID = re.compile(
    rf"{_NOT_AFTER_DIGIT}(?:"
    rf"[0-9]{{14,18}}{_CHECK}"  # 18 characters; the old 15 digits; mistyped; bank cards
    rf"|{_grouped(6, 8, 4, last=_CHECK)}"
    rf"|{_grouped(6, 4, 4, 4, last=_CHECK)}"
    rf"|{_grouped(3, 3, 4, 4, 4, last=_CHECK)}"
    rf"|{_grouped(6, 6, 3)}"  # the old 15-digit numbers
    rf"){_NOT_BEFORE_DIGIT}"
)

EMAIL = re.compile(
    r"[A-Za-z0-9._%+\-]+[^\S\n]?@[^\S\n]?[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}"
)


def shadow(text: str) -> str:
    """``text`` with full-width and other compatibility forms folded, one character for one."""
    folded = []
    for character in text:
        normal = unicodedata.normalize("NFKC", character)
        if len(normal) != 1:
            normal = character
        if not normal.isascii():
            digit = unicodedata.digit(normal, None)
            if digit is not None:
                normal = str(digit)
        folded.append(normal)
    return "".join(folded)


def _name_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    cleaned = {shadow(name.strip()) for name in names if name.strip()}
    if not cleaned:
        return None
    alternatives = sorted(cleaned, key=len, reverse=True)  # the longest name first
    return re.compile("|".join(re.escape(name) for name in alternatives), re.IGNORECASE)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def personal_data_spans(text: str, names: Iterable[str] = ()) -> list[tuple[int, int]]:
    """Where ``text`` holds personal data: sorted, non-overlapping (start, end) spans.

    A match that lies inside a placeholder already in the text (a listed name such as "去"
    would) is not one: scrubbing twice changes nothing more.
    """
    folded = shadow(text)
    patterns = [RESIDENT_ID, MOBILE, LANDLINE]
    if "@" in folded:
        patterns.append(EMAIL)
    name_pattern = _name_pattern(names)
    if name_pattern is not None:
        patterns.append(name_pattern)
    hidden = [match.span() for match in re.finditer(re.escape(PLACEHOLDER), text)]
    spans = [
        (start, end)
        for pattern in patterns
        for match in pattern.finditer(folded)
        for start, end in [match.span()]
        if start < end and not any(h_start <= start and end <= h_end for h_start, h_end in hidden)
    ]
    return _merged(spans)


def scrub(text: str, names: Iterable[str] = ()) -> str:
    """``text`` with each piece of personal data replaced by :data:`PLACEHOLDER`.

    Idempotent: ``scrub(scrub(text, names), names) == scrub(text, names)``.
    """
    pieces: list[str] = []
    position = 0
    for start, end in personal_data_spans(text, names):
        pieces += [text[position:start], PLACEHOLDER]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)
