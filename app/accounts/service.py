"""Staff accounts: creation, passwords, sign-in with slow-down and temporary lock-out."""

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts import passwords
from app.accounts.models import Role, StaffUser
from app.accounts.sessions import StaffSession
from app.departments.models import Department
from app.errors import InvalidInput, NotFound
from app.i18n import N_
from app.signin_failures import FREE_ATTEMPTS as FREE_ATTEMPTS  # re-exported
from app.signin_failures import LOCK_AFTER as LOCK_AFTER  # re-exported
from app.signin_failures import FailureCounter, NameKeys

login_failures = FailureCounter()  # per typed user name, in this process's memory
user_name_keys = NameKeys()
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,63}$"


def utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back without a zone; they are stored in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def check_password_strength(password: str) -> None:
    if len(password) < passwords.MINIMUM_LENGTH:
        raise InvalidInput(
            N_("The password must have at least %(minimum)s characters."),
            field="password",
            minimum=passwords.MINIMUM_LENGTH,
        )


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role,
    display_name: str | None = None,
    department_code: str | None = None,
) -> StaffUser:
    if not re.match(USERNAME_PATTERN, username):
        raise InvalidInput(
            N_("A username has 2 to 64 lower-case letters, digits, dots, dashes or underscores."),
            field="username",
        )
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise InvalidInput(
            N_("The username “%(username)s” is taken."), field="username", username=username
        )
    check_password_strength(password)
    department_id = None
    if role == Role.LIAISON:
        if not department_code:
            raise InvalidInput(
                N_("A department liaison needs the code of their department."), field="department"
            )
        department = session.scalar(select(Department).where(Department.code == department_code))
        if department is None:
            raise NotFound(name=department_code)
        department_id = department.id
    user = StaffUser(
        username=username,
        display_name=display_name or username,
        role=role,
        department_id=department_id,
        password_hash=passwords.hash_password(password),
    )
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, username: str) -> StaffUser:
    user = session.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None:
        raise NotFound(name=username)
    return user


def list_users(session: Session) -> Sequence[StaffUser]:
    return session.scalars(select(StaffUser).order_by(StaffUser.username)).all()


def reset_password(session: Session, user: StaffUser, password: str) -> None:
    """Set a new password, lift any lock, and end every open session of the user."""
    check_password_strength(password)
    user.password_hash = passwords.hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    user.session_version += 1
    login_failures.succeeded(user_name_keys.of(user.username))  # in this process


def disable_user(session: Session, user: StaffUser) -> None:
    user.disabled = True
    user.session_version += 1


def end_sessions(user: StaffUser) -> None:
    user.session_version += 1


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt. Failures are outcomes, not exceptions: the failure
    count and the audit entry must be committed."""

    user: StaffUser | None
    wait_seconds: int = 0  # > 0 when the account is temporarily locked

    @property
    def succeeded(self) -> bool:
        return self.user is not None


def sign_in(
    session: Session,
    username: str,
    password: str,
    *,
    failures: FailureCounter = login_failures,
    before_check: Callable[[], object] | None = None,
) -> SignIn:
    """Check a user name and password.

    Failures are counted per typed name in memory (:mod:`app.signin_failures`), the same for
    a name that exists and one that does not, and an unknown name's password is checked
    against a dummy hash: no answer, wait or timing tells whether an account exists.
    ``before_check`` runs once the name is not throttled and before the password is checked
    (the per-address ceiling; whatever it raises refuses the attempt).
    """
    key = user_name_keys.of(username)
    wait = failures.begin_attempt(key)
    if wait:
        return SignIn(user=None, wait_seconds=wait)
    if before_check is not None:
        before_check()
    user = session.scalar(select(StaffUser).where(StaffUser.username == username.strip()))
    stored_hash = user.password_hash if user is not None else None
    if not passwords.verify_password(stored_hash, password) or user is None or user.disabled:
        return SignIn(user=None)
    failures.succeeded(key)
    user.failed_logins = 0
    user.locked_until = None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return SignIn(user=user)


def user_for_session(session: Session, staff_session: StaffSession | None) -> StaffUser | None:
    """The signed-in user, if the session is still theirs and they are not disabled."""
    if staff_session is None:
        return None
    user = session.get(StaffUser, staff_session.user_id)
    if user is None or user.disabled or user.session_version != staff_session.version:
        return None
    return user
