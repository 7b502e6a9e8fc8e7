"""A campaign's results as JSON: for anyone once published, for staff once closed.

Staff authenticate with the console's session cookie, which is also sent to
``/api/v1/campaigns`` (``app.accounts.sessions``). The figures are the same
:class:`CampaignResults` every page and export is made from.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from app.accounts import sessions
from app.accounts import web as account_web
from app.accounts.permissions import Permission, allows
from app.audit import service as audit_service
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign
from app.deps import SessionDep
from app.error_handlers import error_responses
from app.errors import NotFound
from app.i18n import current_locale
from app.public import service as public_service
from app.results import service as results_service
from app.results.schemas import CampaignResults

router = APIRouter(prefix="/api/v1/campaigns", tags=["results"])


def results_session(request: Request, session: SessionDep) -> Session:
    """A request with a staff cookie may append to the audit trail, so it takes the write
    lock first (see :func:`app.accounts.web.write_transaction`); anyone else only reads."""
    if request.cookies.get(sessions.COOKIE_NAME):
        return account_web.write_transaction(session)
    return session


ResultsSession = Annotated[Session, Depends(results_session)]


@router.get(
    "/{slug}/results",
    response_model=CampaignResults,
    responses=error_responses(401, 403, 404, 409),
    summary="A campaign's results, with every figure that would identify a rater withheld",
)
def campaign_results(
    request: Request, response: Response, session: ResultsSession, slug: str
) -> CampaignResults:
    """The results every page, export and bulletin of the campaign is made from. A withheld
    figure is `null` and named in its object's `withheld` list; `withheld_figures` lists
    them all in plain words, in the language of Accept-Language (Chinese by default).

    Once the campaign is published, anyone may read them. Before that, only staff whose
    role may view results (the console's session cookie), and only once the campaign is
    closed: figures that change while raters submit would let anyone compare them before
    and after one person rated. Staff reads are recorded in the audit trail.

    401: not published and no staff session (also for a slug that does not exist, so the
    answer does not confirm that an unpublished campaign exists). 403: the staff member's
    role may not view results. 404: no such campaign. 409: not closed yet.
    """
    staff = account_web.current_staff(request, session)
    published = _published_campaign(session, slug)
    if published is not None:
        computed = _published_results(request, session, published)
        campaign = published
    else:
        if staff is None:
            raise account_web.NotSignedIn()
        if not allows(staff.role, Permission.VIEW_RESULTS):
            raise account_web.Forbidden()
        campaign = campaign_service.get_campaign(session, slug)
        results_service.check_releasable(campaign)
        computed = results_service.campaign_results(session, campaign, current_locale())
    if staff is not None:
        audit_service.record(
            session,
            actor=staff.username,
            action="results_view",
            object=f"campaign:{campaign.slug}",
            detail={"via": "api"},
        )
        response.headers["cache-control"] = "no-store"
    return computed


def _published_campaign(session: Session, slug: str) -> Campaign | None:
    try:
        return public_service.published_campaign(session, slug)
    except NotFound:
        return None


def _published_results(request: Request, session: Session, campaign: Campaign) -> CampaignResults:
    """From the cache the public pages share (see :class:`app.public.service.ResultsCache`):
    anyone may ask for a published campaign's results at any rate."""
    state = request.app.state
    if not hasattr(state, "public_results"):
        state.public_results = public_service.ResultsCache()
    cache: public_service.ResultsCache = state.public_results
    return cache.results(session, campaign, current_locale())
