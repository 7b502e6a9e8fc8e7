"""What every response carries, and what is never logged."""

import logging
import re

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tests.conftest import make_client
from tests.factories import answers_for, issue_code, make_campaign


class TestNoLogsForRatingEndpoints:
    def test_rating_requests_leave_no_log_record(
        self, client: TestClient, session: Session, caplog: pytest.LogCaptureFixture
    ) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)
        target = campaign.targets[0].department.code
        caplog.set_level(logging.DEBUG)

        client.get("/r")
        client.post("/r", data={"code": code})
        client.post("/api/v1/admission", json={"code": code})
        accepted = client.post(
            "/api/v1/ballots",
            json={
                "code": code,
                "evaluations": [{"target": target, "answers": answers_for(campaign)}],
            },
        )
        client.post("/api/v1/ballots", json={"code": code, "evaluations": []})

        assert accepted.status_code == 201
        server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
        messages = [record.getMessage() for record in server_side]
        assert not [m for m in messages if "/r" in m or "/api/v1/" in m or code in m], messages

    def test_other_requests_are_logged_without_client_address(
        self, client: TestClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO, logger="pingyi.requests")

        client.get("/healthz", headers={"user-agent": "probe/1.0"})

        lines = [r.getMessage() for r in caplog.records if r.name == "pingyi.requests"]
        assert len(lines) == 1
        assert lines[0].startswith("GET /healthz 200")
        assert "testclient" not in lines[0]
        assert "probe" not in lines[0]

    def test_serve_turns_the_access_log_off(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import uvicorn

        from app.cli import cli

        captured: dict[str, object] = {}
        monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: captured.update(kwargs))
        # the default test database is not migrated; the database check is tested in tests/ops
        monkeypatch.setattr("app.ops.preflight.preflight", lambda **options: None)

        result = CliRunner().invoke(cli, ["serve", "--workers", "3", "--port", "9999"])

        assert result.exit_code == 0, result.output
        assert captured["access_log"] is False
        assert captured["workers"] == 3


class PageKinds:
    """One request per kind of response: rater, console, public, API, static and error pages.

    Each entry sends its request through ``client`` and returns the response; ``setUp`` makes
    what they need (a published campaign, a signed-in administrator, a route that fails).
    """

    def __init__(self, client: TestClient, session: Session) -> None:
        from tests.console import sign_in
        from tests.factories import make_staff
        from tests.public.helpers import Published

        self.client = client
        published = Published(session)
        self.slug = published.slug
        self.department = published.east.code
        self.staff_client = TestClient(client.app, base_url=str(client.base_url))
        assert sign_in(self.staff_client, make_staff(session).username).status_code == 303
        self.https = client.base_url.scheme == "https"
        client.app.add_api_route("/api/v1/fails", _fails)  # type: ignore[attr-defined]
        client.app.add_api_route("/fails", _fails)  # type: ignore[attr-defined]

    def request(self, kind: str) -> httpx.Response:
        client, slug = self.client, self.slug
        requests = {
            "rater: code entry": lambda: client.get("/r"),
            "rater: code refused": lambda: client.post("/r", data={"code": "7K3M"}),
            "rater: verification": lambda: client.get(f"/verify/{slug}"),
            "console: sign-in": lambda: client.get("/admin/login"),
            "console: signed in": lambda: self.staff_client.get("/admin"),
            "console: campaign": lambda: self.staff_client.get(f"/admin/campaigns/{slug}"),
            "public: campaigns": lambda: client.get("/results"),
            "public: ranking": lambda: client.get(f"/results/{slug}"),
            "public: department": lambda: client.get(
                f"/results/{slug}/departments/{self.department}"
            ),
            "public: methodology": lambda: client.get(f"/results/{slug}/methodology"),
            "api: start token": lambda: client.get("/api/v1/start-token"),
            "api: refusal": lambda: client.post("/api/v1/admission", json={"code": "x"}),
            "api: results": lambda: client.get(f"/api/v1/campaigns/{slug}/results"),
            "api: schema": lambda: client.get("/openapi.json"),
            "api: health": lambda: client.get("/healthz"),
            "static: script": lambda: client.get("/static/js/rate.js"),
            "static: style": lambda: client.get("/static/css/pingyi.css"),
            "static: icon": lambda: client.get("/static/favicon.svg"),
            "error: page 404": lambda: client.get("/no-such-page"),
            "error: api 404": lambda: client.get("/api/v1/nothing"),
            "error: 405": lambda: client.delete("/r"),
            "error: 413": lambda: client.post("/api/v1/ballots", content=b"x" * (65 * 1024)),
            "error: NUL 400": lambda: client.get("/results/%00"),
            "error: duplicate key 422": lambda: client.post(
                "/api/v1/ballots",
                content=b'{"code": "a", "code": "b"}',
                headers={"content-type": "application/json"},
            ),
            "error: csrf 403": lambda: client.post(
                "/admin/login", data={"username": "a", "password": "b"}
            ),
            "error: page 500": lambda: client.get("/fails"),
            "error: api 500": lambda: client.get("/api/v1/fails"),
        }
        return requests[kind]()


PAGE_KINDS = [
    "rater: code entry",
    "rater: code refused",
    "rater: verification",
    "console: sign-in",
    "console: signed in",
    "console: campaign",
    "public: campaigns",
    "public: ranking",
    "public: department",
    "public: methodology",
    "api: start token",
    "api: refusal",
    "api: results",
    "api: schema",
    "api: health",
    "static: script",
    "static: style",
    "static: icon",
    "error: page 404",
    "error: api 404",
    "error: 405",
    "error: 413",
    "error: NUL 400",
    "error: duplicate key 422",
    "error: csrf 403",
    "error: page 500",
    "error: api 500",
]
# Every other kind answers 200; only the two "error: … 500" kinds may answer 500.
EXPECTED_STATUS = {
    "rater: code refused": 422,
    "api: refusal": 422,
    "console: signed in": 200,
    "console: campaign": 200,
    "public: department": 200,
    "api: results": 200,
    "error: page 404": 404,
    "error: api 404": 404,
    "error: 405": 405,
    "error: 413": 413,
    "error: NUL 400": 400,
    "error: duplicate key 422": 422,
    "error: csrf 403": 403,
    "error: page 500": 500,
    "error: api 500": 500,
}
RATER_KINDS = {kind for kind in PAGE_KINDS if kind.startswith("rater")}
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


def _fails() -> None:
    raise RuntimeError("a failure the error handler must answer")


def csp_directives(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name.lower()] = values
    return directives


def header_problems(response: httpx.Response, kind: str, https: bool) -> list[str]:
    """What is wrong with one response's security headers and markup (nothing, ideally)."""
    headers = response.headers
    csp = csp_directives(headers.get("content-security-policy", ""))
    expected = {
        "referrer-policy": headers.get("referrer-policy") == "no-referrer",
        "x-content-type-options": headers.get("x-content-type-options") == "nosniff",
        "x-frame-options": headers.get("x-frame-options") == "DENY",
        # no 'unsafe-inline', no 'unsafe-eval', no other origin
        "script-src": csp.get("script-src") == ["'self'"],
        "frame-ancestors": csp.get("frame-ancestors") == ["'none'"],
        "object-src": csp.get("object-src") == ["'none'"],
        "hsts only over https": ("strict-transport-security" in headers) == https,
        "no-store on rater pages": kind not in RATER_KINDS
        or headers.get("cache-control") == "no-store",
    }
    problems = [name for name, holds in expected.items() if not holds]
    if https and "strict-transport-security" in headers:
        max_age = int(headers["strict-transport-security"].split("=")[1].split(";")[0])
        if max_age < 180 * 24 * 3600:
            problems.append("hsts max-age under 180 days")
    if headers.get("content-type", "").startswith("text/html"):  # nothing the CSP would block
        if INLINE_SCRIPT.search(response.text):
            problems.append("inline <script>")
        if EVENT_HANDLER.search(response.text):
            problems.append("inline event handler")
        if "javascript:" in response.text.lower():
            problems.append("javascript: URL")
    expected_status = EXPECTED_STATUS.get(kind, 200)
    if response.status_code != expected_status:
        problems.append(f"status {response.status_code}, not {expected_status}")
    return problems


class TestSecurityHeaders:
    @pytest.fixture(params=["http", "https"])
    def pages(self, request: pytest.FixtureRequest, session: Session) -> PageKinds:
        app_client = make_client(session)
        # The "error: … 500" kinds are answered, not raised; every kind's status is checked
        # (EXPECTED_STATUS), so no other 500 passes unseen.
        client = TestClient(
            app_client.app, base_url=f"{request.param}://testserver", raise_server_exceptions=False
        )
        return PageKinds(client, session)

    def test_every_kind_of_response_carries_the_headers_and_no_inline_script(
        self, pages: PageKinds
    ) -> None:
        problems = [
            f"{kind}: {problem}"
            for kind in PAGE_KINDS
            for problem in header_problems(pages.request(kind), kind, pages.https)
        ]

        assert problems == []

    def test_hsts_only_over_https(self, client: TestClient) -> None:
        assert "strict-transport-security" not in client.get("/healthz").headers
        secure = TestClient(client.app, base_url="https://pingyi.example")

        assert secure.get("/healthz").headers["strict-transport-security"].startswith("max-age=")


class TestBodyLimits:
    def test_rating_form_over_its_limit_is_413(self, client: TestClient) -> None:
        response = client.post("/r/rate", data={"draft": "x" * (300 * 1024)})

        assert response.status_code == 413
        assert "太大" in response.text


class TestErrorPages:
    def test_unknown_page_is_a_friendly_404(self, client: TestClient) -> None:
        response = client.get("/no-such-page")

        assert response.status_code == 404
        assert "该地址没有对应的页面" in response.text

    def test_unknown_api_route_is_json(self, client: TestClient) -> None:
        response = client.get("/api/v1/nothing", headers={"accept-language": "en"})

        assert response.status_code == 404
        assert response.json()["error"]["code"] == "http_404"


class TestOpenApi:
    def test_schema_documents_the_rating_api_and_no_cdn_docs_page(self, client: TestClient) -> None:
        schema = client.get("/openapi.json").json()

        assert {"/healthz", "/api/v1/admission", "/api/v1/ballots"} <= set(schema["paths"])
        ballots = schema["paths"]["/api/v1/ballots"]["post"]["responses"]
        assert {"201", "403", "409", "413", "422"} <= set(ballots)
        assert client.get("/docs").status_code == 404


class TestCsrfOnFileUploads:
    """Console uploads are multipart: the token must come first, before any file."""

    def _signed_in(self, client: TestClient, session: Session) -> str:
        from tests.console import csrf_token, sign_in
        from tests.factories import make_staff

        sign_in(client, make_staff(session).username)
        return csrf_token(client, "/admin")

    def test_file_after_the_token_passes_the_check(
        self, client: TestClient, session: Session
    ) -> None:
        token = self._signed_in(client, session)

        response = client.post(
            "/admin/logout",
            data={"csrftoken": token},
            files={"upload": ("a.csv", b"x,y\n", "text/csv")},
            follow_redirects=False,
        )

        assert response.status_code == 303

    def test_file_before_the_token_is_refused(self, client: TestClient, session: Session) -> None:
        token = self._signed_in(client, session)
        boundary = "pingyiboundary"
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="upload"; filename="a.csv"\r\n'
            f"Content-Type: text/csv\r\n\r\nx,y\r\n"
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrftoken"\r\n\r\n{token}\r\n'
            f"--{boundary}--\r\n"
        ).encode()

        response = client.post(
            "/admin/logout",
            content=body,
            headers={"content-type": f"multipart/form-data; boundary={boundary}"},
            follow_redirects=False,
        )

        assert response.status_code == 403
