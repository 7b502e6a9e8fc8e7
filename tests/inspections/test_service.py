"""Recording findings, who sees them, evidence, 通报单 numbers and scores."""

import datetime as dt
from fractions import Fraction

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry
from app.campaigns.models import CampaignStatus
from app.errors import InvalidInput, NotFound
from app.inspections import service as inspection_service
from app.inspections.models import InspectionMethod
from app.rectification import evidence as evidence_store
from tests.factories import make_campaign, make_department, make_staff
from tests.inspections.helpers import PNG_BYTES, record


class TestRecordingFindings:
    def test_a_finding_is_recorded_and_audited(self, session: Session) -> None:
        inspector = make_staff(session, role="inspector")
        department = make_department(session)

        finding = record(session, inspector, department)

        assert finding.recorded_by == inspector.id
        assert finding.found_on == dt.date(2026, 11, 10)
        actions = session.scalars(select(AuditEntry.action)).all()
        assert "finding_record" in actions

    def test_a_day_in_the_future_is_refused(self, session: Session) -> None:
        inspector = make_staff(session, role="inspector")
        with pytest.raises(InvalidInput):
            record(session, inspector, make_department(session), day=dt.date(2027, 1, 1))

    def test_an_empty_description_is_refused(self, session: Session) -> None:
        inspector = make_staff(session, role="inspector")
        with pytest.raises(InvalidInput):
            record(session, inspector, make_department(session), description="  ")


class TestWhoSeesFindings:
    def test_an_inspector_sees_only_their_own(self, session: Session) -> None:
        department = make_department(session)
        mine = make_staff(session, role="inspector")
        other = make_staff(session, role="inspector")
        own = record(session, mine, department)
        theirs = record(session, other, department)

        assert inspection_service.visible_findings(session, mine) == [own]
        with pytest.raises(NotFound):
            inspection_service.visible_finding(session, mine, theirs.id)

    def test_the_office_sees_every_finding(self, session: Session) -> None:
        department = make_department(session)
        inspector = make_staff(session, role="inspector")
        found = [record(session, inspector, department) for _ in range(2)]

        admin = make_staff(session, role="admin")

        assert set(inspection_service.visible_findings(session, admin)) == set(found)


class TestEvidence:
    def test_a_file_is_stored_by_its_content_under_a_random_name(self, session: Session) -> None:
        inspector = make_staff(session, role="inspector")
        finding = record(session, inspector, make_department(session))

        item = inspection_service.add_evidence(
            session, inspector, finding, "../../etc/现场照片.exe", PNG_BYTES
        )

        assert item.content_type == "image/png"
        assert item.original_name == "现场照片.png"
        assert "/" not in item.stored_name
        assert item.stored_name != item.original_name
        assert evidence_store.read(item.stored_name) == PNG_BYTES

    def test_a_file_of_another_kind_is_refused(self, session: Session) -> None:
        inspector = make_staff(session, role="inspector")
        finding = record(session, inspector, make_department(session))

        with pytest.raises(InvalidInput):
            inspection_service.add_evidence(
                session, inspector, finding, "photo.png", b"<html><script>alert(1)</script>"
            )


class TestBulletinNumbers:
    def test_numbers_count_up_within_a_year(self, session: Session) -> None:
        admin = make_staff(session, role="admin")
        finding = record(session, admin, make_department(session))

        numbers = [
            inspection_service.document_number(
                inspection_service.issue_bulletin(
                    session,
                    admin.username,
                    finding_ids=[finding.id],
                    title="关于暗访发现问题的通报",
                    issuing_office="某市作风效能建设办公室",
                    copy_to="",
                    issued_on=day,
                )
            )
            for day in (dt.date(2026, 3, 1), dt.date(2026, 5, 1), dt.date(2027, 1, 5))
        ]

        assert numbers == ["〔2026〕1号", "〔2026〕2号", "〔2027〕1号"]

    def test_a_bulletin_needs_a_finding(self, session: Session) -> None:
        with pytest.raises(InvalidInput):
            inspection_service.issue_bulletin(
                session,
                "admin",
                finding_ids=[],
                title="通报",
                issuing_office="办公室",
                copy_to="",
                issued_on=dt.date(2026, 1, 1),
            )


class TestScores:
    def test_scores_are_entered_exactly_and_cleared(self, session: Session) -> None:
        department = make_department(session)
        campaign = make_campaign(session, departments=[department], threshold=3)

        inspection_service.set_scores(
            session, "admin", campaign, {department.id: Fraction("87.25")}
        )
        assert inspection_service.entered_scores(session, campaign) == {
            department.id: Fraction("87.25")
        }
        inspection_service.set_scores(session, "admin", campaign, {department.id: None})
        assert inspection_service.entered_scores(session, campaign) == {}

    @pytest.mark.parametrize("typed", ["101", "-1", "80.125", "abc", "nan", "inf"])
    def test_a_score_outside_0_to_100_or_finer_than_hundredths_is_refused(self, typed: str) -> None:
        with pytest.raises(InvalidInput):
            inspection_service.parse_score(typed)

    def test_scores_of_a_published_campaign_cannot_change(self, session: Session) -> None:
        department = make_department(session)
        campaign = make_campaign(
            session, departments=[department], threshold=3, status=CampaignStatus.PUBLISHED
        )
        with pytest.raises(InvalidInput):
            inspection_service.set_scores(session, "admin", campaign, {department.id: Fraction(90)})

    def test_derived_score_deducts_per_finding_within_the_campaign_dates(
        self, session: Session
    ) -> None:
        department = make_department(session)
        inspector = make_staff(session, role="inspector")
        campaign = make_campaign(session, departments=[department], threshold=3)
        campaign.starts_on, campaign.ends_on = dt.date(2026, 1, 1), dt.date(2026, 11, 30)
        for day in (dt.date(2026, 1, 1), dt.date(2026, 11, 30), dt.date(2025, 12, 31)):
            record(session, inspector, department, day=day, method=InspectionMethod.PHONE_CHECK)

        derived = inspection_service.derived_scores(session, campaign, Fraction(5))

        assert derived[department.id].findings == 2
        assert derived[department.id].score == 90
        assert inspection_service.derived_score(30, Fraction(5)) == 0  # never below 0
