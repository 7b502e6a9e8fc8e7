"""Accepting ballots: what is stored, and what is refused."""

import hashlib
import re
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.admission.models import CodeStatus
from app.ballots import answers as answer_codec
from app.ballots import service as ballot_service
from app.ballots.models import Evaluation, Receipt
from app.ballots.schemas import BallotIn, EvaluationIn
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign
from app.errors import InvalidInput
from tests.factories import (
    HASHING_KEY,
    answers_for,
    ballot_count,
    code_status,
    issue_code,
    make_campaign,
    sealed_contents,
    tally,
)


def submit(session: Session, code: str, evaluations: list[EvaluationIn]) -> None:
    ballot_service.submit_ballot(session, HASHING_KEY, BallotIn(code=code, evaluations=evaluations))


class TestStoredEvaluations:
    """A ballot is sealed into the box as one row; the tally turns it into evaluations."""

    def test_one_sealed_ballot_then_each_target_its_own_row_with_nothing_in_common_but_content(
        self, any_session: Session
    ) -> None:
        campaign = make_campaign(any_session)
        code = issue_code(any_session, campaign, group="cadres")
        evaluations = [
            EvaluationIn(target=t.department.code, answers=answers_for(campaign, "cadres", level=3))
            for t in campaign.targets
        ]

        submit(any_session, code, evaluations)
        assert ballot_count(any_session, campaign) == 1
        tally(any_session, campaign)

        rows = any_session.scalars(
            select(Evaluation).where(Evaluation.campaign_id == campaign.id)
        ).all()
        assert len(rows) == 2
        assert {row.target_id for row in rows} == {t.id for t in campaign.targets}
        assert rows[0].id != rows[1].id
        assert all(row.id.version == 4 for row in rows)  # random, not time-based
        assert {row.rater_group_id for row in rows} == {campaign.rater_groups[1].id}

    def test_answers_are_stored_compactly_and_decode_back(self, session: Session) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign, group="citizens")
        target = campaign.targets[0].department.code

        submit(session, code, [EvaluationIn(target=target, answers={"courtesy": 5, "speed": None})])
        assert ballot_count(session, campaign) == 1
        tally(session, campaign)

        row = session.scalars(select(Evaluation).where(Evaluation.campaign_id == campaign.id)).one()
        assert row.answers == "50-"  # five, don't know, not shown to citizens
        questionnaire = campaign_service.questionnaire_of(campaign)
        assert answer_codec.decode(questionnaire, row.answers) == {"courtesy": 5, "speed": None}

    def test_comment_is_sealed_trimmed_with_line_breaks_unified(self, session: Session) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        target = campaign.targets[0].department.code

        submit(
            session,
            code,
            [
                EvaluationIn(
                    target=target, answers=answers_for(campaign), comment="  第一行\r\n第二行 \t"
                )
            ],
        )

        assert comment_sealed(session, campaign) == "第一行\n第二行"

    def test_blank_comment_is_sealed_as_none(self, session: Session) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        target = campaign.targets[0].department.code

        submit(
            session,
            code,
            [EvaluationIn(target=target, answers=answers_for(campaign), comment="   ")],
        )

        assert comment_sealed(session, campaign) is None

    def test_html_in_a_comment_is_sealed_as_text(self, session: Session) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        target = campaign.targets[0].department.code
        comment = '<script>alert("x")</script> & 办事慢'

        submit(
            session,
            code,
            [EvaluationIn(target=target, answers=answers_for(campaign), comment=comment)],
        )

        assert comment_sealed(session, campaign) == comment


def comment_sealed(session: Session, campaign: Campaign) -> str | None:
    """The comment of the campaign's one sealed ballot of one evaluation, as stored."""
    (ballot,) = sealed_contents(session, campaign)
    (evaluation,) = ballot.evaluations
    return evaluation.comment


class TestCampaignOpenedBeforeTheBallotBox:
    """A campaign opened before the ballot box existed (``sealed_box=False``: no tally key)
    stores its ballots as before: evaluations at once, and the hash of a random receipt."""

    def test_evaluations_and_the_receipt_hash_are_stored_at_once_without_the_box(
        self, any_session: Session
    ) -> None:
        campaign = make_campaign(any_session, sealed_box=False)
        code = issue_code(any_session, campaign, group="cadres")
        evaluations = [
            EvaluationIn(target=t.department.code, answers=answers_for(campaign, "cadres", level=3))
            for t in campaign.targets
        ]

        receipt = ballot_service.submit_ballot(
            any_session, HASHING_KEY, BallotIn(code=code, evaluations=evaluations)
        ).receipt

        assert re.fullmatch(r"[0-9a-f]{4}(-[0-9a-f]{4}){7}", receipt)  # 16 random bytes
        assert ballot_count(any_session, campaign) == 0
        rows = any_session.scalars(
            select(Evaluation).where(Evaluation.campaign_id == campaign.id)
        ).all()
        assert {row.target_id for row in rows} == {t.id for t in campaign.targets}
        assert {row.rater_group_id for row in rows} == {campaign.rater_groups[1].id}
        stored_receipts = any_session.scalars(
            select(Receipt.receipt_hash).where(Receipt.campaign_id == campaign.id)
        ).all()
        expected = hashlib.sha256(bytes.fromhex(receipt.replace("-", ""))).digest()
        assert [bytes(value) for value in stored_receipts] == [expected]


class TestRefusals:
    def test_comment_on_a_questionnaire_without_comments_is_refused(self, session: Session) -> None:
        from tests.factories import small_questionnaire

        campaign = make_campaign(session, questionnaire=small_questionnaire(comment=None))
        code = issue_code(session, campaign)
        target = campaign.targets[0].department.code

        with pytest.raises(InvalidInput) as refused:
            submit(
                session,
                code,
                [EvaluationIn(target=target, answers=answers_for(campaign), comment="hi")],
            )

        assert refused.value.field == "evaluations[0].comment"

    @pytest.mark.parametrize("character", ["\x07", "\x1b", "\u2066", "\u200f", "\x85"])
    def test_invisible_control_characters_in_a_comment_are_refused(
        self, session: Session, character: str
    ) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        target = campaign.targets[0].department.code

        with pytest.raises(InvalidInput):
            submit(
                session,
                code,
                [
                    EvaluationIn(
                        target=target, answers=answers_for(campaign), comment=f"o{character}k"
                    )
                ],
            )


class TestFailureLeavesCodeUnused:
    """A submission failing at any point after the code was marked used commits nothing."""

    @pytest.mark.parametrize("failure_point", ["after_use", "after_insert"])
    def test_failure_rolls_back_code_and_ballot(
        self, any_session: Session, monkeypatch: pytest.MonkeyPatch, failure_point: str
    ) -> None:
        campaign = make_campaign(any_session)
        code = issue_code(any_session, campaign)
        any_session.commit()  # the code exists before the submission's own transaction
        target = campaign.targets[0].department.code

        class Crash(Exception):
            pass

        if failure_point == "after_use":
            monkeypatch.setattr(ballot_service, "check_evaluations", _raise(Crash))
        else:
            monkeypatch.setattr(ballot_service, "Receipt", _raise(Crash))

        with pytest.raises(Crash):
            submit(any_session, code, [EvaluationIn(target=target, answers=answers_for(campaign))])
        any_session.rollback()

        assert code_status(any_session, code) == CodeStatus.UNUSED
        assert ballot_count(any_session, campaign) == 0
        stored = any_session.scalars(
            select(Evaluation.id).where(Evaluation.campaign_id == campaign.id)
        )
        assert stored.all() == []


def _raise(error: type[Exception]):  # type: ignore[no-untyped-def]
    def fail(*_args: object, **_kwargs: object) -> None:
        raise error

    return fail


def test_uuid_module_used_for_ids_is_random() -> None:
    assert uuid.uuid4().version == 4
