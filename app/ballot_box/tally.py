"""The tally: open a closed campaign's ballot box and write what it held, in one transaction.

:func:`tally` rebuilds the tally key from the trustees' shares in memory, opens the box
(:mod:`app.ballot_box.opening`), and :func:`record` writes, in the caller's single
transaction, every evaluation (shuffled, fresh random ids, no comment), the scrubbed comment
copies for review (``app.comments.service.prepare_review``), and the tally's counts; then it
empties the box of ciphertexts (the trackers stay, for verification) and marks the campaign
tallied. The caller's transaction commits all of it or none: a tally interrupted at any point
leaves the box as it was, and can run again. The key is never written anywhere.

An offline tally (``pingyi tally --offline``) opens an exported box on a trustee's machine;
:func:`record` then stores its result once it is shown to cover exactly the box as it is.
"""

import uuid
from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.ballot_box import opening, shares
from app.ballot_box import service as box_service
from app.ballot_box.models import Tally
from app.ballots.models import Evaluation
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus
from app.comments import service as comment_service
from app.errors import InvalidInput, InvalidTransition
from app.i18n import N_

NOT_CLOSED = N_(
    "The ballot box of “%(slug)s” can be opened only once the campaign is closed: it is %(status)s."
)
ALREADY_TALLIED = N_("The ballot box of “%(slug)s” has already been opened and counted.")
NOT_THIS_BOX = N_(
    "This tally does not cover the ballot box of “%(slug)s” as it is now: the box holds "
    "%(in_box)s ballots, the tally file %(in_file)s, or their trackers differ. Export the box "
    "again and tally that export."
)


def lock_for_tally(session: Session, campaign: Campaign) -> None:
    """Lock the campaign row and refuse unless it is closed and not yet tallied."""
    status = session.scalar(
        select(Campaign.status).where(Campaign.id == campaign.id).with_for_update()
    )
    if status in (CampaignStatus.TALLIED, CampaignStatus.PUBLISHED):
        raise InvalidTransition(ALREADY_TALLIED, slug=campaign.slug)
    if status != CampaignStatus.CLOSED:
        raise campaign_service.TransitionRefused(
            NOT_CLOSED, slug=campaign.slug, status=campaign_service.STATUS_NAMES[campaign.status]
        )


def tally(session: Session, campaign: Campaign, entered: Sequence[shares.Share]) -> Tally:
    """Open the box with the trustees' shares and record what it held (see the module).

    A campaign with no tally key (opened before the box existed, and given none) needs no
    shares: its evaluations are already stored, and only its comments are copied.
    """
    lock_for_tally(session, campaign)
    key = box_service.tally_key_of(session, campaign)
    if key is None:
        return record(session, campaign, opening.OpenedBox(box_digest=opening.box_digest([])))
    key_pair = shares.rebuild_key(
        entered,
        campaign_slug=campaign.slug,
        key_fingerprint=bytes(key.fingerprint),
        threshold=key.threshold,
    )
    opened = opening.open_box(
        box_service.sealed_ballots(session, campaign),
        key_pair,
        box_service.box_context(campaign, key),
    )
    del key_pair
    return record(session, campaign, opened)


def record(
    session: Session, campaign: Campaign, opened: opening.OpenedBox, *, offline: bool = False
) -> Tally:
    """Write an opened box into the database (see the module); refused unless the campaign
    is closed, not yet tallied, and ``opened`` covers exactly the ballots in its box."""
    lock_for_tally(session, campaign)
    in_box = box_service.trackers(session, campaign)
    if len(in_box) != opened.ballots_in_box or opening.box_digest(in_box) != opened.box_digest:
        raise InvalidInput(
            NOT_THIS_BOX,
            field="tally",
            slug=campaign.slug,
            in_box=len(in_box),
            in_file=opened.ballots_in_box,
        )
    targets = {target.department.code: target.id for target in campaign.targets}
    groups = {group.key: group.id for group in campaign.rater_groups}
    rows = [
        {
            "id": uuid.uuid4(),
            "campaign_id": campaign.id,
            "target_id": targets[evaluation.target],
            "rater_group_id": groups[evaluation.rater_group],
            "answers": evaluation.answers,
            "comment": None,
            "quality_flags": evaluation.quality_flags,
        }
        for evaluation in opened.evaluations  # already in random order
    ]
    if rows:
        session.execute(insert(Evaluation), rows)
    comment_service.prepare_review(
        session, campaign, [(targets[code], text) for code, text in opened.comments]
    )
    box_service.empty_box(session, campaign)
    counted = Tally(
        campaign_id=campaign.id,
        ballots_in_box=opened.ballots_in_box,
        ballots_counted=opened.ballots_counted,
        box_digest=opened.box_digest,
        rejected=[[tracker.hex(), reason] for tracker, reason in opened.rejected],
        offline=offline,
    )
    session.add(counted)
    campaign.status = CampaignStatus.TALLIED
    session.flush()
    return counted
