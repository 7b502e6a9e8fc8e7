"""POST /api/v1/ballots: every refusal answers with its status and changes nothing."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.admission.models import CodeStatus
from app.campaigns.models import Campaign, CampaignStatus
from tests.factories import (
    answers_for,
    ballot_count,
    code_status,
    evaluation_count,
    issue_code,
    make_campaign,
    tally,
)

URL = "/api/v1/ballots"


def ballot(
    campaign: Campaign, code: str, group: str = "citizens", **evaluation: Any
) -> dict[str, Any]:
    first_target = campaign.targets[0].department.code
    return {
        "code": code,
        "evaluations": [
            {"target": first_target, "answers": answers_for(campaign, group), **evaluation}
        ],
    }


class TestAcceptedBallot:
    def test_returns_201_with_receipt_and_uses_the_code(
        self, any_client: TestClient, any_session: Session
    ) -> None:
        campaign = make_campaign(any_session)
        code = issue_code(any_session, campaign)

        response = any_client.post(URL, json=ballot(campaign, code, comment="窗口服务很好"))

        assert response.status_code == 201
        assert response.json()["accepted_evaluations"] == 1
        assert response.json()["campaign"] == campaign.slug
        assert code_status(any_session, code) == CodeStatus.USED
        assert ballot_count(any_session, campaign) == 1

    def test_one_sealed_ballot_holding_one_evaluation_per_target_rated(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        evaluations = [
            {"target": target.department.code, "answers": answers_for(campaign)}
            for target in campaign.targets
        ]

        response = client.post(URL, json={"code": code, "evaluations": evaluations})

        assert response.status_code == 201
        assert response.json()["accepted_evaluations"] == len(campaign.targets)
        assert ballot_count(session, campaign) == 1
        tally(session, campaign)
        assert evaluation_count(session, campaign) == len(campaign.targets)

    def test_code_typed_loosely_is_accepted(self, client: TestClient, session: Session) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        loosely = " " + code.replace("-", " ").lower() + " "

        response = client.post(URL, json=ballot(campaign, loosely))

        assert response.status_code == 201

    def test_not_applicable_answers_are_accepted(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        body = ballot(campaign, code)
        body["evaluations"][0]["answers"] = answers_for(campaign, level=None)

        assert client.post(URL, json=body).status_code == 201

    def test_second_submission_with_same_code_is_rejected(
        self, any_client: TestClient, any_session: Session
    ) -> None:
        campaign = make_campaign(any_session)
        code = issue_code(any_session, campaign)
        assert any_client.post(URL, json=ballot(campaign, code)).status_code == 201

        second = any_client.post(URL, json=ballot(campaign, code))

        assert second.status_code == 409
        assert second.json()["error"]["code"] == "code_used"
        assert ballot_count(any_session, campaign) == 1


Mutation = Callable[[dict[str, Any], Campaign], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(body: dict[str, Any], _campaign: Campaign) -> None:
        target: Any = body
        parts = path.split(".")
        for part in parts[:-1]:
            target = target[int(part)] if part.isdigit() else target[part]
        target[parts[-1]] = value

    return mutate


def _drop_answer(item: str) -> Mutation:
    def mutate(body: dict[str, Any], _campaign: Campaign) -> None:
        del body["evaluations"][0]["answers"][item]

    return mutate


def _duplicate_evaluation(body: dict[str, Any], _campaign: Campaign) -> None:
    body["evaluations"].append(dict(body["evaluations"][0]))


class TestRefusedBallotChangesNothing:
    """Each invalid body is refused with 422 naming the field; the code stays unused."""

    @pytest.mark.parametrize(
        ("mutation", "field"),
        [
            (_set("evaluations.0.target", "NO-SUCH-DEPT"), "evaluations[0].target"),
            (_set("evaluations.0.answers.no_such_item", 3), "evaluations[0].answers.no_such_item"),
            (_set("evaluations.0.answers.courtesy", 6), "evaluations[0].answers.courtesy"),
            (_set("evaluations.0.answers.courtesy", 0), "evaluations[0].answers.courtesy"),
            (_set("evaluations.0.answers.courtesy", "5"), "evaluations[0].answers.courtesy"),
            (_set("evaluations.0.answers.courtesy", True), "evaluations[0].answers.courtesy"),
            (_set("evaluations.0.answers.courtesy", 4.5), "evaluations[0].answers.courtesy"),
            (_set("evaluations.0.answers.guidance", 3), "evaluations[0].answers.guidance"),
            (_drop_answer("speed"), "evaluations[0].answers.speed"),
            (_set("evaluations", []), "evaluations"),
            (_set("evaluations.0.comment", "x" * 201), "evaluations[0].comment"),
            (_set("evaluations.0.comment", "bad\x00byte"), "evaluations[0].comment"),
            (_set("evaluations.0.comment", "\u202eevil"), "evaluations[0].comment"),
            (_set("evaluations.0.unexpected", 1), "evaluations[0].unexpected"),
            (_set("evaluations.0.target", 17), "evaluations[0].target"),
            (_duplicate_evaluation, "evaluations[1].target"),
        ],
        ids=[
            "unknown-target",
            "unknown-item",
            "level-above-scale",
            "level-zero",
            "level-as-string",
            "level-as-boolean",
            "level-as-float",
            "item-not-for-this-group",
            "missing-answer",
            "no-evaluations",
            "comment-too-long",
            "comment-with-nul",
            "comment-with-bidi-override",
            "unexpected-field",
            "target-wrong-type",
            "target-rated-twice",
        ],
    )
    def test_invalid_body_is_422_naming_the_field(
        self, client: TestClient, session: Session, mutation: Mutation, field: str
    ) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        body = ballot(campaign, code)
        mutation(body, campaign)

        response = client.post(URL, json=body)

        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == field
        assert response.json()["error"]["message"]
        assert code_status(session, code) == CodeStatus.UNUSED
        assert ballot_count(session, campaign) == 0
        assert evaluation_count(session, campaign) == 0

    def test_unknown_code_is_403(self, client: TestClient, session: Session) -> None:
        campaign = make_campaign(session)
        issued = issue_code(session, campaign)

        response = client.post(URL, json=ballot(campaign, _unknown_but_well_formed(issued)))

        assert response.status_code == 403
        assert response.json()["error"]["code"] == "code_unknown"
        assert code_status(session, issued) == CodeStatus.UNUSED
        assert ballot_count(session) == 0
        assert evaluation_count(session) == 0

    def test_mistyped_code_is_422_and_never_looked_up(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        typo = _swap_one_symbol(code)

        response = client.post(URL, json=ballot(campaign, typo))

        assert response.status_code == 422
        assert response.json()["error"] == {
            "code": "code_mistyped",
            "field": "code",
            "message": response.json()["error"]["message"],
        }
        assert code_status(session, code) == CodeStatus.UNUSED

    def test_revoked_code_is_403(self, client: TestClient, session: Session) -> None:
        from app.admission import service as admission_service
        from app.admission.models import CodeBatch

        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        batch = session.query(CodeBatch).filter_by(campaign_id=campaign.id).one()
        admission_service.revoke_batch(session, campaign, batch.id)

        response = client.post(URL, json=ballot(campaign, code))

        assert response.status_code == 403
        assert response.json()["error"]["code"] == "code_revoked"
        assert code_status(session, code) == CodeStatus.REVOKED
        assert evaluation_count(session, campaign) == 0

    @pytest.mark.parametrize(
        "status",
        [
            CampaignStatus.DRAFT,
            CampaignStatus.CLOSED,
            CampaignStatus.TALLIED,
            CampaignStatus.PUBLISHED,
        ],
    )
    def test_campaign_not_open_is_409(
        self, client: TestClient, session: Session, status: CampaignStatus
    ) -> None:
        campaign = make_campaign(session, status=CampaignStatus.OPEN)
        code = issue_code(session, campaign)
        campaign.status = status
        session.flush()

        response = client.post(URL, json=ballot(campaign, code))

        assert response.status_code == 409
        assert response.json()["error"]["code"] == "campaign_not_open"
        assert code_status(session, code) == CodeStatus.UNUSED
        assert ballot_count(session, campaign) == 0
        assert evaluation_count(session, campaign) == 0

    def test_body_over_64_kib_is_413(self, client: TestClient, session: Session) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        body = ballot(campaign, code, comment="好" * 30_000)

        response = client.post(URL, json=body)

        assert response.status_code == 413
        assert response.json()["error"]["code"] == "too_large"
        assert code_status(session, code) == CodeStatus.UNUSED
        assert ballot_count(session, campaign) == 0
        assert evaluation_count(session, campaign) == 0

    def test_streamed_body_over_64_kib_without_length_is_413(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        payload = json.dumps(ballot(campaign, code, comment="x" * 70_000)).encode()

        def chunks() -> Any:
            for start in range(0, len(payload), 8192):
                yield payload[start : start + 8192]

        response = client.post(URL, content=chunks(), headers={"content-type": "application/json"})

        assert response.status_code == 413
        assert code_status(session, code) == CodeStatus.UNUSED
        assert ballot_count(session, campaign) == 0

    def test_malformed_json_is_422(self, client: TestClient, session: Session) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)

        response = client.post(
            URL,
            content=b'{"code": "' + code.encode() + b'", ',
            headers={"content-type": "application/json"},
        )

        assert response.status_code == 422
        assert response.json()["error"]["field"] == "body"
        assert code_status(session, code) == CodeStatus.UNUSED
        assert ballot_count(session, campaign) == 0


class TestErrorsSpeakTheRatersLanguage:
    def test_chinese_by_default(self, client: TestClient, session: Session) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        client.post(URL, json=ballot(campaign, code))

        response = client.post(URL, json=ballot(campaign, code))

        assert response.json()["error"]["message"] == "该评议码已经使用过。每个评议码只能使用一次。"

    def test_english_when_the_browser_prefers_it(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        client.post(URL, json=ballot(campaign, code))

        response = client.post(
            URL, json=ballot(campaign, code), headers={"accept-language": "en-GB,en;q=0.9,zh;q=0.5"}
        )

        assert response.json()["error"]["message"].startswith("This code has already been used")


class TestAcknowledgementFollowsCommit:
    def test_failed_commit_answers_500_not_201(
        self, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from tests.conftest import make_client

        campaign = make_campaign(session)
        code = issue_code(session, campaign)

        def failing_commit() -> None:
            raise RuntimeError("disk full")

        monkeypatch.setattr(session, "commit", failing_commit)
        # The deliberate 500 is what this test checks, so its client lets it through.
        with TestClient(make_client(session).app, raise_server_exceptions=False) as client:
            response = client.post(URL, json=ballot(campaign, code))

        assert response.status_code == 500
        assert code_status(session, code) == CodeStatus.UNUSED
        assert ballot_count(session, campaign) == 0
        assert evaluation_count(session, campaign) == 0


def _swap_one_symbol(code: str) -> str:
    position = 2
    replacement = "7" if code[position] != "7" else "8"
    return code[:position] + replacement + code[position + 1 :]


def _unknown_but_well_formed(code: str) -> str:
    """A code with a valid check symbol that was never issued."""
    from app.admission import codes

    symbols = codes.normalize(code)[:-1]
    changed = ("0" if symbols[0] != "0" else "1") + symbols[1:]
    return codes.group(changed + codes.check_symbol(changed))
