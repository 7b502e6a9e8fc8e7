"""The content security policy of a split deployment: the one of ``app.middleware``, widened
by exactly the other half's origin where raters need it.

- On a collector the rating page's script calls the issuer (``connect-src``), and its code
  form posts to the issuer's no-JavaScript handover (``form-action``).
- On an issuer the handover page's form posts the credential to the collector's ``/r``
  (``form-action``).

Everything else (scripts, styles, frames) stays ``'self'``.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.middleware.security_headers import CONTENT_SECURITY_POLICY

CSP_HEADER = b"content-security-policy"


def split_policy(*, connect_to: str = "", post_to: str = "") -> str:
    """:data:`CONTENT_SECURITY_POLICY` allowing fetches to ``connect_to`` and form posts to
    ``post_to`` (origins; either may be empty)."""
    policy = CONTENT_SECURITY_POLICY
    if post_to:
        policy = policy.replace("form-action 'self'", f"form-action 'self' {post_to}")
    if connect_to:
        policy = f"{policy}; connect-src 'self' {connect_to}"
    return policy


class SplitCspMiddleware:
    """Replaces the policy that the security headers put on every response with ``policy``.

    Added outside ``SecurityHeadersMiddleware``, so it sees that header."""

    def __init__(self, app: ASGIApp, *, policy: str) -> None:
        self.app = app
        self.policy = policy.encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    (name, self.policy if name.lower() == CSP_HEADER else value)
                    for name, value in message.get("headers", [])
                ]
            await send(message)

        await self.app(scope, receive, send_with_policy)
