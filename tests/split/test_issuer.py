"""The issuer of a split deployment: /r forwards to the collector or hands over a credential
without JavaScript, issuance answers the collector's page across origins, and nothing about
ballots can be done here."""

import re
from html import unescape

import pytest
from sqlalchemy.orm import Session

from app.admission.models import CodeStatus
from app.ballots import flow as rating_flow
from app.campaigns import lifecycle
from app.campaigns.models import CampaignStatus
from app.credentials import keys as credential_keys
from app.credentials import spending
from app.errors import InvalidTransition
from tests.credentials.credential_helpers import (
    SERVER_SECRET,
    key_pool,  # noqa: F401 - an autouse fixture
)
from tests.factories import code_status, issue_code, make_campaign
from tests.split.conftest import COLLECTOR_URL, SplitClient


def open_campaign(session: Session):  # type: ignore[no-untyped-def]
    campaign = make_campaign(session)
    credential_keys.open_campaign_keys(session, campaign, SERVER_SECRET)
    return campaign


class TestForwarding:
    def test_r_forwards_to_the_collector_keeping_the_fragment_in_the_browser(
        self, split_client: SplitClient
    ) -> None:
        page = split_client("issuer").get("/r?lang=zh_CN")

        assert page.status_code == 200
        assert f'data-collector-url="{COLLECTOR_URL}"' in page.text
        assert '<script src="/static/js/forward.js"></script>' in page.text
        assert f'href="{COLLECTOR_URL}/r?lang=zh_CN"' in page.text
        assert page.headers["cache-control"] == "no-store"

    def test_the_forwarding_script_carries_the_fragment(self, split_client: SplitClient) -> None:
        script = split_client("issuer").get("/static/js/forward.js").text

        assert 'collector + "/r" + window.location.search + window.location.hash' in script

    def test_the_home_page_starts_rating_at_the_collector(self, split_client: SplitClient) -> None:
        home = split_client("issuer").get("/?lang=en")

        assert f'href="{COLLECTOR_URL}/r?lang=en"' in home.text

    def test_forms_may_post_to_the_collector_only(self, split_client: SplitClient) -> None:
        policy = split_client("issuer").get("/r").headers["content-security-policy"]

        assert f"form-action 'self' {COLLECTOR_URL}" in policy
        assert "script-src 'self';" in policy
        assert "connect-src" not in policy


class TestCrossOriginIssuance:
    @pytest.mark.parametrize("path", ["/api/v1/credentials", "/api/v1/admission"])
    def test_the_collectors_page_may_call_issuance(
        self, split_client: SplitClient, path: str
    ) -> None:
        preflight = split_client("issuer").options(
            path,
            headers={
                "Origin": COLLECTOR_URL,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )

        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == COLLECTOR_URL
        assert preflight.headers["access-control-allow-methods"] == "POST"
        assert "access-control-allow-credentials" not in preflight.headers

    def test_answers_to_the_collector_are_readable_there_refusals_too(
        self, split_client: SplitClient, session: Session
    ) -> None:
        open_campaign(session)
        refused = split_client("issuer").post(
            "/api/v1/admission",
            json={"code": "0000-0000-0000-0000-0000"},
            headers={"Origin": COLLECTOR_URL},
        )

        assert refused.status_code in (403, 422)
        assert refused.headers["access-control-allow-origin"] == COLLECTOR_URL
        assert "access-control-allow-credentials" not in refused.headers

    @pytest.mark.parametrize(
        ("path", "origin"),
        [
            ("/api/v1/credentials", "https://elsewhere.example.org"),
            ("/api/v1/roster/login", COLLECTOR_URL),  # the sign-in's cookie stays same-origin
        ],
    )
    def test_no_other_origin_or_path_is_opened(
        self, split_client: SplitClient, path: str, origin: str
    ) -> None:
        preflight = split_client("issuer").options(
            path, headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
        )

        assert "access-control-allow-origin" not in preflight.headers


class TestHandoverWithoutJavaScript:
    def test_a_code_becomes_a_credential_that_the_collector_accepts(
        self, split_client: SplitClient, session: Session
    ) -> None:
        campaign = open_campaign(session)
        code = issue_code(session, campaign)

        page = split_client("issuer").post("/r?lang=en", data={"code": code})

        assert page.status_code == 200
        assert f'action="{COLLECTOR_URL}/r?lang=en"' in page.text
        text = unescape(re.search(r'name="credential" value="([^"]+)"', page.text)[1])  # type: ignore[index]
        credential = rating_flow.parse_credential_text(text)
        admitted = spending.credential_admission(session, credential)
        assert admitted.campaign.slug == campaign.slug
        assert code_status(session, code) == CodeStatus.USED
        assert code not in page.text
        assert "sees your credential" not in page.text  # that is said before, with the form
        assert "saw it once" in page.text

    def test_a_used_code_is_refused_on_the_same_page(
        self, split_client: SplitClient, session: Session
    ) -> None:
        campaign = open_campaign(session)
        code = issue_code(session, campaign)
        client = split_client("issuer")
        assert client.post("/r?lang=en", data={"code": code}).status_code == 200

        again = client.post("/r?lang=en", data={"code": code})

        assert again.status_code == 409
        assert 'id="code-error"' in again.text
        assert 'id="handover-form"' in again.text

    def test_the_page_says_what_this_path_guarantees(self, split_client: SplitClient) -> None:
        page = split_client("issuer").get("/r?lang=en")

        assert "sees your credential once" in page.text
        assert "you rely on its software rather than on cryptography" in page.text


class TestNoBallotSteps:
    @pytest.mark.parametrize("status", [CampaignStatus.TALLIED])
    def test_an_issuer_cannot_publish(
        self, split_client: SplitClient, session: Session, status: CampaignStatus
    ) -> None:
        split_client("issuer")  # the issuer's settings
        campaign = make_campaign(session, status=status)

        with pytest.raises(InvalidTransition) as refused:
            lifecycle.publish_campaign(session, campaign, actor="test")

        assert refused.value.message_id == lifecycle.ISSUER_HOLDS_NO_BALLOTS
        assert campaign.status == status
