"""Why a rater is turned away from a campaign that is not open: not yet open, or ended.

The admission and credential services refuse with one error (``CampaignNotOpen``, "not open at
the moment"), which suggests a closed campaign may reopen. The rating pages look up the
campaign the code, credential or roster sign-in belongs to and say which it is: an ended
campaign (closed, tallied, published) with a link to its published results, or one that has
not started yet (a draft), with its start date when set.
"""

import datetime as dt
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.admission import service as admission_service
from app.admission.models import AdmissionCode, CodeBatch
from app.campaigns.models import Campaign, CampaignStatus
from app.errors import PingyiError
from app.i18n import current_locale, gettext

ENDED = (CampaignStatus.CLOSED, CampaignStatus.TALLIED, CampaignStatus.PUBLISHED)


@dataclass(frozen=True)
class NotOpen:
    """What the page says about a campaign that is not open, and where its results are."""

    message: str
    results_path: str | None = None  # the published results, when there are any


def campaign_of_code(session: Session, hashing_key: bytes, code_text: str) -> Campaign | None:
    """The campaign a code belongs to, whatever its state; None for a code not found."""
    try:
        hashed = admission_service.code_hash(hashing_key, code_text)
    except PingyiError:
        return None
    return session.scalars(
        select(Campaign)
        .join(CodeBatch, CodeBatch.campaign_id == Campaign.id)
        .join(AdmissionCode, AdmissionCode.batch_id == CodeBatch.id)
        .where(AdmissionCode.code_hash == hashed)
    ).first()


def campaign_by_slug(session: Session, slug: str) -> Campaign | None:
    return session.scalars(select(Campaign).where(Campaign.slug == slug)).first()


def not_open(campaign: Campaign, today: dt.date | None = None) -> NotOpen | None:
    """The words for a campaign that is not open; None when it is open."""
    title = campaign.title_for(current_locale())
    if campaign.status in ENDED:
        published = campaign.status == CampaignStatus.PUBLISHED
        return NotOpen(
            message=gettext("The evaluation “%(title)s” has ended and no longer accepts ratings.")
            % {"title": title},
            results_path=f"/results/{quote(campaign.slug, safe='')}" if published else None,
        )
    if campaign.status == CampaignStatus.DRAFT:
        today = today or dt.date.today()
        if campaign.starts_on is not None and campaign.starts_on >= today:
            return NotOpen(
                gettext("The evaluation “%(title)s” has not started yet. It opens on %(date)s.")
                % {"title": title, "date": campaign.starts_on.isoformat()}
            )
        return NotOpen(
            gettext("The evaluation “%(title)s” has not started yet.") % {"title": title}
        )
    return None
