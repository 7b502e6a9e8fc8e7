"""What a campaign's public verification page shows: its signing keys and its tally key, and
after close how many credentials were issued, how many ballots the box holds and their sorted
trackers, and after the tally how many were counted.

Anyone may read it, so it follows the results pages' rules: a draft campaign answers exactly
as an unknown slug does, and each count below the campaign's disclosure threshold is
withheld. The keys are public from the moment a campaign opens, so raters (and anyone
helping them) can check that the key their browser uses is the published one, and the same
for everyone (one key per rater group and scope: a key made for one rater would single that
rater out).
"""

from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.admission.models import AdmissionCode, CodeBatch
from app.ballot_box import service as box_service
from app.ballots import receipts
from app.ballots.models import Receipt
from app.campaigns.models import Campaign, CampaignStatus, RaterGroup, Target
from app.credentials.models import CredentialKey, RosterMember
from app.errors import InvalidInput, NotFound
from app.i18n import N_

VISIBLE_STATUSES = (
    CampaignStatus.OPEN,
    CampaignStatus.CLOSED,
    CampaignStatus.TALLIED,
    CampaignStatus.PUBLISHED,
)
CLOSED_STATUSES = (CampaignStatus.CLOSED, CampaignStatus.TALLIED, CampaignStatus.PUBLISHED)
RECEIPT_MALFORMED = N_(
    "This does not look like a receipt: a receipt has 64 letters a–f and digits, "
    "usually written in groups of four."
)


@dataclass(frozen=True)
class PublishedKey:
    key: CredentialKey
    rater_group: RaterGroup
    target: Target | None  # None: the key admits to every department of the campaign


def visible_campaign(session: Session, slug: str) -> Campaign:
    """The campaign, unless it is unknown or still a draft (both answer 404 alike)."""
    campaign = session.scalar(
        select(Campaign).where(Campaign.slug == slug, Campaign.status.in_(VISIBLE_STATUSES))
    )
    if campaign is None:
        raise NotFound(name=slug)
    return campaign


def is_closed(campaign: Campaign) -> bool:
    return campaign.status in CLOSED_STATUSES


def public_keys(session: Session, campaign: Campaign) -> list[PublishedKey]:
    """The campaign's signing keys, by rater group, the all-departments key first."""
    rows = session.execute(
        select(CredentialKey, RaterGroup, Target)
        .join(RaterGroup, CredentialKey.rater_group_id == RaterGroup.id)
        .outerjoin(Target, CredentialKey.target_id == Target.id)
        .where(CredentialKey.campaign_id == campaign.id)
        .order_by(RaterGroup.position, Target.position.nulls_first(), CredentialKey.id)
    )
    return [PublishedKey(key, group, target) for key, group, target in rows]


def public_key(session: Session, campaign: Campaign, key_id: int) -> CredentialKey:
    key = session.get(CredentialKey, key_id)
    if key is None or key.campaign_id != campaign.id:
        raise NotFound(name=f"{campaign.slug}/keys/{key_id}")
    return key


def legacy_receipt_count(session: Session, campaign: Campaign) -> int:
    """Ballots of a campaign opened before the box existed, stored with a random receipt."""
    return (
        session.scalar(
            select(func.count()).select_from(Receipt).where(Receipt.campaign_id == campaign.id)
        )
        or 0
    )


def issued_counts(session: Session, campaign: Campaign) -> dict[int, int]:
    """Credentials issued per rater group id (vouchers exchanged and roster members served),
    before disclosure control (``app.results.publication`` decides what is shown)."""
    vouchers = _counts(
        session,
        select(CodeBatch.rater_group_id, func.count())
        .select_from(AdmissionCode)
        .join(CodeBatch, AdmissionCode.batch_id == CodeBatch.id)
        .where(CodeBatch.campaign_id == campaign.id, AdmissionCode.blinded_hash.is_not(None))
        .group_by(CodeBatch.rater_group_id),
    )
    roster = _counts(
        session,
        select(RosterMember.rater_group_id, func.count())
        .where(RosterMember.campaign_id == campaign.id, RosterMember.credential_issued)
        .group_by(RosterMember.rater_group_id),
    )
    return {
        group.id: vouchers.get(group.id, 0) + roster.get(group.id, 0)
        for group in campaign.rater_groups
    }


def receipt_hashes(session: Session, campaign: Campaign) -> list[bytes]:
    """Every tracker of a closed campaign's box, and the receipt hashes of ballots stored
    before it had a box, sorted together (so the list says nothing of order)."""
    _refuse_before_close(campaign)
    legacy = session.scalars(select(Receipt.receipt_hash).where(Receipt.campaign_id == campaign.id))
    return sorted([*box_service.trackers(session, campaign), *(bytes(value) for value in legacy)])


def receipt_counted(session: Session, campaign: Campaign, receipt_text: str) -> bool:
    """Whether the receipt (a tracker, or an older random receipt) is in the published list."""
    _refuse_before_close(campaign)
    try:
        hashed = receipts.receipt_hash(receipt_text)
    except receipts.MalformedReceipt:
        raise InvalidInput(RECEIPT_MALFORMED, field="receipt") from None
    if box_service.tracker_known(session, campaign, hashed):
        return True
    found = session.scalar(
        select(func.count())
        .select_from(Receipt)
        .where(Receipt.campaign_id == campaign.id, Receipt.receipt_hash == hashed)
    )
    return bool(found)


def _refuse_before_close(campaign: Campaign) -> None:
    if not is_closed(campaign):
        raise NotFound(name=f"{campaign.slug}/receipts")


def _counts(session: Session, query: Select[int, int]) -> dict[int, int]:
    return {group_id: count for group_id, count in session.execute(query)}
