"""Cross-origin access to the issuer's admission and issuance routes, for the collector's
rating page only.

The rating page lives on the collector; its script asks the issuer what a code admits to
(``POST /api/v1/admission``) and exchanges it for a blind signature (``POST
/api/v1/credentials``). Only those two paths, only from the collector's origin, only POST with
a JSON body, and never with cookies (no ``Access-Control-Allow-Credentials``): the roster
sign-in's cookie is not reachable from another origin. Every other path and origin gets no
CORS header at all, so browsers keep refusing them.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CROSS_ORIGIN_PATHS = frozenset({"/api/v1/admission", "/api/v1/credentials"})
PREFLIGHT_MAX_AGE = 600  # seconds a browser may cache the preflight's answer


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class CredentialCorsMiddleware:
    """Answers the preflight and marks the answers of :data:`CROSS_ORIGIN_PATHS` as readable
    by ``allowed_origin`` (``scheme://host[:port]``); does nothing when it is empty."""

    def __init__(self, app: ASGIApp, *, allowed_origin: str) -> None:
        self.app = app
        self.allowed_origin = allowed_origin.lower()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not self.allowed_origin
            or scope["path"] not in CROSS_ORIGIN_PATHS
        ):
            await self.app(scope, receive, send)
            return
        origin = (_header(scope, b"origin") or "").lower()
        if origin != self.allowed_origin:
            await self.app(scope, receive, send)
            return
        allowed = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"vary", b"Origin"),
        ]
        if scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method"):
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": [
                        *allowed,
                        (b"access-control-allow-methods", b"POST"),
                        (b"access-control-allow-headers", b"content-type"),
                        (b"access-control-max-age", str(PREFLIGHT_MAX_AGE).encode()),
                        (b"cache-control", b"no-store"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_allowed(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *allowed]
            await send(message)

        await self.app(scope, receive, send_allowed)
