"""The rating page (``/r``): enter a code, rate, review, submit. Works without JavaScript."""

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from app.admission import service as admission_service
from app.ballots import service as ballot_service
from app.ballots.flow import (
    ANSWER_FIELD_PREFIX,
    CHOOSE,
    EDIT_PREFIX,
    NOT_APPLICABLE_VALUE,
    REVIEW,
    TARGET_PREFIX,
    RatingDraft,
    RatingFlow,
    Step,
)
from app.deps import HashingKeyDep, SessionDep
from app.errors import InvalidInput, PingyiError
from app.i18n import current_locale, gettext
from app.surveys.schemas import NOT_APPLICABLE_LABEL, Item, Questionnaire
from app.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/r", response_class=HTMLResponse)
def enter_page(request: Request) -> HTMLResponse:
    return render(request, "rate/enter.html")


@router.post("/r", response_class=HTMLResponse)
async def enter_code(
    request: Request, session: SessionDep, hashing_key: HashingKeyDep
) -> HTMLResponse:
    form = await request.form()
    code = _text(form, "code")
    return await run_in_threadpool(_start, request, session, hashing_key, code)


@router.post("/r/rate", response_class=HTMLResponse)
async def rate(request: Request, session: SessionDep, hashing_key: HashingKeyDep) -> HTMLResponse:
    form = await request.form()
    return await run_in_threadpool(_rate, request, session, hashing_key, form)


def _start(request: Request, session: Session, hashing_key: bytes, code: str) -> HTMLResponse:
    try:
        admission = admission_service.check_code(session, hashing_key, code)
    except PingyiError as error:
        return _enter_again(request, code, error)
    flow = RatingFlow(admission, RatingDraft())
    return _render_step(request, flow, flow.first_step(), code)


def _rate(request: Request, session: Session, hashing_key: bytes, form: FormData) -> HTMLResponse:
    code = _text(form, "code")
    try:
        admission = admission_service.check_code(session, hashing_key, code)
    except PingyiError as error:
        return _enter_again(request, code, error)

    flow = RatingFlow(admission, RatingDraft.load(_text(form, "draft")))
    step = flow.parse_step(_text(form, "step"))
    action = _text(form, "action") or "next"

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
        return _submit(request, session, hashing_key, flow, code)
    return _render_step(request, flow, step, code)


def _submit(
    request: Request, session: Session, hashing_key: bytes, flow: RatingFlow, code: str
) -> HTMLResponse:
    incomplete = flow.first_incomplete()
    if incomplete is not None:
        return _render_step(request, flow, incomplete, code)
    try:
        receipt = ballot_service.submit_ballot(session, hashing_key, flow.ballot(code))
    except InvalidInput as error:
        return _render_step(request, flow, Step(REVIEW), code, message=error.translated())
    except PingyiError as error:
        return _enter_again(request, "", error)
    return render(
        request,
        "rate/receipt.html",
        {"receipt": receipt, "campaign_title": flow.admission.campaign.title_for(current_locale())},
        status_code=201,
    )


def _enter_again(request: Request, code: str, error: PingyiError) -> HTMLResponse:
    return render(
        request,
        "rate/enter.html",
        {"code": code, "error": error.translated()},
        status_code=error.status_code,
    )


def _render_step(
    request: Request, flow: RatingFlow, step: Step, code: str, message: str | None = None
) -> HTMLResponse:
    locale = current_locale()
    admission = flow.admission
    context: dict[str, Any] = {
        "code": code,
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
