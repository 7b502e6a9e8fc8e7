"""Turning errors into responses: JSON under ``/api/``, a page elsewhere."""

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from app.accounts.web import console_permissions
from app.errors import PingyiError
from app.i18n import N_, gettext
from app.middleware.paths import is_staff_path
from app.middleware.security_headers import security_headers
from app.templating import render

log = logging.getLogger("pingyi.errors")

HTTP_MESSAGES = {
    404: N_("There is no page at this address."),
    405: N_("This address does not accept this kind of request."),
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None
    detail: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the statuses a route can answer with."""
    return {status: {"model": ErrorResponse} for status in statuses}


def field_path(location: tuple[str | int, ...] | list[str | int]) -> str:
    """``("body", "evaluations", 0, "target")`` → ``evaluations[0].target``."""
    path = ""
    for part in location[1:] if location and location[0] == "body" else location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error_page(request: Request, status_code: int, message: str) -> Response:
    if not is_staff_path(request.url.path):
        return render(request, "error.html", {"message": message}, status_code=status_code)
    # Inside the console's layout, its navigation kept for a signed-in user (403, 409…).
    staff = getattr(request.state, "console_staff", None)
    context = {
        "message": message,
        "staff": staff,
        "can": console_permissions(staff.role if staff is not None else None),
        "switch_path": request.url.path,
    }
    return render(request, "admin/error.html", context, status_code=status_code)


async def handle_domain_error(request: Request, error: Exception) -> Response:
    if not isinstance(error, PingyiError):  # registered for PingyiError only
        raise error
    headers = _retry_after(error)
    if _is_api(request):
        return _closing_if_failed(
            JSONResponse(error.as_body(), status_code=error.status_code, headers=headers)
        )
    if error.code == "not_signed_in" and is_staff_path(request.url.path):
        target = "/admin"
        if request.method == "GET":  # the page asked for, with its query (?ref=…&group=…)
            query = request.url.query
            target = f"{request.url.path}?{query}" if query else request.url.path
        return RedirectResponse(f"/admin/login?next={quote(target, safe='/')}", status_code=303)
    page = _error_page(request, error.status_code, error.translated())
    page.headers.update(headers or {})
    return _closing_if_failed(page)


def _closing_if_failed(response: Response) -> Response:
    """Every 500 says ``Connection: close`` (see :func:`handle_unexpected_error`)."""
    if response.status_code == 500:
        response.headers["Connection"] = "close"
    return response


def _retry_after(error: PingyiError) -> dict[str, str] | None:
    """A 429 says when to try again (RFC 6585): its ``seconds``, in a Retry-After header."""
    seconds = error.params.get("seconds")
    if error.status_code == 429 and isinstance(seconds, int):
        return {"Retry-After": str(seconds)}
    return None


async def handle_validation_error(request: Request, error: Exception) -> Response:
    if not isinstance(error, RequestValidationError):  # registered for it only
        raise error
    details = error.errors()
    first = details[0] if details else {"loc": ("body",), "type": "invalid"}
    field = field_path(tuple(first.get("loc", ("body",))))
    if first.get("type") == "json_invalid":
        message = gettext("The request body is not valid JSON.")
        field = "body"
    else:
        message = gettext("“%(field)s” is missing or invalid.") % {"field": field}
    if not _is_api(request):  # a form of a page: answer with a page, not JSON
        return _error_page(request, 422, message)
    body = ErrorResponse(
        error=ErrorDetail(
            code="invalid",
            message=message,
            field=field,
            detail=[
                {
                    "field": "body" if d.get("type") == "json_invalid" else field_path(d["loc"]),
                    "problem": d.get("msg", ""),
                }
                for d in details
            ],
        )
    )
    return JSONResponse(body.model_dump(exclude_none=True), status_code=422)


async def handle_http_error(request: Request, error: Exception) -> Response:
    if not isinstance(error, HTTPException):  # registered for it only
        raise error
    if _is_api(request) and _body_unreadable(error):
        return _invalid_json_response()
    message = gettext(
        HTTP_MESSAGES.get(error.status_code, N_("The request could not be processed."))
    )
    if _is_api(request):
        body = {"error": {"code": f"http_{error.status_code}", "message": message}}
        return _closing_if_failed(
            JSONResponse(body, status_code=error.status_code, headers=error.headers)
        )
    page = _error_page(request, error.status_code, message)
    for name, value in (error.headers or {}).items():  # Allow on a 405 (RFC 9110)
        page.headers[name] = value
    return _closing_if_failed(page)


def _body_unreadable(error: HTTPException) -> bool:
    """FastAPI answers 400 when its JSON parser fails other than on syntax: a body that is
    not UTF-8 (RFC 8259 requires it), nests too deep, or holds an integer of thousands of
    digits. To the client that is invalid JSON like any other, so it gets the same 422."""
    return error.status_code == 400 and isinstance(error.__cause__, ValueError | RecursionError)


def _invalid_json_response() -> JSONResponse:
    body = ErrorResponse(
        error=ErrorDetail(
            code="invalid", message=gettext("The request body is not valid JSON."), field="body"
        )
    )
    return JSONResponse(body.model_dump(exclude_none=True), status_code=422)


async def handle_unexpected_error(request: Request, error: Exception) -> Response:
    """Starlette sends this answer from outside every middleware, so it carries the security
    headers itself.

    It also says ``Connection: close``. Starlette raises the error again once the answer is
    sent, and uvicorn then closes the connection: a client told nothing would send its next
    request down a kept-alive connection that is closing, and see it reset instead of
    answered. Told, it opens a new one.
    """
    message = gettext("Something went wrong on our side. Please try again in a moment.")
    response: Response
    if _is_api(request):
        body = {"error": {"code": "internal", "message": message}}
        response = JSONResponse(body, status_code=500)
    else:
        response = _error_page(request, 500, message)
    response.raw_headers.extend(security_headers(request.scope))
    return _closing_if_failed(response)


def install(app: FastAPI) -> None:
    app.add_exception_handler(PingyiError, handle_domain_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(HTTPException, handle_http_error)
    app.add_exception_handler(Exception, handle_unexpected_error)
