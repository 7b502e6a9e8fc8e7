"""The request log: office and public routes only, never a rater's."""

import logging
import time

from app.middleware.asgi import ASGIApp, Message, Receive, Scope, Send
from app.middleware.paths import is_rater_path

request_log = logging.getLogger("pingyi.requests")

UNMATCHED_PATH = "(no route)"


def _unlogged(path: str) -> bool:
    return is_rater_path(path) or path.startswith("/static/") or path.endswith("/keys")


class RequestLogMiddleware:
    """Log method, path, status and duration for office and public routes only.

    Rater routes are never logged, not even their status: a log line's timestamp next to a
    submission is exactly the link privacy rule 5 forbids. Nor are static files and the public
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
