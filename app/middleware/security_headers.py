"""The security headers every response carries."""

from app.middleware.asgi import ASGIApp, Message, Receive, Scope, Send
from app.middleware.paths import is_rater_path

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
