"""The public verification page of a campaign: ``/verify/{slug}``.

No sign-in and no cookie; Chinese first, ``?lang=en`` for English. Before close it shows the
campaign's signing keys (fingerprints and downloads); after close also the counts per rater
group and the sorted receipt hashes, with a form that checks one receipt.

The form posts (a receipt in a query string would end up in access logs and browser
history), the check happens on the server and leaves no trace: ``/verify`` is a rater path
(``app.middleware.RATER_PATH_PREFIXES``), so no request line is logged, and nothing is stored.
"""

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from sqlalchemy.orm import Session

from app.campaigns.models import Campaign
from app.config import get_settings
from app.credentials import verification
from app.deps import SessionDep
from app.errors import InvalidInput
from app.i18n import N_, current_locale, gettext
from app.templating import render

router = APIRouter(include_in_schema=False)

FINGERPRINT_GROUP = 4  # hex digits per group, as the CLI tools' output is read aloud
RECEIPTS_SHOWN_INLINE = 1000  # longer lists only as the text file
RECEIPT_FIELD_MAX_LENGTH = 200  # characters; a receipt is 39
PROTECTED = N_("to protect raters' anonymity")
ALL_DEPARTMENTS = N_("all departments of the campaign")


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
    evaluations_accepted: Figure


@dataclass(frozen=True)
class ReceiptCheck:
    counted: bool | None  # None: the text was not a receipt
    message: str


@dataclass(frozen=True)
class VerifyView:
    title: str
    path: str  # the page's address, without the language
    action: str  # where the receipt form posts, with the language
    closed: bool
    shows_issuance: bool  # False on a collector: the issuing organisation holds those counts
    threshold: int
    keys: list[KeyView]
    counts: list[CountsRow]
    receipts: list[str]  # hex, sorted; empty when the list is only downloadable
    receipt_total: int
    receipts_href: str


def issues_credentials() -> bool:
    """Whether this deployment issues credentials, and so knows how many it issued: a
    collector of a split deployment does not (README, "Two organisations")."""
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
        counted = verification.receipt_counted(session, campaign, receipt)
    except InvalidInput as error:
        check = ReceiptCheck(counted=None, message=error.translated())
        return _render(request, view, check, status_code=error.status_code)
    message = (
        gettext("Yes: this receipt is in the list. Your ballot was counted.")
        if counted
        else gettext(
            "No: this receipt is not in this campaign's list. Check each character against "
            "what you wrote down, and that this is the campaign you rated."
        )
    )
    return _render(request, view, ReceiptCheck(counted=counted, message=message))


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
    if closed:
        counts = [
            CountsRow(
                rater_group=row.rater_group.name_for(locale),
                credentials_issued=_figure(row.credentials_issued),
                evaluations_accepted=_figure(row.evaluations_accepted),
            )
            for row in verification.group_counts(session, campaign)
        ]
        hashes = verification.receipt_hashes(session, campaign)
    return VerifyView(
        title=campaign.title_for(locale),
        path=path,
        action=f"{path}?lang={locale}",
        closed=closed,
        shows_issuance=issuer,
        threshold=campaign.disclosure_threshold,
        keys=keys,
        counts=counts,
        receipts=[d.hex() for d in hashes] if len(hashes) <= RECEIPTS_SHOWN_INLINE else [],
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
