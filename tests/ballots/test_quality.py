"""Low-quality evaluations: straight-lining and too-fast flags, from signed start tokens.

Time comes from ``app.ballots.quality.now``, replaced here by a clock the tests move; no test
sleeps. Only the flags are stored: the tokens and the times they give are dropped.
"""

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.ballots import quality
from app.ballots import service as ballot_service
from app.ballots.flow import RatingDraft
from app.ballots.models import STRAIGHT_LINING, TOO_FAST, Evaluation
from app.ballots.schemas import BallotIn, EvaluationIn
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign
from app.campaigns.policy import QualityPolicy, ResultsPolicy
from app.surveys.schemas import Item
from tests.ballots.test_pages import hidden_fields, post_step
from tests.factories import (
    HASHING_KEY,
    ballot_count,
    issue_code,
    make_campaign,
    sealed_contents,
    tally,
)

KEY = quality.server_start_token_key()
T0 = 1_900_000_000.0  # a fixed moment, in seconds since the epoch


class Clock:
    """The tests' clock: ``quality.now`` reads it, the test moves it."""

    def __init__(self, start: float) -> None:
        self.time = start

    def __call__(self) -> float:
        return self.time

    def advance(self, seconds: float) -> None:
        self.time += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    patched = Clock(T0)
    monkeypatch.setattr(quality, "now", patched)
    return patched


def five_level_items(count: int) -> list[Item]:
    return [
        Item.model_validate(
            {
                "id": f"q{number}",
                "dimension": "d",
                "scale": "five_level",
                "text": {"zh": f"题{number}", "en": f"Q{number}"},
            }
        )
        for number in range(count)
    ]


def policy(**settings: Any) -> QualityPolicy:
    return QualityPolicy(**settings)


def flags_of(
    answers: dict[str, int | None],
    items: list[Item],
    started: str | None = None,
    **settings: Any,
) -> int:
    return quality.quality_flags(items, answers, started, key=KEY, policy=policy(**settings))


class TestStraightLining:
    @pytest.mark.parametrize(
        ("answered", "flagged"), [(3, False), (4, True), (5, True)], ids=["below", "at", "above"]
    )
    def test_flagged_from_the_minimum_number_of_items_answered(
        self, answered: int, flagged: bool
    ) -> None:
        items = five_level_items(answered)
        answers: dict[str, int | None] = {item.id: 4 for item in items}

        flags = flags_of(answers, items, straight_line_min_items=4)

        assert bool(flags & STRAIGHT_LINING) is flagged

    def test_one_different_level_is_not_straight_lining(self) -> None:
        items = five_level_items(6)
        answers: dict[str, int | None] = {item.id: 5 for item in items}
        answers["q3"] = 4

        assert flags_of(answers, items, straight_line_min_items=4) == 0

    def test_not_applicable_answers_are_ignored(self) -> None:
        items = five_level_items(6)
        answers: dict[str, int | None] = {item.id: 1 for item in items}
        answers["q0"] = answers["q5"] = None  # 不了解 in between does not break the line

        assert flags_of(answers, items, straight_line_min_items=4) == STRAIGHT_LINING

    def test_not_applicable_answers_do_not_count_toward_the_minimum(self) -> None:
        items = five_level_items(6)
        answers: dict[str, int | None] = {item.id: None for item in items}
        answers["q0"] = answers["q1"] = answers["q2"] = 3

        assert flags_of(answers, items, straight_line_min_items=4) == 0

    def test_all_not_applicable_is_not_straight_lining(self) -> None:
        items = five_level_items(6)

        assert flags_of({item.id: None for item in items}, items, straight_line_min_items=2) == 0

    def test_items_on_different_scales_compare_by_the_column_chosen(self) -> None:
        three_level = Item.model_validate(
            {
                "id": "three",
                "dimension": "d",
                "scale": "three_level",
                "text": {"zh": "三级", "en": "Three"},
            }
        )
        items = [*five_level_items(2), three_level]
        top_everywhere: dict[str, int | None] = {"q0": 5, "q1": 5, "three": 3}
        same_digit: dict[str, int | None] = {"q0": 3, "q1": 3, "three": 3}

        assert flags_of(top_everywhere, items, straight_line_min_items=3) == STRAIGHT_LINING
        assert flags_of(same_digit, items, straight_line_min_items=3) == 0


class TestTooFast:
    def test_sooner_than_the_seconds_per_answered_item_is_flagged(self, clock: Clock) -> None:
        items = five_level_items(4)
        answers: dict[str, int | None] = {"q0": 5, "q1": 4, "q2": 3, "q3": 2}
        token = quality.new_start_token(KEY)
        clock.advance(7.5)

        assert flags_of(answers, items, token, min_seconds_per_item=2) == TOO_FAST

    def test_slow_enough_is_not_flagged(self, clock: Clock) -> None:
        items = five_level_items(4)
        answers: dict[str, int | None] = {"q0": 5, "q1": 4, "q2": 3, "q3": 2}
        token = quality.new_start_token(KEY)
        clock.advance(8)  # exactly 2 s for each of 4 items

        assert flags_of(answers, items, token, min_seconds_per_item=2) == 0

    def test_only_answered_items_count_toward_the_time_needed(self, clock: Clock) -> None:
        items = five_level_items(4)
        answers: dict[str, int | None] = {"q0": 5, "q1": 4, "q2": None, "q3": None}
        token = quality.new_start_token(KEY)
        clock.advance(4)

        assert flags_of(answers, items, token, min_seconds_per_item=2) == 0

    def test_both_flags_can_be_set(self, clock: Clock) -> None:
        items = five_level_items(3)
        token = quality.new_start_token(KEY)
        clock.advance(1)

        flags = flags_of(
            {item.id: 5 for item in items},
            items,
            token,
            straight_line_min_items=3,
            min_seconds_per_item=2,
        )

        assert flags == STRAIGHT_LINING | TOO_FAST

    def test_a_token_holds_a_random_value_and_its_signing_time_only(self, clock: Clock) -> None:
        first, second = quality.new_start_token(KEY), quality.new_start_token(KEY)

        assert first != second  # same second, different nonces
        assert first.split(".")[1] == second.split(".")[1]  # the shared signing time
        assert quality.seconds_since(first, KEY) == 0


class TestUnusableTokensGiveNoFlag:
    def _signed_at(self, clock: Clock, seconds_ago: float, key: bytes = KEY) -> str:
        saved = clock.time
        clock.time = saved - seconds_ago
        token = quality.new_start_token(key)
        clock.time = saved
        return token

    @pytest.mark.parametrize(
        "make_token",
        [
            pytest.param(lambda _clock, _self: None, id="missing"),
            pytest.param(lambda _clock, _self: "", id="empty"),
            pytest.param(lambda _clock, _self: "not-a-token", id="garbage"),
            pytest.param(lambda _clock, _self: "a.b.c", id="three-garbage-parts"),
            pytest.param(lambda _clock, _self: "评.议.码", id="non-ascii"),
            pytest.param(
                lambda clock, self: self._signed_at(clock, 1, key=b"another server's key"),
                id="forged-other-key",
            ),
            pytest.param(
                lambda clock, self: self._signed_at(clock, 24 * 3600 + 1), id="expired-over-a-day"
            ),
            pytest.param(lambda clock, self: self._signed_at(clock, -60), id="signed-in-future"),
            pytest.param(
                lambda clock, self: _retimed(self._signed_at(clock, 3600), clock.time),
                id="timestamp-altered",
            ),
            pytest.param(
                lambda _clock, _self: _other_salt_token(), id="signed-for-another-purpose"
            ),
            pytest.param(lambda _clock, _self: "x" * 5000, id="overlong"),
        ],
    )
    def test_gives_no_time_and_no_flag(self, clock: Clock, make_token: Any) -> None:
        token = make_token(clock, self)
        items = five_level_items(3)

        assert quality.seconds_since(token, KEY) is None
        assert flags_of({"q0": 5, "q1": 4, "q2": 3}, items, token, min_seconds_per_item=100) == 0

    def test_a_day_old_token_still_counts(self, clock: Clock) -> None:
        token = self._signed_at(clock, 24 * 3600)

        assert quality.seconds_since(token, KEY) == 24 * 3600


def _retimed(token: str, new_time: float) -> str:
    """The token with its timestamp replaced (to make it look fresh), signature kept."""
    from itsdangerous.encoding import base64_encode, int_to_bytes

    nonce, _timestamp, signature = token.split(".")
    return ".".join([nonce, base64_encode(int_to_bytes(int(new_time))).decode(), signature])


def _other_salt_token() -> str:
    import hashlib

    signer = TimestampSigner(KEY, salt="pingyi something else", digest_method=hashlib.sha256)
    return signer.sign("nonce").decode()


# -- stored flags ---------------------------------------------------------------------------


def strict_campaign(session: Session, **settings: Any) -> Campaign:
    """A campaign whose quality policy flags two equal answers, and under 5 s per item."""
    campaign = make_campaign(session)
    quality_policy = QualityPolicy(
        **{"straight_line_min_items": 2, "min_seconds_per_item": 5, **settings}
    )
    campaign_service.set_policy(session, campaign, ResultsPolicy(quality=quality_policy))
    session.flush()
    return campaign


def stored_flags(session: Session, campaign: Campaign) -> dict[str, int]:
    """Quality flags by target department code, as stored by the tally of the campaign's box,
    which must hold exactly one sealed ballot."""
    assert ballot_count(session, campaign) == 1
    tally(session, campaign)
    codes = {target.id: target.department.code for target in campaign.targets}
    rows = session.execute(
        select(Evaluation.target_id, Evaluation.quality_flags).where(
            Evaluation.campaign_id == campaign.id
        )
    ).all()
    return {codes[target_id]: flags for target_id, flags in rows}


class TestStoredFlags:
    def test_the_campaign_policy_decides_and_only_the_flags_are_stored(
        self, session: Session, clock: Clock
    ) -> None:
        campaign = strict_campaign(session)
        code = issue_code(session, campaign)
        target = campaign.targets[0].department.code
        token = quality.new_start_token(KEY)
        clock.advance(3)

        ballot_service.submit_ballot(
            session,
            HASHING_KEY,
            BallotIn(
                code=code,
                evaluations=[
                    EvaluationIn(target=target, answers={"courtesy": 4, "speed": 4}, started=token)
                ],
            ),
        )

        assert token not in repr(sealed_contents(session, campaign))
        assert stored_flags(session, campaign) == {target: STRAIGHT_LINING | TOO_FAST}
        dump = session.connection().execute(text("SELECT * FROM evaluations")).all()
        assert not [row for row in dump if any(token in str(value) for value in row)]

    def test_default_policy_flags_nothing_on_a_short_slow_form(
        self, session: Session, clock: Clock
    ) -> None:
        campaign = make_campaign(session)  # default: 6 items for straight-lining, 2 s per item
        code = issue_code(session, campaign)
        target = campaign.targets[0].department.code
        token = quality.new_start_token(KEY)
        clock.advance(4)

        ballot_service.submit_ballot(
            session,
            HASHING_KEY,
            BallotIn(
                code=code,
                evaluations=[
                    EvaluationIn(target=target, answers={"courtesy": 4, "speed": 4}, started=token)
                ],
            ),
        )

        assert stored_flags(session, campaign) == {target: 0}

    def test_evaluations_of_one_submission_are_flagged_independently(
        self, session: Session, clock: Clock
    ) -> None:
        campaign = strict_campaign(session)
        code = issue_code(session, campaign)
        first, second = (target.department.code for target in campaign.targets)
        first_token = quality.new_start_token(KEY)  # first form shown
        clock.advance(60)
        second_token = quality.new_start_token(KEY)  # second form shown a minute later
        clock.advance(2)  # and submitted two seconds after that

        ballot_service.submit_ballot(
            session,
            HASHING_KEY,
            BallotIn(
                code=code,
                evaluations=[
                    EvaluationIn(
                        target=first, answers={"courtesy": 5, "speed": 5}, started=first_token
                    ),
                    EvaluationIn(
                        target=second, answers={"courtesy": 5, "speed": 2}, started=second_token
                    ),
                ],
            ),
        )

        assert stored_flags(session, campaign) == {first: STRAIGHT_LINING, second: TOO_FAST}


# -- the JSON API ---------------------------------------------------------------------------


class TestStartTokenApi:
    def test_start_token_endpoint_gives_a_fresh_valid_token(
        self, client: TestClient, clock: Clock
    ) -> None:
        first = client.get("/api/v1/start-token")
        second = client.get("/api/v1/start-token")

        assert first.status_code == 200
        assert set(first.json()) == {"started"}
        assert first.json()["started"] != second.json()["started"]
        clock.advance(30)
        assert quality.seconds_since(first.json()["started"], KEY) == 30

    def test_start_token_is_never_cached_or_logged(
        self, client: TestClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)

        response = client.get("/api/v1/start-token")

        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
        server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
        assert not [r for r in server_side if "start-token" in r.getMessage()]

    def test_admission_returns_a_start_token(
        self, client: TestClient, session: Session, clock: Clock
    ) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)

        started = client.post("/api/v1/admission", json={"code": code}).json()["started"]

        assert quality.seconds_since(started, KEY) == 0

    def test_per_target_tokens_through_the_api_flag_only_the_fast_target(
        self, client: TestClient, session: Session, clock: Clock
    ) -> None:
        campaign = strict_campaign(session)  # 2 answered items need 10 s
        code = issue_code(session, campaign)
        first, second = (target.department.code for target in campaign.targets)

        first_token = client.post("/api/v1/admission", json={"code": code}).json()["started"]
        clock.advance(45)  # the first target's form answered in 45 seconds
        second_token = client.get("/api/v1/start-token").json()["started"]
        clock.advance(3)  # the second's in three
        response = client.post(
            "/api/v1/ballots",
            json={
                "code": code,
                "evaluations": [
                    {
                        "target": first,
                        "answers": {"courtesy": 4, "speed": 3},
                        "started": first_token,
                    },
                    {
                        "target": second,
                        "answers": {"courtesy": 4, "speed": 3},
                        "started": second_token,
                    },
                ],
            },
        )

        assert response.status_code == 201
        assert set(response.json()) == {"campaign", "accepted_evaluations", "message", "receipt"}
        assert stored_flags(session, campaign) == {first: 0, second: TOO_FAST}

    @pytest.mark.parametrize(
        "started",
        ["forged.token.value", "", "x" * 5000, 17, None, ["a"], {"a": 1}],
        ids=["forged", "empty", "overlong", "number", "null", "list", "object"],
    )
    def test_unusable_token_never_refuses_the_ballot(
        self, client: TestClient, session: Session, clock: Clock, started: Any
    ) -> None:
        campaign = strict_campaign(session)
        code = issue_code(session, campaign)
        target = campaign.targets[0].department.code

        response = client.post(
            "/api/v1/ballots",
            json={
                "code": code,
                "evaluations": [
                    {"target": target, "answers": {"courtesy": 4, "speed": 3}, "started": started}
                ],
            },
        )

        assert response.status_code == 201, response.text
        assert stored_flags(session, campaign) == {target: 0}

    def test_expired_token_never_refuses_the_ballot(
        self, client: TestClient, session: Session, clock: Clock
    ) -> None:
        campaign = strict_campaign(session)
        code = issue_code(session, campaign)
        target = campaign.targets[0].department.code
        token = client.get("/api/v1/start-token").json()["started"]
        clock.advance(24 * 3600 + 5)

        response = client.post(
            "/api/v1/ballots",
            json={
                "code": code,
                "evaluations": [
                    {"target": target, "answers": {"courtesy": 4, "speed": 3}, "started": token}
                ],
            },
        )

        assert response.status_code == 201
        assert stored_flags(session, campaign) == {target: 0}

    def test_openapi_documents_the_tokens(self, client: TestClient) -> None:
        schema = client.get("/openapi.json").json()

        assert "get" in schema["paths"]["/api/v1/start-token"]
        components = schema["components"]["schemas"]
        assert "started" in components["StartToken"]["required"]
        assert "started" in components["AdmissionOut"]["required"]
        assert "started" in components["EvaluationIn"]["properties"]
        assert "started" not in components["EvaluationIn"].get("required", [])


# -- the rating pages (no JavaScript) -------------------------------------------------------


def draft_of(html: str) -> RatingDraft:
    return RatingDraft.load(hidden_fields(html)["draft"])


class TestRatingPagesCarryATokenPerTarget:
    def test_each_target_page_gets_its_own_token_kept_across_steps(
        self, client: TestClient, session: Session, clock: Clock
    ) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        first, second = (target.department.code for target in campaign.targets)

        page = client.post("/r", data={"code": code}).text
        assert draft_of(page).started == {}  # the choosing page shows no target yet
        page = post_step(client, page, "next", target=[first, second]).text
        first_token = draft_of(page).started[first]
        clock.advance(20)
        page = post_step(client, page, "stay", **{"a.courtesy": "4"}).text  # language switch
        page = post_step(client, page, "next", **{"a.courtesy": "4"}).text  # a missing answer
        assert draft_of(page).started == {first: first_token}
        page = post_step(client, page, "next", **{"a.courtesy": "4", "a.speed": "3"}).text
        second_token = draft_of(page).started[second]
        assert second_token != first_token
        page = post_step(client, page, "back").text  # back to the first target
        page = post_step(client, page, "next", **{"a.courtesy": "4", "a.speed": "3"}).text
        page = post_step(client, page, "next", **{"a.courtesy": "2", "a.speed": "3"}).text
        page = post_step(client, page, "edit:0").text  # from the review page

        assert draft_of(page).started == {first: first_token, second: second_token}

    def test_skipped_target_loses_its_token(
        self, client: TestClient, session: Session, clock: Clock
    ) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        first, second = (target.department.code for target in campaign.targets)

        page = client.post("/r", data={"code": code}).text
        page = post_step(client, page, "next", target=[first, second]).text
        page = post_step(client, page, "skip").text

        assert set(draft_of(page).started) == {second}

    def test_two_targets_one_answered_fast_only_that_one_is_flagged(
        self, client: TestClient, session: Session, clock: Clock
    ) -> None:
        campaign = strict_campaign(session)  # 2 answered items need 10 s
        code = issue_code(session, campaign)
        first, second = (target.department.code for target in campaign.targets)

        page = client.post("/r", data={"code": code}).text
        page = post_step(client, page, "next", target=[first, second]).text  # first shown
        clock.advance(90)
        page = post_step(client, page, "next", **{"a.courtesy": "4", "a.speed": "3"}).text
        clock.advance(3)  # the second page answered in three seconds
        page = post_step(client, page, "next", **{"a.courtesy": "2", "a.speed": "3"}).text
        clock.advance(2)
        receipt = post_step(client, page, "submit")

        assert receipt.status_code == 201
        assert stored_flags(session, campaign) == {first: 0, second: TOO_FAST}

    def test_tampered_token_in_the_draft_is_accepted_without_a_flag(
        self, client: TestClient, session: Session, clock: Clock
    ) -> None:
        campaign = strict_campaign(session)
        target = campaign.targets[0].department.code
        code = issue_code(session, campaign, target=target)

        page = client.post("/r", data={"code": code}).text
        page = post_step(client, page, "next", **{"a.courtesy": "4", "a.speed": "3"}).text
        fields = hidden_fields(page)
        draft = RatingDraft.load(fields["draft"])
        draft.started[target] = "forged" + draft.started[target]
        fields["draft"] = draft.dump()
        receipt = client.post("/r/rate", data={**fields, "action": "submit"})

        assert receipt.status_code == 201
        assert stored_flags(session, campaign) == {target: 0}
