"""整改 through the console and the public page: evidence uploads and downloads, who may
see and do what, the exports and the 整改公示 page."""

import datetime as dt
import io
import os
import stat
import zipfile

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook  # type: ignore[import-untyped]
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry
from app.config import get_settings
from app.rectification import evidence, problems, service
from app.rectification.models import EvidenceFile, RectificationTask, TaskStatus
from app.reports import fonts
from tests.console import csrf_token, post_form, sign_in
from tests.factories import make_staff
from tests.public.helpers import Published
from tests.rectification.helpers import published_with_comments
from tests.reports.pdf_reading import read_pdf

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
HTML = b"<!doctype html><script>alert(1)</script>"


def _docx() -> bytes:
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return stream.getvalue()


def _task(session: Session, built: Published) -> RectificationTask:
    problems.generate(session, built.campaign, actor="office")
    north = built.campaign.targets[2]
    return service.assign_task(
        session,
        built.campaign,
        north,
        title="提升窗口服务质量",
        description="",
        working_days=5,
        problem_ids=[
            p.id for p in problems.problems_of(session, built.campaign) if p.target_id == north.id
        ],
        actor="office",
        on=dt.date(2026, 9, 30),
    )


def _planned(session: Session, built: Published) -> RectificationTask:
    task = _task(session, built)
    service.submit_plan(
        session,
        task,
        measures="增设叫号机",
        responsible_post="办公室主任",
        starts_on=dt.date(2026, 10, 8),
        ends_on=dt.date(2026, 10, 12),
        actor="liaison",
    )
    return task


def _upload(client: TestClient, task_id: int, name: str, data: bytes) -> int:
    token = csrf_token(client, f"/admin/my-rectification/{task_id}")
    response = client.post(
        f"/admin/my-rectification/{task_id}/evidence",
        data={"csrftoken": token},
        files={"evidence": (name, data, "application/octet-stream")},
        follow_redirects=False,
    )
    return response.status_code


class TestEvidence:
    def test_types_are_decided_by_content(self) -> None:
        assert evidence.sniff(PNG) == evidence.PNG
        assert evidence.sniff(PDF) == evidence.PDF
        assert evidence.sniff(b"\xff\xd8\xff\xe0" + b"\0" * 8) == evidence.JPEG
        assert evidence.sniff(_docx()) == evidence.DOCX
        assert evidence.sniff(HTML) is None
        bare_zip = io.BytesIO()
        with zipfile.ZipFile(bare_zip, "w") as archive:
            archive.writestr("x.txt", "x")
        assert evidence.sniff(bare_zip.getvalue()) is None

    def test_upload_is_stored_privately_and_served_as_an_attachment(
        self, client: TestClient, session: Session
    ) -> None:
        built = published_with_comments(session)
        task = _planned(session, built)
        liaison = make_staff(session, role="liaison", department=built.north)
        sign_in(client, liaison.username)

        assert _upload(client, task.id, "现场照片.html", PNG) == 303

        row = session.scalars(select(EvidenceFile).where(EvidenceFile.task_id == task.id)).one()
        path = get_settings().var_dir / "evidence" / row.stored_name
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert row.file_name == "现场照片.png"
        assert row.media_type == "image/png"
        download = client.get(f"/admin/my-rectification/{task.id}/evidence/{row.id}")
        assert download.status_code == 200
        assert download.content == PNG
        assert download.headers["content-type"] == "image/png"
        assert download.headers["content-disposition"].startswith("attachment;")
        assert download.headers["x-content-type-options"] == "nosniff"

    def test_a_page_disguised_as_a_pdf_is_refused(
        self, client: TestClient, session: Session
    ) -> None:
        built = published_with_comments(session)
        task = _planned(session, built)
        liaison = make_staff(session, role="liaison", department=built.north)
        sign_in(client, liaison.username)

        assert _upload(client, task.id, "report.pdf", HTML) == 422
        assert session.scalars(select(EvidenceFile)).all() == []

    def test_too_large_a_file_is_refused(self, client: TestClient, session: Session) -> None:
        built = published_with_comments(session)
        task = _planned(session, built)
        liaison = make_staff(session, role="liaison", department=built.north)
        sign_in(client, liaison.username)

        oversized = PNG + b"\0" * evidence.MAX_EVIDENCE_BYTES
        assert _upload(client, task.id, "big.png", oversized) in (413, 422)
        assert session.scalars(select(EvidenceFile)).all() == []

    def test_the_upload_page_warns_against_rater_data(
        self, client: TestClient, session: Session
    ) -> None:
        built = published_with_comments(session)
        task = _planned(session, built)
        liaison = make_staff(session, role="liaison", department=built.north)
        sign_in(client, liaison.username)

        page = client.get(f"/admin/my-rectification/{task.id}")
        assert "佐证材料不得包含评议人信息" in page.text


class TestRoles:
    def test_a_liaison_cannot_see_or_act_on_another_departments_task(
        self, client: TestClient, session: Session
    ) -> None:
        built = published_with_comments(session)
        task = _task(session, built)
        other = make_staff(session, role="liaison", department=built.east)
        sign_in(client, other.username)

        assert client.get("/admin/my-rectification").text.count("提升窗口服务质量") == 0
        assert client.get(f"/admin/my-rectification/{task.id}").status_code == 404
        plan = post_form(
            client,
            f"/admin/my-rectification/{task.id}/plan",
            {
                "measures": "x",
                "responsible_post": "y",
                "starts_on": "2026-10-08",
                "ends_on": "2026-10-09",
            },
            token_from="/admin/my-rectification",
        )
        assert plan.status_code == 404
        assert client.get("/admin/rectification").status_code == 403
        session.refresh(task)
        assert task.status == TaskStatus.ASSIGNED

    def test_an_auditor_reads_but_cannot_assign(self, client: TestClient, session: Session) -> None:
        built = published_with_comments(session)
        auditor = make_staff(session, role="auditor")
        sign_in(client, auditor.username)

        assert client.get(f"/admin/rectification/{built.slug}").status_code == 200
        refused = post_form(
            client, f"/admin/rectification/{built.slug}/problems/generate", token_from="/admin"
        )
        assert refused.status_code == 403


class TestOfficeJourney:
    def test_generate_assign_review_are_audited(self, client: TestClient, session: Session) -> None:
        built = published_with_comments(session)
        admin = make_staff(session)
        sign_in(client, admin.username)
        slug = built.slug

        assert (
            post_form(client, f"/admin/rectification/{slug}/problems/generate").status_code == 303
        )
        page = client.get(f"/admin/rectification/{slug}")
        assert "末位" in page.text
        assert "公开意见：窗口排队太久" in page.text
        north = built.campaign.targets[2]
        chosen = [
            str(p.id)
            for p in problems.problems_of(session, built.campaign)
            if p.target_id == north.id
        ]
        assigned = post_form(
            client,
            f"/admin/rectification/{slug}/tasks",
            {
                "department": built.north.code,
                "title": "提升窗口服务质量",
                "working_days": "10",
                "problems": chosen,
            },
        )
        assert assigned.status_code == 303

        actions = set(session.scalars(select(AuditEntry.action)))
        assert {"rectification_problems_generate", "rectification_task_assign"} <= actions


class TestExports:
    def test_register_lists_each_task(self, client: TestClient, session: Session) -> None:
        built = published_with_comments(session)
        task = _planned(session, built)
        admin = make_staff(session)
        sign_in(client, admin.username)

        response = post_form(client, f"/admin/rectification/{built.slug}/export/xlsx")

        assert response.status_code == 200
        sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
        rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
        assert rows[0][:3] == ["单位", "类别", "整改任务"]
        assert rows[1][0] == "北城区城管局"
        assert rows[1][2] == task.title
        assert rows[1][9] == "增设叫号机"
        assert "rectification_export" in set(session.scalars(select(AuditEntry.action)))

    def test_notice_pdf_has_a_chinese_text_layer(
        self, client: TestClient, session: Session
    ) -> None:
        try:
            fonts.find_cjk_font()
        except fonts.PdfFontMissing:
            pytest.skip("no CJK font installed")
        built = published_with_comments(session)
        _planned(session, built)
        admin = make_staff(session)
        sign_in(client, admin.username)

        response = post_form(client, f"/admin/rectification/{built.slug}/export/pdf")

        assert response.status_code == 200
        text = "".join(page.text for page in read_pdf(response.content))
        assert "整改情况通报" in text
        assert "北城区城管局" in text
        assert "提升窗口服务质量" in text


class TestPublicNotice:
    def test_shows_each_departments_tasks_and_status(
        self, client: TestClient, session: Session
    ) -> None:
        built = published_with_comments(session)
        task = _planned(session, built)
        task.status = TaskStatus.ACCEPTED

        page = client.get(f"/rectification/{built.slug}")

        assert page.status_code == 200
        assert "北城区城管局" in page.text
        assert "提升窗口服务质量" in page.text
        assert "已整改" in page.text
        assert "增设叫号机" not in page.text  # the plan is the department's, not published here
        assert "set-cookie" not in page.headers

    def test_unpublished_campaign_is_404(self, client: TestClient, session: Session) -> None:
        built = Published(session, publish=False)
        assert client.get(f"/rectification/{built.slug}").status_code == 404


class TestDashboard:
    def test_overdue_tasks_stand_out(self, client: TestClient, session: Session) -> None:
        built = published_with_comments(session)
        task = _task(session, built)
        task.deadline = service.today() - dt.timedelta(days=1)
        admin = make_staff(session)
        sign_in(client, admin.username)

        page = client.get("/admin")
        assert 'id="overdue-tasks"' in page.text
        assert "提升窗口服务质量" in page.text
