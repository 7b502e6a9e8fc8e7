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


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    locale = i18n.current_locale()
    full_context = {
        "locale": locale,
        "html_lang": "zh-CN" if locale == "zh_CN" else "en",
        "other_locale": "en" if locale == "zh_CN" else "zh_CN",
        **(context or {}),
    }
    return templates.TemplateResponse(request, name, full_context, status_code=status_code)
