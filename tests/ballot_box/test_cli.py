"""``pingyi trustees``, ``pingyi tally`` and ``pingyi ballot-box``: the documented journey,
the offline tally, refusals, and a tally killed half-way."""

import os
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from app import i18n
from app.ballot_box.models import SealedBallot, Tally
from app.ballots.models import Evaluation
from app.ballots.schemas import BallotIn, EvaluationIn
from app.ballots.service import submit_ballot
from app.campaigns import lifecycle
from app.campaigns import service as campaign_service
from tests.conftest import PostgresDatabases, migrate
from tests.factories import (
    HASHING_KEY,
    answers_for,
    issue_codes,
    make_campaign,
    trustee_shares,
)
from tests.faults.harness import pingyi_command
from tests.test_cli import app_database, create_campaign, run_failing, run_ok, write

DEPARTMENTS_CSV = "单位代码,单位名称,类别\nBOX1,区甲局,综合类\nBOX2,区乙局,综合类\n"
LOCK_WAIT_SECONDS = 60


@pytest.fixture(autouse=True)
def _english() -> None:
    """The messages asserted below are the English ones."""
    i18n.set_locale("en")


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Engine]:
    with app_database() as engine:
        run_ok("departments", "import", str(write(tmp_path / "d.csv", DEPARTMENTS_CSV)))
        yield engine


def submit(engine: Engine, slug: str, count: int) -> None:
    with Session(engine) as session:
        campaign = campaign_service.get_campaign(session, slug)
        for code in issue_codes(session, campaign, count=count):
            evaluations = [
                EvaluationIn(target=target.department.code, answers=answers_for(campaign))
                for target in campaign.targets
            ]
            submit_ballot(session, HASHING_KEY, BallotIn(code=code, evaluations=evaluations))
        session.commit()


def counts(engine: Engine, slug: str) -> tuple[str, int, int]:
    """The campaign's status, ciphertexts still sealed, evaluations stored."""
    with Session(engine) as session:
        campaign = campaign_service.get_campaign(session, slug)
        sealed = session.scalar(
            select(func.count())
            .select_from(SealedBallot)
            .where(SealedBallot.campaign_id == campaign.id, SealedBallot.ciphertext.is_not(None))
        )
        evaluations = session.scalar(
            select(func.count())
            .select_from(Evaluation)
            .where(Evaluation.campaign_id == campaign.id)
        )
        return campaign.status.value, sealed or 0, evaluations or 0


class TestDocumentedJourney:
    def test_trustees_open_close_and_tally_with_two_of_three_shares(
        self, database: Engine, tmp_path: Path
    ) -> None:
        create_campaign(tmp_path, "box-cli", targets="[BOX1, BOX2]")
        shares_dir = tmp_path / "shares"

        made = run_ok(
            "trustees", "create", "box-cli", "--count", "3", "--threshold", "2",
            "--out-dir", str(shares_dir),
        )  # fmt: skip
        files = sorted(shares_dir.iterdir())
        assert len(files) == 3
        assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in files)
        assert "fingerprint" in made.output
        run_ok("campaign", "open", "box-cli")
        submit(database, "box-cli", 3)
        run_ok("campaign", "close", "box-cli")
        assert counts(database, "box-cli") == ("closed", 3, 0)

        tallied = run_ok("tally", "box-cli", "--share", str(files[0]), "--share", str(files[2]))

        assert "3 ballots in the box, 3 counted" in tallied.output
        assert counts(database, "box-cli") == ("tallied", 0, 6)
        shown = run_ok("trustees", "show", "box-cli").output
        assert "threshold:   2" in shown

    def test_shares_are_never_written_over(self, database: Engine, tmp_path: Path) -> None:
        create_campaign(tmp_path, "box-twice", targets="[BOX1]")
        shares_dir = tmp_path / "shares"
        shares_dir.mkdir()
        (shares_dir / "box-twice-trustee-2-of-3.json").write_text("kept")

        failed = run_failing(
            "trustees", "create", "box-twice", "--count", "3", "--threshold", "2",
            "--out-dir", str(shares_dir),
        )  # fmt: skip

        assert "already exists" in failed.output
        assert sorted(path.name for path in shares_dir.iterdir()) == [
            "box-twice-trustee-2-of-3.json"
        ]
        assert (shares_dir / "box-twice-trustee-2-of-3.json").read_text() == "kept"
        assert "no tally key" in run_failing("trustees", "show", "box-twice").output

    def test_one_share_is_refused_with_a_clear_message(
        self, database: Engine, tmp_path: Path
    ) -> None:
        create_campaign(tmp_path, "box-few", targets="[BOX1]")
        shares_dir = tmp_path / "shares"
        run_ok(
            "trustees", "create", "box-few", "--count", "3", "--threshold", "2",
            "--out-dir", str(shares_dir),
        )  # fmt: skip
        run_ok("campaign", "open", "box-few")
        submit(database, "box-few", 1)
        run_ok("campaign", "close", "box-few")

        failed = run_failing("tally", "box-few", "--share", str(sorted(shares_dir.iterdir())[0]))

        assert "2 different trustees' shares are needed" in failed.output
        assert counts(database, "box-few") == ("closed", 1, 0)

    def test_opening_without_a_tally_key_says_what_to_run(
        self, database: Engine, tmp_path: Path
    ) -> None:
        create_campaign(tmp_path, "box-none", targets="[BOX1]")

        failed = run_failing("campaign", "open", "box-none")

        assert "pingyi trustees create box-none" in failed.output


class TestOfflineTally:
    def test_export_tally_offline_and_import(self, database: Engine, tmp_path: Path) -> None:
        create_campaign(tmp_path, "box-off", targets="[BOX1, BOX2]")
        shares_dir = tmp_path / "shares"
        run_ok(
            "trustees", "create", "box-off", "--count", "3", "--threshold", "2",
            "--out-dir", str(shares_dir),
        )  # fmt: skip
        files = sorted(shares_dir.iterdir())
        run_ok("campaign", "open", "box-off")
        submit(database, "box-off", 4)
        run_ok("campaign", "close", "box-off")
        box, result = tmp_path / "box.bin", tmp_path / "tally.bin"

        run_ok("ballot-box", "export", "box-off", "--out", str(box))
        offline = run_ok(
            "tally", "--offline", str(box), "--share", str(files[1]), "--share", str(files[2]),
            "--out", str(result),
        )  # fmt: skip
        assert "4 ballots in the box, 4 counted" in offline.output
        assert counts(database, "box-off") == ("closed", 4, 0)
        run_ok("tally", "import", "box-off", str(result))

        assert counts(database, "box-off") == ("tallied", 0, 8)
        with Session(database) as session:
            campaign = campaign_service.get_campaign(session, "box-off")
            recorded = session.get(Tally, campaign.id)
            assert recorded is not None
            assert recorded.offline

    def test_a_tally_file_altered_after_the_tally_is_refused(
        self, database: Engine, tmp_path: Path
    ) -> None:
        create_campaign(tmp_path, "box-alt", targets="[BOX1]")
        shares_dir = tmp_path / "shares"
        run_ok(
            "trustees", "create", "box-alt", "--count", "2", "--threshold", "2",
            "--out-dir", str(shares_dir),
        )  # fmt: skip
        files = sorted(shares_dir.iterdir())
        run_ok("campaign", "open", "box-alt")
        submit(database, "box-alt", 2)
        run_ok("campaign", "close", "box-alt")
        box, result = tmp_path / "box.bin", tmp_path / "tally.bin"
        run_ok("ballot-box", "export", "box-alt", "--out", str(box))
        share_options = [part for path in files for part in ("--share", str(path))]
        run_ok("tally", "--offline", str(box), *share_options, "--out", str(result))
        lines = result.read_bytes().splitlines(keepends=True)
        evaluation = next(index for index, line in enumerate(lines) if line.startswith(b'{"e"'))
        lines[evaluation] = lines[evaluation].replace(b'"citizens"', b'"nobody"')
        result.write_bytes(b"".join(lines))

        failed = run_failing("tally", "import", "box-alt", str(result))

        assert "not an evaluation or comment of this campaign" in failed.output
        assert counts(database, "box-alt") == ("closed", 2, 0)

    def test_an_export_is_written_once(self, database: Engine, tmp_path: Path) -> None:
        create_campaign(tmp_path, "box-exp", targets="[BOX1]")
        run_ok(
            "trustees", "create", "box-exp", "--count", "2", "--threshold", "2",
            "--out-dir", str(tmp_path / "shares"),
        )  # fmt: skip
        run_ok("campaign", "open", "box-exp")
        run_ok("campaign", "close", "box-exp")
        box = write(tmp_path / "box.bin", "something else")

        failed = run_failing("ballot-box", "export", "box-exp", "--out", str(box))

        assert "already exists" in failed.output
        assert box.read_text() == "something else"


@pytest.mark.postgres
@pytest.mark.slow
class TestTallyKilledHalfWay:
    def test_the_box_is_intact_and_the_tally_runs_again(
        self, postgres_databases: PostgresDatabases, tmp_path: Path
    ) -> None:
        engine = postgres_databases.create()
        migrate(engine)
        url = engine.url.render_as_string(hide_password=False)
        with Session(engine) as session:
            campaign = make_campaign(session)
            slug = campaign.slug
            share_paths = []
            for share in trustee_shares(campaign)[:2]:
                path = tmp_path / share.source
                path.write_text(share.words)
                share_paths.append(path)
            session.commit()
        submit(engine, slug, 5)
        with Session(engine) as session:
            lifecycle.close_campaign(
                session, campaign_service.get_campaign(session, slug), actor="test"
            )
            session.commit()
        command = [str(pingyi_command()), "tally", slug]
        for path in share_paths:
            command += ["--share", str(path)]
        environment = {**os.environ, "PINGYI_DATABASE_URL": url}

        with engine.connect() as blocker:
            blocker.execute(text("LOCK TABLE audit_head IN ACCESS EXCLUSIVE MODE"))
            process = subprocess.Popen(command, env=environment, start_new_session=True)
            try:
                wait_until_waiting_for_a_lock(engine, blocker)
                assert counts(engine, slug) == ("closed", 5, 0)  # nothing visible yet
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            finally:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGKILL)
            blocker.rollback()

        assert counts(engine, slug) == ("closed", 5, 0)
        again = subprocess.run(command, env=environment, capture_output=True, text=True)
        assert again.returncode == 0, again.stderr
        assert counts(engine, slug) == ("tallied", 0, 5 * 2)
        engine.dispose()


def wait_until_waiting_for_a_lock(engine: Engine, blocker: object) -> None:
    """Until another session of this database waits for a lock: the tally, after it has
    written everything and reached its audit entry, which the blocker's lock holds up."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    with engine.connect() as watcher:
        while time.monotonic() < deadline:
            waiting = watcher.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query ILIKE '%audit_head%'"
                )
            ).scalar_one()
            if waiting:
                return
            watcher.rollback()
            time.sleep(0.05)
    raise AssertionError("the tally never reached its audit entry")
