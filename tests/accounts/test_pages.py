"""Signing in and out of the office console, through real HTTP with CSRF."""

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry
from tests.console import csrf_token, post_form, sign_in
from tests.factories import STAFF_PASSWORD, make_department, make_staff


def audit_actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.sequence)))


class TestSignIn:
    def test_sign_in_sets_a_private_session_cookie_scoped_to_the_console(
        self, client: TestClient, session: Session
    ) -> None:
        user = make_staff(session)

        response = sign_in(client, user.username)

        assert response.status_code == 303
        assert response.headers["location"] == "/admin"
        cookie = next(c for c in response.headers.get_list("set-cookie") if "pingyi_staff=" in c)
        for attribute in ("Path=/admin", "HttpOnly", "SameSite=Lax", "Max-Age="):
            assert attribute in cookie
        assert "Secure" not in cookie  # plain HTTP in tests
        assert client.get("/admin").status_code == 200
        assert audit_actions(session)[-1] == "login"

    def test_cookie_is_secure_over_https(self, session: Session) -> None:
        from tests.conftest import make_client

        user = make_staff(session)
        with make_client(session) as client:
            client.base_url = client.base_url.copy_with(scheme="https")
            response = sign_in(client, user.username)

        cookie = next(c for c in response.headers.get_list("set-cookie") if "pingyi_staff=" in c)
        assert "Secure" in cookie

    def test_wrong_password_is_refused_in_plain_words_and_audited(
        self, client: TestClient, session: Session
    ) -> None:
        user = make_staff(session)

        response = sign_in(client, user.username, "not the password")

        assert response.status_code == 401
        assert "用户名或密码错误" in response.text
        assert client.get("/admin", follow_redirects=False).status_code == 303
        assert audit_actions(session)[-1] == "login_failed"

    def test_repeated_failures_ask_to_wait(self, client: TestClient, session: Session) -> None:
        user = make_staff(session)
        for _ in range(4):
            sign_in(client, user.username, "not the password")

        response = sign_in(client, user.username, STAFF_PASSWORD)

        assert response.status_code == 429
        assert "秒后再试" in response.text

    def test_next_page_is_kept_but_never_another_site(
        self, client: TestClient, session: Session
    ) -> None:
        user = make_staff(session)
        token = csrf_token(client)

        inside = client.post(
            "/admin/login",
            data={
                "csrftoken": token,
                "username": user.username,
                "password": STAFF_PASSWORD,
                "next": "/admin/audit",
            },
            follow_redirects=False,
        )
        token = csrf_token(client)  # signed in now: the token is bound to the new session
        outside = client.post(
            "/admin/login",
            data={
                "csrftoken": token,
                "username": user.username,
                "password": STAFF_PASSWORD,
                "next": "https://evil.example/",
            },
            follow_redirects=False,
        )

        assert inside.headers["location"] == "/admin/audit"
        assert outside.headers["location"] == "/admin"

    def test_sign_in_without_csrf_token_is_refused(
        self, client: TestClient, session: Session
    ) -> None:
        user = make_staff(session)

        response = client.post(
            "/admin/login", data={"username": user.username, "password": STAFF_PASSWORD}
        )

        assert response.status_code == 403
        assert "表单已过期" in response.text


class TestAnonymousVisitors:
    def test_console_pages_send_anonymous_visitors_to_sign_in(self, client: TestClient) -> None:
        response = client.get("/admin/audit", follow_redirects=False)

        assert response.status_code == 303
        assert response.headers["location"] == "/admin/login?next=/admin/audit"

    def test_rater_pages_never_receive_console_cookies(
        self, client: TestClient, session: Session
    ) -> None:
        user = make_staff(session)
        sign_in(client, user.username)

        response = client.get("/r")

        assert "cookie" not in response.request.headers
        assert "set-cookie" not in response.headers


class TestSignOut:
    def test_sign_out_ends_the_session_everywhere(
        self, client: TestClient, session: Session
    ) -> None:
        user = make_staff(session)
        sign_in(client, user.username)
        stolen = client.cookies.get("pingyi_staff", path="/admin")

        response = post_form(client, "/admin/logout")

        assert response.status_code == 303
        assert client.get("/admin", follow_redirects=False).status_code == 303
        client.cookies.set("pingyi_staff", stolen or "", path="/admin")
        assert client.get("/admin", follow_redirects=False).status_code == 303
        assert audit_actions(session)[-1] == "logout"


class TestLiaisonLanding:
    def test_liaison_is_taken_to_their_results(self, client: TestClient, session: Session) -> None:
        user = make_staff(session, role="liaison", department=make_department(session))
        sign_in(client, user.username)

        response = client.get("/admin", follow_redirects=False)

        assert response.status_code == 303
        assert response.headers["location"] == "/admin/my-results"


class TestConsoleLanguage:
    def test_language_choice_is_remembered_for_the_console_only(
        self, client: TestClient, session: Session
    ) -> None:
        user = make_staff(session)
        sign_in(client, user.username)

        client.get("/admin?lang=en")

        assert "Overview" in client.get("/admin").text
        assert "请输入评议码" in client.get("/r").text
