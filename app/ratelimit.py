"""Per-client rate limits on admission and sign-in, kept in this process's memory only.

Privacy rule 5: rate limits keep counters in memory only. Clients are told apart by an
HMAC-SHA256 of their address under a key drawn at random when the limits are made (once per
worker process) and never written anywhere, so the table holds no address: what a dump of it
shows cannot be matched with another process's table or with a log. (Someone holding the same
dump holds the key too and could test guessed addresses; that is why entries are dropped as
soon as their client is back to a full allowance, so a dump shows only the last minutes.)
Nothing here logs.

Each limit is a token bucket: ``attempts`` at once, refilled at ``attempts`` per ``period``.
Admission-like routes spend a token on every attempt; sign-ins spend one on every attempt and
get it back when the sign-in succeeds, so only failures count. An IPv6 client is keyed by its
/64 network, which one subscriber usually holds whole.

The address is the one uvicorn reports: behind a reverse proxy, uvicorn must trust the proxy
(``PINGYI_FORWARDED_ALLOW_IPS``) so that it is the client's and not the proxy's, or every
client would share one allowance.
"""

import hashlib
import hmac
import ipaddress
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar

from fastapi import FastAPI, Request

from app.config import get_settings
from app.errors import PingyiError
from app.i18n import N_
from app.signin_failures import LOCK_AFTER

CLIENT_KEY_BYTES = 16
MAX_CLIENTS = 50_000  # per limit (~8 MB); beyond it the least recently seen is forgotten
# Failed sign-ins per client address at once: only a ceiling, ten times what locks one name
# or identifier (app.signin_failures), so that one network's failures (a shared NAT, an
# office) do not lock out its other users, while a sweep across names still stops.
LOGIN_FAILURES = 10 * LOCK_AFTER
LOGIN_FAILURE_PERIOD = 10 * 60.0  # seconds in which LOGIN_FAILURES are allowed again
ATTEMPT_PERIOD = 60.0  # seconds; admission attempts are configured per minute


class RateLimited(PingyiError):
    """Too many attempts from one client; ``seconds`` says when the next one is allowed."""

    status_code = 429
    code = "rate_limited"
    message = N_(
        "Too many attempts from your network. Please wait %(seconds)s seconds and try again."
    )


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per client key, at most ``max_clients`` of them, in memory."""

    def __init__(
        self,
        *,
        attempts: int,
        period: float,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if attempts < 1 or period <= 0:
            raise ValueError(
                f"a rate limit needs attempts ≥ 1 and period > 0, not {attempts} per {period} s"
            )
        self.attempts = attempts
        self.period = period
        self.rate = attempts / period  # tokens per second
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[bytes, _Bucket] = OrderedDict()  # least recently seen first
        self._lock = threading.Lock()

    def hit(self, client: bytes) -> int:
        """Spend one attempt: 0 if allowed, else the whole seconds until one is (nothing spent)."""
        now = self.clock()
        with self._lock:
            self._forget_refilled(now)
            bucket = self._buckets.pop(client, None)
            tokens = self._tokens(bucket, now)
            if tokens >= 1:
                tokens -= 1
                wait = 0
            else:
                wait = max(1, math.ceil((1 - tokens) / self.rate))
            self._buckets[client] = _Bucket(tokens=tokens, updated=now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return wait

    def refund(self, client: bytes) -> None:
        """Give back the attempt just spent (a sign-in that succeeded)."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is not None:
                bucket.tokens = min(self.attempts, self._tokens(bucket, now) + 1)
                bucket.updated = now

    def clients(self) -> list[bytes]:
        """The keys held now (keyed hashes, never addresses): clients still short of their
        whole allowance."""
        now = self.clock()
        with self._lock:
            refilled = [
                client
                for client, bucket in self._buckets.items()
                if self._tokens(bucket, now) >= self.attempts
            ]
            for client in refilled:
                del self._buckets[client]
            return list(self._buckets)

    def _tokens(self, bucket: _Bucket | None, now: float) -> float:
        if bucket is None:
            return float(self.attempts)
        return min(float(self.attempts), bucket.tokens + (now - bucket.updated) * self.rate)

    def _forget_refilled(self, now: float) -> None:
        """Drop clients whose allowance is whole again: they are as if never seen.

        Only from the least recently seen end, so each attempt costs O(1) amortised; every
        client is dropped at the latest ``period`` after its last attempt, at the next
        attempt of anyone."""
        while self._buckets:
            oldest_key, oldest = next(iter(self._buckets.items()))
            if self._tokens(oldest, now) < self.attempts:
                return
            del self._buckets[oldest_key]


class ClientKeys:
    """HMAC-SHA256 of a client's address under a random key that is never stored."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)

    def of(self, address: str | None) -> bytes:
        return hmac.new(self._key, _network_of(address).encode(), hashlib.sha256).digest()[
            :CLIENT_KEY_BYTES
        ]


def _network_of(address: str | None) -> str:
    """The address as counted: IPv4 as is, IPv6 by its /64, anything else verbatim."""
    if not address:
        return "-"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


class RateLimits:
    """This process's limits: one bucket set per admission route, one for sign-ins.

    ``attempts_per_minute`` of 0 turns the admission limits off (sign-ins stay limited).
    """

    ADMISSION: ClassVar[str] = "admission"  # POST /api/v1/admission
    CODE_ENTRY: ClassVar[str] = "code_entry"  # POST /r
    VOUCHER: ClassVar[str] = "voucher"  # POST /api/v1/credentials with a voucher
    LOGIN: ClassVar[str] = "login"  # failed sign-ins: /admin/login and /api/v1/roster/login

    def __init__(
        self,
        *,
        attempts_per_minute: int,
        login_failures: int = LOGIN_FAILURES,
        clock: Callable[[], float] = time.monotonic,
        key: bytes | None = None,
    ) -> None:
        self.keys = ClientKeys(key)
        self.limiters: dict[str, RateLimiter] = {
            self.LOGIN: RateLimiter(
                attempts=login_failures, period=LOGIN_FAILURE_PERIOD, clock=clock
            )
        }
        if attempts_per_minute > 0:
            for name in (self.ADMISSION, self.CODE_ENTRY, self.VOUCHER):
                self.limiters[name] = RateLimiter(
                    attempts=attempts_per_minute, period=ATTEMPT_PERIOD, clock=clock
                )

    def client(self, request: Request) -> bytes:
        return self.keys.of(request.client.host if request.client else None)

    def hit(self, name: str, client: bytes) -> None:
        """Spend an attempt on limit ``name``; raises :class:`RateLimited` when none is left."""
        limiter = self.limiters.get(name)
        if limiter is None:
            return
        wait = limiter.hit(client)
        if wait:
            raise RateLimited(seconds=wait)

    def refund(self, name: str, client: bytes) -> None:
        limiter = self.limiters.get(name)
        if limiter is not None:
            limiter.refund(client)


_creating = threading.Lock()


def limits_of(app: FastAPI) -> RateLimits:
    """The app's limits, made on first use (one app per worker process, so per process)."""
    limits: RateLimits | None = getattr(app.state, "rate_limits", None)
    if limits is None:
        with _creating:
            limits = getattr(app.state, "rate_limits", None)
            if limits is None:
                limits = RateLimits(attempts_per_minute=get_settings().rate_limit_per_minute)
                app.state.rate_limits = limits
    return limits


def check(request: Request, name: str) -> bytes:
    """Spend an attempt of this request's client on limit ``name``; returns the client's key
    (to :meth:`RateLimits.refund` it after a successful sign-in)."""
    limits = limits_of(request.app)
    client = limits.client(request)
    limits.hit(name, client)
    return client


def refund(request: Request, name: str, client: bytes | None = None) -> None:
    """Give back the attempt :func:`check` spent (a sign-in that succeeded); ``client`` is
    the key it returned, or this request's."""
    limits = limits_of(request.app)
    limits.refund(name, client if client is not None else limits.client(request))


def limit(name: str) -> Callable[[Request], Awaitable[None]]:
    """A route dependency that spends one attempt of limit ``name`` per request."""

    async def spend_attempt(request: Request) -> None:
        check(request, name)

    return spend_attempt
