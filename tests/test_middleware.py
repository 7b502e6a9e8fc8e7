"""What every response carries, and what is never logged."""

import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

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

        result = CliRunner().invoke(cli, ["serve", "--workers", "3", "--port", "9999"])

        assert result.exit_code == 0, result.output
        assert captured["access_log"] is False
        assert captured["workers"] == 3


class TestSecurityHeaders:
    @pytest.mark.parametrize("path", ["/", "/r", "/healthz", "/no-such-page"])
    def test_every_response_refuses_framing_sniffing_and_referrers(
        self, client: TestClient, path: str
    ) -> None:
        headers = client.get(path).headers

        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "'unsafe-inline'" not in headers["content-security-policy"]

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
