"""The console's front page: each campaign's stage, dates, disclosed turnout and next step."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.admission import service as admission_service
from app.campaigns import overview
from app.campaigns.models import CampaignStatus
from tests.console import sign_in
from tests.factories import HASHING_KEY, issue_codes, make_campaign, make_staff


class TestNextStep:
    @pytest.mark.parametrize(
        ("status", "has_key", "issued", "path"),
        [
            (CampaignStatus.DRAFT, False, 0, "/trustees"),
            (CampaignStatus.DRAFT, True, 0, "/codes"),
            (CampaignStatus.DRAFT, True, 10, "/open"),
            (CampaignStatus.OPEN, True, 0, "/codes"),
            (CampaignStatus.OPEN, True, 10, "/close"),
            (CampaignStatus.CLOSED, True, 10, "/tally"),
            (CampaignStatus.TALLIED, True, 10, "/comments"),
            (CampaignStatus.PUBLISHED, True, 10, "/results"),
        ],
    )
    def test_next_step_follows_the_stage(
        self, session: Session, status: CampaignStatus, has_key: bool, issued: int, path: str
    ) -> None:
        campaign = make_campaign(session, status=status, slug="cc")

        step = overview.next_step(campaign, has_tally_key=has_key, codes_issued=issued)

        assert step.path == "/admin/campaigns/cc" + path


class TestDashboardPage:
    def test_dashboard_shows_stage_turnout_and_next_step_in_chinese(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session, slug="open-one", threshold=5)
        codes = issue_codes(session, campaign, count=10)
        for code in codes[:2]:
            admission_service.use_code(session, HASHING_KEY, code)
        sign_in(client, make_staff(session).username)

        page = client.get("/admin?lang=zh_CN").text

        assert 'id="campaign-open-one"' in page
        assert 'class="turnout-issued">10<' in page
        used = page.split('class="turnout-used">')[1].split("</dd>")[0]
        assert "2" not in used  # 2 is below the threshold: withheld, never shown
        assert "关闭评议" in page
        assert 'href="/admin/campaigns/open-one/close"' in page

    def test_disclosed_turnout_is_shown_with_its_share(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session, slug="busy", threshold=3)
        codes = issue_codes(session, campaign, count=10)
        for code in codes[:4]:
            admission_service.use_code(session, HASHING_KEY, code)
        sign_in(client, make_staff(session).username)

        page = client.get("/admin?lang=en").text

        used = page.split('class="turnout-used">')[1].split("</dd>")[0]
        assert used.startswith("4")
        assert "(40%)" in used
