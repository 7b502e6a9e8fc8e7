"""Console error pages keep the console's layout and say what to do next."""

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.console import sign_in
from tests.factories import make_campaign, make_department, make_staff


class TestErrorPagesKeepTheNavigation:
    def test_forbidden_page_shows_the_signed_in_users_navigation(
        self, client: TestClient, session: Session
    ) -> None:
        liaison = make_staff(session, role="liaison", department=make_department(session))
        sign_in(client, liaison.username)

        response = client.get("/admin/audit?lang=en")

        assert response.status_code == 403
        assert 'href="/admin/my-results"' in response.text  # the liaison's own navigation
        assert "Sign out" in response.text
        assert liaison.display_name in response.text

    def test_anonymous_error_page_has_no_navigation(self, client: TestClient) -> None:
        response = client.get("/admin/no-such-page?lang=en")

        assert response.status_code == 404
        assert "Sign out" not in response.text


class TestResultsBeforeTheTally:
    def test_results_of_an_open_campaign_explain_when_they_come(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session, slug="open-one")
        admin = make_staff(session)
        sign_in(client, admin.username)

        response = client.get("/admin/campaigns/open-one/results?lang=en")

        assert response.status_code == 409
        assert 'id="results-not-yet"' in response.text
        assert "once the campaign is closed" in response.text
        assert 'href="/admin/campaigns/open-one"' in response.text
        assert campaign.title_for("en") in response.text
        assert 'href="/admin/campaigns"' in response.text  # console navigation kept
