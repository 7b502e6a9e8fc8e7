"""The ``pingyi`` command, run through Typer's test runner against a real SQLite file.

Each module (and the demo class) gets its own freshly migrated database; the app is pointed at
it through PINGYI_DATABASE_URL, with the cached settings, engine and session factory cleared
before and after so other tests see the database they expect.
"""

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app import config, db
from app.admission import codes
from app.admission import service as admission_service
from app.admission.models import AdmissionCode, CodeBatch, CodeStatus
from app.ballot_box.models import SealedBallot
from app.ballots import service as ballot_service
from app.ballots.models import Evaluation
from app.ballots.schemas import BallotIn, EvaluationIn
from app.campaigns import service as campaign_service
from app.campaigns.models import CampaignStatus
from app.cli import cli
from app.config import PROJECT_ROOT
from app.demo import service as demo_service
from app.departments.models import Department
from app.errors import NotFound
from tests.conftest import migrate, new_sqlite_engine
from tests.surveys.test_service import VALID_TEMPLATE

HASHING_KEY = codes.hashing_key(b"test-secret-key")  # PINGYI_SECRET_KEY set in conftest
CODES_HEADER = ["campaign", "rater_group", "target", "code"]
DEPARTMENTS_CSV = (
    "单位代码,单位名称,类别\nCLI1,区甲局,综合类\nCLI2,区乙局,综合类\nCLI3,区丙局,执法类\n"
)


def _clear_app_caches() -> None:
    config.get_settings.cache_clear()
    db.get_engine.cache_clear()
    db.get_session_factory.cache_clear()


@contextmanager
def app_database() -> Iterator[Engine]:
    """A fresh migrated SQLite database that the app's settings point at, while open."""
    engine = new_sqlite_engine()
    migrate(engine)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PINGYI_DATABASE_URL", engine.url.render_as_string(hide_password=False))
        _clear_app_caches()
        try:
            yield engine
        finally:
            if db.get_engine.cache_info().currsize:
                db.get_engine().dispose()
            _clear_app_caches()
    engine.dispose()


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The module's database, holding departments CLI1 and CLI2 (综合类) and CLI3 (执法类)."""
    departments_csv = write(tmp_path_factory.mktemp("departments") / "d.csv", DEPARTMENTS_CSV)
    with app_database() as engine:
        run_ok("departments", "import", str(departments_csv))
        yield engine


def engine_dir(engine: Engine) -> Path:
    assert engine.url.database is not None
    return Path(engine.url.database).parent


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def run_ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, f"pingyi {' '.join(args)} failed:\n{result.output}"
    return result


def run_failing(*args: str) -> Result:
    """Run a command that must exit with 1 and a message, not with a traceback."""
    result = run(*args)
    assert result.exit_code == 1, f"pingyi {' '.join(args)} exited {result.exit_code}"
    assert isinstance(result.exception, SystemExit), result.exception
    return result


def create_campaign(
    directory: Path,
    slug: str,
    *,
    targets: str = "[CLI1, CLI2]",
    groups: str = "[{key: citizens, weight: 1}, {key: enterprises, weight: 1}]",
    questionnaire: str = "service_rating",
    threshold: int = 3,
) -> Path:
    spec = write(
        directory / f"{slug}.yaml",
        f"slug: {slug}\n"
        "title: {zh: 命令行测试, en: CLI test}\n"
        f"questionnaire: {questionnaire}\n"
        f"disclosure_threshold: {threshold}\n"
        f"rater_groups: {groups}\n"
        f"targets: {targets}\n",
    )
    run_ok("campaign", "create", str(spec))
    return spec


def make_trustees(slug: str, directory: Path) -> list[Path]:
    """``pingyi trustees create``: the campaign's 2-of-3 tally key; the three share files."""
    out_dir = directory / f"{slug}-trustees"
    run_ok(
        "trustees", "create", slug, "--count", "3", "--threshold", "2", "--out-dir", str(out_dir)
    )
    share_files = sorted(out_dir.glob("*.json"))
    assert len(share_files) == 3
    return share_files


def open_campaign(slug: str, directory: Path) -> list[Path]:
    """Make the campaign's trustees' shares, then ``pingyi campaign open``; the share files."""
    share_files = make_trustees(slug, directory)
    run_ok("campaign", "open", slug)
    return share_files


def tally(slug: str, share_files: list[Path]) -> Result:
    """``pingyi tally SLUG --share F --share F`` with two of the trustees' shares."""
    options = [part for path in share_files[:2] for part in ("--share", str(path))]
    return run_ok("tally", slug, *options)


def issue(
    slug: str, out: Path, *, group: str = "citizens", count: int = 2, **extra: str
) -> list[str]:
    """Arguments of ``pingyi codes issue``; ``extra`` adds options such as ``target``."""
    options = [part for name, value in extra.items() for part in (f"--{name}", value)]
    required = ["--group", group, "--count", str(count), "--out", str(out)]
    return ["codes", "issue", slug, *required, *options]


def read_codes_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.reader(stream))


def status_of(engine: Engine, slug: str) -> CampaignStatus:
    with Session(engine) as session:
        return campaign_service.get_campaign(session, slug).status


def code_statuses(engine: Engine, issued: list[str]) -> list[CodeStatus | None]:
    with Session(engine) as session:
        return [
            session.scalar(
                select(AdmissionCode.status).where(
                    AdmissionCode.code_hash == codes.keyed_hash(HASHING_KEY, codes.normalize(code))
                )
            )
            for code in issued
        ]


def batch_ids(engine: Engine, slug: str) -> list[int]:
    with Session(engine) as session:
        campaign = campaign_service.get_campaign(session, slug)
        return [batch.id for batch in admission_service.list_batches(session, campaign)]


def database_bytes(engine: Engine) -> bytes:
    """Every byte SQLite keeps for the database: the main file, the WAL and the shared memory."""
    return b"".join(path.read_bytes() for path in sorted(engine_dir(engine).iterdir()))


class TestSurveyCheck:
    def test_shipped_templates_pass(self) -> None:
        paths = [str(path) for path in sorted((PROJECT_ROOT / "surveys").glob("*.yaml"))]

        result = run_ok("survey", "check", *paths)

        for path in paths:
            assert path in result.output

    def test_bad_file_exits_1_naming_file_and_item(self, tmp_path: Path) -> None:
        good = write(tmp_path / "good.yaml", VALID_TEMPLATE)
        bad = write(
            tmp_path / "bad.yaml", VALID_TEMPLATE.replace("groups: [cadres]", "groups: [x]")
        )

        result = run_failing("survey", "check", str(good), str(bad))

        assert str(good) in result.stdout
        bad_lines = [line for line in result.stderr.splitlines() if "'guidance'" in line]
        assert str(bad) in result.stderr
        assert bad_lines
        assert "'x'" in bad_lines[0]

    def test_missing_file_exits_1(self, tmp_path: Path) -> None:
        result = run_failing("survey", "check", str(tmp_path / "missing.yaml"))

        assert "missing.yaml" in result.output


@pytest.mark.usefixtures("database")
class TestDepartmentsImport:
    def test_import_creates_then_updates(self, tmp_path: Path, database: Engine) -> None:
        path = write(
            tmp_path / "d.csv", "code,name,category\nIMP1,区一局,综合类\nIMP2,区二局,综合类\n"
        )

        first = run_ok("departments", "import", str(path))
        write(path, "code,name,category\nIMP1,区一局（新）,综合类\n")
        second = run_ok("departments", "import", str(path))

        assert "2 created" in first.output
        assert "0 created, 1 updated" in second.output
        with Session(database) as session:
            names = {row.code: row.name for row in session.execute(select(Department)).scalars()}
        assert (names["IMP1"], names["IMP2"]) == ("区一局（新）", "区二局")
        assert "IMP1" in run_ok("departments", "list").output

    def test_bad_file_lists_line_numbers_and_imports_nothing(
        self, tmp_path: Path, database: Engine
    ) -> None:
        path = write(
            tmp_path / "bad.csv",
            "code,name,category\nBAD1,区一局,综合类\nB D,区二局,综合类\nBAD3,区三局\n",
        )
        before = run_ok("departments", "list").output

        result = run_failing("departments", "import", str(path))

        assert "line 3" in result.output
        assert "line 4" in result.output
        assert "line 2" not in result.output
        assert run_ok("departments", "list").output == before


class TestMissingInputFile:
    @pytest.mark.parametrize(
        "command", [["departments", "import"], ["campaign", "create"]], ids=" ".join
    )
    def test_missing_file_is_a_usage_error_naming_it(
        self, tmp_path: Path, command: list[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)  # a short relative name, so the error box shows it whole

        result = run(*command, "missing-input")

        assert result.exit_code == 2
        assert isinstance(result.exception, SystemExit), result.exception
        assert "missing-input" in result.stderr


@pytest.mark.usefixtures("database")
class TestCampaignCommands:
    def test_create_then_open_close_tally_publish(self, tmp_path: Path, database: Engine) -> None:
        create_campaign(tmp_path, "cli-lifecycle")
        share_files = make_trustees("cli-lifecycle", tmp_path)
        seen = [status_of(database, "cli-lifecycle")]

        for action in ("open", "close"):
            run_ok("campaign", action, "cli-lifecycle")
            seen.append(status_of(database, "cli-lifecycle"))
        tallied = tally("cli-lifecycle", share_files)
        seen.append(status_of(database, "cli-lifecycle"))
        run_ok("campaign", "publish", "cli-lifecycle")
        seen.append(status_of(database, "cli-lifecycle"))

        assert seen == [
            CampaignStatus.DRAFT,
            CampaignStatus.OPEN,
            CampaignStatus.CLOSED,
            CampaignStatus.TALLIED,
            CampaignStatus.PUBLISHED,
        ]
        assert "cli-lifecycle: tallied. 0 ballots in the box, 0 counted." in tallied.output
        assert "cli-lifecycle" in run_ok("campaign", "list").output

    def test_open_without_a_tally_key_exits_1_saying_how_to_make_one(
        self, tmp_path: Path, database: Engine
    ) -> None:
        create_campaign(tmp_path, "cli-no-key")

        result = run_failing("campaign", "open", "cli-no-key")

        assert "cli-no-key" in result.stderr
        assert "pingyi trustees create cli-no-key" in result.stderr
        assert status_of(database, "cli-no-key") == CampaignStatus.DRAFT

    def test_invalid_transition_exits_1_with_campaign_and_status(
        self, tmp_path: Path, database: Engine
    ) -> None:
        create_campaign(tmp_path, "cli-refused")

        result = run_failing("campaign", "close", "cli-refused")

        assert "cli-refused" in result.stderr
        assert "草稿" in result.stderr
        assert status_of(database, "cli-refused") == CampaignStatus.DRAFT

    def test_unknown_campaign_exits_1_naming_it(self) -> None:
        result = run_failing("campaign", "open", "no-such-campaign")

        assert "no-such-campaign" in result.stderr

    def test_create_stores_targets_groups_and_threshold(
        self, tmp_path: Path, database: Engine
    ) -> None:
        create_campaign(
            tmp_path,
            "cli-settings",
            targets="{categories: [执法类]}",
            groups="[{key: enterprises, weight: 2}]",
            threshold=6,
        )

        with Session(database) as session:
            campaign = campaign_service.get_campaign(session, "cli-settings")
            assert [t.department.code for t in campaign.targets] == ["CLI3"]
            assert [(g.key, g.weight) for g in campaign.rater_groups] == [("enterprises", 2)]
            assert campaign.disclosure_threshold == 6

    def test_questionnaire_path_is_read_relative_to_the_spec_and_frozen(
        self, tmp_path: Path, database: Engine
    ) -> None:
        template = write(tmp_path / "trial.yaml", VALID_TEMPLATE)
        create_campaign(
            tmp_path,
            "cli-own-template",
            questionnaire="trial.yaml",
            groups="[{key: cadres, weight: 1}]",
        )
        write(template, VALID_TEMPLATE.replace("态度热情", "已改动"))

        with Session(database) as session:
            campaign = campaign_service.get_campaign(session, "cli-own-template")
            questionnaire = campaign_service.questionnaire_of(campaign)
        assert questionnaire.items[0].text.zh == "态度热情"

    @pytest.mark.parametrize(
        ("line", "named"),
        [
            pytest.param("disclosure_threshold: 2", "disclosure_threshold", id="threshold"),
            pytest.param("ends_on: 2026-10-01", "ends_on", id="ends before it starts"),
            pytest.param("targets: [CLI1, NOPE]", "NOPE", id="unknown department"),
            pytest.param("questionnaire: no_such_template", "no_such_template", id="template"),
            pytest.param(
                "rater_groups: [{key: farmers, weight: 1}]", "farmers", id="undeclared group"
            ),
            pytest.param("title: {zh: 未闭合", "line 2", id="YAML syntax"),
        ],
    )
    def test_bad_spec_exits_1_naming_the_problem(
        self, tmp_path: Path, database: Engine, line: str, named: str
    ) -> None:
        key = line.split(":")[0]
        base = {
            "slug": "slug: cli-bad",
            "title": "title: {zh: 坏规格, en: Bad spec}",
            "questionnaire": "questionnaire: service_rating",
            "starts_on": "starts_on: 2026-11-01",
            "rater_groups": "rater_groups: [{key: citizens, weight: 1}]",
            "targets": "targets: [CLI1]",
        }
        base[key] = line
        spec = write(tmp_path / "cli-bad.yaml", "\n".join(base.values()) + "\n")

        result = run_failing("campaign", "create", str(spec))

        assert named in result.stderr
        with Session(database) as session, pytest.raises(NotFound):
            campaign_service.get_campaign(session, "cli-bad")

    def test_spec_not_in_utf8_exits_1_naming_the_file(self, tmp_path: Path) -> None:
        spec = tmp_path / "gbk.yaml"
        spec.write_bytes("slug: cli-gbk\ntitle: {zh: 国标码, en: GBK}\n".encode("gbk"))

        result = run_failing("campaign", "create", str(spec))

        assert str(spec) in result.stderr

    def test_duplicate_slug_exits_1(self, tmp_path: Path) -> None:
        spec = create_campaign(tmp_path, "cli-twice")

        result = run_failing("campaign", "create", str(spec))

        assert "cli-twice" in result.stderr


@pytest.mark.usefixtures("database")
class TestCodesIssue:
    def test_writes_header_and_count_distinct_valid_codes(self, tmp_path: Path) -> None:
        create_campaign(tmp_path, "cli-codes")
        out = tmp_path / "codes.csv"

        run_ok(*issue("cli-codes", out, count=25))

        header, *rows = read_codes_csv(out)
        assert header == CODES_HEADER
        assert len(rows) == 25
        assert len({row[3] for row in rows}) == 25
        assert {tuple(row[:3]) for row in rows} == {("cli-codes", "citizens", "")}
        for row in rows:
            codes.normalize(row[3])  # raises on a malformed code

    def test_codes_are_unused_and_admit_to_the_campaign(
        self, tmp_path: Path, database: Engine
    ) -> None:
        create_campaign(tmp_path, "cli-admit")
        out = tmp_path / "codes.csv"
        run_ok(*issue("cli-admit", out, group="enterprises", count=3))
        open_campaign("cli-admit", tmp_path)
        issued = [row[3] for row in read_codes_csv(out)[1:]]

        assert code_statuses(database, issued) == [CodeStatus.UNUSED] * 3
        with Session(database) as session:
            admission = admission_service.check_code(session, HASHING_KEY, issued[0])
            assert admission.campaign.slug == "cli-admit"
            assert admission.rater_group.key == "enterprises"
            assert [t.department.code for t in admission.targets] == ["CLI1", "CLI2"]

    def test_refuses_to_overwrite_an_existing_file(self, tmp_path: Path, database: Engine) -> None:
        create_campaign(tmp_path, "cli-no-overwrite")
        out = write(tmp_path / "codes.csv", "earlier codes\n")

        result = run_failing(*issue("cli-no-overwrite", out))

        assert str(out) in result.stderr
        assert out.read_text(encoding="utf-8") == "earlier codes\n"
        assert batch_ids(database, "cli-no-overwrite") == []

    def test_database_holds_only_keyed_hashes(self, tmp_path: Path, database: Engine) -> None:
        create_campaign(tmp_path, "cli-hashes")
        out = tmp_path / "codes.csv"
        run_ok(*issue("cli-hashes", out, count=40))
        issued = [row[3] for row in read_codes_csv(out)[1:]]

        stored = database_bytes(database)

        for code in issued:
            normalized = codes.normalize(code)
            assert codes.keyed_hash(HASHING_KEY, normalized) in stored  # the bytes are all there
            for form in (code, normalized, normalized.lower(), code.replace("-", " ")):
                assert form.encode("ascii") not in stored, f"code text {form} is in the database"
                assert form.encode("utf-16-le") not in stored
            assert hashlib.sha256(normalized.encode("ascii")).digest() not in stored

    def test_target_option_scopes_codes_to_one_department(
        self, tmp_path: Path, database: Engine
    ) -> None:
        create_campaign(tmp_path, "cli-scoped")
        out = tmp_path / "codes.csv"
        run_ok(*issue("cli-scoped", out, target="CLI2"))
        open_campaign("cli-scoped", tmp_path)
        rows = read_codes_csv(out)[1:]

        assert {row[2] for row in rows} == {"CLI2"}
        with Session(database) as session:
            admission = admission_service.check_code(session, HASHING_KEY, rows[0][3])
            assert [t.department.code for t in admission.targets] == ["CLI2"]
        assert "CLI2" in run_ok("codes", "list", "cli-scoped").output

    @pytest.mark.parametrize(
        ("slug", "arguments", "named"),
        [
            pytest.param("cli-bad-group", {"group": "farmers"}, "farmers", id="unknown group"),
            pytest.param("cli-bad-target", {"target": "CLI3"}, "CLI3", id="not a target"),
            pytest.param("cli-bad-count", {"count": 0}, "(count)", id="zero codes"),
        ],
    )
    def test_bad_option_exits_1_and_writes_no_file(
        self,
        tmp_path: Path,
        database: Engine,
        slug: str,
        arguments: dict[str, Any],
        named: str,
    ) -> None:
        create_campaign(tmp_path, slug)
        out = tmp_path / "codes.csv"

        result = run_failing(*issue(slug, out, **arguments))

        assert named in result.stderr
        assert not out.exists()
        assert batch_ids(database, slug) == []

    def test_closed_campaign_gets_no_codes(self, tmp_path: Path) -> None:
        create_campaign(tmp_path, "cli-closed")
        open_campaign("cli-closed", tmp_path)
        run_ok("campaign", "close", "cli-closed")
        out = tmp_path / "codes.csv"

        run_failing(*issue("cli-closed", out, count=1))

        assert not out.exists()


@pytest.mark.usefixtures("database")
class TestCodesRevoke:
    def test_revoking_a_batch_revokes_its_unused_codes_only(
        self, tmp_path: Path, database: Engine
    ) -> None:
        create_campaign(tmp_path, "cli-revoke")
        kept_file, revoked_file = tmp_path / "kept.csv", tmp_path / "revoked.csv"
        run_ok(*issue("cli-revoke", kept_file, count=3))
        run_ok(*issue("cli-revoke", revoked_file, count=4))
        kept = [row[3] for row in read_codes_csv(kept_file)[1:]]
        used, *revoked = [row[3] for row in read_codes_csv(revoked_file)[1:]]
        open_campaign("cli-revoke", tmp_path)
        with db.session_scope() as session:
            admission_service.use_code(session, HASHING_KEY, used)
        revoked_batch = batch_ids(database, "cli-revoke")[1]

        run_ok("codes", "revoke", "cli-revoke", "--batch", str(revoked_batch))

        assert code_statuses(database, revoked) == [CodeStatus.REVOKED] * 3
        assert code_statuses(database, [used]) == [CodeStatus.USED]
        assert code_statuses(database, kept) == [CodeStatus.UNUSED] * 3
        listed = run_ok("codes", "list", "cli-revoke").output.splitlines()
        assert [("revoked" in line) for line in listed] == [False, True]

    def test_batch_of_another_campaign_is_not_found(self, tmp_path: Path, database: Engine) -> None:
        create_campaign(tmp_path, "cli-revoke-a")
        create_campaign(tmp_path, "cli-revoke-b")
        out = tmp_path / "codes.csv"
        run_ok(*issue("cli-revoke-a", out))
        batch = batch_ids(database, "cli-revoke-a")[0]

        run_failing("codes", "revoke", "cli-revoke-b", "--batch", str(batch))

        issued = [row[3] for row in read_codes_csv(out)[1:]]
        assert code_statuses(database, issued) == [CodeStatus.UNUSED] * 2


def submit_ballots(slug: str, out: Path, target: str) -> None:
    """Use every code in ``out`` to rate ``target``, one commit each: every second rater one
    level below the top on every item, the others at the top (so no item is unanimous)."""
    for index, row in enumerate(read_codes_csv(out)[1:]):
        with db.session_scope() as session:
            campaign = campaign_service.get_campaign(session, slug)
            questionnaire = campaign_service.questionnaire_of(campaign)
            answers: dict[str, int | None] = {
                item.id: max(level.value for level in item.levels) - index % 2
                for item in questionnaire.items_for(row[1])
            }
            ballot = BallotIn(
                code=row[3], evaluations=[EvaluationIn(target=target, answers=answers)]
            )
            ballot_service.submit_ballot(session, HASHING_KEY, ballot)


@pytest.fixture(scope="class")
def rated_campaign(database: Engine, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Three citizens rated CLI1, three enterprises CLI2. The threshold is 3. Closed and
    tallied. (Had only citizens rated, the ballots counted would tell that enterprises cast
    none, and the citizens' count would be withheld to keep the enterprises' zeros wide.)"""
    directory = tmp_path_factory.mktemp("results")
    create_campaign(directory, "cli-results")
    share_files = open_campaign("cli-results", directory)
    out = directory / "codes.csv"
    run_ok(*issue("cli-results", out, count=3))
    submit_ballots("cli-results", out, "CLI1")
    enterprise_codes = directory / "enterprise-codes.csv"
    run_ok(*issue("cli-results", enterprise_codes, group="enterprises", count=3))
    submit_ballots("cli-results", enterprise_codes, "CLI2")
    run_ok("campaign", "close", "cli-results")
    assert "6 ballots in the box, 6 counted." in tally("cli-results", share_files).output
    return "cli-results"


@pytest.mark.usefixtures("database")
class TestResults:
    def test_json_shows_the_rated_group_and_withholds_the_rest(
        self, tmp_path: Path, rated_campaign: str
    ) -> None:
        out = tmp_path / "results.json"

        run_ok("results", rated_campaign, "--format", "json", "--out", str(out))

        results = json.loads(out.read_text(encoding="utf-8"))
        assert results["campaign"] == rated_campaign
        by_target = {target["target"]: target for target in results["targets"]}
        assert list(by_target) == ["CLI1", "CLI2"]
        groups = {group["rater_group"]: group for group in by_target["CLI1"]["groups"]}
        assert groups["citizens"]["evaluations"] == 3
        assert groups["citizens"]["score"] == 93.33  # (100 + 80 + 100) / 3, half up
        assert groups["enterprises"]["evaluations"] is None
        assert "evaluations" in groups["enterprises"]["withheld"]
        second = {group["rater_group"]: group for group in by_target["CLI2"]["groups"]}
        assert second["enterprises"]["evaluations"] == 3
        assert second["citizens"]["evaluations"] is None

    def test_csv_has_a_bom_and_rows_for_every_target(
        self, tmp_path: Path, rated_campaign: str
    ) -> None:
        out = tmp_path / "results.csv"

        run_ok("results", rated_campaign, "--format", "csv", "--out", str(out))

        content = out.read_bytes()
        assert content.startswith(b"\xef\xbb\xbf")
        header, *rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
        assert len({len(row) for row in [header, *rows]}) == 1
        assert {row[1] for row in rows} == {"CLI1", "CLI2"}

    def test_missing_output_directory_is_created(self, tmp_path: Path, rated_campaign: str) -> None:
        out = tmp_path / "reports" / "2026" / "results.json"

        run_ok("results", rated_campaign, "--out", str(out))

        assert json.loads(out.read_text(encoding="utf-8"))["campaign"] == rated_campaign

    def test_unknown_campaign_exits_1_and_writes_nothing(self, tmp_path: Path) -> None:
        out = tmp_path / "results.json"

        result = run_failing("results", "no-such-campaign", "--out", str(out))

        assert "no-such-campaign" in result.stderr
        assert not out.exists()


def row_counts(engine: Engine) -> tuple[int, int, int, int]:
    """Evaluations, ballots in the box, codes and batches."""
    with Session(engine) as session:
        return (
            session.scalar(select(func.count()).select_from(Evaluation)) or 0,
            session.scalar(select(func.count()).select_from(SealedBallot)) or 0,
            session.scalar(select(func.count()).select_from(AdmissionCode)) or 0,
            session.scalar(select(func.count()).select_from(CodeBatch)) or 0,
        )


@pytest.fixture(scope="class")
def demo_database() -> Iterator[Engine]:
    with app_database() as engine:
        yield engine


@pytest.fixture(scope="class")
def first_run(
    demo_database: Engine, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Result, Path]:
    codes_out = tmp_path_factory.mktemp("demo") / "demo-codes.csv"
    return run_ok("demo", "--codes-out", str(codes_out)), codes_out


class TestDemo:
    def test_codes_file_has_at_least_50_unused_codes_per_group(
        self, demo_database: Engine, first_run: tuple[Result, Path]
    ) -> None:
        _, codes_out = first_run

        header, *rows = read_codes_csv(codes_out)

        assert header == CODES_HEADER
        per_group: dict[str, list[str]] = {}
        for slug, group, _target, code in rows:
            assert slug == demo_service.demo_spec().slug
            per_group.setdefault(group, []).append(code)
        assert len(per_group) == 3
        assert all(len(group_codes) >= 50 for group_codes in per_group.values())
        every_code = [code for group_codes in per_group.values() for code in group_codes]
        assert len(set(every_code)) == len(every_code)
        assert set(code_statuses(demo_database, every_code)) == {CodeStatus.UNUSED}

    def test_campaigns_have_sample_ballots_from_codes_not_in_the_file(
        self, demo_database: Engine, first_run: tuple[Result, Path]
    ) -> None:
        current_ballots = sum(demo_service.SAMPLE_BALLOTS_PER_GROUP.values())
        past_ballots = sum(demo_service.PAST_SAMPLE_BALLOTS_PER_GROUP.values())
        sample_ballots = current_ballots + past_ballots
        past = demo_service.demo_spec("campaign-2025.yaml").slug

        assert status_of(demo_database, demo_service.demo_spec().slug) == CampaignStatus.OPEN
        assert status_of(demo_database, past) == CampaignStatus.PUBLISHED
        evaluations, in_boxes, _, _ = row_counts(demo_database)
        assert in_boxes == sample_ballots  # sealed this year; counted (trackers kept) last year
        assert evaluations >= 3 * past_ballots  # each sample rater rates at least 3 targets
        with Session(demo_database) as session:
            used = session.scalar(
                select(func.count())
                .select_from(AdmissionCode)
                .where(AdmissionCode.status == CodeStatus.USED)
            )
        assert used == sample_ballots

    def test_results_show_figures_for_the_sample_ratings(
        self, first_run: tuple[Result, Path], tmp_path: Path
    ) -> None:
        out = tmp_path / "demo.json"
        slug = demo_service.demo_spec().slug
        refused = run("results", slug, "--out", str(out))
        assert refused.exit_code == 1  # not while raters can still submit
        run_ok("campaign", "close", slug)
        assert run("results", slug, "--out", str(out)).exit_code == 1  # nor before the tally
        share_files = sorted((config.get_settings().var_dir / "trustees" / slug).glob("*.json"))
        tally(slug, share_files)

        run_ok("results", slug, "--out", str(out))

        targets = json.loads(out.read_text(encoding="utf-8"))["targets"]
        shown = [group["evaluations"] for t in targets for group in t["groups"]]
        assert any(count is not None for count in shown)

    def test_printed_codes_are_unused_codes_from_the_file(
        self, demo_database: Engine, first_run: tuple[Result, Path]
    ) -> None:
        result, codes_out = first_run
        file_codes = {row[3] for row in read_codes_csv(codes_out)[1:]}

        printed = [code for code in file_codes if code in result.output]

        assert printed
        assert set(code_statuses(demo_database, printed)) == {CodeStatus.UNUSED}

    def test_second_run_keeps_data_and_still_prints_unused_codes(
        self, demo_database: Engine, first_run: tuple[Result, Path]
    ) -> None:
        _, codes_out = first_run
        counts_before = row_counts(demo_database)
        file_before = codes_out.read_bytes()
        file_codes = {row[3] for row in read_codes_csv(codes_out)[1:]}

        result = run_ok("demo", "--codes-out", str(codes_out))

        assert row_counts(demo_database) == counts_before
        assert codes_out.read_bytes() == file_before
        printed = [code for code in file_codes if code in result.output]
        assert printed
        assert set(code_statuses(demo_database, printed)) == {CodeStatus.UNUSED}

    def test_second_run_with_a_new_codes_file_says_the_codes_are_not_there(
        self, demo_database: Engine, first_run: tuple[Result, Path], tmp_path: Path
    ) -> None:
        counts_before = row_counts(demo_database)
        new_file = tmp_path / "other-codes.csv"

        result = run_ok("demo", "--codes-out", str(new_file))

        assert row_counts(demo_database) == counts_before
        assert not new_file.exists()
        assert f"{new_file} does not exist" in result.output
        assert f"All demo codes are in {new_file}" not in result.output
