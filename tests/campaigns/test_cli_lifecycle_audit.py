"""The command line's lifecycle steps (``pingyi campaign open/close/publish``, ``pingyi tally``)
leave their mark in the audit trail, under the name of whoever ran them, as the console's do.

The commands run against a fresh SQLite database, through the helpers of
:mod:`tests.test_cli`; the trail is read back with :mod:`app.audit.service`.
"""

import getpass
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.audit import service as audit_service
from app.audit.models import AuditEntry
from tests.test_cli import (
    DEPARTMENTS_CSV,
    app_database,
    create_campaign,
    issue,
    make_trustees,
    open_campaign,
    run_failing,
    run_ok,
    submit_ballots,
    tally,
    write,
)

CLI_ACTOR = audit_service.CLI_ACTOR_PREFIX + getpass.getuser()
LIFECYCLE_ACTIONS = ("campaign_open", "campaign_close", "campaign_tally", "campaign_publish")


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A database holding departments CLI1 and CLI2 (综合类) and CLI3 (执法类)."""
    departments_csv = write(tmp_path_factory.mktemp("departments") / "d.csv", DEPARTMENTS_CSV)
    with app_database() as engine:
        run_ok("departments", "import", str(departments_csv))
        yield engine


def lifecycle_entries(engine: Engine, slug: str) -> list[AuditEntry]:
    """The campaign's lifecycle entries, oldest first."""
    with Session(engine) as session:
        entries, _total = audit_service.list_entries(
            session, audit_service.AuditFilter(object=f"campaign:{slug}"), limit=1000
        )
        chosen = [
            entry
            for entry in entries
            if entry.action in LIFECYCLE_ACTIONS and entry.object == f"campaign:{slug}"
        ]
        session.expunge_all()
    return sorted(chosen, key=lambda entry: entry.sequence)


class TestLifecycleCommandsAreAudited:
    def test_open_close_tally_and_publish_each_write_one_entry_as_the_cli_user(
        self, tmp_path: Path, database: Engine
    ) -> None:
        create_campaign(tmp_path, "audit-cli")
        share_files = open_campaign("audit-cli", tmp_path)
        codes_csv = tmp_path / "codes.csv"
        run_ok(*issue("audit-cli", codes_csv, count=3))
        submit_ballots("audit-cli", codes_csv, "CLI1")
        run_ok("campaign", "close", "audit-cli")
        tally("audit-cli", share_files)
        run_ok("campaign", "publish", "audit-cli")

        entries = lifecycle_entries(database, "audit-cli")

        assert [entry.action for entry in entries] == list(LIFECYCLE_ACTIONS)
        assert {entry.actor for entry in entries} == {CLI_ACTOR}
        assert {entry.object for entry in entries} == {"campaign:audit-cli"}
        opened, closed, tallied, published = (entry.detail for entry in entries)
        assert opened == {"from": "draft", "to": "open"}
        assert closed == {"from": "open", "to": "closed"}
        assert (tallied["ballots_in_box"], tallied["ballots_counted"]) == (3, 3)
        assert tallied["offline"] is False
        assert published == {"from": "tallied", "to": "published"}
        with Session(database) as session:
            assert audit_service.verify(session).intact

    def test_a_refused_step_writes_no_entry(self, tmp_path: Path, database: Engine) -> None:
        create_campaign(tmp_path, "audit-cli-refused")
        make_trustees("audit-cli-refused", tmp_path)

        run_failing("campaign", "publish", "audit-cli-refused")  # a draft is not tallied
        run_failing("campaign", "close", "audit-cli-refused")  # nor open

        assert lifecycle_entries(database, "audit-cli-refused") == []
