"""The office's JSON route for sealing a campaign on demand (see :mod:`app.sealing.rows`).

Staff authenticate with the console's session cookie, which is also sent to
``/api/v1/campaigns`` (``app.accounts.sessions``).
"""

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from app.accounts.models import StaffUser
from app.accounts.permissions import Permission
from app.accounts.web import WriteSession, require
from app.audit import service as audit_service
from app.campaigns import service as campaign_service
from app.error_handlers import error_responses
from app.i18n import gettext
from app.sealing import rows as sealing

router = APIRouter(prefix="/api/v1/campaigns", tags=["office"])

Manager = Annotated[StaffUser, Depends(require(Permission.MANAGE_CAMPAIGNS))]


class SealOut(BaseModel):
    campaign: str = Field(description="The campaign's slug")
    status: str = Field(description="The campaign's status: `open`, `closed`, …")
    message: str


@router.post(
    "/{slug}/seal",
    response_model=SealOut,
    responses=error_responses(401, 403, 404),
    summary="Seal a campaign: store its rows in random order and vacuum",
)
def seal_campaign(session: WriteSession, staff: Manager, slug: str) -> SealOut:
    """Rewrites the campaign's evaluations, spent credentials, receipts, admission codes and
    roster members in random physical order, then vacuums those tables, so a copy of the
    database no longer shows in which order ratings and credentials arrived. Every stored
    value stays as it was. Closing a campaign seals it too; sealing an open one protects
    what is stored so far, not what arrives later.

    Needs a staff session cookie of a role that may manage campaigns (401 without one, 403
    for other roles). 404: no such campaign.
    """
    campaign = campaign_service.get_campaign(session, slug)
    sealing.seal(session, campaign)
    audit_service.record(
        session,
        actor=staff.username,
        action="campaign_seal",
        object=f"campaign:{campaign.slug}",
        detail={"status": campaign.status.value},
    )
    return SealOut(
        campaign=campaign.slug,
        status=campaign.status.value,
        message=gettext("The campaign's rows are now stored in random order."),
    )
