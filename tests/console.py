"""Helpers for office console tests: signing in through the real form, posting with CSRF."""

import re
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.factories import STAFF_PASSWORD

CSRF_FIELD = re.compile(r'name="csrftoken" value="([^"]+)"')


def csrf_token(client: TestClient, path: str = "/admin/login") -> str:
    page = client.get(path)
    match = CSRF_FIELD.search(page.text)
    assert match, f"no CSRF field on {path}"
    return match.group(1)


def sign_in(client: TestClient, username: str, password: str = STAFF_PASSWORD) -> httpx.Response:
    token = csrf_token(client)
    return client.post(
        "/admin/login",
        data={"csrftoken": token, "username": username, "password": password},
        follow_redirects=False,
    )


def post_form(
    client: TestClient, path: str, data: dict[str, Any] | None = None, *, token_from: str = "/admin"
) -> httpx.Response:
    """POST a console form with a valid CSRF token taken from a page the user can see."""
    token = csrf_token(client, token_from)
    return client.post(path, data={"csrftoken": token, **(data or {})}, follow_redirects=False)


def csrf_headers(client: TestClient, path: str = "/admin") -> dict[str, str]:
    """The header a JSON route the console's cookie reaches needs: the session's CSRF token,
    taken from a console page (every page has the sign-out form)."""
    return {"X-CSRF-Token": csrf_token(client, path)}
