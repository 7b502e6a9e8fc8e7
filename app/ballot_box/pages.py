"""The sealed ballot box in the office console: making the tally key and handing out the
trustees' shares (``…/trustees``), and opening the box with their shares (``…/tally``).

A share is shown nowhere: each downloads once as a file and once as a printable page, by a
POST whose answer is the file, only in the browser that made the key. Entering a share is a
POST of the file or its words. Nothing here logs or audits a share: see
:mod:`app.ballot_box.console_shares` for how shares are held and what that trusts.
"""

import io
from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.accounts import service as account_service
from app.accounts.models import StaffUser
from app.accounts.permissions import ROLE_NAMES, Permission
from app.accounts.web import WriteSession, render_admin, require, secure_cookies
from app.audit import service as audit_service
from app.ballot_box import console_shares, share_pdf, tally_key
from app.ballot_box import service as box_service
from app.ballot_box import shares as share_format
from app.ballot_box.console_shares import ShareFormat
from app.campaigns import lifecycle
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus
from app.config import get_settings
from app.deps import SessionDep
from app.errors import InvalidInput, InvalidTransition, PingyiError
from app.i18n import N_, gettext
from app.middleware.cookies import queue_cookie

key_router = APIRouter(prefix="/admin/campaigns/{slug}/trustees", include_in_schema=False)
tally_router = APIRouter(prefix="/admin/campaigns/{slug}/tally", include_in_schema=False)

Viewer = Annotated[StaffUser, Depends(require(Permission.VIEW_CAMPAIGNS))]
Manager = Annotated[StaffUser, Depends(require(Permission.MANAGE_CAMPAIGNS))]
Trustee = Annotated[StaffUser, Depends(require(Permission.ENTER_TALLY_SHARE))]

MEDIA_TYPES = {ShareFormat.JSON: "application/json", ShareFormat.PDF: "application/pdf"}
WHOLE_NUMBER = N_("The %(what)s must be a whole number.")
REPLACE_UNCONFIRMED = N_(
    "Campaign “%(slug)s” already has a tally key. Tick the box to confirm that it is to be "
    "replaced: the shares of the old key will then open nothing."
)
NO_SHARE_GIVEN = N_("Choose a share file, or type the share's 33 words.")
BOTH_GIVEN = N_("Give either a share file or the share's words, not both.")
PASTED_WORDS = N_("The typed words")
MAX_SHARE_FILE_BYTES = 4 * share_format.MAX_SHARE_TEXT  # UTF-8: at most 4 bytes a character


@lru_cache
def entered_shares_key() -> bytes:
    return console_shares.entered_shares_key(get_settings().secret_bytes())


EnteredKeyDep = Annotated[bytes, Depends(entered_shares_key)]


def trustees_path(campaign: Campaign) -> str:
    return f"/admin/campaigns/{campaign.slug}/trustees"


def tally_path(campaign: Campaign) -> str:
    return f"/admin/campaigns/{campaign.slug}/tally"


def _shares_key(request: Request, campaign: Campaign, staff: StaffUser) -> bytes | None:
    """The key to this campaign's held shares from this browser's cookie, if it has one."""
    browser_key = console_shares.browser_key_from_text(
        request.cookies.get(console_shares.SHARES_COOKIE)
    )
    if browser_key is None:
        return None
    return console_shares.pending_shares_key(
        get_settings().secret_bytes(), browser_key, campaign_id=campaign.id, staff_id=staff.id
    )


def _shares_cookie(request: Request, campaign: Campaign, value: str, max_age: int) -> str:
    attributes = [
        f"{console_shares.SHARES_COOKIE}={value}",
        f"Path={trustees_path(campaign)}",
        f"Max-Age={max_age}",
        "HttpOnly",
        "SameSite=Strict",
    ]
    if secure_cookies(request):
        attributes.append("Secure")
    return "; ".join(attributes)


# --- the tally key and the trustees' shares -------------------------------------------------


@key_router.get("", response_class=HTMLResponse)
def trustees_page(
    request: Request, session: WriteSession, staff: Viewer, slug: str, made: int | None = None
) -> HTMLResponse:
    """The campaign's tally key, or the form that makes it; expired held shares are purged."""
    campaign = campaign_service.get_campaign(session, slug)
    console_shares.discard_expired(session)
    return _trustees_page(request, session, staff, campaign, made=bool(made))


@key_router.post("", response_class=HTMLResponse)
def make_tally_key(
    request: Request,
    session: WriteSession,
    staff: Manager,
    slug: str,
    count: Annotated[str, Form(max_length=20)] = "",
    threshold: Annotated[str, Form(max_length=20)] = "",
    replace: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    campaign = campaign_service.get_campaign(session, slug)
    form = {"count": count, "threshold": threshold}
    existing = box_service.tally_key_of(session, campaign)
    try:
        if campaign.status != CampaignStatus.DRAFT:  # an upgraded open campaign: the CLI
            raise InvalidTransition(box_service.KEY_NOT_EDITABLE, slug=campaign.slug)
        share_count = _whole_number(count, "count", N_("number of trustees"))
        share_threshold = _whole_number(threshold, "threshold", N_("threshold"))
        if existing is not None and replace != "yes":
            raise InvalidInput(REPLACE_UNCONFIRMED, field="replace", slug=campaign.slug)
        made = box_service.create_tally_key(
            session,
            campaign,
            count=share_count,
            threshold=share_threshold,
            replace=existing is not None,
        )
    except PingyiError as error:
        return _trustees_page(
            request, session, staff, campaign, form=form, error=error, status_code=error.status_code
        )
    browser_key = console_shares.new_browser_key()
    key = console_shares.pending_shares_key(
        get_settings().secret_bytes(), browser_key, campaign_id=campaign.id, staff_id=staff.id
    )
    console_shares.hold_shares(session, campaign, made, key)
    del key
    console_shares.discard_expired(session)
    audit_service.record(
        session,
        actor=staff.username,
        action="tally_key_create",
        object=f"campaign:{campaign.slug}",
        detail={
            "fingerprint": bytes(made.key.fingerprint).hex(),
            "count": made.key.share_count,
            "threshold": made.key.threshold,
        },
    )
    lifetime = int(console_shares.PENDING_LIFETIME.total_seconds())
    queue_cookie(
        request.scope,
        _shares_cookie(
            request, campaign, console_shares.browser_key_text(browser_key), max_age=lifetime
        ),
    )
    return RedirectResponse(f"{trustees_path(campaign)}?made=1", status_code=303)


@key_router.post("/{trustee}/download/{fmt}")
def download_share(
    request: Request,
    session: WriteSession,
    staff: Manager,
    slug: str,
    trustee: int,
    fmt: ShareFormat,
) -> Response:
    """The share's file itself; a refused download answers with the trustees page and why.

    The refusal is a page, not an error, so the transaction commits: a refused take of an
    expired share deletes it, and that must hold.
    """
    campaign = campaign_service.get_campaign(session, slug)
    try:
        share = console_shares.take_share(
            session, campaign, trustee, fmt, _shares_key(request, campaign, staff)
        )
    except console_shares.ShareDownloadRefused as refusal:
        return _trustees_page(
            request, session, staff, campaign, error=refusal, status_code=refusal.status_code
        )
    if fmt == ShareFormat.JSON:
        body = share.dump().encode("utf-8")
        file_name = share.file_name()
    else:
        stream = io.BytesIO()
        share_pdf.render_share_pdf(share, stream)
        body = stream.getvalue()
        file_name = share.file_name().removesuffix(".json") + ".pdf"
    audit_service.record(
        session,
        actor=staff.username,
        action="tally_share_download",
        object=f"campaign:{campaign.slug}",
        detail={"trustee": trustee, "format": fmt.value},
    )
    response = Response(
        body,
        media_type=MEDIA_TYPES[fmt],
        headers={
            "content-disposition": f'attachment; filename="{file_name}"',
            "cache-control": "no-store",
        },
    )
    if not console_shares.pending_downloads(session, campaign):
        # Every file is out: the browser's key opens nothing any more.
        response.headers.append("set-cookie", _shares_cookie(request, campaign, "", max_age=0))
    return response


def _trustees_page(
    request: Request,
    session: Session,
    staff: StaffUser,
    campaign: Campaign,
    *,
    form: dict[str, str] | None = None,
    error: PingyiError | None = None,
    made: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    key = box_service.tally_key_of(session, campaign)
    downloads = console_shares.pending_downloads(session, campaign)
    return render_admin(
        request,
        "admin/ballot_box/trustees.html",
        staff,
        {
            "campaign": campaign,
            "switch_path": trustees_path(campaign),  # a refused POST is shown at its own path
            "key": key,
            "fingerprint": tally_key.fingerprint_text(bytes(key.fingerprint)) if key else "",
            "can_make": campaign.status == CampaignStatus.DRAFT,
            "downloads": [
                {"pending": pending, "expires": _utc_text(pending)} for pending in downloads
            ],
            "has_browser_key": console_shares.SHARES_COOKIE in request.cookies,
            "made": made and key is not None,
            "form": form or {"count": "", "threshold": ""},
            "error": error.translated() if error else None,
            "error_field": error.field if error else None,
            "max_trustees": share_format.MAX_TRUSTEES,
            "min_threshold": share_format.MIN_THRESHOLD,
            "lifetime_hours": console_shares.lifetime_hours(),
        },
        status_code=status_code,
    )


def _whole_number(text: str, field: str, what: str) -> int:
    cleaned = text.strip()
    if not cleaned.isascii() or not cleaned.isdigit() or len(cleaned) > 3:
        raise InvalidInput(WHOLE_NUMBER, field=field, what=gettext(what))
    return int(cleaned)


def _utc_text(pending: console_shares.PendingDownload) -> str:
    return pending.expires_at.strftime("%Y-%m-%d %H:%M UTC")


# --- opening the box ------------------------------------------------------------------------


@tally_router.get("", response_class=HTMLResponse)
def tally_page(
    request: Request, session: SessionDep, staff: Trustee, slug: str, entered: int | None = None
) -> HTMLResponse:
    campaign = campaign_service.get_campaign(session, slug)
    return _tally_page(request, session, staff, campaign, entered_trustee=entered)


@tally_router.post("", response_class=HTMLResponse)
def enter_share(
    request: Request,
    session: WriteSession,
    staff: Trustee,
    entered_key: EnteredKeyDep,
    slug: str,
    share_file: Annotated[UploadFile | None, File()] = None,
    words: Annotated[str, Form(max_length=share_format.MAX_SHARE_TEXT)] = "",
) -> Response:
    """One trustee's share: kept, or, when it completes the threshold, the box is opened."""
    campaign = campaign_service.get_campaign(session, slug)
    try:
        if box_service.tally_key_of(session, campaign) is None:
            # Opened before the box existed: its ballots are stored already, no share needed.
            lifecycle.tally_campaign(session, campaign, [], actor=staff.username)
            return RedirectResponse(f"/admin/campaigns/{campaign.slug}", status_code=303)
        share = _posted_share(share_file, words)
        outcome = console_shares.enter_share(
            session, campaign, share, entered_key, entered_by=staff.username
        )
    except PingyiError as error:
        return _tally_page(
            request, session, staff, campaign, error=error, status_code=error.status_code
        )
    if outcome.tally is not None:
        return RedirectResponse(f"/admin/campaigns/{campaign.slug}#tally", status_code=303)
    return RedirectResponse(f"{tally_path(campaign)}?entered={outcome.trustee}", status_code=303)


@tally_router.post("/discard", response_class=HTMLResponse)
def discard_shares(request: Request, session: WriteSession, staff: Manager, slug: str) -> Response:
    campaign = campaign_service.get_campaign(session, slug)
    console_shares.discard_entered(session, campaign, actor=staff.username)
    return RedirectResponse(tally_path(campaign), status_code=303)


def _posted_share(share_file: UploadFile | None, words: str) -> share_format.Share:
    content = b""
    if share_file is not None and share_file.filename:
        content = share_file.file.read(MAX_SHARE_FILE_BYTES + 1)
    if content and words.strip():
        raise InvalidInput(BOTH_GIVEN, field="share")
    if content:
        source = (share_file.filename if share_file else "") or gettext(PASTED_WORDS)
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput(
                share_format.SHARE_UNREADABLE, field="share", source=source
            ) from None
        return share_format.parse_share(text[: share_format.MAX_SHARE_TEXT + 1], source)
    if words.strip():
        return share_format.parse_share(words, gettext(PASTED_WORDS))
    raise InvalidInput(NO_SHARE_GIVEN, field="share")


def _tally_page(
    request: Request,
    session: Session,
    staff: StaffUser,
    campaign: Campaign,
    *,
    error: PingyiError | None = None,
    entered_trustee: int | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    key = box_service.tally_key_of(session, campaign)
    entered = console_shares.entered_shares(session, campaign)
    refusal = campaign_service.transition_refusal(campaign, "tally")
    accounts = _accounts(session, [row.entered_by for row in entered])
    return render_admin(
        request,
        "admin/ballot_box/tally.html",
        staff,
        {
            "campaign": campaign,
            "switch_path": tally_path(campaign),
            "key": key,
            "fingerprint": tally_key.fingerprint_text(bytes(key.fingerprint)) if key else "",
            "ballots_in_box": box_service.ballots_in_box(session, campaign),
            "entered": [
                {"trustee": row.trustee, "entered_by": row.entered_by, **accounts[row.entered_by]}
                for row in entered
            ],
            "still_needed": key.threshold - len(entered) if key else 0,
            "entered_trustee": entered_trustee
            if entered_trustee in {row.trustee for row in entered}
            else None,
            "refusal": refusal.translated() if refusal else None,
            "tally": box_service.tally_of(session, campaign),
            "error": error.translated() if error else None,
        },
        status_code=status_code,
    )


def _accounts(session: Session, usernames: list[str]) -> dict[str, dict[str, str]]:
    """Each user name's display name and role, as the console names them."""
    found: dict[str, dict[str, str]] = {}
    for username in usernames:
        try:
            user = account_service.get_user(session, username)
        except PingyiError:
            found[username] = {"display_name": username, "role": ""}
            continue
        found[username] = {
            "display_name": user.display_name,
            "role": gettext(ROLE_NAMES[user.role]),
        }
    return found
