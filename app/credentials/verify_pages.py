"""The public verification page of a campaign: ``/verify/{slug}``.

No sign-in and no cookie; Chinese first, ``?lang=en`` for English. Before close it shows the
campaign's signing keys (fingerprints and downloads) and its tally key; after close also the
credentials issued per rater group, the ballot box's count and its sorted trackers, with a
form that checks one receipt; after the tally how many ballots were counted.

The receipt check comes first on the page (a rater arrives from the receipt's QR code, whose
link carries the tracker in its fragment: ``app/static/js/verify.js`` fills the field from it and
answers in place). The form posts (a receipt in a query string would end up in access logs and
browser history), the check happens on the server and leaves no trace: ``/verify`` is a rater path
(``app.middleware.paths.RATER_PATH_PREFIXES``), so no request line is logged, and nothing is
stored.
"""

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from sqlalchemy.orm import Session

from app.ballot_box import opening
from app.ballot_box import service as box_service
from app.ballots import receipts
from app.campaigns.models import Campaign
from app.config import get_settings
from app.credentials import verification
from app.deps import SessionDep
from app.errors import InvalidInput, NotFound
from app.i18n import N_, current_locale, gettext
from app.results import publication
from app.templating import render

router = APIRouter(include_in_schema=False)

FINGERPRINT_GROUP = 4  # hex digits per group, as the CLI tools' output is read aloud
RECEIPTS_SHOWN_INLINE = 1000  # longer lists only as the text file
RECEIPT_FIELD_MAX_LENGTH = 200  # characters; a tracker is 79
PROTECTED = N_("to protect raters' anonymity")
ALL_DEPARTMENTS = N_("all departments of the campaign")
RECEIPT_COUNTED = N_("Yes: this receipt is in the list. Your ballot was counted.")
RECEIPT_IN_BOX = N_(
    "Yes: this receipt is in the list. Your ballot is in the sealed ballot box; it will be "
    "counted when the trustees open the box."
)
RECEIPT_REJECTED = N_(
    "This receipt is in the list, but its ballot could not be counted when the box was "
    "opened: %(reason)s."
)
RECEIPT_NOT_FOUND = N_(
    "No: this receipt is not in this campaign's list. Check each character against "
    "what you wrote down, and that this is the campaign you rated."
)


@dataclass(frozen=True)
class Figure:
    """A count as shown, or ``None`` with the reason it is withheld (public/_macros.html)."""

    text: str | None
    reason: str = ""


@dataclass(frozen=True)
class KeyView:
    rater_group: str
    scope: str
    fingerprint: str
    href: str


@dataclass(frozen=True)
class CountsRow:
    rater_group: str
    credentials_issued: Figure


@dataclass(frozen=True)
class TallyKeyView:
    fingerprint: str
    threshold: int
    share_count: int
    applied_on: str | None  # the day the box began, for a campaign opened before it existed


@dataclass(frozen=True)
class BoxView:
    ballots_in_box: int | None  # None where withheld (and then no list of trackers)
    tallied: bool
    ballots_counted: int | None
    rejected: list[tuple[str, str]]  # (tracker, reason) of ballots the tally could not count


@dataclass(frozen=True)
class ReceiptCheck:
    found: bool | None  # None: the text was not a receipt
    message: str
    tone: str = "error"  # the notice's style: success, info or error


@dataclass(frozen=True)
class VerifyView:
    title: str
    path: str  # the page's address, without the language
    action: str  # where the receipt form posts, with the language
    closed: bool
    shows_issuance: bool  # False on a collector: the issuing organisation holds those counts
    threshold: int
    keys: list[KeyView]
    tally_key: TallyKeyView | None
    box: BoxView | None  # after close
    counts: list[CountsRow]
    trackers_shown: bool  # the list (and so its length) is published
    receipts: list[str]  # hex, sorted; empty when the list is only downloadable
    receipt_total: int
    receipts_href: str


def issues_credentials() -> bool:
    """Whether this deployment issues credentials, and so knows how many it issued: a
    collector of a split deployment does not (docs/privacy.md, "Two organisations")."""
    return get_settings().issues_credentials


IssuesCredentials = Annotated[bool, Depends(issues_credentials)]


@router.get("/verify/{slug}", response_class=HTMLResponse)
def verify_page(
    request: Request, session: SessionDep, issuer: IssuesCredentials, slug: str
) -> HTMLResponse:
    campaign = verification.visible_campaign(session, slug)
    return _render(request, _view(session, campaign, issuer=issuer))


@router.post("/verify/{slug}", response_class=HTMLResponse)
def check_receipt(
    request: Request,
    session: SessionDep,
    issuer: IssuesCredentials,
    slug: str,
    receipt: Annotated[str, Form()] = "",
) -> HTMLResponse:
    campaign = verification.visible_campaign(session, slug)
    view = _view(session, campaign, issuer=issuer)
    try:
        if len(receipt) > RECEIPT_FIELD_MAX_LENGTH:
            raise InvalidInput(verification.RECEIPT_MALFORMED, field="receipt")
        found = verification.receipt_counted(session, campaign, receipt)
    except InvalidInput as error:
        check = ReceiptCheck(found=None, message=error.translated())
        return _render(request, view, check, status_code=error.status_code)
    return _render(request, view, _answer(view, receipt, found=found))


def _answer(view: VerifyView, receipt: str, *, found: bool) -> ReceiptCheck:
    """What the check says of a well-formed receipt: a tracker is in the box from the moment
    its ballot is accepted, but counted only once the tally has opened it without rejecting
    it; an older random receipt's ballot was stored as evaluations directly."""
    if not found:
        return ReceiptCheck(found=False, message=gettext(RECEIPT_NOT_FOUND))
    value = receipts.receipt_bytes(receipt)
    if view.box is not None and len(value) == receipts.TRACKER_BYTES:
        if not view.box.tallied:
            return ReceiptCheck(found=True, message=gettext(RECEIPT_IN_BOX), tone="info")
        reasons = dict(view.box.rejected)
        reason = reasons.get(receipts.grouped(value))
        if reason is not None:
            message = gettext(RECEIPT_REJECTED) % {"reason": reason}
            return ReceiptCheck(found=True, message=message, tone="error")
    return ReceiptCheck(found=True, message=gettext(RECEIPT_COUNTED), tone="success")


@router.get("/verify/{slug}/keys/{key_id}.der")
def download_key(session: SessionDep, slug: str, key_id: int) -> Response:
    """The public key as SPKI DER: its SHA-256 is the fingerprint on the page."""
    campaign = verification.visible_campaign(session, slug)
    key = verification.public_key(session, campaign, key_id)
    filename = f"pingyi-{campaign.slug}-key-{key.id}.der"
    return Response(
        content=key.public_key,
        media_type="application/octet-stream",
        headers={"content-disposition": f'attachment; filename="{quote(filename)}"'},
    )


@router.get("/verify/{slug}/receipts.txt", response_class=PlainTextResponse)
def download_receipts(session: SessionDep, slug: str) -> PlainTextResponse:
    """Every receipt hash of a closed campaign, sorted, one per line in lower-case hex."""
    campaign = verification.visible_campaign(session, slug)
    if not publication.ballot_figures(session, campaign).trackers_shown:
        raise NotFound(name=f"{campaign.slug}/receipts.txt")
    hashes = verification.receipt_hashes(session, campaign)
    return PlainTextResponse("".join(f"{digest.hex()}\n" for digest in hashes))


def _render(
    request: Request,
    view: VerifyView,
    check: ReceiptCheck | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "public/verify.html",
        {"view": view, "check": check, "switch_path": view.path},
        status_code=status_code,
    )


def _view(session: Session, campaign: Campaign, *, issuer: bool) -> VerifyView:
    locale = current_locale()
    path = f"/verify/{quote(campaign.slug, safe='')}"
    closed = verification.is_closed(campaign)
    keys = [_key_view(path, key, locale) for key in verification.public_keys(session, campaign)]
    counts: list[CountsRow] = []
    hashes: list[bytes] = []
    box: BoxView | None = None
    trackers_shown = False
    if closed:
        counts = [
            CountsRow(
                rater_group=row.rater_group.name_for(locale),
                credentials_issued=_figure(row.issued),
            )
            for row in publication.issued_figures(session, campaign)
        ]
        figures = publication.ballot_figures(session, campaign)
        trackers_shown = figures.trackers_shown
        if trackers_shown:
            hashes = verification.receipt_hashes(session, campaign)
        tally = box_service.tally_of(session, campaign)
        box = BoxView(
            ballots_in_box=figures.in_box,
            tallied=tally is not None,
            ballots_counted=figures.counted,
            rejected=[
                (receipts.grouped(bytes.fromhex(tracker)), opening.rejection_text(reason))
                for tracker, reason in (tally.rejected if tally else [])
            ],
        )
    key = box_service.tally_key_of(session, campaign)
    return VerifyView(
        title=campaign.title_for(locale),
        path=path,
        action=f"{path}?lang={locale}",
        closed=closed,
        shows_issuance=issuer,
        threshold=campaign.disclosure_threshold,
        keys=keys,
        tally_key=None
        if key is None
        else TallyKeyView(
            fingerprint=grouped_hex(key.fingerprint),
            threshold=key.threshold,
            share_count=key.share_count,
            applied_on=key.applied_on.isoformat() if key.applied_on else None,
        ),
        box=box,
        counts=counts,
        trackers_shown=trackers_shown,
        receipts=[receipts.grouped(d) for d in hashes]
        if len(hashes) <= RECEIPTS_SHOWN_INLINE
        else [],
        receipt_total=len(hashes),
        receipts_href=f"{path}/receipts.txt",
    )


def _key_view(path: str, published: verification.PublishedKey, locale: str) -> KeyView:
    target = published.target
    return KeyView(
        rater_group=published.rater_group.name_for(locale),
        scope=target.department.name_for(locale) if target else gettext(ALL_DEPARTMENTS),
        fingerprint=grouped_hex(published.key.fingerprint),
        href=f"{path}/keys/{published.key.id}.der",
    )


def grouped_hex(value: bytes, group: int = FINGERPRINT_GROUP) -> str:
    """``ab12cd34…`` as ``ab12 cd34 …``, for reading and comparing by eye."""
    digits = value.hex()
    return " ".join(digits[i : i + group] for i in range(0, len(digits), group))


def _figure(count: int | None) -> Figure:
    return Figure(text=None, reason=gettext(PROTECTED)) if count is None else Figure(str(count))
