"""What the credential tests share: a rater's side of RFC 9474, a pool of keys, databases.

Import ``key_pool`` into a test module to use it there (an autouse fixture): key generation
takes ~0.3 s, so keys come from a small pool of real 3072-bit keys, handed out in turn, each
distinct from the last ``POOL_SIZE - 1``.
"""

import itertools
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import Result
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app import config, db
from app.cli import cli
from app.credentials import blind_rsa
from app.credentials import keys as credential_keys
from app.credentials.models import CredentialKey
from app.errors import PingyiError
from tests.conftest import migrate, new_sqlite_engine

SERVER_SECRET = b"test-secret-key"  # PINGYI_SECRET_KEY in tests/conftest.py
POOL_SIZE = 10
_pool: list[rsa.RSAPrivateKey] = []
_pool_lock = threading.Lock()
_turn = itertools.count()


def _pooled_key(key_size: int = blind_rsa.MIN_MODULUS_BITS) -> rsa.RSAPrivateKey:
    assert key_size >= blind_rsa.MIN_MODULUS_BITS
    with _pool_lock:
        if len(_pool) < POOL_SIZE:
            _pool.append(rsa.generate_private_key(public_exponent=65537, key_size=key_size))
            return _pool[-1]
        return _pool[next(_turn) % POOL_SIZE]


@pytest.fixture(autouse=True)
def key_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blind_rsa, "generate_private_key", _pooled_key)


@dataclass(frozen=True)
class RaterSide:
    """What a rater's browser holds while fetching a credential."""

    public_key: rsa.RSAPublicKey
    prepared: bytes  # the message that will be signed: 32 random bytes + a 32-byte nonce
    blinded: bytes
    inv: bytes

    @property
    def blinded_b64(self) -> str:
        return credential_keys.encode_b64url(self.blinded)

    def finalize(self, blind_signature: bytes | str) -> bytes:
        if isinstance(blind_signature, str):
            blind_signature = credential_keys.decode_b64url(blind_signature, field="test")
        return blind_rsa.finalize(self.public_key, self.prepared, blind_signature, self.inv)

    def credential(
        self, signature: bytes, rater_group: str, campaign: str | None = None
    ) -> "CredentialData":
        return CredentialData(
            rater_group=rater_group,
            message=credential_keys.encode_b64url(self.prepared),
            signature=credential_keys.encode_b64url(signature),
            campaign=campaign,
        )


@dataclass(frozen=True)
class CredentialData:
    """A credential as a ballot carries it (satisfies ``service.CredentialLike``)."""

    rater_group: str
    message: str
    signature: str
    campaign: str | None = None

    def as_json(self) -> dict[str, Any]:
        body = {
            "rater_group": self.rater_group,
            "message": self.message,
            "signature": self.signature,
        }
        if self.campaign is not None:
            body["campaign"] = self.campaign
        return body


def rater_side(spki_der: bytes) -> RaterSide:
    """Prepare a fresh message (RFC 9474 prefix + a random nonce) and blind it for the key."""
    public_key = blind_rsa.load_public_key(spki_der)
    prepared = blind_rsa.prepare(secrets.token_bytes(credential_keys.NONCE_LENGTH))
    blinded = blind_rsa.blind(public_key, prepared)
    return RaterSide(public_key, prepared, blinded.blinded_msg, blinded.inv)


def key_of(
    session: Session, campaign_id: int, group_id: int, target_id: int | None = None
) -> CredentialKey:
    key = credential_keys.key_for_scope(session, campaign_id, group_id, target_id)
    assert key is not None
    return key


def all_keys(session: Session) -> list[CredentialKey]:
    return list(session.scalars(select(CredentialKey).order_by(CredentialKey.id)))


# --- committed databases and races --------------------------------------------------------------


def race(engine: Engine, attempts: list[Callable[[Session], Any]]) -> list[Any]:
    """Run every attempt at the same moment, each in its own session, transaction and
    connection; an attempt's result is what it returned (committed) or its error code."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    barrier = threading.Barrier(len(attempts))
    outcomes: list[Any] = [None] * len(attempts)

    def run(index: int) -> None:
        with factory() as session:
            barrier.wait()
            try:
                outcomes[index] = attempts[index](session)
                session.commit()
            except PingyiError as error:
                session.rollback()
                outcomes[index] = error.code

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(attempts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


# --- the command line against a database of its own ---------------------------------------------


def _clear_app_caches() -> None:
    config.get_settings.cache_clear()
    db.get_engine.cache_clear()
    db.get_session_factory.cache_clear()


@contextmanager
def cli_database(**environment: str) -> Iterator[Engine]:
    """A fresh migrated SQLite database that the app's settings point at, while open, with
    extra ``PINGYI_*`` settings (``role="collector"`` sets ``PINGYI_ROLE``)."""
    engine = new_sqlite_engine()
    migrate(engine)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PINGYI_DATABASE_URL", engine.url.render_as_string(hide_password=False))
        for name, value in environment.items():
            patch.setenv(f"PINGYI_{name.upper()}", value)
        _clear_app_caches()
        try:
            yield engine
        finally:
            if db.get_engine.cache_info().currsize:
                db.get_engine().dispose()
            _clear_app_caches()
    engine.dispose()


def run_cli(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def run_cli_ok(*args: str) -> Result:
    result = run_cli(*args)
    assert result.exit_code == 0, f"pingyi {' '.join(args)} failed:\n{result.output}"
    return result


def run_cli_failing(*args: str) -> Result:
    result = run_cli(*args)
    assert result.exit_code == 1, f"pingyi {' '.join(args)} exited {result.exit_code}"
    assert isinstance(result.exception, SystemExit), result.exception
    return result
