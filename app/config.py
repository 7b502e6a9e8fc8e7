"""Settings, read once from the environment (prefix ``PINGYI_``)."""

import enum
import logging
import os
import re
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.errors import PingyiError
from app.i18n import N_

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MINIMUM_DISCLOSURE_THRESHOLD = 3
SECRET_KEY_FILE_NAME = "secret_key"  # noqa: S105 - a file name, not a secret
MINIMUM_SECRET_BYTES = 32
MINIMUM_SECRET_DISTINCT_CHARACTERS = 16
MAKE_SECRET_COMMAND = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'  # noqa: S105

logger = logging.getLogger("pingyi.config")


class SettingsInvalid(PingyiError):
    """The ``PINGYI_*`` settings cannot be used; one line that says which and why."""

    status_code = 500
    code = "settings_invalid"
    message = N_("The settings are not valid: %(problems)s")


class SecretKeyInvalid(SettingsInvalid, ValueError):
    """The server secret is missing or too weak (a ValueError, so pydantic reports it too).

    Its message never repeats the secret.
    """

    code = "secret_key_invalid"
    message = N_(
        "PINGYI_SECRET_KEY is required when PINGYI_ENV=production. Make one with: %(command)s"
    )


SECRET_EMPTY = N_(
    "PINGYI_SECRET_KEY is empty. The server secret must be at least %(minimum)s random bytes; "
    "make one with: %(command)s"
)
SECRET_TOO_SHORT = N_(
    "PINGYI_SECRET_KEY is %(length)s bytes long; the server secret must be at least "
    "%(minimum)s random bytes. Make one with: %(command)s"
)
SECRET_FEW_CHARACTERS = N_(
    "PINGYI_SECRET_KEY has only %(distinct)s distinct characters, so it is not random; the "
    "server secret needs at least %(minimum)s. Make one with: %(command)s"
)
SECRET_REPEATED = N_(
    "PINGYI_SECRET_KEY is one short piece repeated, so it is not random. Make one with: %(command)s"
)


def secret_weakness(secret: str) -> SecretKeyInvalid | None:
    """Why ``secret`` cannot be the server secret in production, or None when it can.

    The rule: at least :data:`MINIMUM_SECRET_BYTES` (32) bytes in UTF-8, at least
    :data:`MINIMUM_SECRET_DISTINCT_CHARACTERS` (16) distinct characters, and not one shorter
    piece repeated (``abcd…abcd…``). A secret made by :data:`MAKE_SECRET_COMMAND` (64
    characters from an alphabet of 64) passes; a word, a date, a phrase typed twice does not.
    """
    command = MAKE_SECRET_COMMAND
    length = len(secret.encode("utf-8"))
    if not secret.strip():
        return SecretKeyInvalid(SECRET_EMPTY, minimum=MINIMUM_SECRET_BYTES, command=command)
    if length < MINIMUM_SECRET_BYTES:
        return SecretKeyInvalid(
            SECRET_TOO_SHORT, length=length, minimum=MINIMUM_SECRET_BYTES, command=command
        )
    distinct = len(set(secret))
    if distinct < MINIMUM_SECRET_DISTINCT_CHARACTERS:
        return SecretKeyInvalid(
            SECRET_FEW_CHARACTERS,
            distinct=distinct,
            minimum=MINIMUM_SECRET_DISTINCT_CHARACTERS,
            command=command,
        )
    if (secret + secret).find(secret, 1) < len(secret):  # a rotation of itself: periodic
        return SecretKeyInvalid(SECRET_REPEATED, command=command)
    return None


PEER_URL_INVALID = N_(
    "%(setting)s must be an address like https://pingjia.example.org (scheme, host and "
    "optionally a port; no path, query or fragment)."
)
PEER_URL_MISSING = N_(
    "PINGYI_ROLE=%(role)s needs %(setting)s: the address of the other half of the split "
    "deployment, where raters are sent."
)
_PEER_URL = re.compile(r"https?://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?")


class DeploymentRole(enum.StrEnum):
    """Which half of a split deployment this process is (docs/privacy.md, "Two organisations")."""

    ISSUER = "issuer"  # console, codes, rosters, credential issuance, keys; no ballots
    COLLECTOR = "collector"  # public keys, ballots, verification, results; no issuance
    ALL = "all"  # both, in one deployment


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PINGYI_", extra="ignore")

    env: Literal["development", "production"] = "development"
    var_dir: Path = PROJECT_ROOT / "var"
    database_url: str = ""
    secret_key: SecretStr | None = None
    previous_secret_keys: SecretStr | None = Field(
        default=None,
        description="Earlier server secrets, comma-separated, newest first: kept after "
        "`pingyi secret rotate` only to recognise admission codes and roster identifiers "
        "hashed under them",
    )
    disclosure_threshold: int = Field(default=5)
    surveys_dir: Path = PROJECT_ROOT / "surveys"
    public_base_url: str = "http://127.0.0.1:8000"
    database_pool_size: int = Field(default=10, ge=1)
    pdf_font: Path | None = Field(
        default=None, description="A CJK font file (.ttf, .otf or .ttc) for PDF output"
    )
    pdf_font_index: int = Field(default=0, ge=0, description="The face within a .ttc file")
    role: DeploymentRole = DeploymentRole.ALL
    collector_url: str = Field(
        default="",
        description="On an issuer: the collector's address (scheme, host, port), where raters "
        "rate; slips and the issuer's /r point there, and only it may call issuance",
    )
    issuer_url: str = Field(
        default="",
        description="On a collector: the issuer's address (scheme, host, port), which the "
        "rating page asks for credentials",
    )
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
    high_water_file: Path | None = Field(
        default=None,
        description="The high-water mark file (default: high-water.json under var_dir); keep "
        "it on another disk or host than the database",
    )
    high_water_seconds: float = Field(
        default=60, ge=0, description="How often the server records the mark (0: never)"
    )
    min_free_disk_mb: int = Field(
        default=64,
        ge=0,
        description="Free space, in MiB, below which /readyz says disk_full (on the disk of "
        "var_dir and of a SQLite database)",
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
        if self.secret_key is None:
            if self.env == "production":
                raise SecretKeyInvalid(command=MAKE_SECRET_COMMAND)
            return self
        weakness = secret_weakness(self.secret_key.get_secret_value())
        # Development accepts a short test secret, never an empty one: it would sign anything.
        if weakness is not None and (
            self.env == "production" or weakness.message_id == SECRET_EMPTY
        ):
            raise weakness
        return self

    @model_validator(mode="after")
    def _split_peer_url(self) -> "Settings":
        """A split deployment names the other half: checked always, required in production."""
        for name in ("collector_url", "issuer_url"):
            value = getattr(self, name).strip().rstrip("/")
            if value and not _PEER_URL.fullmatch(value):
                raise SettingsInvalid(PEER_URL_INVALID, setting=f"PINGYI_{name.upper()}")
            setattr(self, name, value)
        needed = {DeploymentRole.ISSUER: "collector_url", DeploymentRole.COLLECTOR: "issuer_url"}
        peer = needed.get(self.role)
        if peer is not None and not getattr(self, peer) and self.env == "production":
            raise SettingsInvalid(
                PEER_URL_MISSING, role=self.role.value, setting=f"PINGYI_{peer.upper()}"
            )
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
        if self.env == "production":  # the validator refuses this; never generate one here
            raise SecretKeyInvalid(command=MAKE_SECRET_COMMAND)
        return _development_secret(self.var_dir).encode()

    def previous_secrets(self) -> tuple[bytes, ...]:
        """The secrets named in ``PINGYI_PREVIOUS_SECRET_KEYS``, newest first.

        They are not held to the rule of :func:`secret_weakness`: a weak secret is exactly
        what one rotates away from.
        """
        if self.previous_secret_keys is None:
            return ()
        listed = self.previous_secret_keys.get_secret_value().split(",")
        return tuple(secret.strip().encode() for secret in listed if secret.strip())


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
        else:
            logger.warning(
                "PINGYI_SECRET_KEY is not set: generated a development secret in %s "
                "(production refuses to start without PINGYI_SECRET_KEY)",
                path,
            )
        finally:
            draft.unlink()
    return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    """The settings; a problem raises :class:`SettingsInvalid`, one line without the values.

    (pydantic's own error repeats every input, the secret included, over several lines.)
    """
    try:
        return Settings()
    except ValidationError as error:
        raise settings_invalid(error) from None


def settings_invalid(error: ValidationError) -> SettingsInvalid:
    """One :class:`SettingsInvalid` for a failed :class:`Settings`: the first of our own
    errors as it is (translatable), else every problem by setting name, values left out."""
    problems: list[str] = []
    for detail in error.errors():
        cause: Any = (detail.get("ctx") or {}).get("error")
        if isinstance(cause, SettingsInvalid):
            return cause
        names = ".".join(str(part) for part in detail["loc"])
        setting = f"PINGYI_{names.upper()}: " if names else ""
        problems.append(setting + detail["msg"].removeprefix("Value error, "))
    return SettingsInvalid(problems="; ".join(problems))
