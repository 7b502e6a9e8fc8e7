"""The rating page (``/r``): enter a code (or a credential), rate, review, submit.

Works without JavaScript. With it, ``app/static/js/rate.js`` exchanges the code for a
blind-signed credential first and the steps carry the credential instead of the code: it is
checked at every step and spent only when the ballot is submitted.
"""

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from app import ratelimit
from app.admission import service as admission_service
from app.admission.service import Admission
from app.ballots import quality
from app.ballots import service as ballot_service
from app.ballots.flow import (
    ANSWER_FIELD_PREFIX,
    CHOOSE,
    EDIT_PREFIX,
    NOT_APPLICABLE_VALUE,
    REVIEW,
    TARGET_PREFIX,
    Entry,
    RatingDraft,
    RatingFlow,
    Step,
    parse_credential_text,
)
from app.ballots.schemas import Receipt
from app.credentials import errors as credential_errors
from app.credentials import service as credential_service
from app.credentials import sri
from app.deps import HashingKeyDep, SessionDep
from app.errors import InvalidInput, PingyiError
from app.i18n import current_locale, gettext
from app.surveys.schemas import NOT_APPLICABLE_LABEL, Item, Questionnaire
from app.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/r", response_class=HTMLResponse)
def enter_page(request: Request) -> HTMLResponse:
    return render(request, "rate/enter.html", _enter_context())


def _enter_context() -> dict[str, Any]:
    """What the entry page needs for its script: the blind-signature module's SRI hash."""
    return {"blind_rsa_integrity": sri.integrity(sri.BLIND_RSA_MODULE)}


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
    """The credential when one is posted, else the code."""
    credential = _text(form, "credential").strip()
    if credential:
        return Entry(credential=credential)
    return Entry(code=_text(form, "code"))


def _admit(session: Session, hashing_key: bytes, entry: Entry) -> Admission:
    """What the code or credential admits to, without using or spending it."""
    if entry.uses_credential:
        credential = parse_credential_text(entry.credential)
        return credential_service.credential_admission(session, credential)
    return admission_service.check_code(session, hashing_key, entry.code)


def _start(
    request: Request, session: Session, hashing_key: bytes, entry: Entry, notice: str | None
) -> HTMLResponse:
    try:
        admission = _admit(session, hashing_key, entry)
    except PingyiError as error:
        return _enter_again(request, entry, error)
    flow = RatingFlow(admission, RatingDraft())
    return _render_step(request, flow, flow.first_step(), entry, notice=notice)


def _rate(request: Request, session: Session, hashing_key: bytes, form: FormData) -> HTMLResponse:
    entry = _entry(form)
    action = _text(form, "action") or "next"
    if action == "submit":
        # Checking reads before submitting writes: on SQLite, take the write lock first.
        credential_service.begin_writing(session)
    try:
        admission = _admit(session, hashing_key, entry)
    except PingyiError as error:
        return _enter_again(request, entry, error)

    flow = RatingFlow(admission, RatingDraft.load(_text(form, "draft")))
    step = flow.parse_step(_text(form, "step"))

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
        step = flow.skip(index)
    elif action.startswith(EDIT_PREFIX) and action.removeprefix(EDIT_PREFIX).isdigit():
        step = flow.parse_step(TARGET_PREFIX + action.removeprefix(EDIT_PREFIX))
    elif action == "submit" and step.name == REVIEW:
        return _submit(request, session, hashing_key, flow, entry)
    return _render_step(request, flow, step, entry)


def _submit(
    request: Request, session: Session, hashing_key: bytes, flow: RatingFlow, entry: Entry
) -> HTMLResponse:
    incomplete = flow.first_incomplete()
    if incomplete is not None:
        return _render_step(request, flow, incomplete, entry)
    try:
        ballot = flow.ballot(entry)
        try:
            receipt = ballot_service.submit_ballot(session, hashing_key, ballot)
        except PingyiError:
            # A refusal can come after the code was used or the credential spent: undo that,
            # or answering with a page (which commits) would spend it without its evaluations.
            session.rollback()
            raise
    except InvalidInput as error:
        if error.field == "credential":
            return _enter_again(request, entry, error)
        return _render_step(request, flow, Step(REVIEW), entry, message=error.translated())
    except PingyiError as error:
        return _enter_again(request, entry, error, keep_input=False)
    spent_message = ballot.credential.message if ballot.credential else None
    return _receipt_page(request, flow, receipt, spent_message)


def _receipt_page(
    request: Request, flow: RatingFlow, receipt: Receipt, spent_message: str | None
) -> HTMLResponse:
    """The receipt; after a credential ballot the page's script forgets the stored credential,
    which it finds by ``spent_message`` (the credential's message, never shown)."""
    campaign = flow.admission.campaign
    return render(
        request,
        "rate/receipt.html",
        {
            "receipt": receipt,
            "campaign_title": campaign.title_for(current_locale()),
            "verify_path": f"/verify/{campaign.slug}",
            "spent_message": spent_message,
        },
        status_code=201,
    )


def _enter_again(
    request: Request, entry: Entry, error: PingyiError, *, keep_input: bool = True
) -> HTMLResponse:
    """The entry page with the error in place, keeping what was typed or pasted unless it
    was refused at submission (it cannot be used again).

    After a credential is refused as spent, the page's script forgets it (``spent_message``).
    """
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
            "error": error.translated(),
            "error_field": "credential" if entry.uses_credential else "code",
            "spent_message": spent_message,
        },
        status_code=error.status_code,
    )


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
        "campaign_slug": admission.campaign.slug,
        "notice": notice,
        "draft": flow.draft.dump(),
        "step": step.name,
        "error": message or (gettext(step.error) if step.error else None),
        "campaign_title": admission.campaign.title_for(locale),
        "group_name": admission.rater_group.name_for(locale),
        "single_target": flow.single_target,
        **questionnaire_context(admission.questionnaire, admission.items),
    }
    names = {
        target.department.code: target.department.name_for(locale) for target in admission.targets
    }
    if step.name == CHOOSE:
        context["targets"] = [
            {
                "code": target.department.code,
                "name": names[target.department.code],
                "category": target.department.category,
                "chosen": target.department.code in flow.draft.chosen,
            }
            for target in admission.targets
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
            }
            for index, target in enumerate(flow.draft.chosen)
        ]
        context["comment_enabled"] = admission.questionnaire.comment is not None
        return render(request, "rate/review.html", context)

    index = step.target_index or 0
    target = flow.draft.chosen[index]
    context.update(
        {
            "target_name": names[target],
            "position": index + 1,
            "total": len(flow.draft.chosen),
            "answers": flow.draft.answers.get(target, {}),
            "missing": set(step.missing),
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
