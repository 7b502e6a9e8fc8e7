"""Raters' comments: scrubbed copies for review at close, the approval queue, publication.

The rules (docs/methodology.md, "Disclosure control"):

- Nothing is copied before the tally: comments arrive sealed in the ballot box. When the box
  is opened, :func:`prepare_review` copies the comments of every department rated by at
  least ``policy.comments.min_respondents`` raters (every evaluation of the department
  counts, whatever the rater group), scrubbed of personal data (:mod:`app.comments.scrub`,
  in memory, before any is written), with random ids, all departments' copies shuffled
  together and inserted by one statement, so neither the rows nor their physical order say
  which ballot a copy came from. The copies carry no date. Comments of departments rated by
  fewer raters are dropped unread: they are never copied nor published.
- A campaign opened before the ballot box existed holds comments stored with its earlier
  evaluations: they are copied the same way and their raw text deleted.
- Staff approve or reject each copy and may hide further parts of it (an edit may only replace
  parts with the placeholder, so what is published is always the rater's words). An approved
  copy can go back to pending until the campaign is published; after that a copy can still be
  rejected, which takes it down, and nothing else changes.
- Only approved copies of a published campaign are published, in a new random order each time,
  without ids or dates.
"""

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from app.ballots.models import Evaluation
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus, Target
from app.comments import scrub
from app.comments.models import CommentForReview, CommentStatus
from app.errors import InvalidInput, NotFound
from app.i18n import N_

REVIEWABLE = (CampaignStatus.TALLIED, CampaignStatus.PUBLISHED)

NOT_CLOSED = N_(
    "The comments of campaign “%(slug)s” can be reviewed only once its ballot box has been "
    "opened and counted: it is %(status)s."
)
NOT_TALLYING = N_(
    "The comments of campaign “%(slug)s” are copied for review when its ballot box is opened, "
    "which needs the campaign closed: it is %(status)s."
)
PUBLISHED_ONLY_REJECT = N_(
    "Campaign “%(slug)s” is %(status)s: a comment can still be rejected, which takes it down, "
    "but no longer approved, edited or put back to pending."
)
COMMENT_NOT_FOUND = N_("There is no comment “%(name)s” in this campaign.")
EDIT_EMPTY = N_("A comment cannot be left empty: reject it instead.")
EDIT_NOT_REDACTION = N_(
    "An edit may only hide parts of the comment: replace each part with %(placeholder)s and "
    "change nothing else."
)


@dataclass(frozen=True)
class TargetComments:
    """One department's comments in the review queue."""

    target: Target
    comments: list[CommentForReview]


def _refusal(
    campaign: Campaign, message: str, status: CampaignStatus
) -> campaign_service.TransitionRefused:
    return campaign_service.TransitionRefused(
        message, slug=campaign.slug, status=campaign_service.STATUS_NAMES[status]
    )


def _locked_status(session: Session, campaign: Campaign, *, exclusive: bool) -> CampaignStatus:
    """The campaign's status as committed, its row locked until the transaction ends.

    On PostgreSQL a shared lock keeps publication waiting until a review step is done (and
    a review step started after publication sees it); the exclusive one serialises two
    preparations. SQLite's write transactions are serialised anyway.
    """
    status = session.scalar(
        select(Campaign.status)
        .where(Campaign.id == campaign.id)
        .with_for_update(read=not exclusive)
    )
    return status if status is not None else campaign.status


def prepare_review(
    session: Session,
    campaign: Campaign,
    box_comments: Sequence[tuple[int, str]] = (),
) -> int:
    """Make the review copies at the tally: scrubbed, shuffled, for departments with enough
    evaluations; then delete any raw text.

    ``box_comments`` are the comments of the opened ballot box as ``(target id, text)``,
    already scrubbed in memory by the tally. A campaign opened before the ballot box existed
    also holds comments stored with its evaluations: those are copied and scrubbed here, and
    their raw text deleted. Only departments with at least ``min_respondents`` evaluations
    (counted after the tally has stored the box's) get their comments copied; the others'
    are never shown. Runs while the campaign is closed, in the tally's transaction.
    Idempotent for stored comments: once their raw text is deleted a second call finds
    nothing to copy. Returns how many copies were made.
    """
    status = _locked_status(session, campaign, exclusive=True)
    if status != CampaignStatus.CLOSED:
        raise _refusal(campaign, NOT_TALLYING, status)
    policy = campaign_service.policy_of(campaign).comments
    evaluations_by_target: dict[int, int] = {
        target_id: count
        for target_id, count in session.execute(
            select(Evaluation.target_id, func.count())
            .where(Evaluation.campaign_id == campaign.id)
            .group_by(Evaluation.target_id)
        )
    }
    released = {
        target_id
        for target_id, count in evaluations_by_target.items()
        if count >= policy.min_respondents
    }
    stored = [
        (target_id, scrub.scrub(text.strip(), policy.scrub_names))
        for target_id, text in session.execute(
            select(Evaluation.target_id, Evaluation.comment).where(
                Evaluation.campaign_id == campaign.id, Evaluation.comment.is_not(None)
            )
        )
        if text is not None and text.strip()
    ]
    copies = [
        {
            "id": uuid.uuid4(),
            "campaign_id": campaign.id,
            "target_id": target_id,
            "text": text,
            "status": CommentStatus.PENDING,
        }
        for target_id, text in [*stored, *box_comments]
        if target_id in released
    ]
    secrets.SystemRandom().shuffle(copies)
    if copies:
        session.execute(insert(CommentForReview), copies)
    if stored:
        session.execute(
            update(Evaluation)
            .where(Evaluation.campaign_id == campaign.id, Evaluation.comment.is_not(None))
            .values(comment=None)
        )
    session.flush()
    return len(copies)


def queue(
    session: Session, campaign: Campaign, status: CommentStatus | None = None
) -> list[TargetComments]:
    """The copies awaiting or past review, by department in the campaign's order.

    ``status`` None gives every copy. Within a department copies are ordered by their random
    id: a stable order that says nothing about the evaluations they came from.
    """
    query = select(CommentForReview).where(CommentForReview.campaign_id == campaign.id)
    if status is not None:
        query = query.where(CommentForReview.status == status)
    by_target: dict[int, list[CommentForReview]] = {}
    for comment in session.scalars(query.order_by(CommentForReview.id)):
        by_target.setdefault(comment.target_id, []).append(comment)
    return [
        TargetComments(target=target, comments=by_target[target.id])
        for target in campaign.targets
        if target.id in by_target
    ]


def status_counts(session: Session, campaign: Campaign) -> dict[CommentStatus, int]:
    """How many copies are in each status (every status named, 0 when none)."""
    counts = dict.fromkeys(CommentStatus, 0)
    for status, count in session.execute(
        select(CommentForReview.status, func.count())
        .where(CommentForReview.campaign_id == campaign.id)
        .group_by(CommentForReview.status)
    ):
        counts[status] = count
    return counts


def get_comment(session: Session, campaign: Campaign, comment_id: uuid.UUID) -> CommentForReview:
    comment = session.scalar(
        select(CommentForReview).where(
            CommentForReview.id == comment_id, CommentForReview.campaign_id == campaign.id
        )
    )
    if comment is None:
        raise NotFound(COMMENT_NOT_FOUND, name=str(comment_id))
    return comment


def set_status(
    session: Session, campaign: Campaign, comment_id: uuid.UUID, status: CommentStatus
) -> CommentStatus:
    """Approve, reject or put back to pending one copy; returns its previous status.

    Before publication any step is allowed; once the campaign is published only rejecting.
    """
    campaign_status = _locked_status(session, campaign, exclusive=True)
    if campaign_status not in REVIEWABLE:
        raise _refusal(campaign, NOT_CLOSED, campaign_status)
    comment = get_comment(session, campaign, comment_id)
    if campaign_status == CampaignStatus.PUBLISHED and status != CommentStatus.REJECTED:
        raise _refusal(campaign, PUBLISHED_ONLY_REJECT, campaign_status)
    previous = comment.status
    comment.status = status
    session.flush()
    return previous


def edit(session: Session, campaign: Campaign, comment_id: uuid.UUID, text: str) -> bool:
    """Hide further parts of one copy; returns whether its text changed.

    The new text must be the current one with some parts replaced by the placeholder
    (:func:`is_redaction_of`); it is scrubbed again with the campaign's current name list.
    Refused once the campaign is published.
    """
    campaign_status = _locked_status(session, campaign, exclusive=True)
    if campaign_status != CampaignStatus.TALLIED:
        message = PUBLISHED_ONLY_REJECT if campaign_status in REVIEWABLE else NOT_CLOSED
        raise _refusal(campaign, message, campaign_status)
    comment = get_comment(session, campaign, comment_id)
    edited = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not edited:
        raise InvalidInput(EDIT_EMPTY, field="text")
    if not is_redaction_of(edited, comment.text):
        raise InvalidInput(EDIT_NOT_REDACTION, field="text", placeholder=scrub.PLACEHOLDER)
    names = campaign_service.policy_of(campaign).comments.scrub_names
    scrubbed = scrub.scrub(edited, names)
    if scrubbed == comment.text:
        return False
    comment.text = scrubbed
    session.flush()
    return True


def is_redaction_of(edited: str, original: str) -> bool:
    """Whether ``edited`` is ``original`` with some parts (possibly none) replaced by the
    placeholder, everything else unchanged and in place."""
    pieces = edited.split(scrub.PLACEHOLDER)
    first, last = pieces[0], pieces[-1]
    if len(pieces) == 1:
        return edited == original
    if not original.startswith(first):
        return False
    position = len(first)
    for piece in pieces[1:-1]:  # each as early as possible leaves the most room for the rest
        found = original.find(piece, position)
        if found < 0:
            return False
        position = found + len(piece)
    return len(original) - len(last) >= position and original.endswith(last)


def published_comments(session: Session, campaign: Campaign, target: Target) -> list[str]:
    """The approved comments on ``target`` once the campaign is published, else none.

    Shuffled anew on every call; texts only, no ids, no dates.
    """
    if campaign.status != CampaignStatus.PUBLISHED or target.campaign_id != campaign.id:
        return []
    texts = list(
        session.scalars(
            select(CommentForReview.text).where(
                CommentForReview.campaign_id == campaign.id,
                CommentForReview.target_id == target.id,
                CommentForReview.status == CommentStatus.APPROVED,
            )
        )
    )
    secrets.SystemRandom().shuffle(texts)
    return texts
