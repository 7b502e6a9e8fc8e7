"""Findings of the security probe on the console: CSRF on the JSON routes the console's
cookie reaches, tokens bound to their session, Secure cookies over HTTPS, sign-in throttling
that tells no account from an unknown name and does not lock out a whole network, a clean
sign-out, and one-time code downloads kept for the account that issued them."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry
from app.campaigns.models import Campaign, CampaignStatus
from tests.admission.test_pages import codes_page, csv_codes, issued_batch
from tests.conftest import make_client
from tests.console import csrf_headers, csrf_token, post_form, sign_in
from tests.factories import STAFF_PASSWORD, make_campaign, make_staff

EVIL = "http://evil.example"


@pytest.fixture
def other_client(session: Session) -> Iterator[TestClient]:
    with make_client(session) as test_client:
        yield test_client


def seal(client: TestClient, campaign: Campaign, headers: dict[str, str]) -> int:
    return client.post(f"/api/v1/campaigns/{campaign.slug}/seal", headers=headers).status_code


def audit_actions(session: Session, action: str) -> list[AuditEntry]:
    session.expire_all()
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


class TestJsonRoutesCheckCsrf:
    def test_seal_without_a_token_is_refused_even_from_the_same_site(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        sign_in(client, make_staff(session, role="admin").username)

        response = client.post(f"/api/v1/campaigns/{campaign.slug}/seal")

        assert response.status_code == 403
        assert response.json()["error"]["code"] == "csrf_failed"
        assert audit_actions(session, "campaign_seal") == []

    def test_a_cross_origin_request_is_refused_whatever_it_carries(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        sign_in(client, make_staff(session, role="admin").username)
        headers = csrf_headers(client)

        assert seal(client, campaign, {"Origin": EVIL}) == 403
        assert seal(client, campaign, {**headers, "Origin": EVIL}) == 403
        assert seal(client, campaign, {**headers, "Sec-Fetch-Site": "cross-site"}) == 403
        assert audit_actions(session, "campaign_seal") == []

    def test_the_session_token_in_the_header_is_accepted(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        sign_in(client, make_staff(session, role="admin").username)

        assert (
            seal(client, campaign, {**csrf_headers(client), "Origin": "http://testserver"}) == 200
        )

    def test_a_null_origin_leaves_the_decision_to_fetch_site_and_the_token(
        self, client: TestClient, session: Session
    ) -> None:
        """Browsers send ``Origin: null`` for a same-site form post from a page with
        ``Referrer-Policy: no-referrer``, as every page here is."""
        campaign = make_campaign(session)
        sign_in(client, make_staff(session, role="admin").username)
        headers = {**csrf_headers(client), "Origin": "null"}

        assert seal(client, campaign, {**headers, "Sec-Fetch-Site": "cross-site"}) == 403
        assert seal(client, campaign, {"Origin": "null", "Sec-Fetch-Site": "same-origin"}) == 403
        assert seal(client, campaign, {**headers, "Sec-Fetch-Site": "same-origin"}) == 200

    def test_a_cross_origin_console_form_is_refused(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        sign_in(client, make_staff(session, role="admin").username)
        path = f"/admin/campaigns/{campaign.slug}/close"
        token = csrf_token(client, path)

        response = client.post(
            path, data={"csrftoken": token}, headers={"Origin": EVIL}, follow_redirects=False
        )

        assert response.status_code == 403
        session.refresh(campaign)
        assert campaign.status == CampaignStatus.OPEN


class TestTokensAreBoundToTheSession:
    def test_another_sessions_token_does_not_close_a_campaign(
        self, client: TestClient, other_client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        sign_in(other_client, make_staff(session, role="auditor").username)
        auditors_token = csrf_token(other_client, "/admin")
        auditors_cookie = other_client.cookies.get("csrftoken")
        sign_in(client, make_staff(session, role="admin").username)
        if auditors_cookie:
            client.cookies.set("csrftoken", auditors_cookie, path="/admin")

        form = client.post(
            f"/admin/campaigns/{campaign.slug}/close",
            data={"csrftoken": auditors_token},
            follow_redirects=False,
        )
        api = seal(client, campaign, {"X-CSRF-Token": auditors_token})

        assert (form.status_code, api) == (403, 403)
        session.refresh(campaign)
        assert campaign.status == CampaignStatus.OPEN

    def test_a_token_from_before_sign_in_is_refused_after_it(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        before = csrf_token(client)
        sign_in(client, make_staff(session, role="admin").username)

        response = client.post(
            f"/admin/campaigns/{campaign.slug}/close",
            data={"csrftoken": before},
            follow_redirects=False,
        )

        assert response.status_code == 403
        assert csrf_token(client, "/admin") != before


class TestCookiesOverHttps:
    def test_every_cookie_is_secure_over_https(self, session: Session) -> None:
        user = make_staff(session)
        with make_client(session) as client:
            client.base_url = client.base_url.copy_with(scheme="https")
            login_page = client.get("/admin/login?lang=en")
            signed_in = sign_in(client, user.username)
            cookies = [
                *login_page.headers.get_list("set-cookie"),
                *signed_in.headers.get_list("set-cookie"),
            ]

        names = {cookie.split("=", 1)[0] for cookie in cookies}
        assert {"csrftoken", "pingyi_lang", "pingyi_staff"} <= names
        assert [cookie for cookie in cookies if "; Secure" not in cookie] == []

    def test_plain_http_cookies_are_not_marked_secure(self, client: TestClient) -> None:
        cookie = next(
            value
            for value in client.get("/admin/login").headers.get_list("set-cookie")
            if value.startswith("csrftoken=")
        )
        assert "Secure" not in cookie


class TestSignInThrottling:
    def attempts(self, client: TestClient, username: str, count: int) -> list[int]:
        return [sign_in(client, username, "not the password").status_code for _ in range(count)]

    def test_known_and_unknown_accounts_get_the_same_answers(
        self, client: TestClient, other_client: TestClient, session: Session
    ) -> None:
        user = make_staff(session)

        known = self.attempts(client, user.username, 6)
        unknown = self.attempts(other_client, "nobody-here", 6)

        assert known == unknown == [401, 401, 401, 429, 429, 429]  # after three, as documented

    def test_one_networks_failures_do_not_lock_out_another_account(
        self, client: TestClient, session: Session
    ) -> None:
        for name in ("cadre-one", "cadre-two", "cadre-three"):
            self.attempts(client, name, 8)  # 24 failures from one address
        user = make_staff(session)

        assert sign_in(client, user.username, STAFF_PASSWORD).status_code == 303

    def test_logout_only_clears_the_session_cookie(
        self, client: TestClient, session: Session
    ) -> None:
        sign_in(client, make_staff(session).username)

        response = post_form(client, "/admin/logout")

        assert response.status_code == 303
        session_cookies = [
            value
            for value in response.headers.get_list("set-cookie")
            if value.startswith("pingyi_staff=")
        ]
        assert session_cookies  # one per path the session was set on, each expiring it
        assert all(value.startswith("pingyi_staff=;") for value in session_cookies)
        assert all("Max-Age=0" in value for value in session_cookies)
        assert len({value.split("Path=")[1] for value in session_cookies}) == len(session_cookies)
        assert client.get("/admin", follow_redirects=False).status_code == 303


class TestOneTimeDownloadsBelongToTheirIssuer:
    def test_another_admin_must_confirm_and_is_audited(
        self, client: TestClient, other_client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        sign_in(client, make_staff(session, role="admin").username)
        batch_id = issued_batch(client, session, campaign)
        other = make_staff(session, role="admin")
        sign_in(other_client, other.username)
        path = f"{codes_page(campaign)}/{batch_id}/download/csv"

        asked = post_form(other_client, path, token_from=codes_page(campaign))
        taken = post_form(other_client, path, {"take_over": "yes"}, token_from=codes_page(campaign))

        assert asked.status_code == 403
        assert 'name="take_over"' in asked.text
        assert taken.status_code == 200
        assert len(csv_codes(taken)) == 5
        [entry] = audit_actions(session, "codes_download_override")
        assert entry.actor == other.username
        assert entry.detail["batch"] == batch_id

    def test_the_issuer_downloads_without_a_question(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        sign_in(client, make_staff(session, role="admin").username)
        batch_id = issued_batch(client, session, campaign)

        response = post_form(
            client,
            f"{codes_page(campaign)}/{batch_id}/download/csv",
            token_from=codes_page(campaign),
        )

        assert response.status_code == 200
        assert audit_actions(session, "codes_download_override") == []
