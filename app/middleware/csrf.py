"""CSRF protection for everything the office console's session cookie reaches.

Forms under ``/admin`` carry a token in their ``csrftoken`` field (asgi-csrf reads it, also
from multipart bodies); JSON routes the cookie reaches (``/api/v1/campaigns/…``) carry it in an
``X-CSRF-Token`` header. A signed-in visitor's token is bound to their session: an HMAC of the
session's identity (user, version, start) under the CSRF secret, so a token taken from
another session (another account, or the same account before it signed in again) is refused.
Before sign-in the token is bound to a random ``csrftoken`` cookie (double submit), which is
what protects the sign-in form. A state-changing request whose ``Origin`` is another site, or
that the browser marks ``Sec-Fetch-Site: cross-site``, is refused whatever it carries.
"""

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import URLSafeSerializer

from app.accounts import sessions
from app.config import get_settings
from app.i18n import N_, gettext
from app.middleware.asgi import ASGIApp, Message, Receive, Scope, Send, cookie, header
from app.middleware.cookies import is_https
from app.middleware.paths import STAFF_PATH_PREFIX, is_staff_cookie_path, is_staff_path

COOKIE_NAME = "csrftoken"  # asgi-csrf's names, kept: forms and tests use them
FORM_FIELD = "csrftoken"
HEADER = b"x-csrf-token"
ASGI_CSRF_HEADER = b"x-csrftoken"  # asgi-csrf's own header, still accepted
SIGNING_NAMESPACE = "csrftoken"  # asgi-csrf's: its cookie is signer.dumps(value, namespace)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

FORM_REFUSED = N_(
    "This form has expired or did not come from this site. Go back, reload the page and try again."
)
API_REFUSED = N_(
    "This request did not come from this site or lacks the console's CSRF token: send it in "
    "the X-CSRF-Token header."
)


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
    """Checks the CSRF token of every state-changing request that the console's cookie
    reaches; rater pages and the rating API carry no cookie, so there is nothing to forge.

    ``signing_secret`` signs the tokens; ``secure`` marks the ``csrftoken`` cookie Secure
    always (it is Secure on any request that arrived over HTTPS in any case).
    """

    def __init__(self, app: ASGIApp, *, signing_secret: str, secure: bool) -> None:
        from asgi_csrf import asgi_csrf

        _patch_asgi_csrf_multipart()
        self.unprotected = app
        self.signer = URLSafeSerializer(signing_secret)
        self.binding_key = hmac.new(
            signing_secret.encode(), b"pingyi csrf session binding v1", hashlib.sha256
        ).digest()
        self.always_secure = secure
        self.forms = asgi_csrf(
            app,
            signing_secret=signing_secret,
            cookie_name=COOKIE_NAME,
            cookie_path=STAFF_PATH_PREFIX,
            cookie_secure=False,  # added per request by _secure_cookie
            always_protect={STAFF_PATH_PREFIX + "/login"},
            send_csrf_failed=_send_csrf_failed,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.unprotected(scope, receive, send)
            return
        path = scope["path"]
        staff_form = is_staff_path(path)
        staff_api = not staff_form and is_staff_cookie_path(path)
        if not (staff_form or staff_api):
            # Decided here rather than with asgi-csrf's skip_if_scope, which still prepares a
            # token for every request it skips: the submission path is the hottest there is.
            await self.unprotected(scope, receive, send)
            return
        unsafe = scope["method"] not in SAFE_METHODS
        if unsafe and _cross_site(scope):
            await _send_refusal(scope, send)
            return
        bound = self.session_token(scope)
        if staff_api:
            if unsafe and bound is not None and not _header_matches(scope, bound):
                await _send_refusal(scope, send)
                return
            await self.unprotected(scope, receive, send)
            return
        await self.forms(_with_token(scope, bound), receive, self._secure_cookie(scope, send))

    def session_token(self, scope: Scope) -> str | None:
        """The token of the staff session the request's cookie holds, or None without one."""
        staff_session = sessions.decode(
            get_settings().secret_bytes(), cookie(scope, sessions.COOKIE_NAME)
        )
        if staff_session is None:
            return None
        identity = f"{staff_session.user_id}:{staff_session.version}:{staff_session.started_at}"
        binding = hmac.new(self.binding_key, identity.encode(), hashlib.sha256).hexdigest()
        return str(self.signer.dumps(binding, SIGNING_NAMESPACE))

    def _secure_cookie(self, scope: Scope, send: Send) -> Send:
        if not (self.always_secure or is_https(scope)):
            return send
        prefix = f"{COOKIE_NAME}=".encode()

        async def send_secure(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    (key, value + b"; Secure")
                    if key == b"set-cookie"
                    and value.startswith(prefix)
                    and b"; secure" not in value.lower()
                    else (key, value)
                    for key, value in message.get("headers", [])
                ]
            await send(message)

        return send_secure


def _with_token(scope: Scope, bound: str | None) -> Scope:
    """The scope asgi-csrf sees: a signed-in request's ``csrftoken`` cookie replaced by its
    session's token (so asgi-csrf hands that token to forms and checks against it), and an
    ``X-CSRF-Token`` header also offered under asgi-csrf's name."""
    headers: list[tuple[bytes, bytes]] = list(scope["headers"])
    if bound is not None:
        others = [
            part.strip()
            for key, value in headers
            if key == b"cookie"
            for part in value.decode("latin-1").split(";")
            if part.strip() and part.strip().partition("=")[0] != COOKIE_NAME
        ]
        headers = [(key, value) for key, value in headers if key != b"cookie"]
        headers.append((b"cookie", "; ".join([*others, f"{COOKIE_NAME}={bound}"]).encode()))
    token = header(scope, HEADER)
    if token is not None and header(scope, ASGI_CSRF_HEADER) is None:
        headers.append((ASGI_CSRF_HEADER, token.encode("latin-1")))
    return {**scope, "headers": headers}


def _header_matches(scope: Scope, bound: str) -> bool:
    sent = header(scope, HEADER) or header(scope, ASGI_CSRF_HEADER) or ""
    return hmac.compare_digest(sent.encode("latin-1"), bound.encode("latin-1"))


def _cross_site(scope: Scope) -> bool:
    """Whether the browser says the request comes from another site: an ``Origin`` that is
    neither this request's own nor the configured public address, or
    ``Sec-Fetch-Site: cross-site``. Without either header (not a browser, or an old one) the
    token decides alone. ``Origin: null`` is what a browser sends for a same-site form post
    from a page with ``Referrer-Policy: no-referrer`` (every page here); it tells nothing, so
    ``Sec-Fetch-Site`` and the token decide."""
    fetch_site = (header(scope, b"sec-fetch-site") or "").strip().lower()
    if fetch_site == "cross-site":
        return True
    origin = header(scope, b"origin")
    if origin is None or origin.strip().lower() == "null":
        return False
    own = {_origin_of(f"{scope.get('scheme', 'http')}://{header(scope, b'host') or ''}")}
    own.add(_origin_of(get_settings().public_base_url))
    return _origin_of(origin) not in own


def _origin_of(url: str) -> str:
    parts = urlsplit(url.strip().lower())
    if not parts.scheme or not parts.hostname:
        return "null"
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        return "null"
    suffix = f":{port}" if port is not None and port != default_port else ""
    return f"{parts.scheme}://{parts.hostname}{suffix}"


async def _send_refusal(scope: Scope, send: Send) -> None:
    await _send_csrf_failed(scope, send, None)


async def _send_csrf_failed(scope: Scope, send: Send, _reason: object) -> None:
    """403: a JSON error under ``/api/``, the error page elsewhere."""
    if scope["path"].startswith("/api/"):
        content_type = b"application/json"
        error = {"code": "csrf_failed", "message": gettext(API_REFUSED)}
        payload = json.dumps({"error": error}, ensure_ascii=False).encode()
    else:
        from app.templating import render_page

        content_type = b"text/html; charset=utf-8"
        payload = render_page("error.html", {"message": gettext(FORM_REFUSED)}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
