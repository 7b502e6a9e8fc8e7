"""The server secret's check value: the database remembers which secret it was set up with.

The check value is HMAC-SHA256(secret, a fixed label), stored in ``secret_check`` (one row,
id 1). It cannot be turned back into the secret, and it lets a server or command started
with another secret stop with one clear line instead of refusing every admission code as
mistyped and failing every credential as undecryptable.

The first command or server start after ``pingyi db upgrade`` records it (:func:`check_secret`);
readiness compares against it without writing (:func:`secret_problem`); ``pingyi secret
rotate`` replaces it (``app.ops.rotation``).
"""

import hashlib
import hmac

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from app.config import get_settings
from app.db import get_engine
from app.errors import PingyiError
from app.i18n import N_
from app.ops.models import SecretCheck

CHECK_LABEL = b"pingyi secret check v1"
CHECK_ROW_ID = 1
SECRET_MISMATCH = "secret_mismatch"  # noqa: S105 - a problem's name, not a secret


class SecretMismatch(PingyiError):
    status_code = 503
    code = SECRET_MISMATCH
    message = N_(
        "PINGYI_SECRET_KEY does not match the secret this database was set up with. Set the "
        "right PINGYI_SECRET_KEY; or, to change the secret, put the old one in "
        "PINGYI_PREVIOUS_SECRET_KEYS and run `pingyi secret rotate` (docs/operations-secrets.md)."
    )


def check_value(secret: bytes) -> bytes:
    """What the database keeps of ``secret``: an HMAC of a fixed label, 32 bytes."""
    return hmac.new(secret, CHECK_LABEL, hashlib.sha256).digest()  # CHECK_VALUE_BYTES long


def stored_check_value(connection: Connection) -> bytes | None:
    stored = connection.scalar(
        select(SecretCheck.check_value).where(SecretCheck.id == CHECK_ROW_ID)
    )
    return None if stored is None else bytes(stored)


def matches(stored: bytes, secret: bytes) -> bool:
    return hmac.compare_digest(stored, check_value(secret))


def secret_problem(connection: Connection, secret: bytes | None = None) -> str | None:
    """``"secret_mismatch"`` when the database's check value is not this secret's, else None.

    Reads only (readiness calls it): a database without a check value yet has no problem
    here; the first command or server start records one (:func:`check_secret`).
    """
    stored = stored_check_value(connection)
    if stored is None:
        return None
    current = get_settings().secret_bytes() if secret is None else secret
    return None if matches(stored, current) else SECRET_MISMATCH


def record_check_value(connection: Connection, secret: bytes) -> None:
    """Record ``secret``'s check value if none is recorded (concurrent starts: one wins)."""
    values = {"id": CHECK_ROW_ID, "check_value": check_value(secret)}
    if connection.dialect.name == "postgresql":
        connection.execute(postgresql.insert(SecretCheck).values(values).on_conflict_do_nothing())
    else:
        connection.execute(sqlite.insert(SecretCheck).values(values).on_conflict_do_nothing())


def check_secret(connection: Connection, secret: bytes) -> None:
    """Record the check value when there is none, else compare; raise :class:`SecretMismatch`."""
    if stored_check_value(connection) is None:
        record_check_value(connection, secret)
    if secret_problem(connection, secret) is not None:
        raise SecretMismatch()


def check_secret_matches() -> None:
    """The preflight step: the configured secret is the one the database was set up with.

    A database that cannot be reached or is not migrated is left to the checks before this
    one (and to the command itself); this step only speaks about the secret.
    """
    secret = get_settings().secret_bytes()
    try:
        with get_engine().begin() as connection:
            check_secret(connection, secret)
    except DBAPIError:
        return
