"""The Jinja2 environment: templates under ``templates/``, translated through ``app.i18n``."""

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from app import i18n
from app.config import PROJECT_ROOT

TEMPLATES_DIR = PROJECT_ROOT / "templates"


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    return environment


templates = Jinja2Templates(env=_environment())


def _locale_context() -> dict[str, Any]:
    locale = i18n.current_locale()
    return {
        "locale": locale,
        "html_lang": "zh-CN" if locale == "zh_CN" else "en",
        "other_locale": "en" if locale == "zh_CN" else "zh_CN",
    }


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    full_context = {
        **_locale_context(),
        "csrf_token": request.scope.get("csrftoken", _no_csrf_token),
        **(context or {}),
    }
    return templates.TemplateResponse(request, name, full_context, status_code=status_code)


def render_page(name: str, context: dict[str, Any] | None = None) -> str:
    """Render a template outside a request handler (middleware error pages)."""
    return templates.env.get_template(name).render(
        {**_locale_context(), "csrf_token": _no_csrf_token, **(context or {})}
    )


def _no_csrf_token() -> str:
    return ""
