"""Input no route may see (NUL, non-ASCII forms, duplicate JSON keys), refused in one place."""

import json
from typing import Any

from app.i18n import N_, gettext
from app.middleware.asgi import ASGIApp, Receive, Scope, Send, buffered, header


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

        body, replay = await buffered(receive)
        refusal = self._body_refusal(header(scope, b"content-type"), body)
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
