"""Departments in the office console: list by category, add, edit, import from CSV."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.accounts.models import StaffUser
from app.accounts.permissions import Permission
from app.accounts.web import WriteSession, render_admin, require
from app.audit import service as audit_service
from app.departments import service as department_service
from app.departments.service import DepartmentImportInvalid, DepartmentInvalid
from app.deps import SessionDep
from app.errors import InvalidInput
from app.i18n import gettext

router = APIRouter(prefix="/admin/departments", include_in_schema=False)
Manager = Annotated[StaffUser, Depends(require(Permission.MANAGE_DEPARTMENTS))]
FormText = Annotated[str, Form()]
LIST_PATH = "/admin/departments"


@router.get("", response_class=HTMLResponse)
def department_list(
    request: Request,
    session: SessionDep,
    staff: Manager,
    saved: str | None = None,
    created: Annotated[int | None, Query(ge=0)] = None,
    updated: Annotated[int | None, Query(ge=0)] = None,
) -> HTMLResponse:
    groups = department_service.departments_by_category(session)
    codes = {department.code for _, departments in groups for department in departments}
    return render_admin(
        request,
        "admin/departments/list.html",
        staff,
        {
            "groups": groups,
            "total": len(codes),
            "saved": saved if saved in codes else None,
            "imported": (
                {"created": created, "updated": updated}
                if created is not None and updated is not None
                else None
            ),
        },
    )


@router.get("/new", response_class=HTMLResponse)
def new_department_form(request: Request, session: SessionDep, staff: Manager) -> HTMLResponse:
    return _form_page(request, session, staff, values={})


@router.post("/new", response_class=HTMLResponse)
def create_department(
    request: Request,
    session: WriteSession,
    staff: Manager,
    code: FormText = "",
    name: FormText = "",
    name_en: FormText = "",
    category: FormText = "",
) -> Response:
    values = {"code": code, "name": name, "name_en": name_en, "category": category}
    try:
        department = department_service.create_department(
            session, code=code, name=name, name_en=name_en, category=category
        )
    except InvalidInput as error:
        return _form_page(request, session, staff, values=values, error=error)
    audit_service.record(
        session,
        actor=staff.username,
        action="department_create",
        object=f"department:{department.code}",
        detail={"name": department.name, "category": department.category},
    )
    return RedirectResponse(f"{LIST_PATH}?saved={department.code}", status_code=303)


@router.get("/{code}/edit", response_class=HTMLResponse)
def edit_department_form(
    request: Request, session: SessionDep, staff: Manager, code: str
) -> HTMLResponse:
    department = department_service.get_department(session, code)
    values = {
        "code": department.code,
        "name": department.name,
        "name_en": department.name_en or "",
        "category": department.category,
    }
    return _form_page(request, session, staff, values=values, editing=True)


@router.post("/{code}/edit", response_class=HTMLResponse)
def update_department(
    request: Request,
    session: WriteSession,
    staff: Manager,
    code: str,
    name: FormText = "",
    name_en: FormText = "",
    category: FormText = "",
) -> Response:
    department = department_service.get_department(session, code)
    values = {"code": department.code, "name": name, "name_en": name_en, "category": category}
    try:
        changed = department_service.update_department(
            session, department.code, name=name, name_en=name_en, category=category
        )
    except InvalidInput as error:
        return _form_page(request, session, staff, values=values, error=error, editing=True)
    audit_service.record(
        session,
        actor=staff.username,
        action="department_update",
        object=f"department:{department.code}",
        detail={"changed": changed},
    )
    return RedirectResponse(f"{LIST_PATH}?saved={department.code}", status_code=303)


@router.get("/import", response_class=HTMLResponse)
def import_form(request: Request, staff: Manager) -> HTMLResponse:
    return render_admin(request, "admin/departments/import.html", staff)


@router.post("/import", response_class=HTMLResponse)
def import_departments(
    request: Request,
    session: WriteSession,
    staff: Manager,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    content = file.file.read() if file is not None else b""
    try:
        report = department_service.import_csv(session, content)
    except DepartmentImportInvalid as error:
        return render_admin(
            request,
            "admin/departments/import.html",
            staff,
            {
                "error": error.translated(),
                "problems": error.problems,
                "file_name": file.filename if file is not None else None,
            },
            status_code=error.status_code,
        )
    audit_service.record(
        session,
        actor=staff.username,
        action="department_import",
        object="departments",
        detail={"created": report.created, "updated": report.updated},
    )
    return RedirectResponse(
        f"{LIST_PATH}?created={report.created}&updated={report.updated}", status_code=303
    )


def _form_page(
    request: Request,
    session: Session,
    staff: StaffUser,
    *,
    values: dict[str, str],
    error: InvalidInput | None = None,
    editing: bool = False,
) -> HTMLResponse:
    field_errors = _field_errors(error) if error is not None else {}
    summary = None
    if error is not None:
        summary = gettext(DepartmentInvalid.message) if field_errors else error.translated()
    context: dict[str, Any] = {
        "values": values,
        "editing": editing,
        "categories": department_service.categories(session),
        "error": summary,
        "field_errors": field_errors,
    }
    return render_admin(
        request,
        "admin/departments/form.html",
        staff,
        context,
        status_code=error.status_code if error is not None else 200,
    )


def _field_errors(error: InvalidInput) -> dict[str, str]:
    """The message to show next to each field the error concerns."""
    if isinstance(error, DepartmentInvalid):
        return {
            problem.field: problem.translated()
            for problem in error.problems
            if problem.field is not None
        }
    return {error.field: error.translated()} if error.field is not None else {}
