"""The ASGI application."""

import hmac
import logging

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app import error_handlers, health
from app.accounts import pages as account_pages
from app.admission import api as admission_api
from app.admission import pages as admission_pages
from app.audit import pages as audit_pages
from app.ballot_box import pages as ballot_box_pages
from app.ballots import api as ballot_api
from app.ballots import pages as ballot_pages
from app.campaigns import pages as campaign_pages
from app.comments import pages as comment_pages
from app.config import PROJECT_ROOT, DeploymentRole, get_settings
from app.credentials import api as credential_api
from app.credentials import verify_pages
from app.departments import pages as department_pages
from app.inspections import pages as inspection_pages
from app.middleware.body_limit import KIB, BodySizeLimitMiddleware
from app.middleware.cookies import PendingCookiesMiddleware
from app.middleware.csrf import CsrfMiddleware
from app.middleware.input_guard import InputGuardMiddleware
from app.middleware.locale import LocaleMiddleware
from app.middleware.request_log import RequestLogMiddleware
from app.middleware.security_headers import SecurityHeadersMiddleware
from app.ops import high_water
from app.public import pages as public_pages
from app.rectification import pages as rectification_pages
from app.rectification import public_pages as rectification_public_pages
from app.results import api as results_api
from app.results import pages as results_pages
from app.sealing import api as sealing_api
from app.series import pages as series_pages
from app.services import pages as service_pages
from app.split import links as split_links
from app.split import pages as split_pages
from app.split.cors import CredentialCorsMiddleware
from app.split.csp import SplitCspMiddleware, split_policy
from app.surveys import pages as survey_pages
from app.templating import render

STATIC_DIR = PROJECT_ROOT / "app" / "static"
API_BODY_LIMIT = 64 * KIB
RATING_FORM_BODY_LIMIT = 256 * KIB  # a draft of many targets with comments, percent-encoded
DEFAULT_BODY_LIMIT = 4 * 1024 * KIB


ISSUER = frozenset({DeploymentRole.ISSUER, DeploymentRole.ALL})
COLLECTOR = frozenset({DeploymentRole.COLLECTOR, DeploymentRole.ALL})
BOTH = ISSUER | COLLECTOR
ISSUER_ONLY = frozenset({DeploymentRole.ISSUER})


def routers_for(role: DeploymentRole) -> list[APIRouter]:
    """The routers a deployment of ``role`` serves; any other address answers 404.

    An issuer admits raters (codes, rosters, credentials) and never collects or reads
    evaluations; a collector accepts ballots, verifies credentials and publishes results,
    and holds no code, roster or private key. Both serve the public keys, sealing, and the
    console's sign-in, campaigns and audit trail.
    """
    routers: list[tuple[frozenset[DeploymentRole], APIRouter]] = [
        (ISSUER, admission_api.router),
        (ISSUER, credential_api.issuance_router),
        (BOTH, credential_api.keys_router),
        (COLLECTOR, ballot_api.router),
        (COLLECTOR, ballot_pages.router),
        (ISSUER_ONLY, split_pages.router),  # /r: forwards to the collector, or hands over
        (COLLECTOR, public_pages.router),
        (BOTH, sealing_api.router),
        (COLLECTOR, verify_pages.router),
        (BOTH, account_pages.router),
        (ISSUER, department_pages.router),
        (ISSUER, survey_pages.router),
        (BOTH, campaign_pages.router),
        (ISSUER, admission_pages.router),
        (BOTH, ballot_box_pages.key_router),  # the key is made where the campaign is a draft
        (COLLECTOR, ballot_box_pages.tally_router),  # the box is where the ballots are
        (COLLECTOR, results_pages.router),
        (COLLECTOR, results_api.router),
        (COLLECTOR, comment_pages.router),
        (COLLECTOR, rectification_pages.router),  # 问题清单 and 整改, after publication
        (COLLECTOR, rectification_pages.liaison_router),
        (COLLECTOR, rectification_public_pages.router),  # 整改公示
        (BOTH, audit_pages.router),
        (BOTH, inspection_pages.router),  # 暗访: findings, 通报单, inspection scores
        (COLLECTOR, series_pages.router),  # risers and fallers, from published results
        (BOTH, service_pages.router),  # 办事项目: imported where the public pages are too
        (COLLECTOR, service_pages.public_router),  # /services, the public catalog
    ]
    return [router for roles, router in routers if role in roles]


def create_app(role: DeploymentRole | None = None) -> FastAPI:
    """The application; ``role`` overrides ``PINGYI_ROLE`` (tests serve each half)."""
    logging.getLogger("pingyi").setLevel(logging.INFO)
    app = FastAPI(
        title="Pingyi 评议",
        docs_url=None,  # Swagger UI and ReDoc load their assets from a CDN; the schema stays
        redoc_url=None,
        version="0.1.0",
        summary="Anonymous online evaluation of government offices",
        description=(
            "Raters use one-time admission codes. No stored row links a rating to a code, "
            'an account, an IP address or a time. Errors are `{"error": {"code", '
            '"message", "field"}}`, with messages in the language of Accept-Language.'
        ),
    )
    error_handlers.install(app)
    high_water.install(app)  # records the high-water mark off the request path (app.ops)
    settings = get_settings()
    # Added innermost first: Locale wraps everything so even a 413 is in the reader's language.
    app.add_middleware(RequestLogMiddleware)
    app.add_middleware(PendingCookiesMiddleware)
    app.add_middleware(
        CsrfMiddleware,
        signing_secret=hmac.new(settings.secret_bytes(), b"pingyi csrf v1", "sha256").hexdigest(),
        secure=settings.public_base_url.startswith("https:"),
    )
    app.add_middleware(InputGuardMiddleware)  # NUL and duplicate JSON keys, inside the limit
    app.add_middleware(
        BodySizeLimitMiddleware,
        limits={"/api/": API_BODY_LIMIT, "/r": RATING_FORM_BODY_LIMIT},
        default_limit=DEFAULT_BODY_LIMIT,
    )
    app.add_middleware(SecurityHeadersMiddleware)
    role = role or settings.role
    app.state.role = role  # the console's templates link only to the sections served
    if role == DeploymentRole.COLLECTOR and settings.issuer_url:
        issuer = split_links.origin_of(settings.issuer_url)  # asked for credentials, by fetch
        app.add_middleware(
            SplitCspMiddleware, policy=split_policy(connect_to=issuer, post_to=issuer)
        )
    if role == DeploymentRole.ISSUER and settings.collector_url:
        collector = split_links.origin_of(settings.collector_url)  # where credentials go
        app.add_middleware(SplitCspMiddleware, policy=split_policy(post_to=collector))
        app.add_middleware(CredentialCorsMiddleware, allowed_origin=collector)
    app.add_middleware(LocaleMiddleware)

    app.include_router(health.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in routers_for(role):
        app.include_router(router)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request) -> HTMLResponse:
        # An issuer's raters rate at the collector; its own /r only forwards them there.
        rating_url = settings.collector_url if role == DeploymentRole.ISSUER else ""
        return render(request, "home.html", {"rating_url": rating_url + split_links.RATING_PATH})

    return app
