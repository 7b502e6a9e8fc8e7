"""Every console route, checked from one table built from the app's own routes.

- each role gets 403 on every page and action outside its role;
- anonymous visitors are sent to sign in for every console route but the sign-in page;
- every state-changing console form refuses a request without a valid CSRF token.

A route guarded by ``require(Permission.X)`` is found by the name of that dependency, so a new
route is covered the moment it is added.
"""

import re
from dataclasses import dataclass

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from starlette.routing import BaseRoute

from app.accounts.models import Role
from app.accounts.permissions import Permission, allows
from app.main import create_app
from tests.console import csrf_token, sign_in
from tests.factories import make_department, make_staff

PUBLIC_CONSOLE_PATHS = {"/admin/login"}
PLACEHOLDERS = {"slug": "no-such-campaign", "batch_id": "1", "action": "open", "fmt": "csv"}


@dataclass(frozen=True)
class ConsoleRoute:
    method: str
    path: str
    permission: Permission | None  # None: any signed-in staff member

    @property
    def url(self) -> str:
        return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: PLACEHOLDERS.get(m.group(1), "1"), self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _permission_of(route: APIRoute) -> Permission | None:
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        name = getattr(dependency.call, "__name__", "")
        if name.startswith("require_"):
            return Permission(name.removeprefix("require_"))
        pending.extend(dependency.dependencies)
    return None


def _api_routes(routes: list[BaseRoute]) -> list[APIRoute]:
    """Flatten included routers (FastAPI keeps them as branches; our routers carry their
    full prefix themselves, so the routes' own paths are the served paths)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found += _api_routes(route.original_router.routes)
    return found


def console_routes() -> list[ConsoleRoute]:
    routes = []
    for route in _api_routes(create_app().routes):
        if not route.path.startswith("/admin"):
            continue
        if route.path in PUBLIC_CONSOLE_PATHS:
            continue
        for method in sorted(route.methods):
            routes.append(ConsoleRoute(method, route.path, _permission_of(route)))
    return routes


ROUTES = console_routes()
GUARDED = [route for route in ROUTES if route.permission is not None]
POSTS = [route for route in ROUTES if route.method == "POST"]


def _signed_in_as(client: TestClient, session: Session, role: Role) -> None:
    department = make_department(session) if role == Role.LIAISON else None
    user = make_staff(session, role=role.value, department=department)
    assert sign_in(client, user.username).status_code == 303


def _request(client: TestClient, route: ConsoleRoute, token: str) -> int:
    if route.method == "GET":
        return client.get(route.url, follow_redirects=False).status_code
    return client.request(
        route.method, route.url, data={"csrftoken": token}, follow_redirects=False
    ).status_code


class TestTheTableIsComplete:
    def test_console_has_guarded_routes(self) -> None:
        assert len(GUARDED) >= 3
        assert {route.permission for route in GUARDED} >= {Permission.VIEW_AUDIT}


@pytest.mark.parametrize("role", list(Role), ids=[role.value for role in Role])
class TestRolesGetForbiddenOutsideTheirRole:
    def test_every_route_outside_the_role_is_403(
        self, client: TestClient, session: Session, role: Role
    ) -> None:
        _signed_in_as(client, session, role)
        token = csrf_token(client, "/admin/login")

        wrong = {
            str(route): status
            for route in GUARDED
            if route.permission is not None and not allows(role, route.permission)
            for status in [_request(client, route, token)]
            if status != 403
        }

        assert wrong == {}

    def test_routes_within_the_role_are_not_403(
        self, client: TestClient, session: Session, role: Role
    ) -> None:
        _signed_in_as(client, session, role)
        token = csrf_token(client, "/admin/login")

        refused = [
            str(route)
            for route in GUARDED
            if route.permission is not None and allows(role, route.permission)
            if _request(client, route, token) == 403
        ]

        assert refused == []


class TestAnonymousVisitors:
    def test_every_console_route_sends_them_to_sign_in(self, client: TestClient) -> None:
        token = csrf_token(client, "/admin/login")

        wrong = {
            str(route): status
            for route in ROUTES
            for status in [_request(client, route, token)]
            if status != 303
        }

        assert wrong == {}


class TestCsrf:
    def test_every_state_changing_form_refuses_a_missing_or_wrong_token(
        self, client: TestClient, session: Session
    ) -> None:
        _signed_in_as(client, session, Role.ADMIN)

        accepted = {
            str(route): (missing, wrong)
            for route in POSTS
            for missing, wrong in [
                (
                    client.post(route.url, data={}, follow_redirects=False).status_code,
                    client.post(
                        route.url, data={"csrftoken": "forged"}, follow_redirects=False
                    ).status_code,
                )
            ]
            if missing != 403 or wrong != 403
        }

        assert POSTS
        assert accepted == {}
