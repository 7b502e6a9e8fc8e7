"""Exporting a tallied campaign's raw evaluations (``pingyi evaluations export``).

The questionnaire (``rating_questionnaire``) has courtesy (five levels), speed (three levels)
and overall (five levels, not scored); every rater group sees all three, except where a test
hides one. Texts are checked in English.
"""

import csv
import io
import uuid
from pathlib import Path

import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import i18n
from app.audit.models import AuditEntry
from app.ballots.answers import encode
from app.ballots.models import STRAIGHT_LINING, TOO_FAST, Evaluation
from app.campaigns.models import Campaign, CampaignStatus
from app.results import raw_export
from app.results.service import ResultsNotReleasable
from app.surveys.schemas import Questionnaire
from tests.factories import make_campaign, make_department, small_questionnaire
from tests.results.helpers import Level, rating_questionnaire
from tests.test_cli import app_database, run, run_ok

HEADER = ["department code", "department", "rater group", "courtesy", "speed", "overall"]
COMMENT = "窗口的王科长态度很差"

# (department code, group, (courtesy, speed, overall), flags), in the order they are stored
STORED: list[tuple[str, str, tuple[Level, Level, Level], int]] = [
    ("RAW2", "citizens", (5, 3, 4), 0),
    ("RAW1", "enterprises", (4, None, 4), TOO_FAST),
    ("RAW1", "citizens", (5, 3, 4), 0),
    ("RAW1", "citizens", (3, 3, 3), STRAIGHT_LINING | TOO_FAST),
    ("RAW1", "citizens", (None, 1, 2), 0),
    ("RAW1", "citizens", (5, 3, 4), 0),
]
# Sorted by department, rater group (campaign order: citizens, enterprises), answers, flags;
# levels blank for 不了解.
EXPECTED_ROWS = [
    ["RAW1", "区一局", "Citizens", "", "1", "2", ""],
    ["RAW1", "区一局", "Citizens", "3", "3", "3", "same answer throughout; too fast"],
    ["RAW1", "区一局", "Citizens", "5", "3", "4", ""],
    ["RAW1", "区一局", "Citizens", "5", "3", "4", ""],
    ["RAW1", "区一局", "Enterprises", "4", "", "4", "too fast"],
    ["RAW2", "区二局", "Citizens", "5", "3", "4", ""],
]


@pytest.fixture(autouse=True)
def _english() -> None:
    i18n.set_locale("en")


def rated_campaign(
    session: Session,
    questionnaire: Questionnaire | None = None,
    stored: list[tuple[str, str, tuple[Level, Level, Level], int]] = STORED,
    status: CampaignStatus = CampaignStatus.TALLIED,
) -> Campaign:
    """A campaign with the evaluations of ``stored``, written directly in that order: their
    stored form once the ballot box is counted. Each carries a comment, as a campaign opened
    before the ballot box stored them, which the export must leave out."""
    questionnaire = questionnaire or rating_questionnaire()
    departments = [
        make_department(session, code=f"RAW{number}", name=name)
        for number, name in ((1, "区一局"), (2, "区二局"))
    ]
    campaign = make_campaign(
        session,
        questionnaire=questionnaire,
        groups={"citizens": 1.0, "enterprises": 1.0},
        departments=departments,
        status=status,
        threshold=3,
    )
    targets = {target.department.code: target for target in campaign.targets}
    groups = {group.key: group for group in campaign.rater_groups}
    for code, group, (courtesy, speed, overall), flags in stored:
        answers = {"courtesy": courtesy, "speed": speed, "overall": overall}
        shown = {item.id for item in questionnaire.items_for(group)}
        session.add(
            Evaluation(
                campaign_id=campaign.id,
                target_id=targets[code].id,
                rater_group_id=groups[group].id,
                answers=encode(
                    questionnaire, group, {key: answers[key] for key in answers if key in shown}
                ),
                comment=COMMENT,
                quality_flags=flags,
            )
        )
    session.flush()
    return campaign


def exported(session: Session, campaign: Campaign, fmt: raw_export.RawFormat) -> bytes:
    out = io.BytesIO()
    raw_export.write_raw_evaluations(session, campaign, fmt, out)
    return out.getvalue()


def csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def xlsx_rows(content: bytes) -> dict[str, list[list[object]]]:
    workbook = load_workbook(io.BytesIO(content))
    return {
        sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)]
        for sheet in workbook.worksheets
    }


class TestCsv:
    def test_one_row_per_evaluation_sorted_with_levels_and_flags_in_words(
        self, any_session: Session
    ) -> None:
        content = exported(any_session, rated_campaign(any_session), "csv")

        assert content.startswith("\ufeff".encode())
        assert csv_rows(content) == [[*HEADER, "quality flags"], *EXPECTED_ROWS]
        assert content.decode("utf-8-sig").split("\r\n")[1] == "RAW1,区一局,Citizens,,1,2,"

    def test_no_id_and_no_comment(self, session: Session) -> None:
        campaign = rated_campaign(session)
        ids = list(
            session.scalars(select(Evaluation.id).where(Evaluation.campaign_id == campaign.id))
        )

        text = exported(session, campaign, "csv").decode("utf-8-sig")

        assert COMMENT not in text
        for evaluation_id in ids:
            assert str(evaluation_id) not in text
            assert evaluation_id.hex not in text

    def test_order_does_not_depend_on_the_order_of_storing(self, session: Session) -> None:
        first = exported(session, rated_campaign(session), "csv")
        session.rollback()

        second = exported(session, rated_campaign(session, stored=STORED[::-1]), "csv")

        assert second == first

    def test_items_a_group_does_not_see_are_blank(self, session: Session) -> None:
        questionnaire = small_questionnaire(
            rater_groups=[
                {"key": "citizens", "name": {"zh": "群众", "en": "Citizens"}},
                {"key": "enterprises", "name": {"zh": "企业", "en": "Enterprises"}},
            ],
            items=[
                {
                    "id": "courtesy",
                    "dimension": "attitude",
                    "scale": "five_level",
                    "text": {"zh": "态度热情", "en": "Courteous"},
                },
                {
                    "id": "speed",
                    "dimension": "efficiency",
                    "scale": "three_level",
                    "groups": ["enterprises"],
                    "text": {"zh": "办事快捷", "en": "Quick"},
                },
                {
                    "id": "overall",
                    "dimension": "attitude",
                    "scale": "five_level",
                    "text": {"zh": "总体", "en": "Overall"},
                },
            ],
        )
        stored = [("RAW1", "citizens", (4, 3, 5), 0), ("RAW1", "enterprises", (4, 3, 5), 0)]
        campaign = rated_campaign(session, questionnaire, stored)

        rows = csv_rows(exported(session, campaign, "csv"))[1:]

        assert rows == [
            ["RAW1", "区一局", "Citizens", "4", "", "5", ""],
            ["RAW1", "区一局", "Enterprises", "4", "3", "5", ""],
        ]

    @pytest.mark.parametrize("answers", ["5x3", "53", "=1+1"])
    def test_answers_that_are_not_answer_symbols_are_refused(
        self, session: Session, answers: str
    ) -> None:
        campaign = rated_campaign(session)
        session.add(
            Evaluation(
                campaign_id=campaign.id,
                target_id=campaign.targets[0].id,
                rater_group_id=campaign.rater_groups[0].id,
                answers=answers,
                quality_flags=0,
            )
        )
        session.flush()

        with pytest.raises(ValueError, match="not 3 answer symbols"):
            exported(session, campaign, "csv")


class TestXlsx:
    def test_same_rows_as_the_csv_with_levels_as_numbers(self, any_session: Session) -> None:
        campaign = rated_campaign(any_session)

        sheets = xlsx_rows(exported(any_session, campaign, "xlsx"))

        expected = [
            [*row[:3], *(int(level) if level else None for level in row[3:6]), row[6] or None]
            for row in EXPECTED_ROWS
        ]
        assert sheets == {"Evaluations": [[*HEADER, "quality flags"], *expected]}

    def test_rows_beyond_a_sheets_capacity_continue_on_the_next_sheet(
        self, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(raw_export, "XLSX_MAX_ROWS", 4)  # a header and three evaluations
        campaign = rated_campaign(session)

        sheets = xlsx_rows(exported(session, campaign, "xlsx"))

        assert list(sheets) == ["Evaluations", "Evaluations 2"]
        assert [len(rows) for rows in sheets.values()] == [4, 4]
        assert sheets["Evaluations 2"][0] == [*HEADER, "quality flags"]
        assert [row[:3] for row in sheets["Evaluations 2"][1:]] == [
            row[:3] for row in EXPECTED_ROWS[3:]
        ]

    def test_a_campaign_nobody_rated_gives_a_header(self, session: Session) -> None:
        campaign = rated_campaign(session, stored=[])

        assert xlsx_rows(exported(session, campaign, "xlsx")) == {
            "Evaluations": [[*HEADER, "quality flags"]]
        }


class TestOnlyOnceTallied:
    @pytest.mark.parametrize(
        "status", [CampaignStatus.DRAFT, CampaignStatus.OPEN, CampaignStatus.CLOSED]
    )
    def test_refused_before_the_tally_with_nothing_written(
        self, session: Session, status: CampaignStatus
    ) -> None:
        campaign = rated_campaign(session, status=status)
        out = io.BytesIO()

        with pytest.raises(ResultsNotReleasable):
            raw_export.write_raw_evaluations(session, campaign, "csv", out)
        assert out.getvalue() == b""

    def test_published_campaigns_export_too(self, session: Session) -> None:
        campaign = rated_campaign(session, status=CampaignStatus.PUBLISHED)

        assert csv_rows(exported(session, campaign, "csv"))[1:] == EXPECTED_ROWS


class TestCommand:
    def test_writes_the_file_and_records_the_export(self, tmp_path: Path) -> None:
        out = tmp_path / "raw.xlsx"
        with app_database() as engine:
            with Session(engine) as session:
                slug = rated_campaign(session).slug
                session.commit()

            result = run_ok("evaluations", "export", slug, "--format", "xlsx", "--out", str(out))

            with Session(engine) as session:
                entries = list(
                    session.scalars(
                        select(AuditEntry).where(AuditEntry.action == "evaluations_export")
                    )
                )
        assert f"{len(STORED)} evaluations of {slug} written to {out}" in result.output
        assert len(xlsx_rows(out.read_bytes())["Evaluations"]) == len(STORED) + 1
        (entry,) = entries
        assert entry.object == f"campaign:{slug}"
        assert entry.detail == {"format": "xlsx", "evaluations": len(STORED)}

    def test_open_campaign_is_refused_and_no_file_is_left(self, tmp_path: Path) -> None:
        out = tmp_path / "raw.csv"
        with app_database() as engine:
            with Session(engine) as session:
                slug = rated_campaign(session, status=CampaignStatus.OPEN).slug
                session.commit()

            result = run("evaluations", "export", slug, "--out", str(out))

        assert result.exit_code == 1
        assert "once the campaign is closed" in result.output
        assert not out.exists()

    def test_unknown_campaign_leaves_an_existing_file_alone(self, tmp_path: Path) -> None:
        out = tmp_path / "raw.csv"
        out.write_text("kept")
        with app_database():
            result = run(
                "evaluations", "export", f"no-such-{uuid.uuid4().hex[:6]}", "--out", str(out)
            )

        assert result.exit_code == 1
        assert out.read_text() == "kept"
