"""The collector of a split deployment: its rating page sends codes to the issuer only, and
its console shows what it holds (ballots in the box), not what the issuer holds (codes)."""

import pytest
from sqlalchemy.orm import Session

from app.ballot_box import service as box_service
from tests.campaigns.test_pages import signed_in
from tests.factories import make_campaign
from tests.split.conftest import ISSUER_URL, SplitClient


class TestRatingPage:
    def test_codes_go_to_the_issuer_only(self, split_client: SplitClient) -> None:
        page = split_client("collector").get("/r?lang=en")

        assert page.status_code == 200
        assert f'data-issuer-url="{ISSUER_URL}"' in page.text
        assert f'action="{ISSUER_URL}/r?lang=en" class="code-form"' in page.text
        assert 'action="/r?lang=en" id="credential-form"' in page.text  # credentials stay

    def test_the_page_may_fetch_from_and_post_to_the_issuer(
        self, split_client: SplitClient
    ) -> None:
        policy = split_client("collector").get("/r").headers["content-security-policy"]

        assert f"connect-src 'self' {ISSUER_URL}" in policy
        assert f"form-action 'self' {ISSUER_URL}" in policy


class TestConsole:
    def test_it_links_only_to_sections_it_serves(
        self, split_client: SplitClient, session: Session
    ) -> None:
        client = split_client("collector")
        signed_in(client, session)
        campaign = make_campaign(session)

        page = client.get(f"/admin/campaigns/{campaign.slug}?lang=en")

        assert page.status_code == 200
        for section in ("/admin/departments", "/admin/questionnaires", "/codes", "/turnout"):
            assert section not in page.text, section
        assert f"/admin/campaigns/{campaign.slug}/results" in page.text

    def test_it_has_no_turnout_of_codes(self, split_client: SplitClient, session: Session) -> None:
        client = split_client("collector")
        signed_in(client, session)
        campaign = make_campaign(session)

        page = client.get(f"/admin/campaigns/{campaign.slug}/turnout?lang=en")

        assert page.status_code == 404

    def test_lock_and_turnout_come_from_the_ballot_box(
        self, split_client: SplitClient, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        client = split_client("collector")
        signed_in(client, session)
        campaign = make_campaign(session, threshold=3)
        counts = iter([2, 10])  # ballots in the box at each visit
        monkeypatch.setattr(box_service, "ballots_in_box", lambda _session, _campaign: next(counts))

        few = client.get(f"/admin/campaigns/{campaign.slug}?lang=en").text
        many = client.get(f"/admin/campaigns/{campaign.slug}?lang=en").text

        assert "Locked: the campaign has opened" in few
        assert "no code has been issued" not in few
        assert 'id="ballots-received">not published' in few
        assert 'id="ballots-received">10<' in many

    def test_the_issuers_console_links_to_no_results(
        self, split_client: SplitClient, session: Session
    ) -> None:
        client = split_client("issuer")
        signed_in(client, session)
        campaign = make_campaign(session)

        page = client.get(f"/admin/campaigns/{campaign.slug}?lang=en").text

        assert f"/admin/campaigns/{campaign.slug}/codes" in page
        assert f"/admin/campaigns/{campaign.slug}/results" not in page
        assert "/publish" not in page
