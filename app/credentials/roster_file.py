"""Reading a roster file: whether its first line names the columns rather than a member.

Offices export rosters from spreadsheets, usually with a first line such as ``手机号`` or
``phone``. Imported without ``--column``, that line would become a roster member (whose
"identifier" anyone could guess). Phone numbers, ID card and registration numbers all contain
digits, and column names do not: so the first line is taken for a header when its identifier
cell has no digit while most identifier cells below it do. A file whose first line is an
identifier keeps it, and a file of identifiers without digits is read as it is (name the
column with ``--column`` to skip a header there).
"""

from collections.abc import Sequence

# Column names offices use for the identifier; one of these is a header even with no row below.
HEADER_NAMES = frozenset(
    {
        "手机",
        "手机号",
        "手机号码",
        "电话",
        "电话号码",
        "联系电话",
        "身份证号",
        "身份证号码",
        "统一社会信用代码",
        "信用代码",
        "编号",
        "账号",
        "标识",
        "姓名",
        "phone",
        "mobile",
        "telephone",
        "identifier",
        "id",
        "name",
    }
)


def plausible_identifier(cell: str) -> bool:
    """Whether a cell could be an identifier: it holds a digit (full-width ones too)."""
    return any(character.isdigit() for character in cell)


def _identifier_cell(row: Sequence[str], index: int) -> str:
    return row[index].strip() if len(row) > index else ""


def first_row_is_header(rows: Sequence[Sequence[str]], index: int = 0) -> bool:
    """Whether the first row names the columns: its cell at ``index`` is a known column name,
    or has no digit while most non-empty cells at ``index`` below it have one."""
    if not rows:
        return False
    first = _identifier_cell(rows[0], index)
    if not first or plausible_identifier(first):
        return False
    if first.casefold() in HEADER_NAMES:
        return True
    below = [_identifier_cell(row, index) for row in rows[1:]]
    below = [cell for cell in below if cell]
    plausible = sum(1 for cell in below if plausible_identifier(cell))
    return bool(below) and plausible * 2 > len(below)


def header_rows(rows: Sequence[Sequence[str]], index: int = 0) -> int:
    """How many rows at the top of the file are a header: 1 or 0."""
    return 1 if first_row_is_header(rows, index) else 0


def member_rows(rows: Sequence[Sequence[str]], index: int = 0) -> Sequence[Sequence[str]]:
    """The rows that hold members: every row but a header."""
    return rows[header_rows(rows, index) :]
