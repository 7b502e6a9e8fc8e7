"""The locale of each request, chosen before anything renders."""

from urllib.parse import parse_qs

from app.i18n import negotiate_locale, set_locale
from app.middleware.asgi import ASGIApp, Receive, Scope, Send, cookie, header
from app.middleware.cookies import is_https, queue_cookie
from app.middleware.paths import STAFF_PATH_PREFIX, is_staff_path

LANGUAGE_COOKIE = "pingyi_lang"


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
                explicit = cookie(scope, LANGUAGE_COOKIE)
            locale = negotiate_locale(explicit, header(scope, b"accept-language"))
            set_locale(locale)
            scope.setdefault("state", {})["locale"] = locale
            if staff and "lang" in query:
                secure = "; Secure" if is_https(scope) else ""
                queue_cookie(
                    scope,
                    f"{LANGUAGE_COOKIE}={locale}; Path={STAFF_PATH_PREFIX}; Max-Age=31536000; "
                    f"SameSite=Lax{secure}",
                )
        await self.app(scope, receive, send)
