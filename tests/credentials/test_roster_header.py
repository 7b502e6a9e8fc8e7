"""A roster file's header line is not imported as a member, even without ``--column``."""

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.credentials import roster, roster_file
from app.credentials.models import RosterMember
from tests.credentials.credential_helpers import (
    cli_database,
    key_pool,  # noqa: F401 - an autouse fixture
    run_cli_ok,
)
from tests.factories import make_campaign

PHONES = ["13800138000", "13900139000", "13700137000", "13600136000", "13500135000"]


def import_file(tmp_path: Path, content: str) -> tuple[str, list[list[str]], int]:
    """Import ``content`` into a new campaign's cadres roster without ``--column``: the
    command's output, the passwords file's rows and how many members are stored."""
    identifiers = tmp_path / "cadres.csv"
    identifiers.write_text(content, "utf-8")
    out = tmp_path / "passwords.csv"
    with cli_database() as engine, Session(engine) as session:
        slug = make_campaign(session).slug
        session.commit()

        result = run_cli_ok(
            "roster", "import", slug, str(identifiers), "--group", "cadres", "--out", str(out)
        )

        stored = session.scalar(select(func.count()).select_from(RosterMember)) or 0
    with out.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.reader(stream))
    return result.output, rows, stored


class TestImportCommandWithoutColumn:
    @pytest.mark.parametrize("header", ["手机号", "phone", "identifier", "电话号码,姓名"])
    def test_a_header_line_is_skipped(self, tmp_path: Path, header: str) -> None:
        content = "\ufeff" + header + "\n" + "".join(f"{phone},张三\n" for phone in PHONES)

        output, rows, stored = import_file(tmp_path, content)

        assert "5 roster members" in output
        assert stored == 5
        assert [row[2] for row in rows[1:]] == PHONES

    def test_a_file_without_header_keeps_its_first_line(self, tmp_path: Path) -> None:
        output, rows, stored = import_file(tmp_path, "".join(f"{phone}\n" for phone in PHONES))

        assert "5 roster members" in output
        assert stored == 5
        assert [row[2] for row in rows[1:]] == PHONES


class TestHeaderDetection:
    def test_a_header_without_digits_above_identifiers_with_digits(self) -> None:
        rows = [["手机号"], *([phone] for phone in PHONES)]

        assert roster_file.first_row_is_header(rows)
        assert roster_file.member_rows(rows) == rows[1:]

    def test_identifiers_only(self) -> None:
        rows = [[phone] for phone in PHONES]

        assert not roster_file.first_row_is_header(rows)
        assert roster_file.member_rows(rows) == rows

    def test_full_width_digits_are_digits(self) -> None:
        assert not roster_file.first_row_is_header([["１３８００１３８０００"], ["13900139000"]])

    def test_identifiers_without_digits_are_not_taken_for_a_header(self) -> None:
        rows = [["zhang@example.org"], ["li@example.org"], ["wang@example.org"]]

        assert not roster_file.first_row_is_header(rows)

    def test_a_known_column_name_is_a_header_even_alone(self) -> None:
        assert roster_file.first_row_is_header([["Phone"]])
        assert roster_file.first_row_is_header([[" 手机号码 "], [""]])

    def test_an_empty_file_has_no_header(self) -> None:
        assert not roster_file.first_row_is_header([])
        assert not roster_file.first_row_is_header([[], ["13800138000"]])

    def test_read_identifiers_numbers_lines_from_the_file(self) -> None:
        read = roster.read_identifiers("手机号\n13800138000\n\n13900139000\n".encode())

        assert read == [roster.RosterLine(2, "13800138000"), roster.RosterLine(4, "13900139000")]
