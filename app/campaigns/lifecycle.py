"""Every stage of a campaign's life, in one place: open, close, tally, publish.

draft → open → closed → tallied → published. Each stage is one function that the console and
the command line both call: it checks its preconditions, does its work in the caller's
transaction (which commits all of it or none), and writes its audit entry there too, so the
audit trail holds every stage whoever took it and from wherever. Stages that reach across
domains (credential keys, the ballot box, comments, results, sealing) meet here and nowhere
else.
"""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import db
from app.audit import service as audit_service
from app.ballot_box import opening, shares
from app.ballot_box import service as box_service
from app.ballot_box import tally as box_tally
from app.ballot_box.models import Tally
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus
from app.config import DeploymentRole, get_settings
from app.credentials import keys as credential_keys
from app.errors import InvalidTransition
from app.i18n import N_
from app.results import service as results_service
from app.sealing import rows as sealing

NO_TALLY_KEY = N_(
    "Campaign “%(slug)s” cannot open without a tally key: make the trustees' shares first "
    "(on the campaign's page, or `pingyi trustees create %(slug)s --count N --threshold T "
    "--out-dir DIR`)."
)
ISSUER_HOLDS_NO_BALLOTS = N_(
    "Campaign “%(slug)s” cannot be tallied or published here: this deployment is the issuer "
    "and holds no ballots. The collector opens the ballot box and publishes the results."
)
BALLOT_STEPS = frozenset({"tally", "publish"})  # steps that need the ballot box


def _audit(session: Session, actor: str, campaign: Campaign, action: str, **detail: object) -> None:
    audit_service.record(
        session,
        actor=actor,
        action=f"campaign_{action}",
        object=f"campaign:{campaign.slug}",
        detail=dict(detail),
    )


def role_refusal(campaign: Campaign, action: str) -> InvalidTransition | None:
    """Why this deployment may never take the step, whatever the campaign's status: an issuer
    of a split deployment has no ballots to tally or publish."""
    if action in BALLOT_STEPS and get_settings().role == DeploymentRole.ISSUER:
        return InvalidTransition(ISSUER_HOLDS_NO_BALLOTS, slug=campaign.slug)
    return None


def _step(session: Session, campaign: Campaign, action: str) -> CampaignStatus:
    """Lock the campaign row, refuse the step unless its status allows it; the old status.

    An issuer of a split deployment refuses the steps that need ballots: it has none.
    """
    refused_here = role_refusal(campaign, action)
    if refused_here is not None:
        raise refused_here
    db.begin_writing(session)
    session.execute(select(Campaign.id).where(Campaign.id == campaign.id).with_for_update())
    session.refresh(campaign, ["status"])
    refusal = campaign_service.transition_refusal(campaign, action)
    if refusal is not None:
        raise refusal
    return campaign.status


def open_campaign(session: Session, campaign: Campaign, *, actor: str) -> None:
    """Draft → open: ballots are accepted, sealed to the campaign's tally key.

    Needs the tally key. An issuing deployment also makes the credential keys (one per rater
    group for every department, and one per scope of its scoped batches).
    """
    before = _step(session, campaign, "open")
    if box_service.tally_key_of(session, campaign) is None:
        raise InvalidTransition(NO_TALLY_KEY, slug=campaign.slug)
    campaign.status = CampaignStatus.OPEN
    session.flush()
    settings = get_settings()
    if settings.issues_credentials:
        credential_keys.open_campaign_keys(session, campaign, settings.secret_bytes())
    _audit(session, actor, campaign, "open", **{"from": before.value, "to": "open"})


def close_campaign(session: Session, campaign: Campaign, *, actor: str) -> None:
    """Open → closed: no more ballots. The box stays sealed until the trustees open it; the
    campaign's admission records are sealed (stored in random order, vacuumed once this
    transaction commits)."""
    before = _step(session, campaign, "close")
    campaign.status = CampaignStatus.CLOSED
    session.flush()
    sealing.seal(session, campaign)
    _audit(session, actor, campaign, "close", **{"from": before.value, "to": "closed"})


def tally_campaign(
    session: Session, campaign: Campaign, entered: Sequence[shares.Share], *, actor: str
) -> Tally:
    """Closed → tallied: open the box with at least the threshold of trustees' shares and
    store what it held (``app.ballot_box.tally``); then seal again, so the new rows show no
    order and the box's old rows are vacuumed away once this transaction commits."""
    _step(session, campaign, "tally")
    counted = box_tally.tally(session, campaign, entered)
    return _after_tally(session, campaign, counted, actor)


def import_tally(
    session: Session, campaign: Campaign, opened: opening.OpenedBox, *, actor: str
) -> Tally:
    """Closed → tallied from an offline tally's file, refused unless it covers exactly the
    box as it is now (same ballots, by the hash of their sorted trackers)."""
    _step(session, campaign, "tally")
    counted = box_tally.record(session, campaign, opened, offline=True)
    return _after_tally(session, campaign, counted, actor)


def _after_tally(session: Session, campaign: Campaign, counted: Tally, actor: str) -> Tally:
    sealing.seal(session, campaign)
    _audit(
        session,
        actor,
        campaign,
        "tally",
        ballots_in_box=counted.ballots_in_box,
        ballots_counted=counted.ballots_counted,
        rejected=[tracker for tracker, _reason in counted.rejected],
        offline=counted.offline,
    )
    return counted


def publish_campaign(session: Session, campaign: Campaign, *, actor: str) -> None:
    """Tallied → published: results, approved comments and the public pages appear.

    A differentially private release, if the policy asks for one, is drawn now, once.
    """
    before = _step(session, campaign, "publish")
    results_service.fix_private_release(session, campaign)
    campaign.status = CampaignStatus.PUBLISHED
    session.flush()
    _audit(session, actor, campaign, "publish", **{"from": before.value, "to": "published"})
