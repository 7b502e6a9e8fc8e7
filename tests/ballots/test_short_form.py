"""A short form per rater group: the group sees only its listed items, on the rating pages and
in the ballot the API accepts; the other items are stored as not shown."""

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.ballots import answers as answer_codec
from app.campaigns import service as campaign_service
from app.campaigns.schemas import CampaignSpec, RaterGroupSpec
from app.errors import InvalidInput
from tests.ballots.test_pages import answer_all, post_step
from tests.factories import (
    ballot_count,
    issue_code,
    make_campaign,
    make_department,
    small_questionnaire,
)

SHORT = {"cadres": ["courtesy", "guidance"]}


class TestDeclaringAShortForm:
    def test_the_group_sees_only_its_short_items_and_others_see_all(self) -> None:
        questionnaire = small_questionnaire(short_form=SHORT)

        assert [item.id for item in questionnaire.items_for("cadres")] == ["courtesy", "guidance"]
        assert [item.id for item in questionnaire.items_for("citizens")] == ["courtesy", "speed"]

    @pytest.mark.parametrize(
        ("short_form", "problem"),
        [
            ({"cadres": ["nope"]}, "item 'nope' is not declared"),
            ({"citizens": ["guidance"]}, "item 'guidance' is not for that group"),
            ({"deputies": ["courtesy"]}, "rater group 'deputies' is not declared"),
            ({"cadres": []}, "it lists no item"),
            ({"cadres": ["speed", "speed"]}, "item 'speed' is declared twice"),
        ],
    )
    def test_a_bad_short_form_is_refused_naming_the_problem(
        self, short_form: dict[str, list[str]], problem: str
    ) -> None:
        with pytest.raises(ValidationError) as error:
            small_questionnaire(short_form=short_form)

        assert problem in str(error.value)

    def test_a_campaign_spec_freezes_its_short_form_with_the_questionnaire(
        self, session: Session
    ) -> None:
        department = make_department(session)
        spec = CampaignSpec(
            slug="short-spec",
            title={"zh": "简表评议", "en": "Short form"},
            questionnaire="small",
            rater_groups=[
                RaterGroupSpec(key="citizens", weight=1),
                RaterGroupSpec(key="cadres", weight=1),
            ],
            targets=[department.code],
            short_form=SHORT,
        )

        campaign = campaign_service.create_campaign(
            session, spec, small_questionnaire(), default_threshold=5
        )

        frozen = campaign_service.questionnaire_of(campaign)
        assert frozen.short_form == SHORT
        assert [item.id for item in frozen.items_for("cadres")] == ["courtesy", "guidance"]

    def test_a_spec_naming_a_group_the_campaign_lacks_is_refused(self, session: Session) -> None:
        department = make_department(session)
        spec = CampaignSpec(
            slug="short-bad",
            title={"zh": "简表评议", "en": "Short form"},
            questionnaire="small",
            rater_groups=[RaterGroupSpec(key="citizens", weight=1)],
            targets=[department.code],
            short_form=SHORT,
        )

        with pytest.raises(InvalidInput) as error:
            campaign_service.create_campaign(
                session, spec, small_questionnaire(), default_threshold=5
            )

        assert error.value.field == "short_form"

    def test_items_left_out_are_stored_as_not_shown(self) -> None:
        questionnaire = small_questionnaire(short_form=SHORT)

        encoded = answer_codec.encode(questionnaire, "cadres", {"courtesy": 5, "guidance": None})

        assert encoded == "5" + answer_codec.NOT_SHOWN + answer_codec.NOT_APPLICABLE


class TestRatingWithAShortForm:
    def test_the_pages_show_only_the_short_items(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session, questionnaire=small_questionnaire(short_form=SHORT))
        code = issue_code(session, campaign, group="cadres")
        target = campaign.targets[0].department.code

        page = client.post("/r", data={"code": code})
        page = post_step(client, page.text, "next", target=[target])

        assert 'name="a.courtesy"' in page.text
        assert 'name="a.guidance"' in page.text
        assert 'name="a.speed"' not in page.text
        assert "已回答 0/2 题" in page.text
        page = post_step(client, page.text, "next", **answer_all(["courtesy", "guidance"], "3"))
        receipt = post_step(client, page.text, "submit")
        assert receipt.status_code == 201
        assert ballot_count(session, campaign) == 1

    def test_the_api_refuses_an_answer_to_an_item_left_out(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session, questionnaire=small_questionnaire(short_form=SHORT))
        code = issue_code(session, campaign, group="cadres")
        target = campaign.targets[0].department.code

        refused = client.post(
            "/api/v1/ballots",
            json={
                "code": code,
                "evaluations": [
                    {"target": target, "answers": {"courtesy": 4, "guidance": 3, "speed": 4}}
                ],
            },
        )
        accepted = client.post(
            "/api/v1/ballots",
            json={
                "code": code,
                "evaluations": [{"target": target, "answers": {"courtesy": 4, "guidance": 3}}],
            },
        )

        assert refused.status_code == 422
        assert refused.json()["error"]["field"] == "evaluations[0].answers.speed"
        assert accepted.status_code == 201
