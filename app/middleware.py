"""ASGI middleware: locale, body size limits, security headers, and a request log that never
records rating endpoints.

Pure ASGI classes rather than ``BaseHTTPMiddleware``: they sit on the submission path.
"""

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from app.i18n import N_, gettext, negotiate_locale, set_locale

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

RATER_PATH_PREFIXES = (
    "/r",
    "/api/v1/admission",
    "/api/v1/ballots",
    "/api/v1/start-token",
    "/verify",  # a rater checking their receipt: no log line, no cache
    "/api/v1/credentials",  # credential issuance: who asked, and when
    "/api/v1/roster",  # roster sign-in
)
KIB = 1024

request_log = logging.getLogger("pingyi.requests")


def is_rater_path(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in RATER_PATH_PREFIXES)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


STAFF_PATH_PREFIX = "/admin"
LANGUAGE_COOKIE = "pingyi_lang"


def is_staff_path(path: str) -> bool:
    return path == STAFF_PATH_PREFIX or path.startswith(STAFF_PATH_PREFIX + "/")


def queue_cookie(scope: Scope, set_cookie_header: str) -> None:
    """Ask :class:`PendingCookiesMiddleware` to add a Set-Cookie header to this response."""
    scope.setdefault("state", {}).setdefault("pending_cookies", []).append(set_cookie_header)


class LocaleMiddleware:
    """Choose the locale before anything renders.

    Rater pages: ``?lang=``, then Accept-Language; they never read or set a cookie. Office
    pages also remember the choice in a cookie scoped to ``/admin``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            explicit = query.get("lang", [None])[0]
            staff = is_staff_path(scope["path"])
            if staff and explicit is None:
                explicit = _cookie(scope, LANGUAGE_COOKIE)
            locale = negotiate_locale(explicit, _header(scope, b"accept-language"))
            set_locale(locale)
            scope.setdefault("state", {})["locale"] = locale
            if staff and "lang" in query:
                queue_cookie(
                    scope,
                    f"{LANGUAGE_COOKIE}={locale}; Path={STAFF_PATH_PREFIX}; Max-Age=31536000; "
                    "SameSite=Lax",
                )
        await self.app(scope, receive, send)


class PendingCookiesMiddleware:
    """Adds the Set-Cookie headers queued during the request (see :func:`queue_cookie`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                pending = scope.get("state", {}).get("pending_cookies", [])
                if pending:
                    headers = list(message.get("headers", []))
                    headers += [(b"set-cookie", value.encode("latin-1")) for value in pending]
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_cookies)


def _cookie(scope: Scope, name: str) -> str | None:
    header = _header(scope, b"cookie")
    if not header:
        return None
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


class BodySizeLimitMiddleware:
    """Refuse request bodies over a limit with 413, before any handler reads them.

    ``limits`` maps path prefixes to byte limits (longest prefix wins); other paths get
    ``default_limit``. Both a declared Content-Length and the bytes actually streamed count.
    """

    def __init__(self, app: ASGIApp, *, limits: dict[str, int], default_limit: int) -> None:
        self.app = app
        self.limits = sorted(limits.items(), key=lambda entry: len(entry[0]), reverse=True)
        self.default_limit = default_limit

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.limits:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return limit
        return self.default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_too_large(scope, send, limit)
            return

        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if len(body) > limit:
                await _send_too_large(scope, send, limit)
                return
            more = message.get("more_body", False)

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _send_too_large(scope: Scope, send: Send, limit: int) -> None:
    message = gettext(N_("The request is too large: at most %(size)s KiB are accepted.")) % {
        "size": limit // KIB
    }
    if scope["path"].startswith("/api/"):
        content_type = b"application/json"
        payload = json.dumps(
            {"error": {"code": "too_large", "message": message}}, ensure_ascii=False
        ).encode()
    else:
        content_type = b"text/plain; charset=utf-8"
        payload = message.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object_without_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


def _nul_field(document: Any) -> str | None:
    """Where a string (key or value) in a parsed JSON document contains U+0000, as a field
    path (``evaluations[0].comment``), or None."""
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:  # iterative: a deeply nested document must not exhaust the stack
        path, item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return path or "body"
        elif isinstance(item, dict):
            for key, value in item.items():
                inner = f"{path}.{key}" if path else key
                if "\x00" in key:
                    return inner
                stack.append((inner, value))
        elif isinstance(item, list):
            stack.extend((f"{path}[{index}]", value) for index, value in enumerate(item))
    return None


def _is_json(content_type: str | None) -> bool:
    """The bodies FastAPI reads as JSON: declared JSON, or no content type at all."""
    if not content_type:
        return True
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


NUL_REFUSED = N_("The request contains a NUL character (U+0000), which is not accepted.")
MALFORMED_FORM = N_("The request could not be processed.")  # an existing message
DUPLICATE_KEY_REFUSED = N_("The request names “%(key)s” more than once; send each name once.")


class InputGuardMiddleware:
    """Refuse input that no route may see, in one place, before any handler runs.

    - **NUL** (U+0000) anywhere in the path, the query string, a JSON body or a form body.
      PostgreSQL refuses NUL in text, so a lookup with one would end in a 500; no code, slug,
      identifier or comment contains one. Path and query: 400; body: 422.
    - A **form body that is not ASCII**: percent-encoding leaves nothing else, and the CSRF
      check would fail on bytes that are not UTF-8 with a 500. 400.
    - **Duplicate keys** in a JSON object, at any depth: 422. JSON leaves their meaning open
      (Python keeps the last, other parsers the first), so ``{"code": A, "code": B}`` or an
      item answered twice is ambiguous, and a proxy checking one reading while the app acts
      on another is a known attack (parser differentials); refusing is the only safe reading.

    Other bad bodies (not JSON, not UTF-8, nested too deep) are left to FastAPI, whose
    refusals the error handlers turn into the usual 422. Multipart uploads are not read here.
    Sits inside the body size limit, which buffers the body, so this never reads more than it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"")
        if "\x00" in scope["path"] or b"\x00" in query or b"%00" in query:
            await _send_refusal(scope, send, 400, gettext(NUL_REFUSED), field=None)
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return

        body, replay = await _buffered(receive)
        refusal = self._body_refusal(_header(scope, b"content-type"), body)
        if refusal is not None:
            status, message, field = refusal
            await _send_refusal(scope, send, status, message, field=field)
            return
        await self.app(scope, replay, send)

    @staticmethod
    def _body_refusal(content_type: str | None, body: bytes) -> tuple[int, str, str] | None:
        """The status, message and field of a refusal, or None to let the body through."""
        if not body:
            return None
        media_type = (content_type or "").split(";", 1)[0].strip().lower()
        if media_type == "application/x-www-form-urlencoded":
            if b"\x00" in body or b"%00" in body:
                return 422, gettext(NUL_REFUSED), "body"
            if not body.isascii():  # percent-encoding leaves only ASCII; asgi-csrf would 500
                return 400, gettext(MALFORMED_FORM), "body"
            return None
        if not _is_json(content_type):
            return None
        try:
            document = json.loads(body, object_pairs_hook=_object_without_duplicate_keys)
        except _DuplicateKey as duplicate:
            return 422, gettext(DUPLICATE_KEY_REFUSED) % {"key": duplicate.key[:64]}, "body"
        except (ValueError, RecursionError):
            return None  # not JSON: FastAPI refuses it in its own words
        if b"\\u0000" in body:  # JSON always escapes NUL, so only then is there one
            field = _nul_field(document)
            if field is not None:
                return 422, gettext(NUL_REFUSED), field
        return None


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a ``receive`` that hands it on once."""
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


async def _send_refusal(
    scope: Scope, send: Send, status: int, message: str, *, field: str | None = "body"
) -> None:
    """The error shape of the address: JSON under ``/api/``, the error page elsewhere."""
    if scope["path"].startswith("/api/"):
        content_type = b"application/json"
        error: dict[str, str] = {"code": "invalid", "message": message}
        if field is not None:
            error["field"] = field
        payload = json.dumps({"error": error}, ensure_ascii=False).encode()
    else:
        from app.templating import render_page

        content_type = b"text/html; charset=utf-8"
        payload = render_page("error.html", {"message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def security_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """What every response carries: no referrer, no sniffing, no framing, no inline script,
    HSTS over HTTPS only (a plain-HTTP answer cannot set it anyway), and no caching of
    rater pages."""
    headers = [
        (b"referrer-policy", b"no-referrer"),
        (b"x-content-type-options", b"nosniff"),
        (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
        (b"x-frame-options", b"DENY"),
    ]
    if scope.get("scheme") == "https":
        headers.append((b"strict-transport-security", b"max-age=31536000"))
    if is_rater_path(scope["path"]):
        headers.append((b"cache-control", b"no-store"))
    return headers


class SecurityHeadersMiddleware:
    """Adds :func:`security_headers` to every response that passes through the middleware.

    A 500 is sent by Starlette's outermost error middleware, outside this one, so its
    handler (``app.error_handlers``) adds the same headers itself.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *security_headers(scope)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


UNMATCHED_PATH = "(no route)"


def _unlogged(path: str) -> bool:
    return is_rater_path(path) or path.startswith("/static/") or path.endswith("/keys")


class RequestLogMiddleware:
    """Log method, path, status and duration for office and public routes only.

    Rater routes are never logged, not even their status: a log line's timestamp next to a
    submission is exactly the link DESIGN.md rule 5 forbids. Nor are static files and the public
    keys, which a rater's page fetches. No IP or user agent is logged for any route, and the
    path logged is the matched route's template (``/admin/campaigns/{slug}``), never the raw
    path: a slip's link mangled into ``/r%23CODE`` matches no route and must not log the code.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _unlogged(scope["path"]):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture_status)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            path = getattr(scope.get("route"), "path", None) or UNMATCHED_PATH
            request_log.info(
                "%s %s %s %.1fms",
                scope["method"],
                path,
                status,
                duration_ms,
                extra={
                    "fields": {
                        "method": scope["method"],
                        "path": path,
                        "status": status,
                        "duration_ms": duration_ms,
                    }
                },
            )


CSRF_FORM_FIELD = "csrftoken"  # asgi-csrf's default field name, used by the templates


def _patch_asgi_csrf_multipart() -> None:
    """Let asgi-csrf 0.11 read multipart forms with current python-multipart.

    asgi-csrf builds ``FormParser(..., FileClass=...)``, an argument python-multipart removed
    in 0.0.26 (simonw/asgi-csrf#38), so every multipart POST failed. This parser accepts the
    old call and keeps asgi-csrf's rule: a file part before the token refuses the form.
    """
    import asgi_csrf
    from python_multipart import FormParser

    class CompatibleFormParser(FormParser):
        def __init__(
            self,
            content_type: str,
            on_field: Callable[[Any], None] | None,
            on_file: object = None,
            on_end: object = None,
            boundary: bytes | str | None = None,
            **_removed_options: object,
        ) -> None:
            def file_before_token(_file: object) -> None:
                raise asgi_csrf.FileBeforeToken

            super().__init__(content_type, on_field, file_before_token, None, boundary=boundary)

    asgi_csrf.FormParser = CompatibleFormParser


class CsrfMiddleware:
    """CSRF protection for the office console's forms (asgi-csrf, double-submit cookie).

    Only ``/admin`` is protected: rater pages and the rating API carry no cookie, so there is
    no ambient authority to forge. The sign-in form is protected even without cookies.
    """

    def __init__(self, app: ASGIApp, *, signing_secret: str, secure: bool) -> None:
        from asgi_csrf import asgi_csrf

        _patch_asgi_csrf_multipart()
        self.unprotected = app
        self.app = asgi_csrf(
            app,
            signing_secret=signing_secret,
            cookie_path=STAFF_PATH_PREFIX,
            cookie_secure=secure,
            always_protect={STAFF_PATH_PREFIX + "/login"},
            send_csrf_failed=_send_csrf_failed,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not is_staff_path(scope["path"]):
            # Decided here rather than with asgi-csrf's skip_if_scope, which still prepares a
            # token for every request it skips: the submission path is the hottest there is.
            await self.unprotected(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _send_csrf_failed(scope: Scope, send: Send, _reason: object) -> None:
    from app.templating import render_page

    message = gettext(
        N_(
            "This form has expired or did not come from this site. "
            "Go back, reload the page and try again."
        )
    )
    payload = render_page("error.html", {"message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
