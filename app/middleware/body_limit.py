"""Request body size limits, enforced before any handler reads the body."""

import json

from app.i18n import N_, gettext
from app.middleware.asgi import ASGIApp, Message, Receive, Scope, Send, header

KIB = 1024


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
        declared = header(scope, b"content-length")
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
