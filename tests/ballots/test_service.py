"""Accepting ballots: what is stored, and what is refused."""

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.admission.models import CodeStatus
from app.ballots import answers as answer_codec
from app.ballots import service as ballot_service
from app.ballots.models import Evaluation
from app.ballots.schemas import BallotIn, EvaluationIn
from app.campaigns import service as campaign_service
from app.errors import InvalidInput
from tests.factories import HASHING_KEY, answers_for, code_status, issue_code, make_campaign


def submit(session: Session, code: str, evaluations: list[EvaluationIn]) -> None:
    ballot_service.submit_ballot(session, HASHING_KEY, BallotIn(code=code, evaluations=evaluations))


class TestStoredEvaluations:
    def test_each_target_gets_its_own_row_with_nothing_in_common_but_content(
        self, any_session: Session
    ) -> None:
        campaign = make_campaign(any_session)
        code = issue_code(any_session, campaign, group="cadres")
        evaluations = [
            EvaluationIn(target=t.department.code, answers=answers_for(campaign, "cadres", level=3))
            for t in campaign.targets
        ]

        submit(any_session, code, evaluations)

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

        row = session.scalars(select(Evaluation).where(Evaluation.campaign_id == campaign.id)).one()
        assert row.answers == "50-"  # five, don't know, not shown to citizens
        questionnaire = campaign_service.questionnaire_of(campaign)
        assert answer_codec.decode(questionnaire, row.answers) == {"courtesy": 5, "speed": None}

    def test_comment_is_trimmed_and_line_breaks_unified(self, session: Session) -> None:
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

        row = session.scalars(select(Evaluation).where(Evaluation.campaign_id == campaign.id)).one()
        assert row.comment == "第一行\n第二行"

    def test_blank_comment_is_stored_as_none(self, session: Session) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        target = campaign.targets[0].department.code

        submit(
            session,
            code,
            [EvaluationIn(target=target, answers=answers_for(campaign), comment="   ")],
        )

        row = session.scalars(select(Evaluation).where(Evaluation.campaign_id == campaign.id)).one()
        assert row.comment is None

    def test_html_in_a_comment_is_stored_as_text(self, session: Session) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        target = campaign.targets[0].department.code
        comment = '<script>alert("x")</script> & 办事慢'

        submit(
            session,
            code,
            [EvaluationIn(target=target, answers=answers_for(campaign), comment=comment)],
        )

        row = session.scalars(select(Evaluation).where(Evaluation.campaign_id == campaign.id)).one()
        assert row.comment == comment


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
    def test_failure_rolls_back_code_and_evaluations(
        self, any_session: Session, monkeypatch: pytest.MonkeyPatch, failure_point: str
    ) -> None:
        campaign = make_campaign(any_session)
        code = issue_code(any_session, campaign)
        any_session.commit()  # the code exists before the submission's own transaction
        target = campaign.targets[0].department.code

        class Crash(Exception):
            pass

        if failure_point == "after_use":
            monkeypatch.setattr(ballot_service, "evaluation_rows", _raise(Crash))
        else:
            monkeypatch.setattr(ballot_service, "Receipt", _raise(Crash))

        with pytest.raises(Crash):
            submit(any_session, code, [EvaluationIn(target=target, answers=answers_for(campaign))])
        any_session.rollback()

        assert code_status(any_session, code) == CodeStatus.UNUSED
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
