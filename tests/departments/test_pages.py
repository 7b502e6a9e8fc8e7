"""The departments section of the office console: list, add, edit, import from CSV."""

import re
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry
from app.departments.models import Department
from tests.console import csrf_token, post_form, sign_in
from tests.factories import make_department, make_staff

LIST = "/admin/departments"
NEW = "/admin/departments/new"
IMPORT = "/admin/departments/import"


@pytest.fixture
def admin(client: TestClient, session: Session) -> TestClient:
    """The client, signed in as an administrator, reading the console in English.

    New console messages are English message ids until the lead translates them; asking for
    English keeps these tests independent of the translations.
    """
    staff = make_staff(session, role="admin", username="office.admin")
    sign_in(client, staff.username)
    client.headers["Accept-Language"] = "en"
    return client


def department_rows(session: Session) -> list[tuple[str, str, str | None, str]]:
    session.expire_all()
    departments = session.scalars(select(Department).order_by(Department.code))
    return [(d.code, d.name, d.name_en, d.category) for d in departments]


def audit_entries(session: Session, action: str) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.sequence)
        )
    )


def upload_csv(client: TestClient, content: bytes, name: str = "departments.csv") -> httpx.Response:
    """Post the import form with a file.

    The CSRF token travels in the X-CSRFToken header: asgi-csrf 0.11 cannot read multipart
    bodies with python-multipart >= 0.0.26 (simonw/asgi-csrf#38); see TestBrowserUpload.
    """
    token = csrf_token(client, IMPORT)
    return client.post(
        IMPORT,
        headers={"X-CSRFToken": token},
        files={"file": (name, content, "text/csv")},
        follow_redirects=False,
    )


def field_error(html: str, field: str) -> str | None:
    match = re.search(rf'<p class="problems" id="{field}-error">([^<]*)</p>', html)
    return match.group(1) if match else None


class TestDepartmentList:
    def test_departments_are_grouped_by_category_with_codes_and_names(
        self, admin: TestClient, session: Session
    ) -> None:
        make_department(session, code="SJJ", name="区市场监督管理局", category="执法监管类")
        make_department(session, code="FGJ", name="区发展和改革局", category="经济发展类")
        make_department(session, code="CGJ", name="区城市管理局", category="执法监管类")
        fgj = session.scalar(select(Department).where(Department.code == "FGJ"))
        assert fgj is not None
        fgj.name_en = "Development and Reform Bureau"

        page = admin.get(LIST)

        assert page.status_code == 200
        captions = re.findall(r"<caption>([^<]*)</caption>", page.text)
        assert captions == ["执法监管类 (2)", "经济发展类 (1)"]
        enforcement = page.text.index("执法监管类 (2)")
        economy = page.text.index("经济发展类 (1)")
        assert enforcement < page.text.index("区城市管理局") < page.text.index("区市场监督管理局")
        assert economy < page.text.index("区发展和改革局")
        assert "Development and Reform Bureau" in page.text
        assert 'href="/admin/departments/FGJ/edit"' in page.text

    def test_an_empty_list_says_how_to_start(self, admin: TestClient) -> None:
        page = admin.get(LIST)

        assert "No department yet" in page.text
        assert f'href="{NEW}"' in page.text
        assert f'href="{IMPORT}"' in page.text


class TestAddingADepartment:
    def test_a_new_department_is_saved_and_audited(
        self, admin: TestClient, session: Session
    ) -> None:
        response = post_form(
            admin,
            NEW,
            {"code": "FGJ", "name": " 区发展和改革局 ", "name_en": "", "category": "经济发展类"},
            token_from=NEW,
        )

        assert response.status_code == 303
        assert response.headers["location"] == f"{LIST}?saved=FGJ"
        assert department_rows(session) == [("FGJ", "区发展和改革局", None, "经济发展类")]
        [entry] = audit_entries(session, "department_create")
        assert entry.actor == "office.admin"
        assert entry.object == "department:FGJ"
        assert admin.get(response.headers["location"]).text.count("Department FGJ was saved.") == 1

    def test_bad_fields_are_marked_in_place_and_what_was_typed_is_kept(
        self, admin: TestClient, session: Session
    ) -> None:
        response = post_form(
            admin,
            NEW,
            {"code": "发改局", "name": "区发展和改革局", "name_en": "", "category": "  "},
            token_from=NEW,
        )

        assert response.status_code == 422
        assert "Please correct the marked fields." in response.text
        assert "letters, digits, dashes or underscores" in (
            field_error(response.text, "code") or ""
        )
        assert "A category is required" in (field_error(response.text, "category") or "")
        assert field_error(response.text, "name") is None
        assert 'value="发改局"' in response.text
        assert 'value="区发展和改革局"' in response.text
        assert department_rows(session) == []
        assert audit_entries(session, "department_create") == []

    def test_a_code_in_use_is_refused_naming_the_code_field(
        self, admin: TestClient, session: Session
    ) -> None:
        make_department(session, code="FGJ", name="区发展和改革局", category="经济发展类")

        response = post_form(
            admin,
            NEW,
            {"code": "FGJ", "name": "另一个单位", "category": "综合类"},
            token_from=NEW,
        )

        assert response.status_code == 422
        assert (
            field_error(response.text, "code") == "A department with the code “FGJ” exists already."
        )
        assert re.search(r'id="code"[^>]*aria-invalid="true"', response.text)
        assert department_rows(session) == [("FGJ", "区发展和改革局", None, "经济发展类")]
        assert audit_entries(session, "department_create") == []


class TestEditingADepartment:
    def test_the_form_shows_the_department_and_its_code_cannot_be_changed(
        self, admin: TestClient, session: Session
    ) -> None:
        make_department(session, code="FGJ", name="区发展和改革局", category="经济发展类")

        page = admin.get("/admin/departments/FGJ/edit")

        assert page.status_code == 200
        assert 'value="区发展和改革局"' in page.text
        assert 'value="经济发展类"' in page.text
        assert 'name="code"' not in page.text
        assert "<strong>FGJ</strong>" in page.text

    def test_changes_are_saved_under_the_same_code_and_audited(
        self, admin: TestClient, session: Session
    ) -> None:
        make_department(session, code="FGJ", name="发改局", category="综合类")
        edit = "/admin/departments/FGJ/edit"

        response = post_form(
            admin,
            edit,
            {
                "code": "CHANGED",
                "name": "区发展和改革局",
                "name_en": "District Development and Reform Bureau",
                "category": "综合类",
            },
            token_from=edit,
        )

        assert response.status_code == 303
        assert response.headers["location"] == f"{LIST}?saved=FGJ"
        assert department_rows(session) == [
            ("FGJ", "区发展和改革局", "District Development and Reform Bureau", "综合类")
        ]
        [entry] = audit_entries(session, "department_update")
        assert entry.object == "department:FGJ"
        assert entry.detail == {"changed": ["name", "name_en"]}

    def test_an_empty_english_name_clears_it(self, admin: TestClient, session: Session) -> None:
        department = make_department(session, code="FGJ", name="区发展和改革局")
        department.name_en = "Old name"
        edit = "/admin/departments/FGJ/edit"

        post_form(
            admin,
            edit,
            {"name": "区发展和改革局", "name_en": " ", "category": department.category},
            token_from=edit,
        )

        assert department_rows(session)[0][2] is None

    def test_bad_fields_are_marked_and_nothing_changes(
        self, admin: TestClient, session: Session
    ) -> None:
        make_department(session, code="FGJ", name="区发展和改革局", category="经济发展类")
        edit = "/admin/departments/FGJ/edit"

        response = post_form(
            admin, edit, {"name": "", "name_en": "x" * 101, "category": "综合类"}, token_from=edit
        )

        assert response.status_code == 422
        assert "A name is required" in (field_error(response.text, "name") or "")
        assert "at most 100 characters" in (field_error(response.text, "name_en") or "")
        assert 'value="综合类"' in response.text
        assert department_rows(session) == [("FGJ", "区发展和改革局", None, "经济发展类")]
        assert audit_entries(session, "department_update") == []

    def test_an_unknown_code_is_not_found(self, admin: TestClient) -> None:
        assert admin.get("/admin/departments/NOPE/edit").status_code == 404


class TestImportingACsvFile:
    def test_a_good_file_creates_and_updates_and_shows_the_counts(
        self, admin: TestClient, session: Session
    ) -> None:
        make_department(session, code="FGJ", name="发改局", category="综合类")
        content = (
            "单位代码,单位名称,类别\n"
            "FGJ,区发展和改革局,经济发展类\n"
            "SJJ,区市场监督管理局,执法监管类\n"
            "CGJ,区城市管理局,执法监管类\n"
        ).encode()

        response = upload_csv(admin, content)

        assert response.status_code == 303
        assert response.headers["location"] == f"{LIST}?created=2&updated=1"
        assert department_rows(session) == [
            ("CGJ", "区城市管理局", None, "执法监管类"),
            ("FGJ", "区发展和改革局", None, "经济发展类"),
            ("SJJ", "区市场监督管理局", None, "执法监管类"),
        ]
        [entry] = audit_entries(session, "department_import")
        assert entry.detail == {"created": 2, "updated": 1}
        page = admin.get(response.headers["location"])
        assert "Import finished: 2 created, 1 updated." in page.text

    def test_every_bad_line_is_shown_with_its_number_and_nothing_is_imported(
        self, admin: TestClient, session: Session
    ) -> None:
        make_department(session, code="FGJ", name="发改局", category="综合类")
        content = (
            "code,name,category\n"
            "FGJ,区发展和改革局,经济发展类\n"
            "SJJ,,执法监管类\n"
            "CGJ,区城市管理局,执法监管类\n"
            "CGJ,区城市管理局（重复）,执法监管类\n"
        ).encode()

        response = upload_csv(admin, content)

        assert response.status_code == 422
        assert "Nothing was imported: 2 problem(s) in the file." in response.text
        problems = re.findall(r"<li>(Line \d+): ([^<]*)</li>", response.text)
        assert [line for line, _ in problems] == ["Line 3", "Line 5"]
        assert "name" in problems[0][1]
        assert "already appears on line 4" in problems[1][1]
        assert department_rows(session) == [("FGJ", "发改局", None, "综合类")]
        assert audit_entries(session, "department_import") == []

    def test_a_file_that_is_not_utf8_is_refused_line_by_line(
        self, admin: TestClient, session: Session
    ) -> None:
        content = "code,name,category\nFGJ,区发展和改革局,经济发展类\n".encode("gbk")

        response = upload_csv(admin, content)

        assert response.status_code == 422
        assert "Line 2: the file is not UTF-8" in response.text
        assert department_rows(session) == []

    def test_an_empty_file_is_refused(self, admin: TestClient, session: Session) -> None:
        response = upload_csv(admin, b"", name="")

        assert response.status_code == 422
        assert "the file is empty" in response.text
        assert department_rows(session) == []


class TestBrowserUpload:
    def test_a_file_posted_with_the_token_as_first_field_is_imported(
        self, admin: TestClient, session: Session
    ) -> None:
        token = csrf_token(admin, IMPORT)

        response = admin.post(
            IMPORT,
            data={"csrftoken": token},
            files={"file": ("d.csv", "code,name,category\nFGJ,区发展和改革局,综合类\n".encode())},
            follow_redirects=False,
        )

        assert response.status_code == 303
        assert department_rows(session) == [("FGJ", "区发展和改革局", None, "综合类")]


ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", LIST, {}),
    ("GET", NEW, {}),
    ("POST", NEW, {"code": "FGJ", "name": "区发展和改革局", "category": "综合类"}),
    ("GET", "/admin/departments/D0001/edit", {}),
    ("POST", "/admin/departments/D0001/edit", {"name": "改名", "category": "综合类"}),
    ("GET", IMPORT, {}),
    ("POST", IMPORT, {}),
]


class TestPermissions:
    @pytest.mark.parametrize("role", ["auditor", "liaison"])
    @pytest.mark.parametrize(("method", "path", "data"), ROUTES)
    def test_roles_without_the_permission_are_refused(
        self,
        client: TestClient,
        session: Session,
        role: str,
        method: str,
        path: str,
        data: dict[str, Any],
    ) -> None:
        department = make_department(session, code="D0001", name="测试单位", category="综合类")
        staff = make_staff(session, role=role, department=department if role == "liaison" else None)
        sign_in(client, staff.username)
        token = csrf_token(client, "/admin")  # bound to the session: every page has sign-out

        if method == "GET":
            response = client.get(path, follow_redirects=False)
        elif path == IMPORT:
            response = client.post(
                path,
                headers={"X-CSRFToken": token},
                files={"file": ("d.csv", b"code,name,category\nX1,Y,Z\n", "text/csv")},
                follow_redirects=False,
            )
        else:
            response = client.post(path, data={"csrftoken": token, **data}, follow_redirects=False)

        assert response.status_code == 403
        assert department_rows(session) == [("D0001", "测试单位", None, "综合类")]
        for action in ("department_create", "department_update", "department_import"):
            assert audit_entries(session, action) == []

    def test_signed_out_visitors_are_sent_to_sign_in(self, client: TestClient) -> None:
        response = client.get(LIST, follow_redirects=False)

        assert response.status_code == 303
        assert response.headers["location"].startswith("/admin/login")
