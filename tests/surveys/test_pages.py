"""The questionnaires section of the office console: list, upload, preview as a rater."""

import re
from html import unescape
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry
from app.config import PROJECT_ROOT
from app.surveys.models import QuestionnaireTemplate
from app.surveys.service import load_questionnaire
from tests.console import csrf_token, post_form, sign_in
from tests.factories import make_department, make_staff

LIST = "/admin/questionnaires"
UPLOAD = "/admin/questionnaires/upload"
PREVIEW = "/admin/questionnaires/preview"
ANNUAL = "file:conduct-efficiency-annual.yaml"
ANNUAL_PATH = PROJECT_ROOT / "surveys" / "conduct-efficiency-annual.yaml"
CADRE_ONLY = ["grassroots_guidance", "grassroots_burden"]

VALID_YAML = """\
id: window_check
version: 1
title: {zh: 窗口服务评议, en: Service window check}
rater_groups:
  - key: citizens
    name: {zh: 办事群众, en: Citizens}
  - key: staff
    name: {zh: 窗口同事, en: Window colleagues}
dimensions:
  - id: attitude
    name: {zh: 服务态度, en: Attitude}
items:
  - id: courtesy
    dimension: attitude
    scale: five_level
    text: {zh: 窗口人员热情礼貌, en: Window staff are courteous}
  - id: teamwork
    dimension: attitude
    scale: three_level
    groups: [staff]
    text: {zh: 同事之间配合顺畅, en: Colleagues work well together}
comment:
  prompt: {zh: 其他意见, en: Other comments}
"""

INVALID_YAML = VALID_YAML.replace(
    "dimension: attitude\n    scale: three_level", "dimension: speed\n    scale: three_level"
)


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


def uploads(session: Session) -> list[tuple[str, int, str]]:
    session.expire_all()
    rows = session.scalars(select(QuestionnaireTemplate).order_by(QuestionnaireTemplate.id))
    return [(row.key, row.version, row.uploaded_by) for row in rows]


def audit_entries(session: Session, action: str) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.sequence)
        )
    )


def paste(client: TestClient, text: str) -> httpx.Response:
    return post_form(client, UPLOAD, {"source": text}, token_from=UPLOAD)


def upload_file(client: TestClient, content: bytes, name: str = "window.yaml") -> httpx.Response:
    """Post the upload form with a file.

    The CSRF token travels in the X-CSRFToken header: asgi-csrf 0.11 cannot read multipart
    bodies with python-multipart >= 0.0.26 (simonw/asgi-csrf#38); see TestBrowserUpload.
    """
    token = csrf_token(client, UPLOAD)
    return client.post(
        UPLOAD,
        headers={"X-CSRFToken": token},
        data={"source": ""},
        files={"file": (name, content, "application/yaml")},
        follow_redirects=False,
    )


def problems_shown(html: str) -> list[str]:
    block = re.search(r'<ul class="problems">(.*?)</ul>', html, re.DOTALL)
    assert block, "no list of problems on the page"
    return [unescape(problem) for problem in re.findall(r"<li>(.*?)</li>", block.group(1))]


def textarea(html: str) -> str:
    match = re.search(r'<textarea id="source"[^>]*>(.*?)</textarea>', html, re.DOTALL)
    assert match, "no YAML text area on the page"
    return unescape(match.group(1))


def shown_items(html: str) -> list[str]:
    return re.findall(r'<fieldset class="question[^"]*" id="q-([a-z0-9_]+)">', html)


def preview_path(reference: str, group: str) -> str:
    return f"{PREVIEW}?ref={quote(reference)}&group={group}"


class TestQuestionnaireList:
    def test_shipped_templates_are_listed_with_their_facts(self, admin: TestClient) -> None:
        page = admin.get(LIST)

        assert page.status_code == 200
        rows = re.findall(r"<tr>\s*<th scope=\"row\">(.*?)</tr>", page.text, re.DOTALL)
        annual = next(row for row in rows if row.startswith("conduct_efficiency_annual"))
        cells = [unescape(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", annual, re.DOTALL)]
        assert cells[0] == "1"  # version
        assert (
            cells[1] == "Annual democratic evaluation of district offices' conduct and efficiency"
        )
        assert cells[2] == "14"  # items
        assert "Grassroots cadres" in cells[3]
        assert cells[4].startswith("Shipped")
        assert any(row.startswith("service_rating") for row in rows)

    def test_uploads_are_listed_as_uploaded(self, admin: TestClient, session: Session) -> None:
        paste(admin, VALID_YAML)

        page = admin.get(LIST)

        row = re.search(r'<th scope="row">window_check</th>(.*?)</tr>', page.text, re.DOTALL)
        assert row is not None
        assert "Uploaded" in row.group(1)
        assert ">2</td>" in row.group(1)  # items
        assert "Citizens、Window colleagues" in row.group(1)


class TestUploading:
    def test_pasted_yaml_is_checked_kept_and_audited(
        self, admin: TestClient, session: Session
    ) -> None:
        response = paste(admin, VALID_YAML)

        assert response.status_code == 303
        [(key, version, uploaded_by)] = uploads(session)
        assert (key, version, uploaded_by) == ("window_check", 1, "office.admin")
        upload_id = session.scalars(select(QuestionnaireTemplate.id)).one()
        assert response.headers["location"] == f"{LIST}?uploaded=upload%3A{upload_id}"
        [entry] = audit_entries(session, "questionnaire_upload")
        assert entry.actor == "office.admin"
        assert entry.object == "questionnaire:window_check"
        assert entry.detail["version"] == 1
        assert entry.detail["reference"] == f"upload:{upload_id}"
        page = admin.get(response.headers["location"])
        assert "Questionnaire “window_check” version 1 was uploaded." in unescape(page.text)

    def test_a_yaml_file_is_checked_and_kept(self, admin: TestClient, session: Session) -> None:
        response = upload_file(admin, VALID_YAML.encode())

        assert response.status_code == 303
        assert uploads(session) == [("window_check", 1, "office.admin")]
        [entry] = audit_entries(session, "questionnaire_upload")
        assert entry.detail["source"] == "window.yaml"

    def test_problems_name_the_item_and_the_pasted_text_is_kept(
        self, admin: TestClient, session: Session
    ) -> None:
        response = paste(admin, INVALID_YAML)

        assert response.status_code == 422
        assert problems_shown(response.text) == [
            "item 'teamwork': dimension 'speed' is not declared"
        ]
        assert textarea(response.text) == INVALID_YAML
        assert uploads(session) == []
        assert audit_entries(session, "questionnaire_upload") == []

    def test_a_bad_file_is_explained_and_its_text_put_in_the_form_to_fix(
        self, admin: TestClient, session: Session
    ) -> None:
        response = upload_file(admin, INVALID_YAML.encode(), name="broken.yaml")

        assert response.status_code == 422
        assert "(broken.yaml)" in response.text
        assert "item 'teamwork': dimension 'speed' is not declared" in problems_shown(response.text)
        assert textarea(response.text) == INVALID_YAML
        assert uploads(session) == []

    def test_every_problem_is_listed(self, admin: TestClient, session: Session) -> None:
        text = VALID_YAML.replace("scale: five_level", "scale: ten_level").replace(
            "scale: three_level", "scale: nine_level"
        )

        response = paste(admin, text)

        assert response.status_code == 422
        shown = problems_shown(response.text)
        assert len(shown) == 2
        assert shown[0].startswith("item 'courtesy', scale: ")
        assert shown[1].startswith("item 'teamwork', scale: ")
        assert uploads(session) == []

    def test_yaml_syntax_errors_give_the_line(self, admin: TestClient, session: Session) -> None:
        response = paste(admin, "id: broken\ntitle: {zh: 坏\n")

        assert response.status_code == 422
        assert "YAML syntax error at line" in problems_shown(response.text)[0]
        assert uploads(session) == []

    def test_the_id_and_version_of_a_shipped_template_are_refused(
        self, admin: TestClient, session: Session
    ) -> None:
        response = paste(admin, ANNUAL_PATH.read_text(encoding="utf-8"))

        assert response.status_code == 422
        assert problems_shown(response.text) == [
            "questionnaire 'conduct_efficiency_annual' version 1 exists already; "
            "raise the version to upload a revision"
        ]
        assert uploads(session) == []

    def test_the_same_id_and_version_cannot_be_uploaded_twice_but_a_new_version_can(
        self, admin: TestClient, session: Session
    ) -> None:
        assert paste(admin, VALID_YAML).status_code == 303

        again = paste(admin, VALID_YAML)
        revised = paste(admin, VALID_YAML.replace("version: 1", "version: 2"))

        assert again.status_code == 422
        assert "version 1 exists already" in problems_shown(again.text)[0]
        assert revised.status_code == 303
        assert uploads(session) == [
            ("window_check", 1, "office.admin"),
            ("window_check", 2, "office.admin"),
        ]
        assert len(audit_entries(session, "questionnaire_upload")) == 2

    def test_an_empty_form_asks_for_a_file_or_text(
        self, admin: TestClient, session: Session
    ) -> None:
        response = paste(admin, "   ")

        assert response.status_code == 422
        assert problems_shown(response.text) == ["choose a YAML file or paste the questionnaire"]
        assert uploads(session) == []

    def test_a_file_that_is_not_utf8_is_refused(self, admin: TestClient, session: Session) -> None:
        response = upload_file(admin, VALID_YAML.encode("gbk"))

        assert response.status_code == 422
        assert problems_shown(response.text) == ["the file is not UTF-8 text; save it as UTF-8"]
        assert uploads(session) == []


class TestBrowserUpload:
    def test_a_file_posted_with_the_token_as_first_field_is_kept(
        self, admin: TestClient, session: Session
    ) -> None:
        token = csrf_token(admin, UPLOAD)

        response = admin.post(
            UPLOAD,
            data={"csrftoken": token, "source": ""},
            files={"file": ("window.yaml", VALID_YAML.encode(), "application/yaml")},
            follow_redirects=False,
        )

        assert response.status_code == 303
        assert uploads(session) == [("window_check", 1, "office.admin")]


class TestPreview:
    def test_cadres_see_the_cadre_only_items(self, admin: TestClient) -> None:
        page = admin.get(preview_path(ANNUAL, "cadres"))

        assert page.status_code == 200
        expected = [item.id for item in load_questionnaire(ANNUAL_PATH).items_for("cadres")]
        assert shown_items(page.text) == expected
        for item_id in CADRE_ONLY:
            assert item_id in shown_items(page.text)

    def test_citizens_see_exactly_their_items_and_not_the_cadre_only_ones(
        self, admin: TestClient
    ) -> None:
        page = admin.get(preview_path(ANNUAL, "citizens"))

        shown = shown_items(page.text)
        expected = [item.id for item in load_questionnaire(ANNUAL_PATH).items_for("citizens")]
        assert shown == expected
        for item_id in [*CADRE_ONLY, "law_fair_discretion", "discipline_business_support"]:
            assert item_id not in shown
        assert "Grassroots units" not in page.text

    def test_the_page_is_the_rater_page_with_levels_dont_know_and_comment(
        self, admin: TestClient
    ) -> None:
        page = admin.get(preview_path(ANNUAL, "citizens"))

        assert "Annual democratic evaluation of district offices" in unescape(page.text)
        assert "You are rating as: Citizens" in page.text
        courtesy = re.search(r'id="q-attitude_courtesy">(.*?)</fieldset>', page.text, re.DOTALL)
        assert courtesy is not None
        labels = re.findall(r"<span>([^<]+)</span>", courtesy.group(1))
        assert labels == ["Satisfied", "Fairly satisfied", "Dissatisfied", "Don&#39;t know"]
        assert "Any comments or suggestions for this office?" in page.text
        assert 'maxlength="500"' in page.text

    def test_the_preview_is_marked_and_cannot_submit(self, admin: TestClient) -> None:
        page = admin.get(preview_path(ANNUAL, "cadres"))

        assert 'id="preview-banner"' in page.text
        assert "<strong>Preview</strong>" in page.text
        form = re.search(
            r'<form method="post" action="/r/rate[^"]*" class="rating-form"([^>]*)>', page.text
        )
        assert form is not None
        assert "inert" in form.group(1)
        buttons = re.findall(r'<button type="submit" name="action" value="\w+"[^>]*>', page.text)
        assert len(buttons) == 3
        assert all(button.endswith(" disabled>") for button in buttons)

    def test_a_group_switcher_links_every_group(self, admin: TestClient) -> None:
        page = admin.get(preview_path(ANNUAL, "cadres"))

        for group in ("citizens", "enterprises", "deputies", "supervisors"):
            assert f"group={group}" in page.text
        assert re.search(r'<strong aria-current="page"[^>]*>Grassroots cadres</strong>', page.text)

    def test_the_preview_is_in_chinese_when_asked(self, admin: TestClient) -> None:
        page = admin.get(preview_path(ANNUAL, "cadres") + "&lang=zh_CN")

        assert "对基层工作指导服务到位" in page.text
        assert "不了解" in page.text
        assert "您的评议身份：基层干部" in page.text

    def test_an_upload_can_be_previewed(self, admin: TestClient, session: Session) -> None:
        paste(admin, VALID_YAML)
        upload_id = session.scalars(select(QuestionnaireTemplate.id)).one()

        staff_page = admin.get(preview_path(f"upload:{upload_id}", "staff"))
        citizen_page = admin.get(preview_path(f"upload:{upload_id}", "citizens"))

        assert shown_items(staff_page.text) == ["courtesy", "teamwork"]
        assert shown_items(citizen_page.text) == ["courtesy"]

    def test_without_a_group_the_first_group_is_shown(self, admin: TestClient) -> None:
        page = admin.get(f"{PREVIEW}?ref={quote(ANNUAL)}")

        assert "You are rating as: Citizens" in page.text

    def test_an_unknown_template_or_group_is_not_found(self, admin: TestClient) -> None:
        assert admin.get(preview_path("file:nope.yaml", "citizens")).status_code == 404
        assert admin.get(preview_path("upload:999", "citizens")).status_code == 404
        assert admin.get(preview_path(ANNUAL, "mayors")).status_code == 404

    def test_without_a_template_it_goes_back_to_the_list(self, admin: TestClient) -> None:
        response = admin.get(f"{PREVIEW}?lang=en", follow_redirects=False)

        assert response.status_code == 303
        assert response.headers["location"] == LIST

    def test_previewing_records_nothing(self, admin: TestClient, session: Session) -> None:
        before = session.scalars(select(AuditEntry.sequence)).all()

        admin.get(preview_path(ANNUAL, "cadres"))

        assert session.scalars(select(AuditEntry.sequence)).all() == before


ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", LIST, {}),
    ("GET", UPLOAD, {}),
    ("POST", UPLOAD, {"source": VALID_YAML}),
    ("GET", preview_path(ANNUAL, "cadres"), {}),
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
        department = make_department(session) if role == "liaison" else None
        staff = make_staff(session, role=role, department=department)
        sign_in(client, staff.username)
        token = csrf_token(client, "/admin")  # bound to the session: every page has sign-out

        if method == "GET":
            response = client.get(path, follow_redirects=False)
        else:
            response = client.post(path, data={"csrftoken": token, **data}, follow_redirects=False)

        assert response.status_code == 403
        assert uploads(session) == []
        assert audit_entries(session, "questionnaire_upload") == []

    def test_a_file_upload_is_refused_too(self, client: TestClient, session: Session) -> None:
        staff = make_staff(session, role="auditor")
        sign_in(client, staff.username)

        response = client.post(
            UPLOAD,
            headers={"X-CSRFToken": csrf_token(client, "/admin/audit")},
            files={"file": ("window.yaml", VALID_YAML.encode(), "application/yaml")},
            follow_redirects=False,
        )

        assert response.status_code == 403
        assert uploads(session) == []

    def test_signed_out_visitors_are_sent_to_sign_in(self, client: TestClient) -> None:
        response = client.get(preview_path(ANNUAL, "cadres"), follow_redirects=False)

        assert response.status_code == 303
        assert response.headers["location"].startswith("/admin/login")
