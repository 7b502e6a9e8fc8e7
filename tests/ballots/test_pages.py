"""The rating pages without JavaScript: every step is a plain form post."""

import re
from html import unescape
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.admission.models import CodeStatus
from app.campaigns.models import CampaignStatus
from tests.factories import (
    ballot_count,
    code_status,
    evaluation_count,
    issue_code,
    make_campaign,
    tally,
)


def hidden_fields(html: str) -> dict[str, str]:
    fields = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html)
    return {name: unescape(value) for name, value in fields}


def post_step(client: TestClient, html: str, action: str, **fields: Any) -> Any:
    return client.post("/r/rate", data={**hidden_fields(html), "action": action, **fields})


def answer_all(items: list[str], value: str) -> dict[str, str]:
    return {f"a.{item}": value for item in items}


class TestEnteringACode:
    def test_code_page_is_chinese_by_default_with_an_english_switch(
        self, client: TestClient
    ) -> None:
        response = client.get("/r")

        assert response.status_code == 200
        assert '<html lang="zh-CN">' in response.text
        assert "请输入评议码" in response.text
        assert 'href="/r?lang=en"' in response.text

    def test_english_page_on_request(self, client: TestClient) -> None:
        response = client.get("/r?lang=en")

        assert "Enter your evaluation code" in response.text

    def test_valid_code_leads_to_choosing_departments(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)

        response = client.post("/r", data={"code": code})

        assert response.status_code == 200
        assert "您和哪些单位打过交道？" in response.text
        for target in campaign.targets:
            assert target.department.name in response.text
        assert code_status(session, code) == CodeStatus.UNUSED

    def test_mistyped_code_is_explained_in_plain_words(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        typo = code[:-1] + ("0" if code[-1] != "0" else "1")

        response = client.post("/r", data={"code": typo})

        assert response.status_code == 422
        assert "评议码有误" in response.text
        assert 'aria-invalid="true"' in response.text

    def test_closed_campaign_is_explained(self, client: TestClient, session: Session) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        campaign.status = CampaignStatus.CLOSED

        response = client.post("/r", data={"code": code})

        assert response.status_code == 409
        assert "不在评议时间内" in response.text


class TestRatingWithoutJavaScript:
    def test_choose_rate_review_submit(self, client: TestClient, session: Session) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        first, second = (t.department for t in campaign.targets)

        page = client.post("/r", data={"code": code}).text
        page = post_step(client, page, "next", target=[first.code, second.code]).text
        assert first.name in page
        assert "第 1 个单位，共 2 个" in page

        page = post_step(
            client, page, "next", **answer_all(["courtesy", "speed"], "5"), comment="办事很快"
        ).text
        assert second.name in page
        page = post_step(client, page, "next", **{"a.courtesy": "2", "a.speed": "na"}).text
        assert "核对并提交" in page
        for shown in ("办事很快", "不了解", "不满意"):
            assert shown in page

        receipt = post_step(client, page, "submit")

        assert receipt.status_code == 201
        assert "提交成功" in receipt.text
        assert code_status(session, code) == CodeStatus.USED
        assert ballot_count(session, campaign) == 1
        tally(session, campaign)
        assert evaluation_count(session, campaign) == 2

    def test_unanswered_question_is_marked_and_answers_kept(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign, target=campaign.targets[0].department.code)

        page = client.post("/r", data={"code": code}).text
        response = post_step(client, page, "next", **{"a.courtesy": "4"})

        assert response.status_code == 422
        assert "还有题目没有作答" in response.text
        assert 'class="question missing" id="q-speed"' in response.text
        assert 'name="a.courtesy" value="4" checked' in response.text
        assert ballot_count(session, campaign) == 0

    def test_skipping_a_department_leaves_it_unrated(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        first, second = (t.department for t in campaign.targets)

        page = client.post("/r", data={"code": code}).text
        page = post_step(client, page, "next", target=[first.code, second.code]).text
        page = post_step(client, page, "skip").text
        assert second.name in page
        page = post_step(client, page, "next", **answer_all(["courtesy", "speed"], "3")).text
        receipt = post_step(client, page, "submit")

        assert receipt.status_code == 201
        assert ballot_count(session, campaign) == 1
        tally(session, campaign)
        assert evaluation_count(session, campaign) == 1

    def test_choosing_nothing_asks_again(self, client: TestClient, session: Session) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)

        page = client.post("/r", data={"code": code}).text
        response = post_step(client, page, "next")

        assert "请至少选择一个您了解的单位" in response.text

    def test_review_can_go_back_to_change_answers(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign, target=campaign.targets[0].department.code)

        page = client.post("/r", data={"code": code}).text
        page = post_step(client, page, "next", **answer_all(["courtesy", "speed"], "5")).text
        page = post_step(client, page, "edit:0").text
        assert 'name="a.speed" value="5" checked' in page
        page = post_step(client, page, "next", **answer_all(["courtesy", "speed"], "1")).text
        post_step(client, page, "submit")
        assert ballot_count(session, campaign) == 1
        tally(session, campaign)

        from app.ballots.models import Evaluation

        stored = session.query(Evaluation).filter_by(campaign_id=campaign.id).one()
        assert stored.answers == "11-"

    def test_language_switch_keeps_the_step_and_answers(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign, target=campaign.targets[0].department.code)

        page = client.post("/r", data={"code": code}).text
        response = client.post(
            "/r/rate?lang=en",
            data={**hidden_fields(page), "action": "stay", "a.courtesy": "2"},
        )

        assert "Department 1 of 1" in response.text
        assert 'name="a.courtesy" value="2" checked' in response.text
        assert "/r/rate?lang=en" in response.text

    def test_code_used_meanwhile_is_explained_at_submission(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign, target=campaign.targets[0].department.code)
        page = client.post("/r", data={"code": code}).text
        page = post_step(client, page, "next", **answer_all(["courtesy", "speed"], "4")).text
        post_step(client, page, "submit")

        again = post_step(client, page, "submit")

        assert again.status_code == 409
        assert "已经使用过" in again.text
        assert ballot_count(session, campaign) == 1

    def test_tampered_draft_cannot_rate_outside_the_codes_scope(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        scoped, other = (t.department for t in campaign.targets)
        code = issue_code(session, campaign, target=scoped.code)
        page = client.post("/r", data={"code": code}).text
        page = post_step(client, page, "next", **answer_all(["courtesy", "speed"], "4")).text
        fields = hidden_fields(page)
        fields["draft"] = fields["draft"].replace(scoped.code, other.code)

        response = client.post("/r/rate", data={**fields, "action": "submit"})

        assert ballot_count(session, campaign) == 0
        assert response.status_code != 201


class TestPrivacyHeaders:
    def test_rating_pages_are_not_cached_and_send_no_referrer(self, client: TestClient) -> None:
        response = client.get("/r")

        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]

    def test_page_loads_nothing_from_other_sites(self, client: TestClient) -> None:
        html = client.get("/r").text

        assert not re.search(r'(src|href)="(https?:)?//', html)
