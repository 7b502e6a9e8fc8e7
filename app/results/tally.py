"""Counting stored answers into per target × rater group tallies, exactly.

Pure functions, so scoring and suppression can be tested on any random campaign without a
database. Everything is counted separately for evaluations flagged as low quality and for
the others, so the campaign's quality policy can keep, down-weight or exclude the flagged ones
afterwards. Two inputs give the same :class:`CampaignTally`:

- :func:`tally` reads rows of ``(target_id, rater_group_id, answers, quality_flags, count)``,
  one per distinct answers string: plain Python, the reference;
- :func:`tally_concatenated` reads one row per target × rater group × quality flags with every
  answers string of it concatenated, ``(target_id, rater_group_id, quality_flags, count,
  answers…)``, which the database makes in one pass (``string_agg``, ``group_concat``) and
  numpy counts in a few vectorised passes: what results use, as a million evaluations with
  twelve answers each hardly ever repeat an answers string.
"""

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from app.ballots.answers import NOT_APPLICABLE, NOT_SHOWN
from app.ballots.models import STRAIGHT_LINING, TOO_FAST
from app.surveys.schemas import Questionnaire

# target id, rater group id, encoded answers, quality flags, how many evaluations
AnswerRow = tuple[int, int, str, int, int]
# target id, rater group id, quality flags, how many evaluations, their answers concatenated
ConcatenatedRow = tuple[int, int, int, int, str]
QUALITY_FLAGS = (STRAIGHT_LINING, TOO_FAST)


@lru_cache(maxsize=4096)
def exact(value: float) -> Fraction:
    """A configured number (points, a weight, a share) as the decimal it was written as.

    Remembered: scoring asks for the same few points for every item of every cell, and
    parsing a decimal is slow. A float equal to an int (``1.0``, ``1``) is the same number.
    """
    return Fraction(str(value))


@dataclass
class ItemTally:
    """Evaluations at each level of one item; level 0 is 不了解 (don't know)."""

    counts: dict[int, int] = field(default_factory=dict)  # evaluations not flagged
    flagged_counts: dict[int, int] = field(default_factory=dict)  # flagged as low quality


@dataclass
class CellTally:
    """Everything counted for one target and one rater group.

    ``scores`` holds the distribution of evaluation scores (the mean points of an
    evaluation's answered scored items), exactly: evaluations per score. Counting instead of
    adding up keeps every figure independent of the order in which rows arrive. Evaluations
    without an answered scored item have no score and are not in it.
    """

    evaluations: int = 0
    flagged_evaluations: int = 0
    scores: dict[Fraction, int] = field(default_factory=dict)
    flagged_scores: dict[Fraction, int] = field(default_factory=dict)
    items: dict[str, ItemTally] = field(default_factory=dict)


@dataclass
class CampaignTally:
    """A campaign's cells, with its low-quality evaluations counted by kind."""

    cells: dict[tuple[int, int], CellTally] = field(default_factory=dict)
    evaluations: int = 0  # every evaluation stored, flagged or not
    flagged: int = 0  # evaluations with at least one quality flag
    flag_counts: dict[int, int] = field(default_factory=dict)  # flag bit -> evaluations with it


def tally(questionnaire: Questionnaire, rows: Iterable[AnswerRow]) -> CampaignTally:
    """Count rows of distinct answers strings, one evaluation at a time (the reference)."""
    items = questionnaire.items
    points = [
        {level: exact(value) for level, value in questionnaire.points_for(item).items()}
        for item in items
    ]
    scored = [item.scored for item in items]
    counted = CampaignTally(flag_counts=dict.fromkeys(QUALITY_FLAGS, 0))
    for target_id, group_id, encoded, flags, count in rows:
        flagged = flags != 0
        cell = _count_evaluations(counted, target_id, group_id, flags, count)
        score_total = Fraction(0)
        score_items = 0
        for index, symbol in enumerate(encoded):
            if symbol == NOT_SHOWN:
                continue
            item_tally = cell.items.get(items[index].id)
            if item_tally is None:
                item_tally = cell.items[items[index].id] = ItemTally()
            level = 0 if symbol == NOT_APPLICABLE else int(symbol)
            level_counts = item_tally.flagged_counts if flagged else item_tally.counts
            level_counts[level] = level_counts.get(level, 0) + count
            if level and scored[index]:
                score_total += points[index][level]
                score_items += 1
        if score_items:
            scores = cell.flagged_scores if flagged else cell.scores
            score = score_total / score_items
            scores[score] = scores.get(score, 0) + count
    return counted


def _count_evaluations(
    counted: CampaignTally, target_id: int, group_id: int, flags: int, count: int
) -> CellTally:
    """Add ``count`` evaluations with ``flags`` to the campaign's and the cell's totals."""
    flagged = flags != 0
    counted.evaluations += count
    if flagged:
        counted.flagged += count
        for flag in QUALITY_FLAGS:
            if flags & flag:
                counted.flag_counts[flag] += count
    cell = counted.cells.get((target_id, group_id))
    if cell is None:
        cell = counted.cells[(target_id, group_id)] = CellTally()
    if flagged:
        cell.flagged_evaluations += count
    else:
        cell.evaluations += count
    return cell


_BYTES = 256  # answers are ASCII: each symbol is counted by its byte
_DIGIT_BYTES = range(ord("0"), ord("9") + 1)
_NOT_SHOWN_BYTE = ord(NOT_SHOWN)
_NOT_APPLICABLE_BYTE = ord(NOT_APPLICABLE)
_KEY_LIMIT = 2**62  # score keys must fit a signed 64-bit integer with room to spare

IntArray = npt.NDArray[np.int64]
ByteArray = npt.NDArray[np.uint8]
Slot = tuple[CellTally, bool]  # a cell's unflagged (False) or flagged (True) evaluations


def tally_concatenated(
    questionnaire: Questionnaire, rows: Iterable[ConcatenatedRow]
) -> CampaignTally:
    """The :func:`tally` of rows that hold a target × rater group × flags' answers concatenated.

    Every answers string has one character per questionnaire item, so a row of ``count``
    evaluations holds ``count × items`` characters; any other length, or a symbol :func:`tally`
    would not read (a digit, a level of a scored item's scale, or ``NOT_SHOWN``), is refused.

    Counting is exact and vectorised: answers per level are one ``bincount`` per item over
    the symbols' bytes; an evaluation's score is kept as two integers, the sum of its answered
    scored items' points (scaled by their common denominator) and how many there are, and
    the distinct pairs are found by sorting one integer key per evaluation. Rows are taken
    in batches of about :data:`BATCH_EVALUATIONS` evaluations as they come, so memory stays
    small however many evaluations a campaign has.
    """
    width = len(questionnaire.items)
    keys = _ScoreKeys.of(questionnaire)
    if keys is None:  # points too large for 64-bit keys: count one by one instead
        return tally(questionnaire, _one_row_per_evaluation(_checked(rows, width), width))
    counted = CampaignTally(flag_counts=dict.fromkeys(QUALITY_FLAGS, 0))
    batch: list[ConcatenatedRow] = []
    evaluations = 0
    for row in _checked(rows, width):
        batch.append(row)
        evaluations += row[3]
        if evaluations >= BATCH_EVALUATIONS or len(batch) >= keys.max_rows:
            _tally_batch(questionnaire, keys, batch, counted)
            batch, evaluations = [], 0
    if batch:
        _tally_batch(questionnaire, keys, batch, counted)
    return counted


BATCH_EVALUATIONS = 1 << 15  # some 33,000 evaluations: a few megabytes of arrays at a time


def _checked(rows: Iterable[ConcatenatedRow], width: int) -> Iterator[ConcatenatedRow]:
    for row in rows:
        count, answers = row[3], row[4]
        if count < 1:
            raise ValueError(f"a row must count at least one evaluation, not {count}")
        if len(answers) != count * width:
            raise ValueError(
                f"{count} evaluations of {width} answers take {count * width} characters, "
                f"not {len(answers)}"
            )
        yield row


def _tally_batch(
    questionnaire: Questionnaire,
    keys: "_ScoreKeys",
    rows: list[ConcatenatedRow],
    counted: CampaignTally,
) -> None:
    # A slot holds a cell's unflagged, or its flagged, evaluations: rows with different flags
    # but the same cell and flaggedness share one.
    slot_numbers: dict[tuple[int, int, bool], int] = {}
    slots: list[Slot] = []
    row_slots: list[int] = []
    for target_id, group_id, flags, count, _ in rows:
        cell = _count_evaluations(counted, target_id, group_id, flags, count)
        key = (target_id, group_id, flags != 0)
        if key not in slot_numbers:
            slot_numbers[key] = len(slots)
            slots.append((cell, flags != 0))
        row_slots.append(slot_numbers[key])
    symbols = _symbols(rows, len(questionnaire.items))
    slot_of = np.repeat(np.asarray(row_slots, dtype=np.int64), [row[3] for row in rows])
    _count_levels(questionnaire, symbols, slot_of, slots)
    keys.count(symbols, slot_of, slots)


def _symbols(rows: list[ConcatenatedRow], width: int) -> ByteArray:
    """The answers of every row as bytes, one evaluation per line, one item per column."""
    total = sum(row[3] for row in rows)
    symbols = np.empty(total * width, dtype=np.uint8)
    position = 0
    for row in rows:
        encoded = row[4].encode("ascii")  # UnicodeEncodeError is a ValueError
        symbols[position : position + len(encoded)] = np.frombuffer(encoded, dtype=np.uint8)
        position += len(encoded)
    return symbols.reshape(total, width)


def _count_levels(
    questionnaire: Questionnaire, symbols: ByteArray, slot_of: IntArray, slots: list[Slot]
) -> None:
    """Answers per level of every item and slot: one ``bincount`` per item, by byte."""
    base = slot_of * _BYTES
    for index, item in enumerate(questionnaire.items):
        by_slot = np.bincount(base + symbols[:, index], minlength=len(slots) * _BYTES)
        by_slot = by_slot.reshape(len(slots), _BYTES)
        readable = [*_DIGIT_BYTES, _NOT_SHOWN_BYTE]
        if item.scored:
            readable = [_NOT_APPLICABLE_BYTE, _NOT_SHOWN_BYTE]
            readable += [ord(str(level)) for level in questionnaire.points_for(item)]
        unreadable = np.ones(_BYTES, dtype=bool)
        unreadable[readable] = False
        if by_slot[:, unreadable].any():
            raise ValueError(f"an answer to “{item.id}” is neither a level of its scale nor “-”")
        levels = by_slot[:, _DIGIT_BYTES.start : _DIGIT_BYTES.stop].tolist()
        for (cell, flagged), level_counts in zip(slots, levels, strict=True):
            if not any(level_counts):
                continue  # no evaluation of this slot was shown the item
            item_tally = cell.items.get(item.id)
            if item_tally is None:
                item_tally = cell.items[item.id] = ItemTally()
            into = item_tally.flagged_counts if flagged else item_tally.counts
            for level, count in enumerate(level_counts):
                if count:
                    into[level] = into.get(level, 0) + count


@dataclass(frozen=True)
class _ScoreKeys:
    """How an evaluation's score becomes one integer key, and back.

    With D the common denominator of the scored items' points, each answer adds
    ``points × D × (items + 1) + 1`` (1 for an answered item) to the key, and 不了解 or an
    unseen item adds 0: the key's quotient by ``items + 1`` is the scaled points, its
    remainder the number of answered scored items, which is at most ``items``. A slot's keys
    are shifted past every other slot's so one sort finds the distinct pairs of all slots.
    """

    denominator: int  # D
    radix: int  # items + 1
    lowest: int  # smallest possible scaled points of an evaluation (≤ 0)
    span: int  # keys one slot's evaluations can take
    by_byte: list[tuple[int, IntArray]]  # scored item index → key part by symbol byte

    @property
    def max_rows(self) -> int:
        """How many rows (so slots) one batch may hold for its keys to fit 64 bits."""
        return _KEY_LIMIT // self.span

    @classmethod
    def of(cls, questionnaire: Questionnaire) -> "_ScoreKeys | None":
        """None when one slot's keys alone could pass 64 bits (absurd points)."""
        denominator = 1
        for item in questionnaire.items:
            if item.scored:
                for value in questionnaire.points_for(item).values():
                    denominator = math.lcm(denominator, exact(value).denominator)
        radix = len(questionnaire.items) + 1
        lowest = highest = 0
        parts: list[tuple[int, dict[int, int]]] = []
        for index, item in enumerate(questionnaire.items):
            if not item.scored:
                continue
            scaled = {
                level: int(exact(value) * denominator)
                for level, value in questionnaire.points_for(item).items()
            }
            lowest += min(0, *scaled.values())
            highest += max(0, *scaled.values())
            parts.append((index, scaled))
        span = (highest - lowest + 1) * radix
        if span >= _KEY_LIMIT:
            return None
        by_byte = []
        for index, scaled in parts:
            part = np.zeros(_BYTES, dtype=np.int64)
            for level, points in scaled.items():
                part[ord(str(level))] = points * radix + 1
            by_byte.append((index, part))
        return cls(denominator, radix, lowest, span, by_byte)

    def count(self, symbols: ByteArray, slot_of: IntArray, slots: list[Slot]) -> None:
        """Add every evaluation with a score to its slot's distribution of scores."""
        keys = slot_of * self.span - self.lowest * self.radix
        for index, part in self.by_byte:
            keys += part[symbols[:, index]]
        unique_keys, counts = np.unique(keys, return_counts=True)
        slot_numbers, within = np.divmod(unique_keys, self.span)
        offset_points, answered = np.divmod(within, self.radix)
        scored = answered > 0
        points = offset_points[scored] + self.lowest
        denominators = answered[scored] * self.denominator
        common = np.gcd(points, denominators)  # equal scores become equal pairs
        numerators, denominators = points // common, denominators // common
        merged: dict[tuple[int, int, int], int] = {}
        for slot, numerator, denominator, count in zip(
            slot_numbers[scored].tolist(),
            numerators.tolist(),
            denominators.tolist(),
            counts[scored].tolist(),
            strict=True,
        ):
            key = (slot, numerator, denominator)
            merged[key] = merged.get(key, 0) + count
        fractions: dict[tuple[int, int], Fraction] = {}
        for (slot, numerator, denominator), count in merged.items():
            score = fractions.get((numerator, denominator))
            if score is None:
                score = fractions[(numerator, denominator)] = Fraction(numerator, denominator)
            cell, flagged = slots[slot]
            into = cell.flagged_scores if flagged else cell.scores
            into[score] = into.get(score, 0) + count  # a slot may recur in a later batch


def _one_row_per_evaluation(rows: Iterable[ConcatenatedRow], width: int) -> Iterator[AnswerRow]:
    for target_id, group_id, flags, _, answers in rows:
        for start in range(0, len(answers), width):
            yield (target_id, group_id, answers[start : start + width], flags, 1)
