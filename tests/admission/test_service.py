"""Issuing, revoking and redeeming admission codes."""

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.admission import codes
from app.admission import service as admission_service
from app.admission.models import AdmissionCode, CodeBatch, CodeStatus
from app.campaigns.models import CampaignStatus
from app.errors import (
    CampaignNotOpen,
    CodeMistyped,
    CodeRevoked,
    CodeUnknown,
    CodeUsed,
    InvalidInput,
)
from tests.factories import HASHING_KEY, code_status, issue_code, issue_codes, make_campaign


class TestIssuing:
    def test_batch_stores_only_keyed_hashes(self, session: Session) -> None:
        campaign = make_campaign(session)

        issued = issue_codes(session, campaign, count=25)

        stored = set(session.scalars(select(AdmissionCode.code_hash)))
        expected = {codes.keyed_hash(HASHING_KEY, codes.normalize(code)) for code in issued}
        assert expected <= stored
        plain = {code.encode() for code in issued} | {
            codes.normalize(code).encode() for code in issued
        }
        assert not plain & stored

    def test_batch_records_group_scope_and_size(self, session: Session) -> None:
        campaign = make_campaign(session)
        target = campaign.targets[1]

        issued = admission_service.issue_codes(
            session,
            campaign,
            hashing_key=HASHING_KEY,
            group_key="cadres",
            count=3,
            target_code=target.department.code,
        )

        assert issued.batch.size == 3
        assert issued.batch.target_id == target.id
        assert issued.batch.rater_group_id == campaign.rater_groups[1].id
        assert issued.target_code == target.department.code

    def test_codes_csv_has_one_line_per_code(self, session: Session) -> None:
        import csv
        import io

        campaign = make_campaign(session)
        issued = admission_service.issue_codes(
            session, campaign, hashing_key=HASHING_KEY, group_key="citizens", count=4
        )
        stream = io.StringIO()

        admission_service.write_codes_csv(issued, stream)

        rows = list(csv.reader(io.StringIO(stream.getvalue())))
        assert rows[0] == ["campaign", "rater_group", "target", "code"]
        assert rows[1:] == [[campaign.slug, "citizens", "", code] for code in issued.codes]

    def test_unknown_group_is_refused(self, session: Session) -> None:
        campaign = make_campaign(session)

        with pytest.raises(InvalidInput) as refused:
            issue_codes(session, campaign, group="journalists")

        assert refused.value.field == "group"

    def test_target_outside_campaign_is_refused(self, session: Session) -> None:
        campaign = make_campaign(session)

        with pytest.raises(InvalidInput) as refused:
            issue_codes(session, campaign, target="NOT-A-TARGET")

        assert refused.value.field == "target"

    @pytest.mark.parametrize("count", [0, -1, admission_service.MAX_BATCH_SIZE + 1])
    def test_count_out_of_range_is_refused(self, session: Session, count: int) -> None:
        campaign = make_campaign(session)

        with pytest.raises(InvalidInput):
            issue_codes(session, campaign, count=count)

    @pytest.mark.parametrize(
        "status", [CampaignStatus.CLOSED, CampaignStatus.TALLIED, CampaignStatus.PUBLISHED]
    )
    def test_no_codes_for_a_finished_campaign(
        self, session: Session, status: CampaignStatus
    ) -> None:
        campaign = make_campaign(session, status=status)

        with pytest.raises(InvalidInput):
            issue_codes(session, campaign)


class TestRevoking:
    def test_revoking_a_batch_stops_its_unused_codes_and_keeps_used_ones(
        self, session: Session
    ) -> None:
        campaign = make_campaign(session)
        first, second, third = issue_codes(session, campaign, count=3)
        admission_service.use_code(session, HASHING_KEY, first)
        batch = session.scalars(select(CodeBatch).where(CodeBatch.campaign_id == campaign.id)).one()

        admission_service.revoke_batch(session, campaign, batch.id)

        assert batch.revoked
        assert code_status(session, first) == CodeStatus.USED
        assert code_status(session, second) == CodeStatus.REVOKED
        with pytest.raises(CodeRevoked):
            admission_service.check_code(session, HASHING_KEY, third)

    def test_other_batches_are_untouched(self, session: Session) -> None:
        campaign = make_campaign(session)
        kept = issue_code(session, campaign)
        issue_code(session, campaign)
        second_batch = max(b.id for b in admission_service.list_batches(session, campaign))

        admission_service.revoke_batch(session, campaign, second_batch)

        assert code_status(session, kept) == CodeStatus.UNUSED


class TestCheckingACode:
    def test_check_admits_without_using_the_code(self, session: Session) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign, group="cadres")

        admission = admission_service.check_code(session, HASHING_KEY, code)

        assert admission.campaign.id == campaign.id
        assert admission.rater_group.key == "cadres"
        assert [item.id for item in admission.items] == ["courtesy", "speed", "guidance"]
        assert len(admission.targets) == 2
        assert code_status(session, code) == CodeStatus.UNUSED

    def test_citizens_do_not_see_cadre_items(self, session: Session) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign, group="citizens")

        admission = admission_service.check_code(session, HASHING_KEY, code)

        assert [item.id for item in admission.items] == ["courtesy", "speed"]

    def test_scoped_code_admits_to_one_target(self, session: Session) -> None:
        campaign = make_campaign(session)
        target = campaign.targets[1]
        code = issue_code(session, campaign, target=target.department.code)

        admission = admission_service.check_code(session, HASHING_KEY, code)

        assert [t.id for t in admission.targets] == [target.id]

    def test_each_refusal_has_its_own_error(self, session: Session) -> None:
        campaign = make_campaign(session)
        used, other = issue_codes(session, campaign, count=2)
        admission_service.use_code(session, HASHING_KEY, used)

        with pytest.raises(CodeUsed):
            admission_service.check_code(session, HASHING_KEY, used)
        wrong_check = "0" if other[-1] != "0" else "1"
        with pytest.raises(CodeMistyped):
            admission_service.check_code(session, HASHING_KEY, other[:-1] + wrong_check)
        unknown_payload = "Z" * codes.RANDOM_SYMBOLS
        with pytest.raises(CodeUnknown):
            admission_service.check_code(
                session, HASHING_KEY, unknown_payload + codes.check_symbol(unknown_payload)
            )
        campaign.status = CampaignStatus.CLOSED
        with pytest.raises(CampaignNotOpen):
            admission_service.check_code(session, HASHING_KEY, other)


class TestUsingACode:
    def test_code_is_used_once(self, any_session: Session) -> None:
        campaign = make_campaign(any_session)
        code = issue_code(any_session, campaign)

        admission_service.use_code(any_session, HASHING_KEY, code)

        assert code_status(any_session, code) == CodeStatus.USED
        with pytest.raises(CodeUsed):
            admission_service.use_code(any_session, HASHING_KEY, code)
