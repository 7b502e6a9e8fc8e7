"""Questionnaire templates in the office console: list, upload, and preview as a rater sees them."""

import codecs
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from app.accounts.models import StaffUser
from app.accounts.permissions import Permission
from app.accounts.web import WriteSession, render_admin, require
from app.audit import service as audit_service
from app.ballots import pages as ballot_pages
from app.config import get_settings
from app.deps import SessionDep
from app.errors import NotFound
from app.i18n import current_locale, gettext
from app.surveys import service as survey_service
from app.surveys.schemas import Questionnaire, RaterGroupDefinition
from app.surveys.service import QuestionnaireInvalid
from app.templating import templates

router = APIRouter(prefix="/admin/questionnaires", include_in_schema=False)
Manager = Annotated[StaffUser, Depends(require(Permission.MANAGE_QUESTIONNAIRES))]
LIST_PATH = "/admin/questionnaires"
PREVIEW_PATH = "/admin/questionnaires/preview"
MAX_TEMPLATE_BYTES = 256 * 1024  # far more than MAX_ITEMS items need
PASTED_SOURCE = "pasted text"


@router.get("", response_class=HTMLResponse)
def questionnaire_list(
    request: Request,
    session: SessionDep,
    staff: Manager,
    uploaded: str | None = None,
) -> HTMLResponse:
    choices = survey_service.all_templates(session, get_settings().surveys_dir)
    return render_admin(
        request,
        "admin/questionnaires/list.html",
        staff,
        {
            "choices": choices,
            "uploaded": next((c for c in choices if c.reference == uploaded), None),
            "preview_path": PREVIEW_PATH,
        },
    )


@router.get("/upload", response_class=HTMLResponse)
def upload_form(request: Request, staff: Manager) -> HTMLResponse:
    return render_admin(request, "admin/questionnaires/upload.html", staff, {"source": ""})


@router.post("/upload", response_class=HTMLResponse)
def upload(
    request: Request,
    session: WriteSession,
    staff: Manager,
    file: Annotated[UploadFile | None, File()] = None,
    source: Annotated[str, Form()] = "",
) -> Response:
    """Check and keep a questionnaire from a YAML file, or else from the pasted text."""
    content = file.file.read(MAX_TEMPLATE_BYTES + 1) if file is not None else b""
    source_name = (file.filename if file is not None else None) or PASTED_SOURCE
    shown_text = source  # kept in the form when the upload is refused
    try:
        text = _submitted_text(content, source, source_name)
        shown_text = text
        template = survey_service.save_upload(
            session,
            text,
            source_name=source_name,
            uploaded_by=staff.username,
            surveys_dir=get_settings().surveys_dir,
        )
    except QuestionnaireInvalid as error:
        return render_admin(
            request,
            "admin/questionnaires/upload.html",
            staff,
            {
                "source": shown_text,
                "source_name": gettext(PASTED_SOURCE) if not content else source_name,
                "problems": error.problems,
            },
            status_code=error.status_code,
        )
    reference = f"upload:{template.id}"
    audit_service.record(
        session,
        actor=staff.username,
        action="questionnaire_upload",
        object=f"questionnaire:{template.key}",
        detail={"version": template.version, "reference": reference, "source": source_name[:200]},
    )
    return RedirectResponse(f"{LIST_PATH}?{urlencode({'uploaded': reference})}", status_code=303)


@router.get("/preview", response_class=HTMLResponse)
def preview(
    request: Request,
    session: SessionDep,
    staff: Manager,
    ref: str | None = None,
    group: str | None = None,
) -> Response:
    """A rater's page for one department, exactly as a rater of ``group`` sees it, inert."""
    if not ref:  # e.g. the header's language switch, which keeps only the path
        return RedirectResponse(LIST_PATH, status_code=303)
    choice = survey_service.template_by_reference(session, get_settings().surveys_dir, ref)
    questionnaire = choice.questionnaire
    group_key = group or questionnaire.rater_groups[0].key
    rater_group = questionnaire.group(group_key)
    if rater_group is None:
        raise NotFound(name=group_key)
    locale = current_locale()
    items = questionnaire.items_for(group_key)
    return render_admin(
        request,
        "admin/questionnaires/preview.html",
        staff,
        {
            "choice": choice,
            "questionnaire": questionnaire,
            "title": questionnaire.title.get(locale),
            "group_key": group_key,
            "group_name": rater_group.name.get(locale),
            "shown_count": len(items),
            "groups": [
                {
                    "key": candidate.key,
                    "name": candidate.name.get(locale),
                    "href": _preview_href(choice.reference, candidate.key),
                }
                for candidate in questionnaire.rater_groups
            ],
            "language_links": [
                {
                    "locale": other,
                    "label": "中文" if other == "zh_CN" else "English",
                    "href": _preview_href(choice.reference, group_key, other),
                }
                for other in ("zh_CN", "en")
            ],
            "rater_page": _rater_page(questionnaire, rater_group),
        },
    )


def _rater_page(questionnaire: Questionnaire, rater_group: RaterGroupDefinition) -> Markup:
    """The content of ``rate/target.html`` for a sample department, with ``preview`` set.

    Only the page's content block is rendered, to sit inside the console's frame; the context
    is what the rating page builds for a target step, from the same helper.
    """
    locale = current_locale()
    context: dict[str, Any] = {
        "locale": locale,
        "other_locale": "en" if locale == "zh_CN" else "zh_CN",
        "preview": True,
        "code": "",
        "draft": "",
        "step": "",
        "error": None,
        "campaign_title": questionnaire.title.get(locale),
        "group_name": rater_group.name.get(locale),
        "single_target": False,
        "target_name": gettext("Sample department"),
        "position": 1,
        "total": 2,
        "is_last": False,
        "answers": {},
        "missing": set(),
        "comment": "",
        **ballot_pages.questionnaire_context(
            questionnaire, questionnaire.items_for(rater_group.key)
        ),
    }
    template = templates.env.get_template("rate/target.html")
    content = template.blocks["content"](template.new_context(context))
    return Markup("".join(content))  # noqa: S704 - autoescaped template output


def _preview_href(reference: str, group_key: str, locale: str | None = None) -> str:
    query = {"ref": reference, "group": group_key}
    if locale is not None:
        query["lang"] = locale
    return f"{PREVIEW_PATH}?{urlencode(query)}"


def _submitted_text(content: bytes, pasted: str, source_name: str) -> str:
    """The uploaded file's text if a file was sent, else the pasted text."""
    too_large = gettext("the questionnaire is larger than %(size)s KiB") % {
        "size": MAX_TEMPLATE_BYTES // 1024
    }
    if len(content) > MAX_TEMPLATE_BYTES:
        raise QuestionnaireInvalid(source_name, [too_large])
    try:
        text = content.removeprefix(codecs.BOM_UTF8).decode("utf-8") if content else pasted
    except UnicodeDecodeError:
        raise QuestionnaireInvalid(
            source_name, [gettext("the file is not UTF-8 text; save it as UTF-8")]
        ) from None
    if not text.strip():
        raise QuestionnaireInvalid(
            source_name, [gettext("choose a YAML file or paste the questionnaire")]
        )
    if len(text.encode("utf-8")) > MAX_TEMPLATE_BYTES:
        raise QuestionnaireInvalid(source_name, [too_large])
    return text
