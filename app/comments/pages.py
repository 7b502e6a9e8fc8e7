"""The comment review queue of the office console: read it, approve, reject, put back to
pending, hide further parts of a comment.

Anyone who may view results may read the queue; approving and editing take the permission to
manage campaigns. Every step is audited with the comment's random id, never its text.
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.accounts.models import StaffUser
from app.accounts.permissions import Permission, allows
from app.accounts.web import WriteSession, render_admin, require
from app.audit import service as audit_service
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus
from app.comments import scrub
from app.comments import service as comment_service
from app.comments.models import CommentForReview, CommentStatus
from app.deps import SessionDep
from app.errors import PingyiError

router = APIRouter(prefix="/admin/campaigns/{slug}/comments", include_in_schema=False)

Viewer = Annotated[StaffUser, Depends(require(Permission.VIEW_RESULTS))]
Manager = Annotated[StaffUser, Depends(require(Permission.MANAGE_CAMPAIGNS))]
ShownFilter = Annotated[str | None, Form()]  # the queue's filter, to return to after a step

FILTERS = ("pending", "approved", "rejected", "all")
DEFAULT_FILTER = "pending"
# The step a button takes: the status it leads to and the audit action.
STEPS = {
    "approve": (CommentStatus.APPROVED, "comment_approve"),
    "reject": (CommentStatus.REJECTED, "comment_reject"),
    "pending": (CommentStatus.PENDING, "comment_reopen"),
}


def _filter(value: str | None) -> str:
    return value if value in FILTERS else DEFAULT_FILTER


def _queue_url(slug: str, shown: str) -> str:
    return f"/admin/campaigns/{slug}/comments?status={shown}"


def _audit_object(comment_id: uuid.UUID) -> str:
    return f"comment:{comment_id}"


def _queue_page(
    request: Request,
    session: Session,
    staff: StaffUser,
    campaign: Campaign,
    shown: str,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    status = None if shown == "all" else CommentStatus(shown)
    return render_admin(
        request,
        "admin/comments/queue.html",
        staff,
        {
            "campaign": campaign,
            "groups": comment_service.queue(session, campaign, status),
            "counts": comment_service.status_counts(session, campaign),
            "shown": shown,
            "filters": FILTERS,
            "min_respondents": campaign_service.policy_of(campaign).comments.min_respondents,
            "placeholder": scrub.PLACEHOLDER,
            "reviewable": campaign.status in comment_service.REVIEWABLE,
            "published": campaign.status == CampaignStatus.PUBLISHED,
            "error": error,
        },
        status_code=status_code,
    )


@router.get("", response_class=HTMLResponse)
def comment_queue(
    request: Request,
    session: SessionDep,
    staff: Viewer,
    slug: str,
    status: str | None = None,
) -> Response:
    campaign = campaign_service.get_campaign(session, slug)
    if status is None:
        shown = opening_filter(
            comment_service.status_counts(session, campaign),
            may_review=allows(staff.role, Permission.MANAGE_CAMPAIGNS),
        )
    else:
        shown = _filter(status)
    return _queue_page(request, session, staff, campaign, shown)


def opening_filter(counts: dict[CommentStatus, int], *, may_review: bool) -> str:
    """The tab the queue opens on without a choice: pending for a reviewer with work to do,
    else the first non-empty tab (approved first for those who cannot review)."""
    order = (
        ("pending", "approved", "rejected") if may_review else ("approved", "pending", "rejected")
    )
    for shown in order:
        if counts.get(CommentStatus(shown), 0):
            return shown
    return order[0]


def _step(
    request: Request,
    session: Session,
    staff: StaffUser,
    slug: str,
    comment_id: uuid.UUID,
    step: str,
    shown: str,
) -> Response:
    campaign = campaign_service.get_campaign(session, slug)
    status, action = STEPS[step]
    try:
        previous = comment_service.set_status(session, campaign, comment_id, status)
    except PingyiError as error:
        return _queue_page(
            request, session, staff, campaign, shown, error.translated(), error.status_code
        )
    audit_service.record(
        session,
        actor=staff.username,
        action=action,
        object=_audit_object(comment_id),
        detail={"campaign": campaign.slug, "from": previous.value, "to": status.value},
    )
    return RedirectResponse(_queue_url(campaign.slug, shown), status_code=303)


@router.post("/{comment_id}/approve", response_class=HTMLResponse)
def approve(
    request: Request,
    session: WriteSession,
    staff: Manager,
    slug: str,
    comment_id: uuid.UUID,
    shown: ShownFilter = None,
) -> Response:
    return _step(request, session, staff, slug, comment_id, "approve", _filter(shown))


@router.post("/{comment_id}/reject", response_class=HTMLResponse)
def reject(
    request: Request,
    session: WriteSession,
    staff: Manager,
    slug: str,
    comment_id: uuid.UUID,
    shown: ShownFilter = None,
) -> Response:
    return _step(request, session, staff, slug, comment_id, "reject", _filter(shown))


@router.post("/{comment_id}/pending", response_class=HTMLResponse)
def back_to_pending(
    request: Request,
    session: WriteSession,
    staff: Manager,
    slug: str,
    comment_id: uuid.UUID,
    shown: ShownFilter = None,
) -> Response:
    return _step(request, session, staff, slug, comment_id, "pending", _filter(shown))


def _edit_page(
    request: Request,
    staff: StaffUser,
    campaign: Campaign,
    comment: CommentForReview,
    text: str,
    shown: str,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render_admin(
        request,
        "admin/comments/edit.html",
        staff,
        {
            "campaign": campaign,
            "comment": comment,
            "department": next(
                (t.department for t in campaign.targets if t.id == comment.target_id), None
            ),
            "text": text,
            "shown": shown,
            "placeholder": scrub.PLACEHOLDER,
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/{comment_id}/edit", response_class=HTMLResponse)
def edit_form(
    request: Request,
    session: SessionDep,
    staff: Manager,
    slug: str,
    comment_id: uuid.UUID,
    status: str | None = None,
) -> Response:
    campaign = campaign_service.get_campaign(session, slug)
    comment = comment_service.get_comment(session, campaign, comment_id)
    return _edit_page(request, staff, campaign, comment, comment.text, _filter(status))


@router.post("/{comment_id}/edit", response_class=HTMLResponse)
def edit(
    request: Request,
    session: WriteSession,
    staff: Manager,
    slug: str,
    comment_id: uuid.UUID,
    text: Annotated[str, Form()] = "",
    shown: ShownFilter = None,
) -> Response:
    campaign = campaign_service.get_campaign(session, slug)
    comment = comment_service.get_comment(session, campaign, comment_id)
    try:
        changed = comment_service.edit(session, campaign, comment_id, text)
    except PingyiError as error:
        return _edit_page(
            request,
            staff,
            campaign,
            comment,
            text,
            _filter(shown),
            error.translated(),
            error.status_code,
        )
    if changed:
        audit_service.record(
            session,
            actor=staff.username,
            action="comment_edit",
            object=_audit_object(comment_id),
            detail={"campaign": campaign.slug},
        )
    return RedirectResponse(_queue_url(campaign.slug, _filter(shown)), status_code=303)
