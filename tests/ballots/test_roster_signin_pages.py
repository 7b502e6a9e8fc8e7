"""Roster sign-in on the rating pages without JavaScript: number and one-time password, then
the same steps as a code, the member marked served once, in the ballot's transaction."""

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.campaigns.models import Campaign, CampaignStatus
from app.credentials import keys as credential_keys
from app.credentials import roster
from app.credentials.models import RosterMember
from tests.ballots.test_pages import answer_all, hidden_fields, post_step
from tests.credentials.credential_helpers import (
    SERVER_SECRET,
    key_pool,  # noqa: F401 - an autouse fixture
)
from tests.factories import ballot_count, make_campaign

PHONE = "13800138000"


@pytest.fixture(autouse=True)
def _fresh_login_failures() -> Iterator[None]:
    roster.login_failures.clear()
    yield
    roster.login_failures.clear()


@pytest.fixture
def member(session: Session) -> tuple[Campaign, roster.RosterEntry]:
    campaign = make_campaign(session)
    credential_keys.open_campaign_keys(session, campaign, SERVER_SECRET)
    (entry,) = roster.import_roster(
        session, campaign, "cadres", [roster.RosterLine(1, PHONE)], SERVER_SECRET
    )
    return campaign, entry


def served(session: Session) -> bool:
    stored = session.scalars(select(RosterMember)).one()
    session.refresh(stored)
    return stored.credential_issued


def sign_in(
    client: TestClient, campaign: Campaign, identifier: str, password: str
) -> httpx.Response:
    response: httpx.Response = client.post(
        f"/r/roster/{campaign.slug}", data={"identifier": identifier, "password": password}
    )
    return response


class TestTheSignInPage:
    def test_it_asks_for_number_and_one_time_password_in_chinese(
        self, client: TestClient, member: tuple[Campaign, roster.RosterEntry]
    ) -> None:
        campaign, _ = member

        response = client.get(f"/r/roster/{campaign.slug}")

        assert response.status_code == 200
        assert 'name="identifier"' in response.text
        assert 'name="password"' in response.text
        assert 'autocomplete="one-time-code"' in response.text
        assert "名单" in response.text
        assert "一次性密码" in response.text
        assert "测试评议" in response.text

    def test_with_one_roster_campaign_open_the_general_page_shows_its_form(
        self, client: TestClient, member: tuple[Campaign, roster.RosterEntry]
    ) -> None:
        campaign, _ = member

        response = client.get("/r/roster")

        assert f'action="/r/roster/{campaign.slug}?lang=zh_CN"' in response.text

    def test_an_unknown_campaign_is_404_in_words(self, client: TestClient) -> None:
        response = client.get("/r/roster/no-such-campaign")

        assert response.status_code == 404
        assert 'name="password"' not in response.text


class TestSigningInWithoutJavaScript:
    def test_a_cadre_signs_in_rates_and_gets_a_receipt(
        self, client: TestClient, session: Session, member: tuple[Campaign, roster.RosterEntry]
    ) -> None:
        campaign, entry = member
        items = ["courtesy", "speed", "guidance"]

        # Forgiving: full-width digits and spaces in the number, lower case and no dash.
        typed = " １３８ ００１３ ８０００ "
        page = sign_in(client, campaign, typed, entry.password.replace("-", "").lower())

        assert page.status_code == 200
        assert "您和哪些单位打过交道？" in page.text
        assert "名单资格" in page.text  # the notice saying what this path guarantees
        assert "基层干部" in page.text
        assert PHONE not in page.text
        assert entry.password not in page.text
        assert not served(session)
        codes = [target.department.code for target in campaign.targets]
        page = post_step(client, page.text, "next", target=codes)
        assert "第 1/2 个单位" in page.text
        assert "已回答 0/3 题" in page.text
        page = post_step(client, page.text, "next", **answer_all(items, "3"))
        assert "第 2/2 个单位" in page.text
        page = post_step(client, page.text, "next", **answer_all(items, "na"))
        assert not served(session)
        assert "提交后不能再修改，您的名单资格随即记为已使用" in page.text
        assert "评议码" not in page.text.split("<h1>", 1)[1]  # no code on this path
        receipt = post_step(client, page.text, "submit")

        assert receipt.status_code == 201, re.findall(r'id="form-error">([^<]*)', receipt.text)
        assert "感谢您的参与" in receipt.text
        assert "名单资格已经使用" in receipt.text
        assert served(session)
        assert ballot_count(session, campaign) == 1

        again = post_step(client, page.text, "submit")
        assert again.status_code == 409
        assert ballot_count(session, campaign) == 1

    def test_a_wrong_password_is_explained_and_keeps_the_number(
        self, client: TestClient, member: tuple[Campaign, roster.RosterEntry]
    ) -> None:
        campaign, _ = member

        response = sign_in(client, campaign, PHONE, "AAAAA-AAAAA")

        assert response.status_code == 403
        assert "号码或一次性密码不正确" in response.text
        assert f'value="{PHONE}"' in response.text
        assert 'aria-invalid="true"' in response.text

    def test_repeated_failures_are_slowed_down_with_the_wait_in_words(
        self, client: TestClient, member: tuple[Campaign, roster.RosterEntry]
    ) -> None:
        campaign, _ = member
        for _ in range(4):
            sign_in(client, campaign, PHONE, "AAAAA-AAAAA")

        response = sign_in(client, campaign, PHONE, "AAAAA-AAAAA")

        assert response.status_code == 429
        assert "秒后再试" in response.text

    def test_a_member_who_already_fetched_a_credential_is_told_so(
        self, client: TestClient, session: Session, member: tuple[Campaign, roster.RosterEntry]
    ) -> None:
        campaign, entry = member
        stored = session.scalars(select(RosterMember)).one()
        stored.credential_issued = True
        session.flush()

        response = sign_in(client, campaign, PHONE, entry.password)

        assert response.status_code == 409
        assert "已经使用" in response.text

    def test_a_closed_campaign_is_explained(
        self, client: TestClient, session: Session, member: tuple[Campaign, roster.RosterEntry]
    ) -> None:
        campaign, entry = member
        campaign.status = CampaignStatus.CLOSED
        session.flush()

        response = sign_in(client, campaign, PHONE, entry.password)

        assert response.status_code == 409
        assert "已经结束，不再接受评价" in response.text

    def test_a_forged_token_is_sent_back_to_sign_in(
        self, client: TestClient, member: tuple[Campaign, roster.RosterEntry]
    ) -> None:
        campaign, entry = member
        page = sign_in(client, campaign, PHONE, entry.password)
        fields = hidden_fields(page.text)
        fields["roster"] = fields["roster"][:-3] + "abc"

        response = client.post("/r/rate", data={**fields, "action": "next"})

        assert response.status_code == 403
        assert 'name="password"' in response.text

    def test_the_member_who_fetched_a_credential_meanwhile_cannot_also_submit(
        self, client: TestClient, session: Session, member: tuple[Campaign, roster.RosterEntry]
    ) -> None:
        campaign, entry = member
        page = sign_in(client, campaign, PHONE, entry.password)
        codes = [campaign.targets[0].department.code]
        page = post_step(client, page.text, "next", target=codes)
        page = post_step(
            client, page.text, "next", **answer_all(["courtesy", "speed", "guidance"], "5")
        )
        stored = session.scalars(select(RosterMember)).one()
        stored.credential_issued = True
        session.flush()

        response = post_step(client, page.text, "submit")

        assert response.status_code == 409
        assert ballot_count(session, campaign) == 0


class TestRosterInputOnTheCodePage:
    @pytest.mark.parametrize(
        "typed", ["13800138000", "138 0013 8000", "+86 138-0013-8000", "dkhv8-asf3t", "DKHV8ASF3T"]
    )
    def test_a_phone_number_or_password_points_to_the_roster_sign_in(
        self, client: TestClient, member: tuple[Campaign, roster.RosterEntry], typed: str
    ) -> None:
        campaign, _ = member

        response = client.post("/r", data={"code": typed})

        assert response.status_code == 422
        assert "评议码有误" not in response.text
        assert 'id="roster-pointer"' in response.text
        assert f'href="/r/roster/{campaign.slug}?lang=zh_CN"' in response.text

    def test_a_mistyped_code_is_still_a_mistyped_code(self, client: TestClient) -> None:
        response = client.post("/r", data={"code": "7K3M-Q9XA-2HNP-4RTW-8CVA"})

        assert "roster-pointer" not in response.text
