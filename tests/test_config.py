"""Settings from PINGYI_* variables."""

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import Settings


class TestDisclosureThreshold:
    def test_defaults_to_five(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("PINGYI_DISCLOSURE_THRESHOLD", raising=False)
        assert Settings().disclosure_threshold == 5

    def test_below_three_is_refused_with_a_reason(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PINGYI_DISCLOSURE_THRESHOLD", "2")

        with pytest.raises(ValidationError, match="may not be below 3"):
            Settings()

    def test_three_is_allowed(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PINGYI_DISCLOSURE_THRESHOLD", "3")
        assert Settings().disclosure_threshold == 3


class TestSecretKey:
    def test_production_requires_a_secret(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PINGYI_ENV", "production")
        monkeypatch.delenv("PINGYI_SECRET_KEY", raising=False)

        with pytest.raises(ValidationError, match="PINGYI_SECRET_KEY is required"):
            Settings()

    def test_development_generates_a_private_secret_once(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.delenv("PINGYI_SECRET_KEY", raising=False)
        monkeypatch.setenv("PINGYI_VAR_DIR", str(tmp_path))

        first = Settings().secret_bytes()
        second = Settings().secret_bytes()

        secret_file = tmp_path / "secret_key"
        assert first == second
        assert len(first) >= 32
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600

    def test_explicit_secret_wins(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PINGYI_SECRET_KEY", "from-the-environment")
        assert Settings().secret_bytes() == b"from-the-environment"


class TestDatabaseUrl:
    def test_defaults_to_sqlite_under_var(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.delenv("PINGYI_DATABASE_URL", raising=False)
        monkeypatch.setenv("PINGYI_VAR_DIR", str(tmp_path))

        assert Settings().database_url == f"sqlite:///{tmp_path / 'pingyi.db'}"
