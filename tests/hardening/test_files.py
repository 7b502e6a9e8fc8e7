"""Files that hold codes or passwords are readable by their owner only (mode 0600, whatever
the umask), appear whole or not at all, and hold formula-safe CSV cells."""

import csv
import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from app import private_files
from app.admission import code_files
from app.credentials import roster
from tests.credentials.credential_helpers import (
    cli_database,
    key_pool,  # noqa: F401 - an autouse fixture
    run_cli_ok,
)
from tests.factories import make_campaign


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The laxest umask: files must still come out private."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class TestPrivateFiles:
    def test_a_private_text_file_is_0600_even_under_an_open_umask(
        self, tmp_path: Path, open_umask: None
    ) -> None:
        target = tmp_path / "passwords.csv"

        with private_files.private_text(target) as stream:
            stream.write("secret\n")

        assert mode_of(target) == 0o600
        assert target.read_text() == "secret\n"

    def test_an_existing_world_readable_file_is_replaced_by_a_private_one(
        self, tmp_path: Path
    ) -> None:
        target = tmp_path / "demo-staff.txt"
        target.write_text("old")
        target.chmod(0o644)

        with private_files.private_text(target) as stream:
            stream.write("new")

        assert (mode_of(target), target.read_text()) == (0o600, "new")

    def test_a_failed_write_leaves_no_draft_and_no_file(self, tmp_path: Path) -> None:
        target = tmp_path / "codes.csv"

        def interrupted_write() -> None:
            with private_files.private_text(target) as stream:
                stream.write("half")
                raise RuntimeError("interrupted")

        with pytest.raises(RuntimeError):
            interrupted_write()

        assert list(tmp_path.iterdir()) == []

    def test_create_private_never_reuses_a_name(self, tmp_path: Path) -> None:
        target = tmp_path / "taken"
        target.write_text("someone else's")

        with pytest.raises(FileExistsError):
            private_files.create_private(target)

    def test_code_batch_drafts_are_private_too(self, tmp_path: Path, open_umask: None) -> None:
        draft = code_files.open_draft(tmp_path / "codes.csv")
        try:
            assert mode_of(draft.path) == 0o600
        finally:
            code_files.discard([draft])


class TestRosterPasswordsFile:
    def test_the_passwords_file_is_private_and_formula_safe(
        self, session: Session, tmp_path: Path, open_umask: None
    ) -> None:
        campaign = make_campaign(session)
        entries = [
            roster.RosterEntry(identifier='=HYPERLINK("http://evil.example")', password="AB-CD"),
            roster.RosterEntry(identifier="13800138000", password="EF-GH"),
        ]
        target = tmp_path / "passwords.csv"

        with private_files.private_text(target) as stream:
            roster.write_passwords_csv(campaign, "citizens", entries, stream)

        rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8"))))
        assert mode_of(target) == 0o600
        assert rows[1][2] == '\'=HYPERLINK("http://evil.example")'
        assert rows[2][2:] == ["13800138000", "EF-GH"]


class TestCliRosterImport:
    def test_the_cli_writes_the_passwords_0600(self, tmp_path: Path, open_umask: None) -> None:
        identifiers = tmp_path / "cadres.csv"
        identifiers.write_text("13800138000\n=1+1\n", "utf-8")
        out = tmp_path / "passwords.csv"
        with cli_database() as engine, Session(engine) as session:
            slug = make_campaign(session).slug
            session.commit()

            run_cli_ok(
                "roster", "import", slug, str(identifiers), "--group", "cadres", "--out", str(out)
            )

        rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
        assert mode_of(out) == 0o600
        assert [row[2] for row in rows[1:]] == ["13800138000", "'=1+1"]
