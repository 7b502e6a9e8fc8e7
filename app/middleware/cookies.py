"""Set-Cookie headers queued by dependencies and middleware, added to the response."""

from app.config import get_settings
from app.middleware.asgi import ASGIApp, Message, Receive, Scope, Send


def is_https(scope: Scope) -> bool:
    """Whether cookies set in answer to this request must be Secure: it arrived over HTTPS
    (uvicorn sets the scheme from the proxy's headers when it trusts the proxy,
    ``PINGYI_FORWARDED_ALLOW_IPS``), or the site's public address is HTTPS."""
    return scope.get("scheme") == "https" or get_settings().public_base_url.startswith("https:")


def queue_cookie(scope: Scope, set_cookie_header: str) -> None:
    """Ask :class:`PendingCookiesMiddleware` to add a Set-Cookie header to this response."""
    scope.setdefault("state", {}).setdefault("pending_cookies", []).append(set_cookie_header)


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
