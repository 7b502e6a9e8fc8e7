"""The service catalog's pages: import and list in the office console, and ``/services``.

The console pages need ``manage_departments`` (office administrators only). The public page
needs no sign-in and sets no cookie, like the other public pages.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.accounts.models import StaffUser
from app.accounts.permissions import Permission
from app.accounts.web import WriteSession, render_admin, require
from app.audit import service as audit_service
from app.deps import SessionDep
from app.services import service as catalog_service
from app.services.importer import ServiceImportInvalid
from app.templating import render

router = APIRouter(prefix="/admin/services", include_in_schema=False)
public_router = APIRouter(include_in_schema=False)
Manager = Annotated[StaffUser, Depends(require(Permission.MANAGE_DEPARTMENTS))]
LIST_PATH = "/admin/services"
IMPORT_TEMPLATE = "admin/services/import.html"


@router.get("", response_class=HTMLResponse)
def service_list(
    request: Request,
    session: SessionDep,
    staff: Manager,
    created: Annotated[int | None, Query(ge=0)] = None,
    updated: Annotated[int | None, Query(ge=0)] = None,
) -> HTMLResponse:
    groups = catalog_service.catalog_by_category(session, with_empty=True)
    return render_admin(
        request,
        "admin/services/list.html",
        staff,
        {
            "groups": groups,
            "total": sum(len(c.services) for _, catalogs in groups for c in catalogs),
            "imported": (
                {"created": created, "updated": updated}
                if created is not None and updated is not None
                else None
            ),
        },
    )


@router.get("/import", response_class=HTMLResponse)
def import_form(request: Request, staff: Manager) -> HTMLResponse:
    return render_admin(request, IMPORT_TEMPLATE, staff)


@router.post("/import", response_class=HTMLResponse)
def import_services(
    request: Request,
    session: WriteSession,
    staff: Manager,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    content = file.file.read() if file is not None else b""
    try:
        report = catalog_service.import_file(session, content)
    except ServiceImportInvalid as error:
        return render_admin(
            request,
            IMPORT_TEMPLATE,
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
        action="service_import",
        object="services",
        detail={"created": report.created, "updated": report.updated},
    )
    return RedirectResponse(
        f"{LIST_PATH}?created={report.created}&updated={report.updated}", status_code=303
    )


@public_router.get("/services", response_class=HTMLResponse)
def public_catalog(request: Request, session: SessionDep) -> HTMLResponse:
    groups = catalog_service.catalog_by_category(session)
    return render(request, "public/services.html", {"groups": groups, "switch_path": "/services"})
