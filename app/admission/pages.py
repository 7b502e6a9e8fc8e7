"""Admission codes in the office console: batches, issuing, one-time downloads, revoking.

A new batch's codes are shown nowhere: they can be downloaded once as CSV and once as a PDF
of slips, each by a POST whose answer is the file (never a URL holding a code), until they
expire. Nothing here logs or audits a code.
"""

import datetime as dt
import io
from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.accounts.models import StaffUser
from app.accounts.permissions import Permission
from app.accounts.web import WriteSession, render_admin, require
from app.admission import pending as pending_codes
from app.admission import service as admission_service
from app.admission.pending import DownloadFormat
from app.audit import service as audit_service
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign
from app.config import get_settings
from app.credentials import keys as credential_keys
from app.deps import HashingKeyDep, SessionDep
from app.errors import InvalidInput, PingyiError
from app.i18n import N_
from app.reports import slips as slip_reports
from app.reports.slips import Slip
from app.split import links as split_links

router = APIRouter(prefix="/admin/campaigns/{slug}/codes", include_in_schema=False)

IssuerDep = Annotated[StaffUser, Depends(require(Permission.ISSUE_CODES))]
MEDIA_TYPES = {
    DownloadFormat.CSV: "text/csv; charset=utf-8",
    DownloadFormat.PDF: "application/pdf",
}
COUNT_MESSAGE = N_("The number of codes must be between 1 and %(maximum)s.")


@lru_cache
def pending_codes_key() -> bytes:
    return pending_codes.pending_codes_key(get_settings().secret_bytes())


PendingKeyDep = Annotated[bytes, Depends(pending_codes_key)]


def codes_path(campaign: Campaign) -> str:
    return f"/admin/campaigns/{campaign.slug}/codes"


@router.get("", response_class=HTMLResponse)
def batch_list(
    request: Request,
    session: SessionDep,
    staff: IssuerDep,
    slug: str,
    issued: int | None = None,
    revoked: int | None = None,
) -> HTMLResponse:
    campaign = campaign_service.get_campaign(session, slug)
    return _batch_list_page(
        request, session, staff, campaign, issued_batch=issued, revoked_batch=revoked
    )


@router.post("", response_class=HTMLResponse)
def issue(
    request: Request,
    session: WriteSession,
    staff: IssuerDep,
    hashing_key: HashingKeyDep,
    pending_key: PendingKeyDep,
    slug: str,
    group: Annotated[str, Form(max_length=40)] = "",
    count: Annotated[str, Form(max_length=20)] = "",
    target: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    campaign = campaign_service.get_campaign(session, slug)
    form = {"group": group, "count": count, "target": target}
    try:
        issued = admission_service.issue_codes(
            session,
            campaign,
            hashing_key=hashing_key,
            group_key=group,
            count=_parse_count(count),
            target_code=target or None,
        )
    except InvalidInput as error:
        return _batch_list_page(
            request, session, staff, campaign, form=form, error=error, status_code=error.status_code
        )
    pending_codes.hold_for_download(
        session, issued, pending_key, lifetime=pending_codes.PENDING_LIFETIME
    )
    pending_codes.discard_expired(session)
    # A batch scoped to one department gets that scope's credential key (the issuer's pages
    # only: a collector does not serve them).
    credential_keys.ensure_batch_key(session, campaign, issued.batch, get_settings().secret_bytes())
    audit_service.record(
        session,
        actor=staff.username,
        action="codes_issue",
        object=f"campaign:{campaign.slug}",
        detail={
            "batch": issued.batch.id,
            "rater_group": issued.rater_group_key,
            "target": issued.target_code,
            "count": issued.batch.size,
        },
    )
    return RedirectResponse(f"{codes_path(campaign)}?issued={issued.batch.id}", status_code=303)


@router.post("/{batch_id}/download/{fmt}")
def download(
    request: Request,
    session: WriteSession,
    staff: IssuerDep,
    pending_key: PendingKeyDep,
    slug: str,
    batch_id: int,
    fmt: DownloadFormat,
    take_over: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    """The file itself; a refused download answers with the batch list and the reason.

    The refusal is a page, not an error, so the transaction commits: a refused take of an
    expired batch deletes its codes, and that must hold. Only the account that issued the
    batch may take its files; another answers a confirmation first (``take_over=yes``), and
    taking it over is audited.
    """
    campaign = campaign_service.get_campaign(session, slug)
    summary = pending_codes.batch_summary(session, campaign, batch_id)
    issuer = audit_service.actor_of(
        session, action="codes_issue", object=f"campaign:{campaign.slug}", batch=batch_id
    )
    taking_over = issuer is not None and issuer != staff.username
    if taking_over and take_over != "yes":
        return render_admin(
            request,
            "admin/codes/take_over.html",
            staff,
            {"campaign": campaign, "summary": summary, "fmt": fmt, "issuer": issuer},
            status_code=403,
        )
    try:
        codes = pending_codes.take_codes(session, campaign, batch_id, fmt, pending_key)
    except pending_codes.CodesUnavailable as refusal:
        return _batch_list_page(
            request, session, staff, campaign, error=refusal, status_code=refusal.status_code
        )
    issued = admission_service.IssuedBatch(
        batch=summary.batch,
        campaign_slug=campaign.slug,
        rater_group_key=summary.rater_group.key,
        target_code=summary.target.department.code if summary.target else None,
        codes=codes,
    )
    body = _codes_csv(issued) if fmt == DownloadFormat.CSV else _slips_pdf(campaign, summary, codes)
    audit_service.record(
        session,
        actor=staff.username,
        action="codes_download",
        object=f"campaign:{campaign.slug}",
        detail={"batch": batch_id, "format": fmt.value},
    )
    if taking_over:
        audit_service.record(
            session,
            actor=staff.username,
            action="codes_download_override",
            object=f"campaign:{campaign.slug}",
            detail={"batch": batch_id, "format": fmt.value, "issued_by": issuer},
        )
    file_name = f"codes-{campaign.slug}-{batch_id}.{fmt.value}"
    return Response(
        body,
        media_type=MEDIA_TYPES[fmt],
        headers={
            "content-disposition": f'attachment; filename="{file_name}"',
            "cache-control": "no-store",
        },
    )


@router.get("/{batch_id}/revoke", response_class=HTMLResponse)
def revoke_confirmation(
    request: Request, session: SessionDep, staff: IssuerDep, slug: str, batch_id: int
) -> HTMLResponse:
    campaign = campaign_service.get_campaign(session, slug)
    summary = pending_codes.batch_summary(session, campaign, batch_id)
    return render_admin(
        request,
        "admin/codes/revoke.html",
        staff,
        {"campaign": campaign, "summary": summary, "created": _utc_text(summary.batch.created_at)},
    )


@router.post("/{batch_id}/revoke")
def revoke(session: WriteSession, staff: IssuerDep, slug: str, batch_id: int) -> RedirectResponse:
    campaign = campaign_service.get_campaign(session, slug)
    admission_service.revoke_batch(session, campaign, batch_id)
    pending_codes.discard_pending(session, campaign, batch_id)
    pending_codes.discard_expired(session)
    # How many codes were still unused is left out: with the batch size it gives the
    # batch's turnout, which may be below the disclosure threshold.
    audit_service.record(
        session,
        actor=staff.username,
        action="codes_revoke",
        object=f"campaign:{campaign.slug}",
        detail={"batch": batch_id},
    )
    return RedirectResponse(f"{codes_path(campaign)}?revoked={batch_id}", status_code=303)


def _batch_list_page(
    request: Request,
    session: Session,
    staff: StaffUser,
    campaign: Campaign,
    *,
    form: dict[str, str] | None = None,
    error: PingyiError | None = None,
    issued_batch: int | None = None,
    revoked_batch: int | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    summaries = pending_codes.batch_summaries(session, campaign)
    known = {summary.batch.id for summary in summaries}
    return render_admin(
        request,
        "admin/codes/list.html",
        staff,
        {
            "campaign": campaign,
            "switch_path": codes_path(campaign),  # a refused POST is shown at its own path
            "rows": [
                {
                    "summary": summary,
                    "created": _utc_text(summary.batch.created_at),
                    "expires": _utc_text(summary.pending.expires_at) if summary.pending else "",
                }
                for summary in reversed(summaries)  # newest first
            ],
            "can_issue": campaign.status in admission_service.ISSUABLE_STATUSES,
            "form": form or {"group": "", "count": "", "target": ""},
            "error": error.translated() if error else None,
            "error_field": error.field if error else None,
            "issued_batch": issued_batch if issued_batch in known else None,
            "revoked_batch": revoked_batch if revoked_batch in known else None,
            "max_batch_size": admission_service.MAX_BATCH_SIZE,
            "lifetime_hours": int(pending_codes.PENDING_LIFETIME.total_seconds() // 3600),
        },
        status_code=status_code,
    )


def _parse_count(text: str) -> int:
    cleaned = text.strip().replace(",", "")
    if not cleaned.isascii() or not cleaned.isdigit():
        raise InvalidInput(COUNT_MESSAGE, field="count", maximum=admission_service.MAX_BATCH_SIZE)
    return int(cleaned)


def _codes_csv(issued: admission_service.IssuedBatch) -> bytes:
    stream = io.StringIO(newline="")
    admission_service.write_codes_csv(issued, stream)
    return stream.getvalue().encode("utf-8")


def _slips_pdf(campaign: Campaign, summary: pending_codes.BatchSummary, codes: list[str]) -> bytes:
    """Slips are printed for raters, so every name on them is the Chinese one."""
    title = campaign.title_for("zh_CN")
    group_name = summary.rater_group.name_for("zh_CN")
    target_name = summary.target.department.name_for("zh_CN") if summary.target else None
    stream = io.BytesIO()
    slip_reports.render_slips_pdf(
        [
            Slip(
                code=code,
                campaign_title=title,
                rater_group_name=group_name,
                target_name=target_name,
            )
            for code in codes
        ],
        base_url=split_links.rating_base_url(),  # an issuer's slips send raters to the collector
        stream=stream,
    )
    return stream.getvalue()


def _utc_text(moment: dt.datetime) -> str:
    """A stored time as UTC text; SQLite gives naive UTC times back."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")
