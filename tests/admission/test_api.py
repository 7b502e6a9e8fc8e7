"""POST /api/v1/admission: what a code admits to, without using it."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.admission.models import CodeStatus
from app.campaigns.models import CampaignStatus
from tests.factories import code_status, evaluation_count, issue_code, make_campaign

URL = "/api/v1/admission"


class TestAdmission:
    def test_lists_campaign_group_targets_and_items_without_using_the_code(
        self, any_client: TestClient, any_session: Session
    ) -> None:
        campaign = make_campaign(any_session)
        code = issue_code(any_session, campaign, group="cadres")

        response = any_client.post(URL, json={"code": code})

        assert response.status_code == 200
        body = response.json()
        assert body["campaign"] == {"slug": campaign.slug, "title": "测试评议"}
        assert body["rater_group"] == {"key": "cadres", "name": "基层干部"}
        assert [t["code"] for t in body["targets"]] == [t.department.code for t in campaign.targets]
        items = {item["id"]: item for item in body["questionnaire"]["items"]}
        assert list(items) == ["courtesy", "speed", "guidance"]
        assert [level["value"] for level in items["courtesy"]["levels"]] == [5, 4, 3, 2, 1]
        assert [level["label"] for level in items["guidance"]["levels"]] == [
            "满意",
            "基本满意",
            "不满意",
        ]
        assert items["guidance"]["dimension"] == "efficiency"
        assert items["guidance"]["not_applicable_label"] == "不了解"
        assert body["questionnaire"]["comment"]["max_length"] == 200
        assert code_status(any_session, code) == CodeStatus.UNUSED

    def test_texts_follow_accept_language(self, client: TestClient, session: Session) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)

        body = client.post(URL, json={"code": code}, headers={"accept-language": "en"}).json()

        assert body["campaign"]["title"] == "Test evaluation"
        assert body["questionnaire"]["items"][0]["text"] == "Courteous"
        assert body["questionnaire"]["items"][0]["levels"][0]["label"] == "Very satisfied"


class TestAdmissionRefusals:
    def test_unknown_code_is_403(self, client: TestClient, session: Session) -> None:
        from app.admission import codes

        payload = "Q" * codes.RANDOM_SYMBOLS
        response = client.post(URL, json={"code": payload + codes.check_symbol(payload)})

        assert response.status_code == 403
        assert response.json()["error"]["code"] == "code_unknown"

    def test_mistyped_code_is_422_naming_the_code(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        typo = code[:-1] + ("0" if code[-1] != "0" else "1")

        response = client.post(URL, json={"code": typo})

        assert response.status_code == 422
        assert response.json()["error"]["field"] == "code"
        assert "核对" in response.json()["error"]["message"]

    def test_used_code_is_409(self, client: TestClient, session: Session) -> None:
        from app.admission import service as admission_service
        from tests.factories import HASHING_KEY

        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        admission_service.use_code(session, HASHING_KEY, code)

        response = client.post(URL, json={"code": code})

        assert response.status_code == 409
        assert response.json()["error"]["code"] == "code_used"

    def test_campaign_not_open_is_409(self, client: TestClient, session: Session) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        campaign.status = CampaignStatus.CLOSED

        response = client.post(URL, json={"code": code})

        assert response.status_code == 409
        assert response.json()["error"]["code"] == "campaign_not_open"
        assert code_status(session, code) == CodeStatus.UNUSED

    @pytest.mark.parametrize(
        "body", [{}, {"code": 12345}, {"code": "x" * 65}, {"code": "A", "extra": 1}, []]
    )
    def test_invalid_body_is_422(self, client: TestClient, session: Session, body: object) -> None:
        response = client.post(URL, json=body)

        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid"
        assert evaluation_count(session) == 0
