"""Low-quality evaluations: straight-lining and implausibly fast completion.

Only the resulting flags are stored (``Evaluation.quality_flags``), never a time.

Timing uses a start token handed out when a target's form is shown: a random nonce signed
with the time of signing (itsdangerous ``TimestampSigner``, keyed from the server secret
through a derived key). The token carries nothing but that time, and it is never stored:
at submission it is checked, the seconds since it was signed are compared with the
campaign's minimum, and only the verdict is kept. A missing, malformed, forged, future or
expired token gives no "too fast" flag and never blocks a ballot; a rater who withholds it
only escapes the flag, which is what a rater who waits would do too.

The measure is per evaluation (one token per target), so the flags of one submission's
evaluations are independent measurements rather than one shared value (privacy rule 2).
The time runs from when a target's form was first shown to when the ballot is submitted. On
the rating pages, with one page per target, that includes the pages after it and the review:
an upper bound of the time spent on the target, so a flag is never a false alarm, but a fast
page followed by slow ones goes unflagged.
"""

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping, Sequence
from functools import lru_cache

from itsdangerous import BadData, TimestampSigner

from app.ballots.models import STRAIGHT_LINING, TOO_FAST
from app.campaigns.policy import QualityPolicy
from app.config import get_settings
from app.surveys.schemas import Item

START_TOKEN_SALT = "pingyi start token v1"  # noqa: S105 - a salt that names the purpose, not a secret
START_KEY_CONTEXT = b"pingyi start token key v1"
START_TOKEN_MAX_AGE = 24 * 3600  # one day, in seconds; older tokens give no flag
START_TOKEN_MAX_LENGTH = 256  # characters; a longer value is not a start token
NONCE_BYTES = 16


def now() -> float:
    """Seconds since the epoch. The one clock of this module; tests replace it."""
    return time.time()


class _StartSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(now())


def start_token_key(server_secret: bytes) -> bytes:
    """The start tokens' signing key, derived so the server secret is never used directly."""
    return hmac.new(server_secret, START_KEY_CONTEXT, hashlib.sha256).digest()


@lru_cache
def server_start_token_key() -> bytes:
    """The start token key of this server (from ``PINGYI_SECRET_KEY``)."""
    return start_token_key(get_settings().secret_bytes())


def _signer(key: bytes) -> _StartSigner:
    return _StartSigner(key, salt=START_TOKEN_SALT, digest_method=hashlib.sha256)


def new_start_token(key: bytes) -> str:
    """A fresh token: a random nonce, signed with the current time and nothing else."""
    return _signer(key).sign(secrets.token_urlsafe(NONCE_BYTES)).decode("ascii")


def seconds_since(token: str | None, key: bytes) -> float | None:
    """Seconds since a valid token was signed; ``None`` for a missing or unusable one.

    Timestamps are whole seconds, so the figure errs long by less than a second: a rater is
    never flagged for a rounding.
    """
    if not token or len(token) > START_TOKEN_MAX_LENGTH:
        return None
    try:
        _nonce, signed_at = _signer(key).unsign(
            token, max_age=START_TOKEN_MAX_AGE, return_timestamp=True
        )
    except BadData:  # forged, malformed, expired, or signed "in the future"
        return None
    except (ValueError, OverflowError, OSError):  # a timestamp no datetime can hold
        return None
    return now() - signed_at.timestamp()


def answered_positions(items: Sequence[Item], answers: Mapping[str, int | None]) -> list[int]:
    """Where each answered item's level sits on its scale (0 = first shown), N/A left out.

    Positions rather than values, so that items on different scales compare as the rater saw
    them: the same column of the form. On one scale this is the same as the same level.
    """
    positions: list[int] = []
    for item in items:
        level = answers.get(item.id)
        if level is None:
            continue
        values = [scale_level.value for scale_level in item.levels]
        if level in values:
            positions.append(values.index(level))
    return positions


def is_straight_lining(positions: Sequence[int], policy: QualityPolicy) -> bool:
    """Every answered item at the same level, with at least the policy's number answered."""
    return len(positions) >= policy.straight_line_min_items and len(set(positions)) == 1


def is_too_fast(elapsed: float | None, answered_count: int, policy: QualityPolicy) -> bool:
    """Submitted sooner than the policy's seconds per answered item; never without a time."""
    if elapsed is None:
        return False
    return elapsed < policy.min_seconds_per_item * answered_count


def quality_flags(
    items: Sequence[Item],
    answers: Mapping[str, int | None],
    started: str | None,
    *,
    key: bytes,
    policy: QualityPolicy,
) -> int:
    """The flags of one evaluation: ``STRAIGHT_LINING`` and ``TOO_FAST`` bits, or 0."""
    positions = answered_positions(items, answers)
    flags = 0
    if is_straight_lining(positions, policy):
        flags |= STRAIGHT_LINING
    if is_too_fast(seconds_since(started, key), len(positions), policy):
        flags |= TOO_FAST
    return flags
