"""Per-client rate limits on admission and sign-in: enforced, answered 429 with Retry-After,
kept in memory under keyed hashes (never an address), forgotten once expired.

Time is a fake clock injected into the app's limits; nothing sleeps.
"""

import hashlib
import logging
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.admission.models import CodeStatus
from app.audit.models import AuditEntry
from app.config import Settings
from app.credentials import keys as credential_keys
from app.credentials import roster
from app.ratelimit import ClientKeys, RateLimiter, RateLimits, limits_of
from tests.conftest import make_client
from tests.console import csrf_token
from tests.credentials.credential_helpers import (
    SERVER_SECRET,
    key_pool,  # noqa: F401 - an autouse fixture
    rater_side,
)
from tests.factories import (
    STAFF_PASSWORD,
    code_status,
    issue_code,
    make_campaign,
    make_staff,
)

ADDRESS = "203.0.113.7"  # TEST-NET-3: the client address every request here comes from
ATTEMPTS = 3
ENGLISH = {"accept-language": "en"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limited(session: Session, clock: FakeClock) -> Iterator[TestClient]:
    """A client from ``ADDRESS`` whose app allows 3 attempts a minute and 3 failed sign-ins."""
    client = make_client(session)
    client = TestClient(client.app, client=(ADDRESS, 40000))
    client.app.state.rate_limits = RateLimits(  # type: ignore[attr-defined]
        attempts_per_minute=ATTEMPTS, login_failures=ATTEMPTS, clock=clock
    )
    with client:
        yield client


@pytest.fixture(autouse=True)
def _fresh_roster_failures() -> Iterator[None]:
    roster.login_failures.clear()
    yield
    roster.login_failures.clear()


def limits(client: TestClient) -> RateLimits:
    return limits_of(client.app)  # type: ignore[arg-type]


def assert_throttled_json(response: httpx.Response) -> None:
    assert response.status_code == 429
    assert response.json() == {
        "error": {
            "code": "rate_limited",
            "message": "Too many attempts from your network. Please wait "
            f"{response.headers['retry-after']} seconds and try again.",
        }
    }
    assert 1 <= int(response.headers["retry-after"]) <= 60


class TestTokenBucket:
    def test_allows_the_burst_then_says_how_long_to_wait(self, clock: FakeClock) -> None:
        limiter = RateLimiter(attempts=3, period=60, clock=clock)

        waits = [limiter.hit(b"client") for _ in range(4)]

        assert waits == [0, 0, 0, 20]  # one attempt comes back every 20 s

    def test_a_refused_attempt_spends_nothing(self, clock: FakeClock) -> None:
        limiter = RateLimiter(attempts=1, period=60, clock=clock)
        limiter.hit(b"client")
        for _ in range(100):
            limiter.hit(b"client")

        clock.now += 60

        assert limiter.hit(b"client") == 0

    def test_attempts_come_back_over_time_and_then_the_client_is_forgotten(
        self, clock: FakeClock
    ) -> None:
        limiter = RateLimiter(attempts=3, period=60, clock=clock)
        for _ in range(3):
            limiter.hit(b"client")

        clock.now += 20
        assert limiter.hit(b"client") == 0
        assert limiter.hit(b"client") == 20
        assert limiter.clients() == [b"client"]

        clock.now += 60
        assert limiter.clients() == []

    def test_clients_are_counted_apart(self, clock: FakeClock) -> None:
        limiter = RateLimiter(attempts=1, period=60, clock=clock)

        assert [limiter.hit(b"one"), limiter.hit(b"two"), limiter.hit(b"one")] == [0, 0, 60]

    def test_a_refund_gives_the_attempt_back(self, clock: FakeClock) -> None:
        limiter = RateLimiter(attempts=2, period=600, clock=clock)
        for _ in range(5):
            assert limiter.hit(b"client") == 0
            limiter.refund(b"client")

        assert limiter.hit(b"client") == 0

    def test_the_table_is_bounded_forgetting_the_least_recently_seen(
        self, clock: FakeClock
    ) -> None:
        limiter = RateLimiter(attempts=1, period=60, max_clients=3, clock=clock)
        for name in (b"a", b"b", b"c", b"a", b"d"):
            limiter.hit(name)

        assert sorted(limiter.clients()) == [b"a", b"c", b"d"]

    def test_expired_clients_leave_the_table_at_the_next_attempt_of_anyone(
        self, clock: FakeClock
    ) -> None:
        limiter = RateLimiter(attempts=2, period=60, clock=clock)
        limiter.hit(b"old")
        clock.now += 31  # the old client's allowance is whole again

        limiter.hit(b"new")

        assert list(limiter._buckets) == [b"new"]


class TestClientKeys:
    def test_a_key_is_a_keyed_hash_not_the_address(self) -> None:
        key = ClientKeys().of(ADDRESS)

        assert len(key) == 16
        assert ADDRESS.encode() not in key
        assert key != hashlib.sha256(ADDRESS.encode()).digest()[:16]

    def test_each_process_draws_its_own_key(self) -> None:
        assert ClientKeys().of(ADDRESS) != ClientKeys().of(ADDRESS)

    def test_an_ipv6_client_is_counted_by_its_64_network(self) -> None:
        keys = ClientKeys()

        same_network = {keys.of("2001:db8:1:2::1"), keys.of("2001:db8:1:2:ffff::9")}

        assert len(same_network) == 1
        assert keys.of("2001:db8:1:3::1") not in same_network
        assert keys.of("::ffff:203.0.113.7") == keys.of(ADDRESS)

    def test_a_missing_address_is_one_client(self) -> None:
        keys = ClientKeys()

        assert keys.of(None) == keys.of("")


class TestSettings:
    def test_admission_limits_follow_the_setting_and_zero_turns_them_off(self) -> None:
        assert Settings().rate_limit_per_minute == 60
        on = RateLimits(attempts_per_minute=60)
        off = RateLimits(
            attempts_per_minute=Settings(rate_limit_per_minute=0).rate_limit_per_minute
        )

        assert on.limiters[RateLimits.ADMISSION].attempts == 60
        assert set(off.limiters) == {RateLimits.LOGIN}  # sign-ins stay limited

    def test_the_app_makes_its_limits_on_first_use(self, client: TestClient) -> None:
        made = limits(client)

        assert made is limits(client)
        assert made.limiters[RateLimits.CODE_ENTRY].attempts == 60


class TestAdmission:
    def test_the_api_answers_429_with_retry_after_once_the_attempts_are_spent(
        self, limited: TestClient, session: Session
    ) -> None:
        code = issue_code(session, make_campaign(session))
        answers = [
            limited.post("/api/v1/admission", json={"code": code}, headers=ENGLISH)
            for _ in range(ATTEMPTS + 1)
        ]

        assert [response.status_code for response in answers[:ATTEMPTS]] == [200] * ATTEMPTS
        assert_throttled_json(answers[-1])
        assert answers[-1].headers["retry-after"] == "20"

    def test_attempts_come_back_with_time(
        self, limited: TestClient, session: Session, clock: FakeClock
    ) -> None:
        for _ in range(ATTEMPTS):
            limited.post("/api/v1/admission", json={"code": "not a code"})
        assert limited.post("/api/v1/admission", json={"code": "x"}).status_code == 429

        clock.now += 20

        assert limited.post("/api/v1/admission", json={"code": "x"}).status_code == 422

    def test_the_code_entry_page_answers_429_with_retry_after(
        self, limited: TestClient, session: Session
    ) -> None:
        code = issue_code(session, make_campaign(session))
        for _ in range(ATTEMPTS):
            assert limited.post("/r", data={"code": code}).status_code == 200

        response = limited.post("/r", data={"code": code}, headers=ENGLISH)

        assert response.status_code == 429
        assert response.headers["retry-after"] == "20"
        assert "Too many attempts from your network" in response.text
        assert code_status(session, code) == CodeStatus.UNUSED

    def test_a_voucher_flood_is_throttled_and_no_voucher_is_spent(
        self, limited: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        credential_keys.open_campaign_keys(session, campaign, SERVER_SECRET)
        voucher = issue_code(session, campaign)
        keys = limited.get(f"/api/v1/campaigns/{campaign.slug}/keys").json()["keys"]
        public_key = next(key for key in keys if key["rater_group"] == "citizens")
        side = rater_side(credential_keys.decode_b64url(public_key["public_key"], field="key"))
        for _ in range(ATTEMPTS):
            limited.post("/api/v1/credentials", json={"voucher": "0000", "blinded_message": "A"})

        response = limited.post(
            "/api/v1/credentials",
            json={"voucher": voucher, "blinded_message": side.blinded_b64},
            headers=ENGLISH,
        )

        assert_throttled_json(response)
        assert code_status(session, voucher) == CodeStatus.UNUSED

    def test_each_route_counts_on_its_own(self, limited: TestClient) -> None:
        for _ in range(ATTEMPTS):
            limited.post("/api/v1/admission", json={"code": "x"})

        assert limited.post("/r", data={"code": "x"}).status_code != 429
        assert limited.post("/api/v1/admission", json={"code": "x"}).status_code == 429

    def test_other_clients_are_not_held_up(
        self, limited: TestClient, session: Session, clock: FakeClock
    ) -> None:
        for _ in range(ATTEMPTS + 1):
            limited.post("/api/v1/admission", json={"code": "x"})
        other = TestClient(limited.app, client=("198.51.100.1", 40000))

        assert other.post("/api/v1/admission", json={"code": "x"}).status_code == 422

    def test_submitting_ballots_is_not_limited(self, limited: TestClient) -> None:
        answers = [
            limited.post("/api/v1/ballots", json={"code": "x", "evaluations": []})
            for _ in range(ATTEMPTS + 2)
        ]

        assert {response.status_code for response in answers} == {422}


class TestNothingLeavesMemory:
    def test_the_table_holds_keyed_hashes_never_the_address(
        self, limited: TestClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        for _ in range(ATTEMPTS + 1):
            limited.post("/api/v1/admission", json={"code": "x"})

        [held] = limits(limited).limiters[RateLimits.ADMISSION].clients()

        assert held == limits(limited).keys.of(ADDRESS)
        assert ADDRESS.encode() not in held
        assert held != hashlib.sha256(ADDRESS.encode()).digest()[: len(held)]
        assert not [r for r in caplog.records if ADDRESS in r.getMessage()]


def sign_in_as(client: TestClient, username: str, password: str) -> httpx.Response:
    return client.post(
        "/admin/login",
        data={"csrftoken": csrf_token(client), "username": username, "password": password},
        headers=ENGLISH,
        follow_redirects=False,
    )


def audit_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


class TestConsoleSignIn:
    def test_failed_sign_ins_from_one_client_are_limited_across_accounts(
        self, limited: TestClient, session: Session
    ) -> None:
        users = [make_staff(session) for _ in range(ATTEMPTS + 1)]
        failures = [sign_in_as(limited, user.username, "wrong") for user in users[:ATTEMPTS]]
        recorded = audit_count(session)

        refused = sign_in_as(limited, users[-1].username, STAFF_PASSWORD)

        assert [response.status_code for response in failures] == [401] * ATTEMPTS
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) == 200  # 3 failures per 10 minutes
        assert "Too many attempts from your network" in refused.text
        assert "pingyi_staff" not in refused.headers.get("set-cookie", "")
        assert audit_count(session) == recorded  # a refused attempt checks and records nothing

    def test_successful_sign_ins_do_not_count(self, limited: TestClient, session: Session) -> None:
        user = make_staff(session)
        for _ in range(ATTEMPTS + 2):
            assert sign_in_as(limited, user.username, STAFF_PASSWORD).status_code == 303

        assert sign_in_as(limited, user.username, "wrong").status_code == 401

    def test_an_account_lock_says_when_to_retry_too(
        self, client: TestClient, session: Session
    ) -> None:
        user = make_staff(session)
        responses = [sign_in_as(client, user.username, "wrong") for _ in range(5)]

        locked = [response for response in responses if response.status_code == 429]
        assert locked
        assert all(int(response.headers["retry-after"]) >= 1 for response in locked)


class TestRosterSignIn:
    def test_failed_sign_ins_from_one_client_are_limited_across_identifiers(
        self, limited: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        entries = roster.import_roster(
            session,
            campaign,
            "cadres",
            [roster.RosterLine(1, "13800138000")],
            SERVER_SECRET,
        )
        for number in range(ATTEMPTS):
            limited.post(
                "/api/v1/roster/login",
                json={
                    "campaign": campaign.slug,
                    "identifier": f"1390000000{number}",
                    "password": "x",
                },
            )

        response = limited.post(
            "/api/v1/roster/login",
            json={
                "campaign": campaign.slug,
                "identifier": entries[0].identifier,
                "password": entries[0].password,
            },
            headers=ENGLISH,
        )

        assert response.status_code == 429
        assert response.json()["error"]["code"] == "rate_limited"
        assert int(response.headers["retry-after"]) == 200
        assert "set-cookie" not in response.headers

    def test_the_identifier_throttle_says_when_to_retry(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        body = {"campaign": campaign.slug, "identifier": "13800138000", "password": "x"}
        responses = [client.post("/api/v1/roster/login", json=body) for _ in range(5)]

        throttled = [r for r in responses if r.status_code == 429]
        assert throttled
        assert throttled[0].json()["error"]["code"] == "roster_login_throttled"
        assert int(throttled[0].headers["retry-after"]) >= 1
