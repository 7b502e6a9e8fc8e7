"""Published results for everyone: the campaigns, a ranking, a department, the methodology.

No sign-in and no cookie; Chinese first, ``?lang=en`` for English. Only published campaigns
are shown: any other answers 404 exactly as an unknown slug does. Every figure comes from
one :class:`CampaignResults` under the campaign's disclosure control.
"""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign
from app.comments import service as comments_service
from app.deps import SessionDep
from app.i18n import current_locale
from app.public import methodology as public_methodology
from app.public import service as public_service
from app.public import views
from app.results.schemas import CampaignResults
from app.series import views as series_views
from app.services import service as catalog_service
from app.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/results", response_class=HTMLResponse)
def campaign_list(request: Request, session: SessionDep) -> HTMLResponse:
    campaigns = views.campaign_list(public_service.published_campaigns(session))
    return render(request, "public/list.html", {"campaigns": campaigns, "switch_path": "/results"})


@router.get("/results/{slug}", response_class=HTMLResponse)
def ranking(request: Request, session: SessionDep, slug: str) -> HTMLResponse:
    campaign, results = _published(request, session, slug)
    view = views.ranking(campaign, results)
    return render(request, "public/ranking.html", {"view": view, "switch_path": view.path})


@router.get("/results/{slug}/departments/{code}", response_class=HTMLResponse)
def department(request: Request, session: SessionDep, slug: str, code: str) -> HTMLResponse:
    campaign = public_service.published_campaign(session, slug)
    target = public_service.published_target(campaign, code)
    results = _results(request, session, campaign)
    view = views.department(
        campaign,
        results,
        code,
        campaign_service.policy_of(campaign),
        comments_service.published_comments(session, campaign, target),
    )
    extra = series_views.department_extras(
        session, campaign, results, code, lambda other: _results(request, session, other)
    )
    return render(
        request,
        "public/department.html",
        {
            "view": view,
            "switch_path": view.path,
            "services": catalog_service.services_of_code(session, code),
            **extra,
        },
    )


@router.get("/results/{slug}/methodology", response_class=HTMLResponse)
def methodology(request: Request, session: SessionDep, slug: str) -> HTMLResponse:
    campaign, results = _published(request, session, slug)
    view = public_methodology.methodology(campaign, results, campaign_service.policy_of(campaign))
    return render(request, "public/methodology.html", {"view": view, "switch_path": view.path})


def _published(request: Request, session: Session, slug: str) -> tuple[Campaign, CampaignResults]:
    campaign = public_service.published_campaign(session, slug)
    return campaign, _results(request, session, campaign)


def _results(request: Request, session: Session, campaign: Campaign) -> CampaignResults:
    """From the application's cache (see :class:`app.public.service.ResultsCache`)."""
    state = request.app.state
    if not hasattr(state, "public_results"):
        state.public_results = public_service.ResultsCache()
    cache: public_service.ResultsCache = state.public_results
    return cache.results(session, campaign, current_locale())
