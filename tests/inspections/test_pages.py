"""The console's inspection pages, and what an inspector may and may not open."""

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.inspections import service as inspection_service
from tests.console import post_form, sign_in
from tests.factories import make_department, make_staff
from tests.inspections.helpers import PNG_BYTES, record
from tests.public.helpers import Published


def signed_in_inspector(client: TestClient, session: Session):  # type: ignore[no-untyped-def]
    inspector = make_staff(session, role="inspector")
    assert sign_in(client, inspector.username).status_code == 303
    return inspector


class TestInspectorRole:
    def test_cannot_open_campaigns_results_series_or_other_staff_pages(
        self, client: TestClient, session: Session
    ) -> None:
        published = Published(session)
        signed_in_inspector(client, session)

        home = client.get("/admin", follow_redirects=False)
        assert (home.status_code, home.headers["location"]) == (303, "/admin/inspections")
        for path in (
            "/admin/campaigns",
            f"/admin/campaigns/{published.slug}",
            f"/admin/campaigns/{published.slug}/results",
            f"/admin/campaigns/{published.slug}/turnout",
            "/admin/series",
            "/admin/audit",
            "/admin/departments",
            "/admin/inspections/bulletins",
            f"/admin/inspections/scores/{published.slug}",
        ):
            assert client.get(path, follow_redirects=False).status_code == 403, path

    def test_sees_only_own_findings(self, client: TestClient, session: Session) -> None:
        department = make_department(session)
        inspector = signed_in_inspector(client, session)
        own = record(session, inspector, department, category="本人登记")
        other = record(
            session, make_staff(session, role="inspector"), department, category="他人登记"
        )

        listing = client.get("/admin/inspections")

        assert listing.status_code == 200
        assert "本人登记" in listing.text
        assert "他人登记" not in listing.text
        assert client.get(f"/admin/inspections/{own.id}").status_code == 200
        assert client.get(f"/admin/inspections/{other.id}").status_code == 404
        # the menu offers the section and nothing else of the office's
        assert 'href="/admin/inspections"' in listing.text
        assert 'href="/admin/campaigns"' not in listing.text

    def test_records_a_finding_with_evidence_through_the_form(
        self, client: TestClient, session: Session
    ) -> None:
        department = make_department(session)
        inspector = signed_in_inspector(client, session)
        token_page = "/admin/inspections/new"

        response = client.post(
            "/admin/inspections/new",
            data={
                "csrftoken": _token(client, token_page),
                "department": department.code,
                "found_on": dt.date.today().isoformat(),
                "method": "site_visit",
                "category": "公开公示",
                "description": "办事指南未上墙公示。",
            },
            files={"evidence": ("现场.png", PNG_BYTES, "image/png")},
            follow_redirects=False,
        )

        assert response.status_code == 303
        [finding] = inspection_service.visible_findings(session, inspector)
        assert finding.category == "公开公示"
        assert len(finding.evidence) == 1
        download = client.get(f"/admin/inspections/{finding.id}/evidence/{finding.evidence[0].id}")
        assert download.content == PNG_BYTES
        assert download.headers["content-disposition"].startswith("attachment")
        assert download.headers["x-content-type-options"] == "nosniff"

    def test_a_disguised_file_is_refused_and_nothing_is_recorded(
        self, client: TestClient, session: Session
    ) -> None:
        department = make_department(session)
        inspector = signed_in_inspector(client, session)

        response = client.post(
            "/admin/inspections/new",
            data={
                "csrftoken": _token(client, "/admin/inspections/new"),
                "department": department.code,
                "found_on": dt.date.today().isoformat(),
                "method": "site_visit",
                "category": "公开公示",
                "description": "办事指南未上墙公示。",
            },
            files={"evidence": ("photo.png", b"<html><script>x</script></html>", "image/png")},
            follow_redirects=False,
        )

        assert response.status_code == 422
        assert inspection_service.visible_findings(session, inspector) == []


class TestOfficePages:
    def test_issues_a_bulletin_and_enters_scores(
        self, client: TestClient, session: Session
    ) -> None:
        published = Published(session, publish=False)
        admin = make_staff(session, role="admin")
        finding = record(session, admin, published.east)
        assert sign_in(client, admin.username).status_code == 303

        issued = post_form(
            client,
            "/admin/inspections/bulletins",
            {
                "title": "关于暗访情况的通报",
                "issuing_office": "某市效能办",
                "issued_on": "2026-12-06",
                "copy_to": "市纪委监委",
                "finding": [str(finding.id)],
            },
            token_from="/admin/inspections/bulletins",
        )
        assert issued.status_code == 303
        pdf = client.get(issued.headers["location"])
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF-")

        saved = post_form(
            client,
            f"/admin/inspections/scores/{published.slug}",
            {f"score_{published.east.code}": "87.5", f"score_{published.west.code}": ""},
            token_from=f"/admin/inspections/scores/{published.slug}",
        )
        assert saved.status_code == 303
        assert inspection_service.entered_scores(session, published.campaign) == {
            published.east.id: 87.5
        }
        refused = post_form(
            client,
            f"/admin/inspections/scores/{published.slug}",
            {f"score_{published.east.code}": "120"},
            token_from=f"/admin/inspections/scores/{published.slug}",
        )
        assert refused.status_code == 422


def _token(client: TestClient, path: str) -> str:
    from tests.console import csrf_token

    return csrf_token(client, path)
