"""The rating pages without JavaScript: every step is a plain form post."""

import datetime as dt
import re
from html import unescape
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.admission.models import CodeStatus
from app.campaigns.models import Campaign, CampaignStatus
from app.departments.models import Department
from tests.factories import (
    ballot_count,
    code_status,
    evaluation_count,
    issue_code,
    make_campaign,
    make_department,
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
        assert "评议活动“测试评议”已经结束，不再接受评价。" in response.text
        assert "不在评议时间内" not in response.text  # would suggest it may reopen
        assert "/results/" not in response.text  # nothing published yet

    def test_published_campaign_links_its_results(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        campaign.status = CampaignStatus.PUBLISHED

        response = client.post("/r", data={"code": code})

        assert response.status_code == 409
        assert "已经结束" in response.text
        assert f'<a href="/results/{campaign.slug}?lang=zh_CN">查看公布的评议结果</a>' in (
            response.text
        )

    def test_campaign_not_yet_open_says_when_it_starts(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        campaign.status = CampaignStatus.DRAFT
        campaign.starts_on = dt.date.today() + dt.timedelta(days=3)

        response = client.post("/r", data={"code": code})

        assert response.status_code == 409
        assert f"尚未开始，将于 {campaign.starts_on.isoformat()} 开始" in response.text
        assert "已经结束" not in response.text


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
        # The banner names the question and links to it (rate.js also moves the focus there).
        assert '第 <a href="#q-speed">2</a> 题还没有作答' in response.text
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


def rate_two(client: TestClient, session: Session) -> tuple[Campaign, str, list[Department], str]:
    """A campaign of three departments; the page after choosing the first two."""
    departments = [make_department(session, name=name) for name in ("甲局", "乙局", "丙局")]
    campaign = make_campaign(session, departments=departments)
    code = issue_code(session, campaign)
    page = client.post("/r", data={"code": code}).text
    page = post_step(client, page, "next", target=[d.code for d in departments[:2]]).text
    return campaign, code, departments, page


class TestMissingAnswers:
    def test_every_unanswered_question_is_named_in_order(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign, target=campaign.targets[0].department.code)

        page = client.post("/r", data={"code": code}).text
        response = post_step(client, page, "next")

        assert response.status_code == 422
        assert '第 <a href="#q-courtesy">1</a>、<a href="#q-speed">2</a> 题还没有作答' in (
            response.text
        )
        assert "还有题目没有作答" not in response.text  # the vague banner is gone

    def test_missing_answers_at_submission_are_named_too(
        self, client: TestClient, session: Session
    ) -> None:
        campaign, _code, _departments, page = rate_two(client, session)
        page = post_step(client, page, "next", **answer_all(["courtesy", "speed"], "4")).text
        page = post_step(client, page, "next", **answer_all(["courtesy", "speed"], "4")).text
        draft = hidden_fields(page)["draft"].replace('"speed":4', '"x":4', 1)

        response = client.post(
            "/r/rate", data={**hidden_fields(page), "draft": draft, "action": "submit"}
        )

        assert response.status_code == 422
        assert '第 <a href="#q-speed">2</a> 题还没有作答' in response.text
        assert ballot_count(session, campaign) == 0


class TestEditingFromTheReview:
    def test_changing_one_department_returns_straight_to_the_review(
        self, client: TestClient, session: Session
    ) -> None:
        campaign, _code, _departments, page = rate_two(client, session)
        page = post_step(client, page, "next", **answer_all(["courtesy", "speed"], "5")).text
        page = post_step(client, page, "next", **answer_all(["courtesy", "speed"], "4")).text
        assert "核对并提交" in page

        page = post_step(client, page, "edit:0").text
        assert "保存并返回核对页" in page
        assert 'name="return_to" value="review"' in page
        page = post_step(client, page, "next", **answer_all(["courtesy", "speed"], "1")).text

        assert "<h1>核对并提交</h1>" in page  # not the second department again
        assert "非常不满意" in page
        receipt = post_step(client, page, "submit")
        assert receipt.status_code == 201
        tally(session, campaign)
        assert evaluation_count(session, campaign) == 2

    def test_a_missing_answer_while_changing_keeps_the_way_back_to_the_review(
        self, client: TestClient, session: Session
    ) -> None:
        _campaign, _code, _departments, page = rate_two(client, session)
        page = post_step(client, page, "next", **answer_all(["courtesy", "speed"], "5")).text
        page = post_step(client, page, "next", **answer_all(["courtesy", "speed"], "4")).text
        page = post_step(client, page, "edit:0").text

        page = post_step(client, page, "next", **{"a.courtesy": "3"}).text
        assert 'name="return_to" value="review"' in page
        page = post_step(client, page, "next", **answer_all(["courtesy", "speed"], "3")).text

        assert "<h1>核对并提交</h1>" in page

    def test_back_while_changing_returns_to_the_review(
        self, client: TestClient, session: Session
    ) -> None:
        _campaign, _code, _departments, page = rate_two(client, session)
        page = post_step(client, page, "next", **answer_all(["courtesy", "speed"], "5")).text
        page = post_step(client, page, "next", **answer_all(["courtesy", "speed"], "4")).text
        page = post_step(client, page, "edit:1").text

        page = post_step(client, page, "back", **answer_all(["courtesy", "speed"], "4")).text

        assert "<h1>核对并提交</h1>" in page


class TestTheReview:
    def test_lists_the_departments_not_rated_and_says_the_code_is_used(
        self, client: TestClient, session: Session
    ) -> None:
        _campaign, _code, _departments, page = rate_two(client, session)
        page = post_step(client, page, "next", **answer_all(["courtesy", "speed"], "5")).text
        page = post_step(client, page, "next", **answer_all(["courtesy", "speed"], "4")).text

        unrated = page.split('id="review-unrated"', 1)[1].split("</section>", 1)[0]
        assert "<li>丙局</li>" in unrated
        assert "甲局" not in unrated
        assert "提交后不能再修改，评议码也将失效。" in page

    def test_a_skipped_department_is_listed_as_not_rated(
        self, client: TestClient, session: Session
    ) -> None:
        _campaign, _code, _departments, page = rate_two(client, session)
        page = post_step(client, page, "skip").text
        page = post_step(client, page, "next", **answer_all(["courtesy", "speed"], "4")).text

        unrated = page.split('id="review-unrated"', 1)[1].split("</section>", 1)[0]
        assert "<li>甲局</li>" in unrated
        assert "<li>丙局</li>" in unrated


class TestAllDontKnow:
    def test_a_department_answered_dont_know_throughout_is_listed_and_not_submitted(
        self, client: TestClient, session: Session
    ) -> None:
        campaign, _code, _departments, page = rate_two(client, session)
        page = post_step(client, page, "next", **answer_all(["courtesy", "speed"], "na")).text
        page = post_step(client, page, "next", **answer_all(["courtesy", "speed"], "4")).text

        assert "不了解，不计入" in page
        assert page.count("不了解，不计入") == 1
        receipt = post_step(client, page, "submit")

        assert receipt.status_code == 201
        assert "您在“测试评议”中评价了 1 个单位。" in receipt.text
        tally(session, campaign)
        assert evaluation_count(session, campaign) == 1

    def test_nothing_but_dont_know_submits_nothing_and_uses_nothing(
        self, client: TestClient, session: Session
    ) -> None:
        campaign, code, _departments, page = rate_two(client, session)
        page = post_step(client, page, "next", **answer_all(["courtesy", "speed"], "na")).text
        page = post_step(client, page, "next", **answer_all(["courtesy", "speed"], "na")).text

        assert 'id="nothing-counted"' in page
        assert 'value="submit"' not in page
        response = post_step(client, page, "submit")  # a stale or crafted post

        assert response.status_code == 200
        assert 'id="nothing-counted"' in response.text
        assert ballot_count(session, campaign) == 0
        assert code_status(session, code) == CodeStatus.UNUSED


class TestChoosing:
    def test_categories_follow_the_campaigns_order(
        self, client: TestClient, session: Session
    ) -> None:
        departments = [
            make_department(session, name="窗口甲", category="窗口类"),
            make_department(session, name="执法甲", category="执法类"),
            make_department(session, name="窗口乙", category="窗口类"),
        ]
        campaign = make_campaign(session, departments=departments)
        code = issue_code(session, campaign)

        page = client.post("/r", data={"code": code}).text

        headings = re.findall(r'<h2 class="category">([^<]+)</h2>', page)
        assert headings == ["窗口类", "执法类"]  # as first seen in the campaign's targets
        assert page.index("窗口乙") < page.index("执法甲")
