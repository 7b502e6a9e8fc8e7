"""The raw evaluations of a closed campaign as CSV or XLSX, for the database operator.

It is a command-line tool only, for whoever already runs the server and could dump its
database: it gives what such a dump holds, in a usable form, and no more (docs/privacy.md "Rules for
stored data"). It applies no disclosure control (a group of two shows both raters' answers),
so it is not for office staff, liaisons or publication: those get the published tables.

- only once the campaign is closed, like its results (no differencing while raters submit);
- one row per evaluation: department code and name, rater group, the level of each item
  (blank for 不了解 and for an item the group is not shown) and the quality flags in words;
- never the evaluation's id, which is unique to it, nor its comment, which is published only
  through the comment rules;
- rows sorted by department and rater group (in the campaign's order), answers and flags,
  so their order says nothing about when anyone rated;
- streamed from the database (``yield_per``: a server-side cursor on PostgreSQL) and written
  a chunk of rows at a time, so memory stays flat for millions of evaluations.

Names that start like a formula are neutralised (:mod:`app.reports.cells`): a single quote
in front in CSV, a string cell in XLSX.

CSV is UTF-8 with a byte order mark (so Excel reads the Chinese); XLSX is written in
openpyxl's write-only mode, with levels as numbers, and continued on further sheets past the
format's 1,048,576 rows. Nothing is published: the command that calls this records the export
in the audit trail.
"""

import csv
import io
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO, Literal

from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.styles import Font  # type: ignore[import-untyped]
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.ballots.answers import NOT_APPLICABLE, NOT_SHOWN
from app.ballots.models import STRAIGHT_LINING, TOO_FAST, Evaluation
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, RaterGroup, Target
from app.i18n import N_, current_locale, gettext
from app.reports import cells
from app.results.service import check_releasable

RawFormat = Literal["csv", "xlsx"]
FORMATS: tuple[RawFormat, ...] = ("csv", "xlsx")

BYTE_ORDER_MARK = "\ufeff"
LINE_END = "\r\n"  # what csv.writer ends lines with, and Excel expects
ROWS_PER_FETCH = 10_000
XLSX_MAX_ROWS = 1_048_576  # rows per worksheet, the header included
SHEET_EVALUATIONS = N_("Evaluations")
COLUMN_FLAGS = N_("quality flags")
FLAG_WORDS = {
    STRAIGHT_LINING: N_("same answer throughout"),
    TOO_FAST: N_("too fast"),
}
ANSWER_SYMBOLS = "0123456789" + NOT_SHOWN
# An answers string joined with commas becomes the CSV cells: 不了解 and unseen go blank.
_BLANKED = str.maketrans({NOT_APPLICABLE: "", NOT_SHOWN: ""})

_Row = tuple[int, int, str, int]  # target id, rater group id, answers, quality flags


def write_raw_evaluations(
    session: Session, campaign: Campaign, fmt: RawFormat, out: BinaryIO
) -> int:
    """Write the campaign's evaluations to ``out`` (binary; need not be seekable) as ``fmt``.

    Returns how many evaluations were written. Refuses a campaign that is not closed or
    published with :class:`app.results.service.ResultsNotReleasable`.
    """
    check_releasable(campaign)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    writer = _CsvWriter(campaign, out) if fmt == "csv" else _XlsxWriter(campaign, out)
    written = 0
    for rows in _sorted_rows(session, campaign):
        writer.check(rows)
        writer.write(rows)
        written += len(rows)
    writer.close()
    return written


def header(campaign: Campaign) -> list[str]:
    """The column names: department code, department, rater group, each item's id, flags."""
    questionnaire = campaign_service.questionnaire_of(campaign)
    return [
        gettext("department code"),
        gettext("department"),
        gettext("rater group"),
        *(item.id for item in questionnaire.items),
        gettext(COLUMN_FLAGS),
    ]


def flag_words(flags: int) -> str:
    return "; ".join(gettext(words) for flag, words in FLAG_WORDS.items() if flags & flag)


def _sorted_rows(session: Session, campaign: Campaign) -> Iterator[Sequence[_Row]]:
    """The evaluations in value order, streamed in chunks; never their ids or comments.

    Sorted by department and rater group (in the campaign's order), then answers and flags by
    byte value (``COLLATE "C"`` on PostgreSQL, SQLite's default), so the order is the same on
    both engines and depends on nothing but the values. Plain Core rows, narrow ones: the
    writers look the department's code and name up, so the database's sort does not carry them.
    """
    evaluations = Evaluation.__table__
    targets = Target.__table__
    groups = RaterGroup.__table__
    answers = evaluations.c.answers
    if session.get_bind().dialect.name == "postgresql":
        answers = answers.collate("C")  # type: ignore[assignment]
    query = (
        select(
            evaluations.c.target_id,
            evaluations.c.rater_group_id,
            evaluations.c.answers,
            evaluations.c.quality_flags,
        )
        .join(targets, targets.c.id == evaluations.c.target_id)
        .join(groups, groups.c.id == evaluations.c.rater_group_id)
        .where(evaluations.c.campaign_id == campaign.id)
        .order_by(targets.c.position, groups.c.position, answers, evaluations.c.quality_flags)
        .execution_options(yield_per=ROWS_PER_FETCH)
    )
    yield from session.execute(query).partitions()


class _Writer:
    def __init__(self, campaign: Campaign) -> None:
        locale = current_locale()
        self.width = len(campaign_service.questionnaire_of(campaign).items)
        self.departments = {
            target.id: (target.department.code, target.department.name_for(locale))
            for target in campaign.targets
        }
        self.group_names = {group.id: group.name_for(locale) for group in campaign.rater_groups}
        self.flag_words: dict[int, str] = {}

    def words(self, flags: int) -> str:
        words = self.flag_words.get(flags)
        if words is None:
            words = self.flag_words[flags] = flag_words(flags)
        return words

    def check(self, rows: Sequence[_Row]) -> None:
        """Answers are digits and NOT_SHOWN only, one per item: anything else is refused
        rather than written into a spreadsheet cell."""
        answers = [row[2] for row in rows]
        if any(len(text) != self.width for text in answers) or "".join(answers).strip(
            ANSWER_SYMBOLS
        ):
            raise ValueError(f"an evaluation's answers are not {self.width} answer symbols")

    def write(self, rows: Sequence[_Row]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _CsvWriter(_Writer):
    """Lines made by joining: the department and group cells are quoted once per pair."""

    def __init__(self, campaign: Campaign, out: BinaryIO) -> None:
        super().__init__(campaign)
        self.text = io.TextIOWrapper(out, encoding="utf-8", newline="")
        self.quoted = csv.writer(_Line(), lineterminator="")
        self.prefixes: dict[tuple[int, int], str] = {}
        self.suffixes: dict[int, str] = {}
        first_line = self.quoted.writerow(cells.csv_row(header(campaign)))
        self.text.write(BYTE_ORDER_MARK + first_line + LINE_END)

    def write(self, rows: Sequence[_Row]) -> None:
        lines = []
        for target_id, group_id, answers, flags in rows:
            prefix = self.prefixes.get((target_id, group_id))
            if prefix is None:
                prefix = self._prefix(target_id, group_id)
            suffix = self.suffixes.get(flags)
            if suffix is None:
                suffix = self._suffix(flags)
            lines.append(prefix + ",".join(answers).translate(_BLANKED) + suffix)
        self.text.write("".join(lines))

    def _prefix(self, target_id: int, group_id: int) -> str:
        names = [*self.departments[target_id], self.group_names[group_id]]
        prefix: str = self.quoted.writerow(cells.csv_row(names)) + ","
        self.prefixes[(target_id, group_id)] = prefix
        return prefix

    def _suffix(self, flags: int) -> str:
        words = self.words(flags)
        cell: str = self.quoted.writerow(cells.csv_row([words])) if words else ""  # not ""
        suffix = self.suffixes[flags] = "," + cell + LINE_END
        return suffix

    def close(self) -> None:
        self.text.flush()
        self.text.detach()  # the caller's stream stays open


class _XlsxWriter(_Writer):
    def __init__(self, campaign: Campaign, out: BinaryIO) -> None:
        super().__init__(campaign)
        self.out = out
        self.workbook = Workbook(write_only=True)
        self.header = header(campaign)
        self.levels: dict[str, int | None] = {
            **{symbol: int(symbol) for symbol in "123456789"},
            NOT_APPLICABLE: None,
            NOT_SHOWN: None,
        }
        self.sheets = 0
        self.rows_left = 0
        self.sheet: Any = None

    def _new_sheet(self) -> None:
        self.sheets += 1
        title = gettext(SHEET_EVALUATIONS)
        self.sheet = self.workbook.create_sheet(
            title=title if self.sheets == 1 else f"{title} {self.sheets}"
        )
        bold = Font(bold=True)
        header_cells = []
        for text in self.header:
            cell = cells.xlsx_text(self.sheet, text)
            cell.font = bold
            header_cells.append(cell)
        self.sheet.freeze_panes = "A2"
        self.sheet.append(header_cells)
        self.rows_left = XLSX_MAX_ROWS - 1

    def write(self, rows: Sequence[_Row]) -> None:
        levels = self.levels
        for target_id, group_id, answers, flags in rows:
            if self.rows_left == 0:
                self._new_sheet()
            self.sheet.append(
                [
                    *cells.xlsx_row(self.sheet, self.departments[target_id]),
                    cells.xlsx_value(self.sheet, self.group_names[group_id]),
                    *(levels[symbol] for symbol in answers),
                    self.words(flags) or None,
                ]
            )
            self.rows_left -= 1

    def close(self) -> None:
        if self.sheet is None:
            self._new_sheet()  # a header row, even for a campaign nobody rated
        self.workbook.save(self.out)


class _Line:
    """A file for :func:`csv.writer` whose ``write`` hands the formatted line back."""

    def write(self, line: str) -> str:
        return line
