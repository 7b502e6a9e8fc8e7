"""The service catalog's pages: console import and list (administrators only), ``/services``
and the public department page."""

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry
from app.config import PROJECT_ROOT
from app.services import service as catalog_service
from app.services.models import Service
from tests.console import csrf_token, sign_in
from tests.factories import make_department, make_staff
from tests.public.helpers import Published
from tests.services.files import CHINESE_HEADER, csv_bytes, service_row, xlsx_bytes

LIST = "/admin/services"
IMPORT = "/admin/services/import"
LONG_WORD = "W" * 180


def upload(client: TestClient, content: bytes, name: str = "services.csv") -> httpx.Response:
    """Post the import form; the CSRF token travels in the header, as for departments
    (asgi-csrf cannot read multipart bodies, see tests/departments/test_pages.py)."""
    token = csrf_token(client, IMPORT)
    response: httpx.Response = client.post(
        IMPORT,
        headers={"X-CSRFToken": token},
        files={"file": (name, content, "application/octet-stream")},
        follow_redirects=False,
    )
    return response


@pytest.fixture
def admin(client: TestClient, session: Session) -> TestClient:
    staff = make_staff(session, role="admin", username="office.admin")
    sign_in(client, staff.username)
    client.headers["Accept-Language"] = "en"
    return client


def import_catalog(session: Session, rows: list[list[str]]) -> None:
    catalog_service.import_file(session, csv_bytes([CHINESE_HEADER, *rows]))


class TestConsoleImport:
    def test_an_administrator_imports_an_xlsx_file_and_sees_the_list(
        self, admin: TestClient, session: Session
    ) -> None:
        make_department(session, code="SWJ", name="区税务局", category="执法类")

        response = upload(
            admin, xlsx_bytes([CHINESE_HEADER, service_row("SWJ", "发票申领")]), "s.xlsx"
        )

        assert response.status_code == 303
        assert response.headers["location"] == f"{LIST}?created=1&updated=0"
        page = admin.get(response.headers["location"])
        assert "Import finished: 1 services added, 0 updated." in page.text
        assert "发票申领" in page.text
        assert "区税务局" in page.text
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "service_import"))
        assert entry.actor == "office.admin"

    def test_a_bad_file_shows_every_problem_and_imports_nothing(
        self, admin: TestClient, session: Session
    ) -> None:
        make_department(session, code="SWJ", name="区税务局", category="执法类")
        content = csv_bytes(
            [
                CHINESE_HEADER,
                service_row("SWJ", "发票申领"),
                service_row("NOPE", "<b>甲</b>"),
                service_row("SWJ", ""),
            ]
        )

        response = upload(admin, content)

        assert response.status_code == 422
        assert "Line 3, department_code" in response.text
        assert "Line 4, name" in response.text
        assert "Nothing was imported: 2 problem(s) in the file." in response.text
        assert session.scalars(select(Service)).all() == []

    def test_the_form_carries_the_csrf_token_and_a_post_without_it_is_refused(
        self, admin: TestClient
    ) -> None:
        form = admin.get(IMPORT)
        refused = admin.post(
            IMPORT, files={"file": ("s.csv", b"x", "text/csv")}, follow_redirects=False
        )

        assert 'name="csrftoken"' in form.text
        assert refused.status_code == 403

    @pytest.mark.parametrize("role", ["liaison", "auditor"])
    def test_a_liaison_or_an_auditor_can_neither_see_nor_import(
        self, client: TestClient, session: Session, role: str
    ) -> None:
        department = make_department(session, code="SWJ", category="执法类")
        staff = make_staff(session, role=role, department=department if role == "liaison" else None)
        sign_in(client, staff.username)
        csv = csv_bytes([CHINESE_HEADER, service_row("SWJ", "发票申领")])

        assert client.get(LIST).status_code == 403
        assert client.get(IMPORT).status_code == 403
        token = csrf_token(client, "/admin")
        posted = client.post(
            IMPORT,
            headers={"X-CSRFToken": token},
            files={"file": ("s.csv", csv, "text/csv")},
            follow_redirects=False,
        )
        assert posted.status_code == 403
        assert session.scalars(select(Service)).all() == []


class TestPublicCatalog:
    def test_services_are_grouped_by_category_in_collapsible_details(
        self, client: TestClient, session: Session
    ) -> None:
        make_department(session, code="ZWZX", name="区政务服务中心", category="综合类")
        make_department(session, code="SWJ", name="区税务局", category="执法类")
        make_department(session, code="EMPTY", name="没有事项的局", category="执法类")
        import_catalog(session, [service_row("ZWZX", "居住证办理"), service_row("SWJ", "发票申领")])

        page = client.get("/services")

        assert page.status_code == 200
        text = page.text
        assert text.index("执法类") < text.index("区税务局") < text.index("综合类")
        assert text.index("综合类") < text.index("区政务服务中心")
        assert text.count("<details") == 2
        assert "12345政务服务便民热线" in text
        assert "《中华人民共和国行政许可法》" in text
        assert "没有事项的局" not in text
        assert "set-cookie" not in page.headers

    def test_staff_text_is_escaped_and_a_long_word_wraps(
        self, client: TestClient, session: Session
    ) -> None:
        make_department(session, code="SWJ", name="区税务局", category="执法类")
        row = service_row("SWJ", "<script>alert(1)</script>")
        row[3] = LONG_WORD
        import_catalog(session, [row])

        text = client.get("/services").text

        assert "<script>alert(1)" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
        main = text[text.index("<main") : text.index("</main>")]
        assert LONG_WORD in main  # main's text breaks anywhere (pingyi.css), so it wraps
        stylesheet = (PROJECT_ROOT / "app" / "static" / "css" / "pingyi.css").read_text()
        assert "main, " in stylesheet
        assert "overflow-wrap: anywhere" in stylesheet
        assert ".service-details dd" in stylesheet

    def test_an_empty_catalog_says_so_in_chinese_by_default(self, client: TestClient) -> None:
        page = client.get("/services")

        assert page.status_code == 200
        assert "尚未公开任何办事项目。" in page.text


class TestDepartmentPage:
    def test_the_public_department_page_lists_its_services(
        self, client: TestClient, session: Session
    ) -> None:
        published = Published(session)
        import_catalog(
            session,
            [
                service_row(published.east.code, "发票申领 <i>加急</i>"),
                service_row(published.west.code, "营业执照办理"),
            ],
        )

        page = client.get(f"/results/{published.slug}/departments/{published.east.code}")

        assert page.status_code == 200
        assert "发票申领 &lt;i&gt;加急&lt;/i&gt;" in page.text
        assert "<details" in page.text
        assert "营业执照办理" not in page.text
        assert 'href="/services?lang=zh_CN"' in page.text

    def test_a_department_without_services_shows_no_section(
        self, client: TestClient, session: Session
    ) -> None:
        published = Published(session)

        page = client.get(f"/results/{published.slug}/departments/{published.east.code}")

        assert page.status_code == 200
        assert 'id="services"' not in page.text
