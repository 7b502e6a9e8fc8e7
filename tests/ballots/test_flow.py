"""The rating pages' steps without JavaScript (:mod:`app.ballots.flow`): the draft carried in
hidden fields, the order of the steps, what stops a rater going on, and the ballot at the end.

Admissions are built in memory (no database): the citizens of a campaign of three
departments, D000 to D002, with the two items of :func:`tests.factories.small_questionnaire`
citizens see (courtesy and speed).
"""

import base64
import string

import pytest

from app import i18n
from app.admission.service import Admission
from app.ballots.flow import (
    CHOOSE,
    CREDENTIAL_TEXT_MAX_LENGTH,
    REVIEW,
    Entry,
    RatingDraft,
    RatingFlow,
    Step,
    credential_text,
    parse_credential_text,
)
from app.credentials.schemas import CredentialIn
from app.errors import InvalidInput
from tests.factories import small_questionnaire
from tests.results.test_properties import transient_campaign

ANSWERED = {"a.courtesy": "5", "a.speed": "na"}
CREDENTIAL = CredentialIn(
    rater_group="citizens", message="bWVzc2FnZQ", signature="c2lnbmF0dXJl", campaign="c-2026"
)


@pytest.fixture(autouse=True)
def _english() -> None:
    i18n.set_locale("en")


def admission(targets: int = 3) -> Admission:
    """The citizens' admission to the first ``targets`` departments (one: a scoped code)."""
    questionnaire = small_questionnaire()
    campaign = transient_campaign(questionnaire, 3, [1.0, 1.0], ["综合类"] * 3)
    return Admission(
        campaign=campaign,
        rater_group=campaign.rater_groups[0],
        targets=campaign.targets[:targets],
        questionnaire=questionnaire,
    )


def flow(draft: RatingDraft | None = None, *, targets: int = 3) -> RatingFlow:
    return RatingFlow(admission(targets), draft or RatingDraft())


def answered(rating: RatingFlow, *codes: str) -> RatingFlow:
    """Choose ``codes`` and answer every item for each."""
    rating.choose(list(codes))
    for index in range(len(codes)):
        rating.record(index, ANSWERED, None)
    return rating


class TestCredentialText:
    def test_a_credential_survives_its_text_and_line_breaks_a_messenger_adds(self) -> None:
        text = credential_text(CREDENTIAL)
        broken = " " + "\n".join(text[i : i + 20] for i in range(0, len(text), 20)) + "\r\n"

        assert parse_credential_text(text) == CREDENTIAL
        assert parse_credential_text(broken) == CREDENTIAL

    def test_the_text_is_one_line_of_unpadded_base64url(self) -> None:
        text = credential_text(CREDENTIAL)

        assert set(text) <= set(string.ascii_letters + string.digits + "-_")

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "not base64 at all!",
            credential_text(CREDENTIAL)[:-12],  # cut short when copied
            base64.urlsafe_b64encode(b'{"rater_group": "citizens"}').decode(),
            base64.urlsafe_b64encode(
                b'{"rater_group": "c", "message": "m", "signature": "s", "extra": 1}'
            ).decode(),
            "A" * (CREDENTIAL_TEXT_MAX_LENGTH + 4),
        ],
        ids=["empty", "garbage", "truncated", "incomplete", "unknown field", "too long"],
    )
    def test_anything_else_is_refused_with_a_message_on_the_credential_field(
        self, text: str
    ) -> None:
        with pytest.raises(InvalidInput) as refused:
            parse_credential_text(text)

        assert refused.value.field == "credential"
        assert "not a complete evaluation credential" in refused.value.translated()


class TestDraft:
    def test_a_dumped_draft_loads_back_the_same(self) -> None:
        draft = RatingDraft(
            chosen=["D001", "D000"],
            answers={"D001": {"courtesy": 4, "speed": None}},
            comments={"D001": "办事快"},
            started={"D001": "token-1"},
        )

        assert RatingDraft.load(draft.dump()) == draft

    @pytest.mark.parametrize(
        "posted",
        [None, "", "{not json", '{"chosen": "D000"}', "[" * 100_000 + "]" * 100_000],
        ids=["missing", "empty", "not json", "wrong shape", "nested deep"],
    )
    def test_a_missing_or_hostile_draft_starts_afresh(self, posted: str | None) -> None:
        assert RatingDraft.load(posted) == RatingDraft()

    def test_targets_outside_the_admission_are_dropped_from_a_posted_draft(self) -> None:
        rating = flow(RatingDraft(chosen=["D002", "X999", "D000"]), targets=2)

        assert rating.draft.chosen == ["D000"]


class TestStepOrder:
    def test_an_admission_to_several_departments_starts_by_choosing(self) -> None:
        assert flow().first_step() == Step(CHOOSE)

    def test_a_code_scoped_to_one_department_skips_choosing(self) -> None:
        rating = flow(targets=1)

        assert rating.first_step() == Step("target:0")
        assert rating.draft.chosen == ["D000"]

    def test_chosen_departments_keep_the_admissions_order_and_unknown_codes_are_ignored(
        self,
    ) -> None:
        rating = flow()

        rating.choose(["D002", "X999", "D000"])

        assert rating.draft.chosen == ["D000", "D002"]

    def test_choose_then_each_department_then_review(self) -> None:
        rating = answered(flow(), "D000", "D002")
        steps = [Step(CHOOSE)]
        while steps[-1].name != REVIEW:
            steps.append(rating.advance(steps[-1]))

        assert [step.name for step in steps] == [CHOOSE, "target:0", "target:1", REVIEW]
        assert all(step.error is None for step in steps)

    def test_back_retraces_the_steps(self) -> None:
        rating = answered(flow(), "D000", "D002")

        assert rating.back(Step(REVIEW)) == Step("target:1")
        assert rating.back(Step("target:1")) == Step("target:0")
        assert rating.back(Step("target:0")) == Step(CHOOSE)

    def test_back_from_the_only_department_of_a_scoped_code_stays_there(self) -> None:
        rating = flow(targets=1)
        rating.first_step()

        assert rating.back(Step("target:0")) == Step("target:0")

    @pytest.mark.parametrize("posted", [None, "", "target:2", "target:-1", "target:x", "elsewhere"])
    def test_a_missing_or_out_of_range_step_falls_back_to_the_first(
        self, posted: str | None
    ) -> None:
        rating = answered(flow(), "D000", "D001")

        assert rating.parse_step(posted) == Step(CHOOSE)

    def test_review_needs_a_chosen_department(self) -> None:
        assert flow().parse_step(REVIEW) == Step(CHOOSE)
        assert answered(flow(), "D001").parse_step(REVIEW) == Step(REVIEW)

    def test_skipping_a_department_forgets_it_and_moves_on(self) -> None:
        rating = answered(flow(), "D000", "D001", "D002")
        rating.draft.comments["D001"] = "很好"
        rating.draft.started["D001"] = "token"

        assert rating.skip(1) == Step("target:1")
        assert rating.draft.chosen == ["D000", "D002"]
        assert "D001" not in rating.draft.answers
        assert "D001" not in rating.draft.comments
        assert "D001" not in rating.draft.started
        assert rating.skip(1) == Step(REVIEW)
        assert rating.skip(0) == Step(CHOOSE)


class TestValidation:
    def test_going_on_without_choosing_asks_to_choose(self) -> None:
        step = flow().advance(Step(CHOOSE))

        assert step.name == CHOOSE
        assert step.error == "Please choose at least one department you know."

    def test_an_unanswered_item_keeps_the_rater_on_the_page_and_names_it(self) -> None:
        rating = flow()
        rating.choose(["D000", "D001"])
        rating.record(0, {"a.courtesy": "4"}, None)

        step = rating.advance(Step("target:0"))

        assert step == Step("target:0", missing=["speed"], error="Please answer every question.")

    def test_dont_know_counts_as_an_answer(self) -> None:
        rating = flow()
        rating.choose(["D000"])
        rating.record(0, {"a.courtesy": "na", "a.speed": "na"}, None)

        assert rating.advance(Step("target:0")) == Step(REVIEW)
        assert rating.draft.answers["D000"] == {"courtesy": None, "speed": None}
        assert rating.answered_count("D000") == 2

    def test_a_posted_value_that_is_not_a_level_is_left_unanswered(self) -> None:
        rating = flow()
        rating.choose(["D000"])

        rating.record(0, {"a.courtesy": "five", "a.speed": "-1", "a.unknown": "3"}, None)

        assert rating.draft.answers["D000"] == {}
        assert rating.missing("D000") == ["courtesy", "speed"]

    def test_review_is_sent_back_to_the_first_department_with_a_missing_answer(self) -> None:
        rating = answered(flow(), "D000", "D001", "D002")
        rating.record(1, {"a.courtesy": "3"}, None)

        assert rating.first_incomplete() == Step(
            "target:1", missing=["speed"], error="Please answer every question."
        )
        rating.record(1, ANSWERED, None)
        assert rating.first_incomplete() is None

    def test_a_blank_comment_is_no_comment(self) -> None:
        rating = flow()
        rating.choose(["D000"])
        rating.record(0, ANSWERED, "服务周到")
        assert rating.draft.comments == {"D000": "服务周到"}

        rating.record(0, ANSWERED, "  \n ")

        assert rating.draft.comments == {}


class TestStartTokens:
    def test_a_page_keeps_the_token_from_when_it_was_first_shown(self) -> None:
        tokens = iter(["first", "second", "third"])
        rating = flow()
        rating.choose(["D000", "D001"])

        rating.show(0, lambda: next(tokens))
        rating.show(0, lambda: next(tokens))  # back, a language switch, a missing answer
        rating.show(1, lambda: next(tokens))

        assert rating.draft.started == {"D000": "first", "D001": "second"}

    def test_choosing_again_keeps_the_tokens_of_departments_still_chosen(self) -> None:
        rating = flow()
        rating.choose(["D000", "D001"])
        rating.draft.started = {"D000": "kept", "D001": "dropped"}

        rating.choose(["D000", "D002"])

        assert rating.draft.started == {"D000": "kept"}


class TestBallot:
    def test_a_code_ballot_carries_each_chosen_departments_answers_comment_and_token(
        self,
    ) -> None:
        rating = answered(flow(), "D000", "D002")
        rating.record(1, {"a.courtesy": "2", "a.speed": "3"}, "太慢")
        rating.show(0, lambda: "token-0")

        ballot = rating.ballot(Entry(code="ABCD-EFGH"))

        assert (ballot.code, ballot.credential) == ("ABCD-EFGH", None)
        assert [
            (evaluation.target, evaluation.answers, evaluation.comment, evaluation.started)
            for evaluation in ballot.evaluations
        ] == [
            ("D000", {"courtesy": 5, "speed": None}, None, "token-0"),
            ("D002", {"courtesy": 2, "speed": 3}, "太慢", None),
        ]

    def test_a_credential_ballot_carries_the_credential_and_no_code(self) -> None:
        rating = answered(flow(), "D001")
        entry = Entry(credential=credential_text(CREDENTIAL))

        ballot = rating.ballot(entry)

        assert entry.uses_credential
        assert not entry.uses_roster
        assert (ballot.code, ballot.credential) == (None, CREDENTIAL)
        assert [evaluation.target for evaluation in ballot.evaluations] == ["D001"]
