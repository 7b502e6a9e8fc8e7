"""Where signing in leads: back to the console page asked for, query included, never away."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.accounts.pages import safe_next
from tests.console import csrf_token
from tests.factories import STAFF_PASSWORD, make_staff

PREVIEW = "/admin/questionnaires/preview?ref=file:a.yaml&group=citizens"


class TestSafeNext:
    @pytest.mark.parametrize(
        "target",
        ["/admin", "/admin/audit", PREVIEW, "/admin?lang=en", "/admin/campaigns/x#top"],
    )
    def test_console_paths_are_kept_with_their_query(self, target: str) -> None:
        assert safe_next(target) == target

    @pytest.mark.parametrize(
        "target",
        [
            None,
            "",
            "https://evil.example/admin",
            "//evil.example/admin",
            "/admin//evil.example",
            "/\\evil.example",
            "/admin\\..\\evil",
            "/adminx",
            "/r",
            "admin",
            "/admin/\nSet-Cookie:x",
            "javascript:/admin",
        ],
    )
    def test_anything_else_leads_to_the_console_front_page(self, target: str | None) -> None:
        assert safe_next(target) == "/admin"


class TestSignInKeepsTheQuery:
    def test_anonymous_visitor_is_sent_to_sign_in_with_path_and_query(
        self, client: TestClient
    ) -> None:
        response = client.get(PREVIEW, follow_redirects=False)

        assert response.status_code == 303
        location = response.headers["location"]
        assert location.startswith("/admin/login?next=")
        assert "&group" not in location  # the query is inside ``next``, encoded
        follow = client.get(location)
        assert (
            'name="next" value="/admin/questionnaires/preview?ref=file:a.yaml&amp;group=citizens"'
            in follow.text
        )

    def test_signing_in_returns_to_the_page_with_its_query(
        self, client: TestClient, session: Session
    ) -> None:
        user = make_staff(session)
        token = csrf_token(client)

        response = client.post(
            "/admin/login",
            data={
                "csrftoken": token,
                "username": user.username,
                "password": STAFF_PASSWORD,
                "next": PREVIEW,
            },
            follow_redirects=False,
        )

        assert response.status_code == 303
        assert response.headers["location"] == PREVIEW
