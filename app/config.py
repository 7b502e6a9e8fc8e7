"""Settings, read once from the environment (prefix ``PINGYI_``)."""

import enum
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MINIMUM_DISCLOSURE_THRESHOLD = 3
SECRET_KEY_FILE_NAME = "secret_key"  # noqa: S105 - a file name, not a secret


class DeploymentRole(enum.StrEnum):
    """Which half of a split deployment this process is (README, "Two organisations")."""

    ISSUER = "issuer"  # console, codes, rosters, credential issuance, keys; no ballots
    COLLECTOR = "collector"  # public keys, ballots, verification, results; no issuance
    ALL = "all"  # both, in one deployment


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PINGYI_", extra="ignore")

    env: Literal["development", "production"] = "development"
    var_dir: Path = PROJECT_ROOT / "var"
    database_url: str = ""
    secret_key: SecretStr | None = None
    disclosure_threshold: int = Field(default=5)
    surveys_dir: Path = PROJECT_ROOT / "surveys"
    public_base_url: str = "http://127.0.0.1:8000"
    database_pool_size: int = Field(default=10, ge=1)
    pdf_font: Path | None = Field(
        default=None, description="A CJK font file (.ttf, .otf or .ttc) for PDF output"
    )
    pdf_font_index: int = Field(default=0, ge=0, description="The face within a .ttc file")
    role: DeploymentRole = DeploymentRole.ALL
    log_format: Literal["text", "json"] = Field(
        default="text", description="json: one JSON object per line, for log collectors"
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Proxies trusted to say the original scheme (X-Forwarded-Proto), "
        "comma-separated, or * behind a private network",
    )
    rate_limit_per_minute: int = Field(
        default=60,
        ge=0,
        description="Admission attempts per client address and minute on each admission route "
        "(0: no limit), counted in memory only",
    )

    @field_validator("disclosure_threshold")
    @classmethod
    def _threshold_not_below_minimum(cls, value: int) -> int:
        if value < MINIMUM_DISCLOSURE_THRESHOLD:
            raise ValueError(
                f"PINGYI_DISCLOSURE_THRESHOLD is {value}; it may not be below "
                f"{MINIMUM_DISCLOSURE_THRESHOLD}, or small groups of raters could be singled out"
            )
        return value

    @model_validator(mode="after")
    def _fill_defaults(self) -> "Settings":
        if not self.database_url:
            self.database_url = f"sqlite:///{self.var_dir / 'pingyi.db'}"
        if self.env == "production" and self.secret_key is None:
            raise ValueError("PINGYI_SECRET_KEY is required when PINGYI_ENV=production")
        return self

    @property
    def issues_credentials(self) -> bool:
        """Whether this deployment holds private keys (and makes them when campaigns open)."""
        return self.role != DeploymentRole.COLLECTOR

    def secret_bytes(self) -> bytes:
        """The server secret; in development it is generated once and kept under ``var_dir``.

        Every admission code hash is keyed with it, so losing or changing it invalidates
        all codes that were issued under it.
        """
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        return _development_secret(self.var_dir).encode()


@lru_cache
def _development_secret(var_dir: Path) -> str:
    """Read the development secret, creating it atomically if no worker has yet."""
    path = var_dir / SECRET_KEY_FILE_NAME
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        draft = var_dir / f".{SECRET_KEY_FILE_NAME}.{secrets.token_hex(8)}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as secret_file:
            secret_file.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(draft, path)  # fails if another process won the race; theirs is kept
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
