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
from app.credentials import sealing_api, verify_pages
from app.departments import pages as department_pages
from app.middleware import (
    KIB,
    BodySizeLimitMiddleware,
    CsrfMiddleware,
    InputGuardMiddleware,
    LocaleMiddleware,
    PendingCookiesMiddleware,
    RequestLogMiddleware,
    SecurityHeadersMiddleware,
)
from app.public import pages as public_pages
from app.results import api as results_api
from app.results import pages as results_pages
from app.surveys import pages as survey_pages
from app.templating import render

STATIC_DIR = PROJECT_ROOT / "app" / "static"
API_BODY_LIMIT = 64 * KIB
RATING_FORM_BODY_LIMIT = 256 * KIB  # a draft of many targets with comments, percent-encoded
DEFAULT_BODY_LIMIT = 4 * 1024 * KIB


ISSUER = frozenset({DeploymentRole.ISSUER, DeploymentRole.ALL})
COLLECTOR = frozenset({DeploymentRole.COLLECTOR, DeploymentRole.ALL})
BOTH = ISSUER | COLLECTOR


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
        (BOTH, audit_pages.router),
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
    app.add_middleware(LocaleMiddleware)

    app.include_router(health.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in routers_for(role or settings.role):
        app.include_router(router)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request) -> HTMLResponse:
        return render(request, "home.html")

    return app
