"""Failed sign-ins per account or identifier, counted in this process's memory only.

The console's sign-in (per user name) and the roster's (per identifier hash) count failures
the same way, whether or not the account exists, so their answers never tell a known name
from an unknown one: after ``FREE_ATTEMPTS`` failures each further attempt waits 2, 4, 8…
seconds (429 with the wait); after ``LOCK_AFTER`` the name or identifier waits
``LOCK_DURATION``. Keys are keyed hashes, never the names typed; each worker process counts
on its own, and nothing is written anywhere (privacy rule 5). Per client address there is only
a high ceiling on top (``app.ratelimit``), so one network's failures do not lock out its
other users.
"""

import hashlib
import hmac
import math
import secrets
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

FREE_ATTEMPTS = 3  # failures before each further attempt has to wait
LOCK_AFTER = 10  # failures that lock the name or identifier for LOCK_DURATION
LOCK_DURATION = 15 * 60.0  # seconds


@dataclass
class _Failures:
    count: int = 0
    blocked_until: float = 0.0
    last_attempt: float = 0.0


@dataclass
class FailureCounter:
    """Failed sign-ins per key (an account's or identifier's keyed hash), in memory: after
    ``free_attempts`` failures each further attempt waits 2, 4, 8… seconds; after
    ``lock_after`` the key waits ``lock_duration``. Every attempt counts as a failure until it
    succeeds, so attempts sent in parallel cannot all slip through before the first failure
    is recorded. A key is forgotten ``lock_duration`` after its last attempt."""

    free_attempts: int = FREE_ATTEMPTS
    lock_after: int = LOCK_AFTER
    lock_duration: float = LOCK_DURATION
    max_entries: int = 100_000
    clock: Callable[[], float] = time.monotonic
    _entries: dict[bytes, _Failures] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def begin_attempt(self, key: bytes) -> int:
        """Seconds to wait (the attempt is refused), or 0: go ahead, counted as a failure."""
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or now - entry.last_attempt > self.lock_duration:
                if len(self._entries) >= self.max_entries:
                    self._forget_idle(now)
                entry = self._entries[key] = _Failures()
            if entry.blocked_until > now:
                return max(1, math.ceil(entry.blocked_until - now))
            entry.count += 1
            entry.last_attempt = now
            if entry.count >= self.lock_after:
                entry.blocked_until = now + self.lock_duration
            elif entry.count >= self.free_attempts:
                entry.blocked_until = now + 2 ** (entry.count - self.free_attempts + 1)
            return 0

    def succeeded(self, key: bytes) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _forget_idle(self, now: float) -> None:
        idle = [
            key
            for key, entry in self._entries.items()
            if now - entry.last_attempt > self.lock_duration
        ]
        for key in idle:
            del self._entries[key]
        if len(self._entries) >= self.max_entries:  # a flood: forget the oldest half
            by_age = sorted(self._entries, key=lambda key: self._entries[key].last_attempt)
            for key in by_age[: len(by_age) // 2]:
                del self._entries[key]


class NameKeys:
    """HMAC-SHA256 of a typed name under a key drawn at random per process, never stored:
    the counter's table holds no name a sign-in was tried with."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)

    def of(self, name: str) -> bytes:
        folded = unicodedata.normalize("NFKC", name.strip()).casefold()
        return hmac.new(self._key, folded.encode("utf-8"), hashlib.sha256).digest()
