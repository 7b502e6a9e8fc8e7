"""The rating page (``/r``): enter a code (or a credential), rate, review, submit.

Works without JavaScript. With it, ``app/static/js/rate.js`` exchanges the code for a
blind-signed credential first and the steps carry the credential instead of the code: it is
checked at every step and spent only when the ballot is submitted.
"""

import re
import unicodedata
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from app import db, ratelimit
from app.admission import codes
from app.admission import service as admission_service
from app.admission.service import Admission
from app.ballots import quality, receipts, refusals, roster_entry
from app.ballots import service as ballot_service
from app.ballots.flow import (
    ANSWER_FIELD_PREFIX,
    CHOOSE,
    EDIT_PREFIX,
    NOT_APPLICABLE_VALUE,
    RETURN_TO_FIELD,
    REVIEW,
    TARGET_PREFIX,
    Entry,
    RatingDraft,
    RatingFlow,
    Step,
    parse_credential_text,
)
from app.ballots.schemas import Receipt
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus
from app.config import get_settings
from app.credentials import errors as credential_errors
from app.credentials import roster, spending, sri
from app.departments import service as department_service
from app.deps import HashingKeyDep, SessionDep
from app.errors import (
    CampaignNotOpen,
    CodeMistyped,
    CodeUnknown,
    InvalidInput,
    NotFound,
    PingyiError,
)
from app.grouping import by_category
from app.i18n import N_, current_locale, gettext
from app.split import links as split_links
from app.surveys.schemas import NOT_APPLICABLE_LABEL, Item, Questionnaire
from app.templating import render

router = APIRouter(include_in_schema=False)


def server_secret() -> bytes:
    return get_settings().secret_bytes()


ServerSecretDep = Annotated[bytes, Depends(server_secret)]


class SignInLapsed(PingyiError):
    """A roster member's steps carry a token that is forged or has lapsed."""

    status_code = 403
    code = "roster_session_missing"
    message = N_(
        "Your sign-in has lapsed. Please sign in again with your number and one-time password."
    )


@router.get("/r", response_class=HTMLResponse)
def enter_page(request: Request) -> HTMLResponse:
    return render(request, "rate/enter.html", _enter_context())


def _enter_context() -> dict[str, Any]:
    """What the entry page needs for its script: the blind-signature module's SRI hash."""
    return {
        "blind_rsa_integrity": sri.integrity(sri.BLIND_RSA_MODULE),
        "issuer_url": split_links.issuer_url(),  # a collector's codes go to the issuer only
    }


@router.post(
    "/r",
    response_class=HTMLResponse,
    dependencies=[Depends(ratelimit.limit(ratelimit.RateLimits.CODE_ENTRY))],
)
async def enter_code(
    request: Request, session: SessionDep, hashing_key: HashingKeyDep
) -> HTMLResponse:
    """A typed code, or a credential (posted by the page's script, or pasted by the rater).

    ``direct`` is set by the script when it could not get a credential and falls back to
    using the code directly; the first step then says so.
    """
    form = await request.form()
    entry = _entry(form)
    notice = None
    if _text(form, "direct") and not entry.uses_credential:
        notice = gettext(
            "An anonymous credential could not be prepared here, so your code is used directly."
        )
    return await run_in_threadpool(_start, request, session, hashing_key, entry, notice)


@router.post("/r/rate", response_class=HTMLResponse)
async def rate(request: Request, session: SessionDep, hashing_key: HashingKeyDep) -> HTMLResponse:
    form = await request.form()
    return await run_in_threadpool(_rate, request, session, hashing_key, form)


def _entry(form: FormData) -> Entry:
    """The credential when one is posted, else a roster member's token, else the code."""
    credential = _text(form, "credential").strip()
    if credential:
        return Entry(credential=credential)
    if _text(form, "roster"):
        return Entry(roster=_text(form, "roster"), campaign=_text(form, "campaign"))
    return Entry(code=_text(form, "code"))


def _admit(session: Session, hashing_key: bytes, entry: Entry) -> Admission:
    """What the code, credential or roster sign-in admits to, without using or spending it."""
    if entry.uses_credential:
        credential = parse_credential_text(entry.credential)
        return spending.credential_admission(session, credential)
    if entry.uses_roster:
        member = _signed_in_member(entry)
        return roster.member_admission(session, member.member_id, member.campaign_id)
    return admission_service.check_code(session, hashing_key, entry.code)


def _signed_in_member(entry: Entry) -> roster_entry.SignedInMember:
    member = roster_entry.decode_token(server_secret(), entry.roster)
    if member is None:
        raise SignInLapsed()
    return member


def _renewed(entry: Entry) -> Entry:
    """A roster member's entry with a fresh token: it lapses only after a long pause."""
    if not entry.uses_roster:
        return entry
    member = _signed_in_member(entry)
    return Entry(roster=roster_entry.encode_token(server_secret(), member), campaign=entry.campaign)


def _start(
    request: Request, session: Session, hashing_key: bytes, entry: Entry, notice: str | None
) -> HTMLResponse:
    try:
        admission = _admit(session, hashing_key, entry)
    except PingyiError as error:
        if isinstance(error, CodeMistyped | CodeUnknown) and looks_like_roster_sign_in(entry.code):
            return _roster_pointer(request, session, entry)
        return _enter_again(request, entry, error, session=session, hashing_key=hashing_key)
    flow = RatingFlow(admission, RatingDraft())
    return _render_step(request, flow, flow.first_step(), entry, notice=notice)


_PHONE_SEPARATORS = str.maketrans("", "", " -()\u00a0\u3000\t")
_PHONE_NUMBER = re.compile(r"(\+?86)?1\d{10}|\d{7,15}")


def looks_like_roster_sign_in(text: str) -> bool:
    """Whether what was typed as an evaluation code looks like a phone number or a roster
    one-time password (10 symbols; a code has 20)."""
    compact = unicodedata.normalize("NFKC", text).translate(_PHONE_SEPARATORS)
    if _PHONE_NUMBER.fullmatch(compact):
        return True
    password = roster.normalize_password(text)
    return len(password) == roster.PASSWORD_SYMBOLS and all(
        symbol in codes.ALPHABET for symbol in password
    )


def _roster_pointer(request: Request, session: Session, entry: Entry) -> HTMLResponse:
    """The entry page, pointing to the roster sign-in instead of calling the input a bad code."""
    return render(
        request,
        "rate/enter.html",
        {
            **_enter_context(),
            "code": "",
            "roster_pointer": True,
            "roster_campaigns": _roster_campaigns(session),
        },
        status_code=422,
    )


def _rate(request: Request, session: Session, hashing_key: bytes, form: FormData) -> HTMLResponse:
    entry = _entry(form)
    action = _text(form, "action") or "next"
    if action == "submit":
        # Checking reads before submitting writes: on SQLite, take the write lock first.
        db.begin_writing(session)
    try:
        admission = _admit(session, hashing_key, entry)
        entry = _renewed(entry)
    except PingyiError as error:
        return _enter_again(request, entry, error, session=session, hashing_key=hashing_key)

    flow = RatingFlow(admission, RatingDraft.load(_text(form, "draft")))
    step = flow.parse_step(_text(form, "step"))
    if step.target_index is not None and _text(form, RETURN_TO_FIELD) == REVIEW:
        step.returns_to_review = True

    if step.name == CHOOSE and action in ("next", "stay"):
        flow.choose([str(value) for value in form.getlist("target")])
    index = step.target_index
    if index is not None:
        answers = {
            key: str(value) for key, value in form.items() if key.startswith(ANSWER_FIELD_PREFIX)
        }
        flow.record(index, answers, _text(form, "comment"))

    if action == "next":
        step = flow.advance(step)
    elif action == "back":
        step = flow.back(step)
    elif action == "skip" and index is not None and not flow.single_target:
        step = flow.skip(index, returns_to_review=step.returns_to_review)
    elif action.startswith(EDIT_PREFIX) and action.removeprefix(EDIT_PREFIX).isdigit():
        step = flow.parse_step(TARGET_PREFIX + action.removeprefix(EDIT_PREFIX))
        step.returns_to_review = step.target_index is not None  # changed, then back to review
    elif action == "submit" and step.name == REVIEW:
        return _submit(request, session, hashing_key, flow, entry)
    return _render_step(request, flow, step, entry)


def _submit(
    request: Request, session: Session, hashing_key: bytes, flow: RatingFlow, entry: Entry
) -> HTMLResponse:
    incomplete = flow.first_incomplete()
    if incomplete is not None:
        return _render_step(request, flow, incomplete, entry)
    if not flow.counted():  # 不了解 throughout: nothing to submit, nothing is used
        return _render_step(request, flow, Step(REVIEW), entry)
    try:
        ballot = None if entry.uses_roster else flow.ballot(entry)
        try:
            if ballot is None:
                member = _signed_in_member(entry)
                receipt = ballot_service.submit_member_ballot(
                    session, member.member_id, member.campaign_id, flow.evaluations()
                )
            else:
                receipt = ballot_service.submit_ballot(session, hashing_key, ballot)
        except PingyiError:
            # A refusal can come after the code was used or the credential spent: undo that,
            # or answering with a page (which commits) would spend it without its evaluations.
            session.rollback()
            raise
    except InvalidInput as error:
        if error.field == "credential":
            return _enter_again(request, entry, error, session=session, hashing_key=hashing_key)
        return _render_step(request, flow, Step(REVIEW), entry, message=error.translated())
    except PingyiError as error:
        return _enter_again(
            request, entry, error, keep_input=False, session=session, hashing_key=hashing_key
        )
    spent_message = ballot.credential.message if ballot and ballot.credential else None
    return _receipt_page(request, flow, receipt, spent_message, roster_used=ballot is None)


def _receipt_page(
    request: Request,
    flow: RatingFlow,
    receipt: Receipt,
    spent_message: str | None,
    *,
    roster_used: bool = False,
) -> HTMLResponse:
    """The receipt, its tracker in groups that never break, and a QR code of the link that
    checks it; after a credential ballot the page's script forgets the stored credential,
    which it finds by ``spent_message`` (the credential's message, never shown)."""
    campaign = flow.admission.campaign
    verify_path = f"/verify/{campaign.slug}"
    verify_link = f"{get_settings().public_base_url.rstrip('/')}{verify_path}#{receipt.receipt}"
    return render(
        request,
        "rate/receipt.html",
        {
            "receipt": receipt,
            "tracker_qr": receipts.qr_svg_data_uri(verify_link),
            "campaign_slug": campaign.slug,
            "campaign_title": campaign.title_for(current_locale()),
            "verify_path": verify_path,
            "spent_message": spent_message,
            "roster_used": roster_used,
        },
        status_code=201,
    )


def _enter_again(
    request: Request,
    entry: Entry,
    error: PingyiError,
    *,
    keep_input: bool = True,
    session: Session | None = None,
    hashing_key: bytes = b"",
) -> HTMLResponse:
    """The entry page with the error in place, keeping what was typed or pasted unless it
    was refused at submission (it cannot be used again).

    After a credential is refused as spent, the page's script forgets it (``spent_message``).
    """
    if entry.uses_roster:  # back to the roster sign-in
        return _roster_page(
            request, session, entry.campaign, error=error.translated(), status=error.status_code
        )
    message, results_path = error.translated(), None
    if isinstance(error, CampaignNotOpen) and session is not None:
        refusal = _not_open(session, hashing_key, entry)
        if refusal is not None:
            message, results_path = refusal.message, refusal.results_path
    spent_message = None
    if entry.uses_credential and isinstance(error, credential_errors.CredentialSpent):
        try:
            spent_message = parse_credential_text(entry.credential).message
        except InvalidInput:
            spent_message = None
    return render(
        request,
        "rate/enter.html",
        {
            **_enter_context(),
            "code": entry.code if keep_input else "",
            "credential": entry.credential if keep_input else "",
            "error": message,
            "results_path": results_path,
            "error_field": "credential" if entry.uses_credential else "code",
            "spent_message": spent_message,
        },
        status_code=error.status_code,
    )


def _not_open(session: Session, hashing_key: bytes, entry: Entry) -> refusals.NotOpen | None:
    """Whether the campaign the entry belongs to has ended or not yet started, in words."""
    campaign: Campaign | None
    if entry.uses_credential:
        try:
            slug = parse_credential_text(entry.credential).campaign
        except InvalidInput:
            return None
        campaign = refusals.campaign_by_slug(session, slug) if slug else None
    else:
        campaign = refusals.campaign_of_code(session, hashing_key, entry.code)
    return None if campaign is None else refusals.not_open(campaign)


def _render_step(
    request: Request,
    flow: RatingFlow,
    step: Step,
    entry: Entry,
    message: str | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    locale = current_locale()
    admission = flow.admission
    if step.target_index is not None:
        flow.show(step.target_index, _new_start_token)
    context: dict[str, Any] = {
        "code": entry.code,
        "credential": entry.credential,
        "roster": entry.roster if entry.uses_roster else "",
        "campaign_slug": admission.campaign.slug,
        "notice": notice,
        "draft": flow.draft.dump(),
        "step": step.name,
        "returns_to_review": step.returns_to_review,
        # Missing answers are named in their own banner (target.html), with links to them.
        "error": message or (gettext(step.error) if step.error and not step.missing else None),
        "campaign_title": admission.campaign.title_for(locale),
        "group_name": admission.rater_group.name_for(locale),
        "single_target": flow.single_target,
        **questionnaire_context(admission.questionnaire, admission.items),
    }
    names = {
        target.department.code: target.department.name_for(locale) for target in admission.targets
    }
    if step.name == CHOOSE:
        # The campaign's order of categories, as on its page and in its creation form.
        grouped = by_category(admission.targets, lambda target: target.department.category)
        labels = department_service.category_labels(
            [target.department for target in admission.targets], locale
        )
        context["categories"] = [
            (
                labels[category],
                [
                    {
                        "code": target.department.code,
                        "name": names[target.department.code],
                        "chosen": target.department.code in flow.draft.chosen,
                    }
                    for target in targets
                ],
            )
            for category, targets in grouped.items()
        ]
        return render(request, "rate/choose.html", context)
    items = context["items"]
    if step.name == REVIEW:
        context["reviewed"] = [
            {
                "index": index,
                "name": names[target],
                "answers": [
                    {
                        "text": item["text"],
                        "label": _answer_label(
                            item, flow.draft.answers.get(target, {}), item["id"]
                        ),
                    }
                    for item in items
                ],
                "comment": flow.draft.comments.get(target),
                "not_known": flow.not_known(target),
            }
            for index, target in enumerate(flow.draft.chosen)
        ]
        context["unrated"] = [] if flow.single_target else [names[code] for code in flow.unrated()]
        context["nothing_counted"] = not flow.counted()
        context["entry_kind"] = (
            "credential" if entry.uses_credential else "roster" if entry.uses_roster else "code"
        )
        context["comment_enabled"] = admission.questionnaire.comment is not None
        return render(request, "rate/review.html", context)

    index = step.target_index or 0
    target = flow.draft.chosen[index]
    context.update(
        {
            "target_name": names[target],
            "position": index + 1,
            "total": len(flow.draft.chosen),
            "answered_count": flow.answered_count(target),
            "answers": flow.draft.answers.get(target, {}),
            "missing": set(step.missing),
            "missing_questions": [
                {"id": item["id"], "number": number}
                for number, item in enumerate(items, start=1)
                if item["id"] in step.missing
            ],
            "comment": flow.draft.comments.get(target, ""),
            "is_last": index + 1 == len(flow.draft.chosen),
        }
    )
    return render(request, "rate/target.html", context, status_code=422 if step.missing else 200)


def _new_start_token() -> str:
    return quality.new_start_token(quality.server_start_token_key())


def questionnaire_context(questionnaire: Questionnaire, items: Sequence[Item]) -> dict[str, Any]:
    """What a rating step shows of the questionnaire, in the current locale: the items a rater
    group sees with their levels, the 不了解 choice and the comment prompt.

    The console's questionnaire preview renders ``rate/target.html`` with this too, so that it
    shows exactly what raters see.
    """
    locale = current_locale()
    comment_spec = questionnaire.comment
    return {
        "items": [item_view(questionnaire, item) for item in items],
        "not_applicable_value": NOT_APPLICABLE_VALUE,
        "not_applicable_label": NOT_APPLICABLE_LABEL.get(locale),
        "answer_prefix": ANSWER_FIELD_PREFIX,
        "comment_prompt": comment_spec.prompt.get(locale) if comment_spec else None,
        "comment_max_length": comment_spec.max_length if comment_spec else 0,
    }


def item_view(questionnaire: Questionnaire, item: Item) -> dict[str, Any]:
    locale = current_locale()
    return {
        "id": item.id,
        "text": item.text.get(locale),
        "dimension": questionnaire.dimension(item.dimension).name.get(locale),
        "levels": [
            {"value": level.value, "label": level.label.get(locale)} for level in item.levels
        ],
    }


def _answer_label(item: dict[str, Any], answers: dict[str, int | None], item_id: str) -> str:
    if item_id not in answers:
        return "—"
    level = answers[item_id]
    if level is None:
        return NOT_APPLICABLE_LABEL.get(current_locale())
    return next((option["label"] for option in item["levels"] if option["value"] == level), "—")


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


# --- roster sign-in ---------------------------------------------------------------------------


def _roster_campaigns(session: Session) -> list[dict[str, str]]:
    locale = current_locale()
    return [
        {"slug": campaign.slug, "title": campaign.title_for(locale)}
        for campaign in roster.campaigns_with_roster(session)
    ]


def _roster_page(
    request: Request,
    session: Session | None,
    slug: str,
    *,
    identifier: str = "",
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The roster sign-in form of one campaign (or, without one, the campaigns to choose)."""
    campaign: Campaign | None = None
    if slug and session is not None:
        try:
            campaign = campaign_service.get_campaign(session, slug)
        except NotFound:
            campaign = None
    context: dict[str, Any] = {
        **_enter_context(),
        "slug": campaign.slug if campaign else slug,
        "campaign_title": campaign.title_for(current_locale()) if campaign else "",
        "not_open": campaign is not None and campaign.status != CampaignStatus.OPEN,
        "not_open_reason": refusals.not_open(campaign) if campaign is not None else None,
        "identifier": identifier,
        "error": error,
        "roster_campaigns": [],
    }
    if not slug and session is not None:
        context["roster_campaigns"] = _roster_campaigns(session)
    return render(request, "rate/roster.html", context, status_code=status)


@router.get("/r/roster", response_class=HTMLResponse)
def roster_choose_page(request: Request, session: SessionDep) -> HTMLResponse:
    """The open campaigns with a roster; one alone is shown as its sign-in form."""
    campaigns = _roster_campaigns(session)
    slug = campaigns[0]["slug"] if len(campaigns) == 1 else ""
    return _roster_page(request, session, slug)


@router.get("/r/roster/{slug}", response_class=HTMLResponse)
def roster_page(request: Request, session: SessionDep, slug: str) -> HTMLResponse:
    """Sign in with the number on the roster and the one-time password. A link sent to a
    member may carry the number in its fragment (``#id=…``), which the page's script fills
    in; the server never sees it until the member signs in."""
    try:
        campaign_service.get_campaign(session, slug)
    except NotFound as error:
        return _roster_page(request, None, "", error=error.translated(), status=404)
    return _roster_page(request, session, slug)


@router.post("/r/roster/{slug}", response_class=HTMLResponse)
async def roster_sign_in(
    request: Request, session: SessionDep, slug: str, secret: ServerSecretDep
) -> HTMLResponse:
    """The sign-in without JavaScript (the page's script uses the credential API instead):
    the rating steps then carry a signed token, and the member is marked served only when
    the ballot is stored, in its transaction."""
    form = await request.form()
    return await run_in_threadpool(_roster_sign_in, request, session, slug, secret, form)


def _roster_sign_in(
    request: Request, session: Session, slug: str, secret: bytes, form: FormData
) -> HTMLResponse:
    identifier = _text(form, "identifier")
    password = _text(form, "password")
    if not roster.normalize_identifier(identifier) or not roster.normalize_password(password):
        return _roster_page(
            request,
            session,
            slug,
            identifier=identifier,
            error=gettext("Please enter both your number and your one-time password."),
            status=422,
        )
    try:
        client = ratelimit.check(request, ratelimit.RateLimits.LOGIN)
        signed_in = roster.sign_in(
            session, secret, slug, identifier[:MAX_IDENTIFIER_TEXT], password[:MAX_PASSWORD_TEXT]
        )
        ratelimit.refund(request, ratelimit.RateLimits.LOGIN, client)
        if signed_in.member.credential_issued:
            raise credential_errors.CredentialAlreadyIssued()
    except PingyiError as error:
        return _roster_page(
            request,
            session,
            slug,
            identifier=identifier,
            error=_roster_refusal(error, session, slug),
            status=error.status_code,
        )
    token = roster_entry.encode_token(
        secret,
        roster_entry.SignedInMember(
            member_id=signed_in.member.id, campaign_id=signed_in.campaign.id
        ),
    )
    entry = Entry(roster=token, campaign=signed_in.campaign.slug)
    admission = roster.member_admission(session, signed_in.member.id, signed_in.campaign.id)
    notice = gettext(
        "You are rating without an anonymous credential: your roster entry is marked as used "
        "in the same step that stores your sealed answers."
    )
    if _text(form, "direct"):
        notice = gettext("An anonymous credential could not be prepared here.") + " " + notice
    flow = RatingFlow(admission, RatingDraft())
    return _render_step(request, flow, flow.first_step(), entry, notice=notice)


MAX_IDENTIFIER_TEXT = 256  # characters, as the sign-in API takes
MAX_PASSWORD_TEXT = 64


def _roster_refusal(error: PingyiError, session: Session, slug: str) -> str:
    """A sign-in refusal in words for the page: what happened and what to do."""
    if isinstance(error, CampaignNotOpen):
        campaign = refusals.campaign_by_slug(session, slug)
        refusal = refusals.not_open(campaign) if campaign is not None else None
        if refusal is not None:
            return refusal.message
    if isinstance(error, credential_errors.CredentialAlreadyIssued):
        return gettext(
            "This roster entry has already been used: an evaluation credential was issued "
            "to it or its ratings were submitted. Each person can rate once. If this was not "
            "you, please contact the evaluation office."
        )
    if isinstance(error, credential_errors.RosterLoginFailed):
        return gettext(
            "The number or the one-time password is not right. Please check both against "
            "the text message; after several wrong tries you will have to wait."
        )
    return error.translated()
