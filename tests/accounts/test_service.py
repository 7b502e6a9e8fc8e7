"""Staff accounts: creation rules, sign-in, slow-down and lock-out, ending sessions."""

import pytest
from sqlalchemy.orm import Session

from app.accounts import service as account_service
from app.accounts import sessions
from app.accounts.models import Role
from app.errors import InvalidInput, NotFound
from tests.factories import STAFF_PASSWORD, make_department, make_staff


class Clock:
    """Monotonic seconds for the in-memory failure counter."""

    def __init__(self) -> None:
        self.current = 1000.0

    def __call__(self) -> float:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(account_service.login_failures, "clock", fake)
    return fake


class TestCreatingAccounts:
    def test_password_is_stored_as_an_argon2_hash(self, session: Session) -> None:
        user = make_staff(session)

        assert user.password_hash.startswith("$argon2id$")
        assert STAFF_PASSWORD not in user.password_hash

    @pytest.mark.parametrize("username", ["A", "has space", "Upper", "x" * 65, "-lead"])
    def test_malformed_username_is_refused(self, session: Session, username: str) -> None:
        with pytest.raises(InvalidInput) as refused:
            account_service.create_user(
                session, username=username, password=STAFF_PASSWORD, role=Role.ADMIN
            )
        assert refused.value.field == "username"

    def test_taken_username_is_refused(self, session: Session) -> None:
        make_staff(session, username="wang")

        with pytest.raises(InvalidInput):
            make_staff(session, username="wang")

    def test_short_password_is_refused(self, session: Session) -> None:
        with pytest.raises(InvalidInput) as refused:
            account_service.create_user(session, username="li", password="short", role=Role.ADMIN)
        assert refused.value.field == "password"

    def test_liaison_needs_an_existing_department(self, session: Session) -> None:
        with pytest.raises(InvalidInput):
            account_service.create_user(
                session, username="zhao", password=STAFF_PASSWORD, role=Role.LIAISON
            )
        with pytest.raises(NotFound):
            account_service.create_user(
                session,
                username="zhao",
                password=STAFF_PASSWORD,
                role=Role.LIAISON,
                department_code="NOPE",
            )
        department = make_department(session)

        liaison = make_staff(session, role="liaison", department=department)

        assert liaison.department_id == department.id


class TestSigningIn:
    def test_right_password_signs_in_and_clears_failures(
        self, session: Session, clock: Clock
    ) -> None:
        user = make_staff(session)
        account_service.sign_in(session, user.username, "wrong password!")

        outcome = account_service.sign_in(session, user.username, STAFF_PASSWORD)

        assert outcome.user is user
        assert user.failed_logins == 0

    def test_unknown_user_and_wrong_password_fail_alike(self, session: Session) -> None:
        user = make_staff(session)

        unknown = account_service.sign_in(session, "nobody-here", STAFF_PASSWORD)
        wrong = account_service.sign_in(session, user.username, "not the password")

        assert not unknown.succeeded
        assert not wrong.succeeded
        assert unknown.wait_seconds == wrong.wait_seconds == 0

    def test_unknown_names_are_throttled_exactly_like_accounts(
        self, session: Session, clock: Clock
    ) -> None:
        user = make_staff(session)

        def waits(username: str) -> list[int]:
            return [
                account_service.sign_in(session, username, "bad").wait_seconds for _ in range(5)
            ]

        assert waits(user.username) == waits("nobody-here") == [0, 0, 0, 2, 2]

    def test_disabled_account_cannot_sign_in(self, session: Session) -> None:
        user = make_staff(session)
        account_service.disable_user(session, user)

        assert not account_service.sign_in(session, user.username, STAFF_PASSWORD).succeeded

    def test_failures_slow_down_then_lock(self, session: Session, clock: Clock) -> None:
        user = make_staff(session)
        for _ in range(account_service.FREE_ATTEMPTS):  # the third failure: wait 2 s
            assert account_service.sign_in(session, user.username, "bad").wait_seconds == 0

        waiting = account_service.sign_in(session, user.username, STAFF_PASSWORD)

        assert not waiting.succeeded
        assert waiting.wait_seconds == 2
        clock.advance(2.5)
        assert account_service.sign_in(session, user.username, STAFF_PASSWORD).succeeded

    def test_many_failures_lock_for_a_quarter_hour_even_for_the_right_password(
        self, session: Session, clock: Clock
    ) -> None:
        user = make_staff(session)
        for _ in range(account_service.LOCK_AFTER - 1):
            account_service.sign_in(session, user.username, "bad")
            clock.advance(200)  # wait out every slow-down (at most 128 s): each is counted
        account_service.sign_in(session, user.username, "bad")

        locked = account_service.sign_in(session, user.username, STAFF_PASSWORD)

        assert not locked.succeeded
        assert 14 * 60 < locked.wait_seconds <= 15 * 60
        clock.advance(15 * 60 + 1)
        assert account_service.sign_in(session, user.username, STAFF_PASSWORD).succeeded

    def test_reset_password_lifts_the_lock(self, session: Session, clock: Clock) -> None:
        user = make_staff(session)
        for _ in range(account_service.LOCK_AFTER):
            account_service.sign_in(session, user.username, "bad")
            clock.advance(200)

        account_service.reset_password(session, user, "a brand new password")

        assert account_service.sign_in(session, user.username, "a brand new password").succeeded


class TestEndingSessions:
    def test_session_ends_on_reset_disable_and_logout(self, session: Session) -> None:
        for end in (
            lambda user: account_service.reset_password(session, user, "another long password"),
            lambda user: account_service.disable_user(session, user),
            account_service.end_sessions,
        ):
            user = make_staff(session)
            staff_session = sessions.new_session(user.id, user.session_version)
            assert account_service.user_for_session(session, staff_session) is user

            end(user)

            assert account_service.user_for_session(session, staff_session) is None
