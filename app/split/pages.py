"""The issuer's rater pages on a split deployment (``PINGYI_ROLE=issuer``).

``GET /r`` is where slips printed before the split, and the home page, send raters: its script
forwards to the collector's ``/r`` keeping the fragment (the code, which never reaches either
server this way); without a script it offers the no-JavaScript handover. ``POST /r`` takes a
code and hands over a credential made here (``app.split.handover`` says what that guarantees),
with a form that carries it to the collector's ``/r``.
"""

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from app import ratelimit
from app.credentials import api as credential_api
from app.deps import HashingKeyDep, SessionDep
from app.errors import PingyiError
from app.i18n import current_locale
from app.split import handover, links
from app.templating import render

router = APIRouter(include_in_schema=False)


def _page_context() -> dict[str, str]:
    collector = links.collector_url()
    return {"collector_url": collector, "collector_rating_url": collector + links.RATING_PATH}


@router.get("/r", response_class=HTMLResponse)
def forward_page(request: Request) -> HTMLResponse:
    return render(request, "split/forward.html", _page_context())


@router.post(
    "/r",
    response_class=HTMLResponse,
    dependencies=[Depends(ratelimit.limit(ratelimit.RateLimits.CODE_ENTRY))],
)
async def hand_over(
    request: Request,
    session: SessionDep,
    hashing_key: HashingKeyDep,
    secret: credential_api.ServerSecretDep,
) -> HTMLResponse:
    """A code from this page's form, or from the collector's page when its script could not
    make a credential (``direct``): use it up for a credential and hand that over."""
    form = await request.form()
    code = form.get("code")
    return await run_in_threadpool(
        _hand_over, request, session, hashing_key, secret, code if isinstance(code, str) else ""
    )


def _hand_over(
    request: Request, session: Session, hashing_key: bytes, secret: bytes, code: str
) -> HTMLResponse:
    try:
        handed = handover.make_credential(session, hashing_key, secret, code, current_locale())
    except PingyiError as error:
        return render(
            request,
            "split/forward.html",
            {**_page_context(), "code": code, "error": error.translated()},
            status_code=error.status_code,
        )
    return render(
        request,
        "split/handover.html",
        {
            **_page_context(),
            "campaign_title": handed.campaign_title,
            "credential": handed.credential_text,
        },
    )
