"""The server secret: its strength, its check value in the database, and rotation."""

import datetime as dt
import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from app import config, i18n
from app.admission import codes
from app.admission import pending as pending_codes
from app.admission import service as admission_service
from app.admission.models import PendingCodes
from app.config import SecretKeyInvalid, Settings
from app.credentials import blind_rsa, issuance
from app.credentials import keys as credential_keys
from app.credentials.models import CredentialKey
from app.ops import rotation
from app.ops import secret as secret_check
from tests.credentials.credential_helpers import (
    cli_database,
    key_of,
    key_pool,  # noqa: F401 - an autouse fixture
    rater_side,
    run_cli,
    run_cli_failing,
    run_cli_ok,
)
from tests.factories import make_campaign

TEST_SECRET = b"test-secret-key"  # PINGYI_SECRET_KEY in tests/conftest.py
NEW_SECRET = secrets.token_urlsafe(48)
WEAK_SECRETS = ["", " ", "1", "abc", "x" * 64, "abcdefghijklmnopq" * 2, "短" * 40]


@pytest.fixture(autouse=True)
def in_english() -> None:
    """The messages are checked in English (their Chinese is in the catalog)."""
    i18n.set_locale("en")


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


class TestSecretStrengthInProduction:
    @pytest.mark.parametrize("weak", WEAK_SECRETS)
    def test_weak_secret_is_refused_with_one_line_saying_how_to_make_one(
        self, monkeypatch: pytest.MonkeyPatch, weak: str
    ) -> None:
        monkeypatch.setenv("PINGYI_ENV", "production")
        monkeypatch.setenv("PINGYI_SECRET_KEY", weak)
        config.get_settings.cache_clear()
        try:
            with pytest.raises(SecretKeyInvalid) as refused:
                config.get_settings()
        finally:
            config.get_settings.cache_clear()

        message = one_line(refused.value.translated())
        assert message.startswith("PINGYI_SECRET_KEY")
        assert "secrets.token_urlsafe(48)" in message
        if len(weak) > 3:  # never repeats the secret (a digit or two may be the length)
            assert weak not in message

    @pytest.mark.parametrize("weak", WEAK_SECRETS)
    def test_settings_refuse_it_too(self, monkeypatch: pytest.MonkeyPatch, weak: str) -> None:
        monkeypatch.setenv("PINGYI_ENV", "production")
        monkeypatch.setenv("PINGYI_SECRET_KEY", weak)
        with pytest.raises(ValidationError, match="PINGYI_SECRET_KEY"):
            Settings()

    def test_a_generated_secret_is_accepted(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PINGYI_ENV", "production")
        monkeypatch.setenv("PINGYI_SECRET_KEY", NEW_SECRET)
        assert Settings().secret_bytes() == NEW_SECRET.encode()

    def test_the_command_line_prints_one_line_and_no_traceback(self) -> None:
        with cli_database(env="production", secret_key="abc"):
            result = run_cli_failing("campaign", "list")
        line = one_line(result.output)
        assert "3 bytes long" in line
        assert "Traceback" not in result.output

    def test_serve_stops_before_starting_on_an_empty_secret(self) -> None:
        with cli_database(env="production", secret_key=""):
            result = run_cli_failing("serve")
        assert "PINGYI_SECRET_KEY is empty" in one_line(result.output)

    def test_production_never_generates_a_secret(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("PINGYI_ENV", "production")
        monkeypatch.delenv("PINGYI_SECRET_KEY")
        monkeypatch.setenv("PINGYI_VAR_DIR", str(tmp_path))
        with pytest.raises(ValidationError, match="PINGYI_SECRET_KEY is required"):
            Settings()
        assert not (tmp_path / config.SECRET_KEY_FILE_NAME).exists()


class TestSecretInDevelopment:
    def test_a_short_test_secret_is_accepted(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PINGYI_SECRET_KEY", "test-secret-key")
        assert Settings().secret_bytes() == TEST_SECRET

    def test_an_empty_secret_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PINGYI_SECRET_KEY", "")
        with pytest.raises(ValidationError, match="PINGYI_SECRET_KEY is empty"):
            Settings()

    def test_a_generated_secret_is_announced_once_with_its_file(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        monkeypatch.delenv("PINGYI_SECRET_KEY")
        monkeypatch.setenv("PINGYI_VAR_DIR", str(tmp_path))
        caplog.set_level(logging.WARNING, logger="pingyi.config")

        Settings().secret_bytes()
        config._development_secret.cache_clear()  # as a second process would
        Settings().secret_bytes()

        announced = [record.getMessage() for record in caplog.records]
        assert len(announced) == 1
        assert str(tmp_path / config.SECRET_KEY_FILE_NAME) in announced[0]


class TestCheckValue:
    def test_first_command_records_it_and_a_wrong_secret_is_refused(self) -> None:
        with cli_database() as engine:
            run_cli_ok("campaign", "list")
            with engine.connect() as connection:
                assert secret_check.stored_check_value(connection) == secret_check.check_value(
                    TEST_SECRET
                )
                assert secret_check.secret_problem(connection) is None
                assert secret_check.secret_problem(connection, NEW_SECRET.encode()) == (
                    "secret_mismatch"
                )
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("PINGYI_SECRET_KEY", NEW_SECRET)
                config.get_settings.cache_clear()
                result = run_cli_failing("campaign", "list")
                with engine.connect() as connection:
                    assert secret_check.secret_problem(connection) == "secret_mismatch"
            config.get_settings.cache_clear()

        line = one_line(result.output)
        assert "does not match the secret this database was set up with" in line
        assert "pingyi secret rotate" in line

    def test_no_problem_before_anything_is_recorded(self, session: Session) -> None:
        connection = session.connection()
        assert secret_check.stored_check_value(connection) is None
        assert secret_check.secret_problem(connection) is None


@dataclass(frozen=True)
class SetUp:
    engine: Engine
    codes: list[str]  # unused codes issued under the test secret
    campaign_id: int


@pytest.fixture
def rotating_database() -> Iterator[SetUp]:
    """A database set up with the test secret: an open campaign with its credential keys,
    an unused code, held codes of a batch; then PINGYI_SECRET_KEY is the new secret and the
    test secret is the previous one."""
    with cli_database() as engine:
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        with factory.begin() as session:
            campaign = make_campaign(session, groups={"citizens": 1.0})
            credential_keys.open_campaign_keys(session, campaign, TEST_SECRET)
            issued = admission_service.issue_codes(
                session,
                campaign,
                hashing_key=codes.hashing_key(TEST_SECRET),
                group_key="citizens",
                count=2,
            )
            pending_codes.hold_for_download(
                session,
                issued,
                pending_codes.pending_codes_key(TEST_SECRET),
                lifetime=dt.timedelta(hours=1),
            )
            secret_check.check_secret(session.connection(), TEST_SECRET)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("PINGYI_SECRET_KEY", NEW_SECRET)
            patch.setenv("PINGYI_PREVIOUS_SECRET_KEYS", "an-older-one," + TEST_SECRET.decode())
            config.get_settings.cache_clear()
            try:
                yield SetUp(engine, issued.codes, campaign.id)
            finally:
                config.get_settings.cache_clear()


class TestRotate:
    def test_everything_encrypted_moves_to_the_new_secret_and_old_codes_still_admit(
        self, rotating_database: SetUp
    ) -> None:
        engine = rotating_database.engine
        result = run_cli_ok("secret", "rotate")

        assert "1 credential keys, 1 held code batches" in result.output
        assert "PINGYI_PREVIOUS_SECRET_KEYS" in result.output
        assert "signs in again" in result.output
        new = NEW_SECRET.encode()
        old_code, other_code = rotating_database.codes
        with sessionmaker(bind=engine).begin() as session:
            connection = session.connection()
            assert secret_check.secret_problem(connection, new) is None
            assert secret_check.secret_problem(connection, TEST_SECRET) == "secret_mismatch"
            held = session.scalars(select(PendingCodes)).one()
            assert (
                old_code
                in Fernet(pending_codes.pending_codes_key(new))
                .decrypt(bytes(held.ciphertext))
                .decode()
            )
            # An old code still admits, and exchanging it for a credential signs with the
            # private key re-encrypted under the new secret.
            new_hashing_key = codes.hashing_key(new)
            admitted = admission_service.check_code(session, new_hashing_key, old_code)
            assert admitted.campaign.id == rotating_database.campaign_id
            key = key_of(session, rotating_database.campaign_id, admitted.rater_group.id)
            side = rater_side(key.public_key)
            credential_keys._private_keys.clear()
            issued = issuance.issue_for_voucher(
                session, new_hashing_key, new, old_code, side.blinded_b64
            )
            assert side.finalize(issued.blind_signature)
            found = credential_keys.key_for_code(session, new_hashing_key, other_code)
            assert found is not None
            assert found.id == key.id
        run_cli_ok("campaign", "list")  # the preflight accepts the new secret

    def test_rotating_again_says_there_is_nothing_to_rotate(self, rotating_database: SetUp) -> None:
        run_cli_ok("secret", "rotate")
        result = run_cli_failing("secret", "rotate")
        assert "Nothing to rotate" in one_line(result.output)

    def test_without_the_old_secret_nothing_changes(self, rotating_database: SetUp) -> None:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("PINGYI_PREVIOUS_SECRET_KEYS", "not-the-old-one")
            config.get_settings.cache_clear()
            result = run_cli_failing("secret", "rotate")
        assert "None of the secrets in PINGYI_PREVIOUS_SECRET_KEYS" in one_line(result.output)
        with rotating_database.engine.connect() as connection:
            assert secret_check.secret_problem(connection, TEST_SECRET) is None

    def test_an_interrupted_rotation_changes_nothing(
        self, rotating_database: SetUp, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def crash(session: Session, old_secret: bytes, new_secret: bytes) -> int:
            raise RuntimeError("interrupted")

        monkeypatch.setattr(rotation, "_rotate_entered_shares", crash)
        result = run_cli("secret", "rotate")

        assert result.exit_code != 0
        assert isinstance(result.exception, RuntimeError)
        with sessionmaker(bind=rotating_database.engine).begin() as session:
            assert secret_check.secret_problem(session.connection(), TEST_SECRET) is None
            for key in session.scalars(select(CredentialKey)):
                assert key.private_key is not None
                blind_rsa.decrypt_private_key(
                    bytes(key.private_key), TEST_SECRET, bytes(key.fingerprint)
                )
            held = session.scalars(select(PendingCodes)).one()
            Fernet(pending_codes.pending_codes_key(TEST_SECRET)).decrypt(bytes(held.ciphertext))
