"""The staff session cookie: signed, expiring, scoped to /admin."""

import time

import pytest

from app.accounts import sessions

SECRET = b"session-test-secret"


class TestSessionCookie:
    def test_round_trip(self) -> None:
        staff_session = sessions.new_session(7, 3)

        assert sessions.decode(SECRET, sessions.encode(SECRET, staff_session)) == staff_session

    def test_forged_or_foreign_cookie_is_refused(self) -> None:
        value = sessions.encode(SECRET, sessions.new_session(7, 3))

        assert sessions.decode(b"another secret", value) is None
        assert sessions.decode(SECRET, value[:-2] + "xx") is None
        assert sessions.decode(SECRET, "") is None
        assert sessions.decode(SECRET, None) is None

    def test_idle_session_expires(self, monkeypatch: pytest.MonkeyPatch) -> None:
        value = sessions.encode(SECRET, sessions.new_session(7, 3))
        later = time.time() + sessions.IDLE_TIMEOUT + 5
        monkeypatch.setattr(time, "time", lambda: later)

        assert sessions.decode(SECRET, value) is None

    def test_refreshed_session_still_ends_after_a_working_day(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        started = sessions.StaffSession(7, 3, int(time.time()) - sessions.ABSOLUTE_TIMEOUT - 5)
        refreshed = sessions.encode(SECRET, started)  # signed just now, as on every request

        assert sessions.decode(SECRET, refreshed) is None

    def test_cookie_attributes(self) -> None:
        header = sessions.cookie_header("v", secure=True)

        for attribute in ("Path=/admin", "HttpOnly", "SameSite=Lax", "Secure"):
            assert attribute in header
        assert "Secure" not in sessions.cookie_header("v", secure=False)
        assert all("Max-Age=0" in h for h in sessions.clearing_cookie_headers(secure=False))

    def test_session_is_valid_for_the_console_and_campaign_api_only(self) -> None:
        paths = {
            part.removeprefix("Path=")
            for header in sessions.cookie_headers("v", secure=False)
            for part in header.split("; ")
            if part.startswith("Path=")
        }

        assert paths == {"/admin", "/api/v1/campaigns"}
