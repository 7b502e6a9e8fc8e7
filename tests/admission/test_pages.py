"""Code batches in the office console: issue, list, download each file once, revoke."""

import csv
import datetime as dt
import io
import json
import logging
import re

import httpx
import pypdfium2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.admission import codes as code_format
from app.admission import pending as pending_codes
from app.admission import service as admission_service
from app.admission.models import CodeBatch, CodeStatus, PendingCodes
from app.audit.models import AuditEntry
from app.campaigns.models import Campaign, CampaignStatus
from app.middleware.locale import LANGUAGE_COOKIE
from app.reports import fonts
from app.reports.fonts import PdfFontMissing
from tests.console import post_form, sign_in
from tests.factories import HASHING_KEY, answers_for, code_status, make_campaign, make_staff

CODE_PATTERN = re.compile(r"\b[0-9A-Z]{4}(?:-[0-9A-Z]{4}){4}\b")


def codes_page(campaign: Campaign) -> str:
    return f"/admin/campaigns/{campaign.slug}/codes"


def signed_in_admin(client: TestClient, session: Session) -> None:
    admin = make_staff(session, role="admin")
    assert sign_in(client, admin.username).status_code == 303
    client.cookies.set(LANGUAGE_COOKIE, "en")  # English texts, as the language switch sets


def issue(
    client: TestClient,
    campaign: Campaign,
    *,
    group: str = "citizens",
    count: int | str = 5,
    target: str = "",
) -> httpx.Response:
    return post_form(
        client,
        codes_page(campaign),
        {"group": group, "count": str(count), "target": target},
        token_from=codes_page(campaign),
    )


def download(client: TestClient, campaign: Campaign, batch_id: int, fmt: str) -> httpx.Response:
    return post_form(
        client,
        f"{codes_page(campaign)}/{batch_id}/download/{fmt}",
        token_from=codes_page(campaign),
    )


def batches(session: Session, campaign: Campaign) -> list[CodeBatch]:
    session.expire_all()
    return list(
        session.scalars(
            select(CodeBatch).where(CodeBatch.campaign_id == campaign.id).order_by(CodeBatch.id)
        )
    )


def issued_batch(
    client: TestClient,
    session: Session,
    campaign: Campaign,
    *,
    group: str = "citizens",
    count: int = 5,
    target: str = "",
) -> int:
    """Issue a batch through the console; its id."""
    response = issue(client, campaign, group=group, count=count, target=target)
    assert response.status_code == 303
    return batches(session, campaign)[-1].id


def csv_codes(response: httpx.Response) -> list[str]:
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8"))))
    assert rows[0] == ["campaign", "rater_group", "target", "code"]
    return [row[3] for row in rows[1:]]


def audit_entries(session: Session, action: str | None = None) -> list[AuditEntry]:
    session.expire_all()
    query = select(AuditEntry).order_by(AuditEntry.sequence)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return list(session.scalars(query))


def pending_row(session: Session, batch_id: int) -> PendingCodes | None:
    session.expire_all()
    return session.get(PendingCodes, batch_id)


def issued_batch_directly(session: Session, campaign: Campaign) -> int:
    """A batch held for download, made through the services, as an administrator would."""
    issued = admission_service.issue_codes(
        session, campaign, hashing_key=HASHING_KEY, group_key="citizens", count=2
    )
    pending_codes.hold_for_download(
        session,
        issued,
        pending_codes.pending_codes_key(b"test-secret-key"),
        lifetime=pending_codes.PENDING_LIFETIME,
    )
    return issued.batch.id


class TestBatchList:
    def test_lists_batches_with_group_scope_size_and_status(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        department = campaign.targets[1].department
        signed_in_admin(client, session)
        issued_batch(client, session, campaign, group="citizens", count=3)
        scoped = issued_batch(
            client, session, campaign, group="cadres", count=4, target=department.code
        )

        page = client.get(codes_page(campaign))

        assert page.status_code == 200
        assert "Citizens" in page.text
        assert "Cadres" in page.text
        assert "All targets" in page.text
        assert f"{department.name} ({department.code})" in page.text
        assert f'id="batch-{scoped}"' in page.text
        assert "Revoke…" in page.text

    def test_a_campaign_without_batches_says_so(self, client: TestClient, session: Session) -> None:
        campaign = make_campaign(session)
        signed_in_admin(client, session)

        page = client.get(codes_page(campaign))

        assert "No codes issued yet." in page.text

    def test_unknown_campaign_is_404(self, client: TestClient, session: Session) -> None:
        signed_in_admin(client, session)

        assert client.get("/admin/campaigns/no-such-campaign/codes").status_code == 404


class TestIssuing:
    def test_issuing_redirects_to_the_list_with_two_downloads_and_a_warning(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        signed_in_admin(client, session)

        response = issue(client, campaign, count=5)

        assert response.status_code == 303
        (batch,) = batches(session, campaign)
        assert batch.size == 5
        assert response.headers["location"] == f"{codes_page(campaign)}?issued={batch.id}"
        page = client.get(response.headers["location"])
        assert f"Batch {batch.id} was issued." in page.text
        assert f"/codes/{batch.id}/download/csv" in page.text
        assert f"/codes/{batch.id}/download/pdf" in page.text
        assert "can be downloaded only once" in page.text
        assert "24 hours" in page.text
        assert CODE_PATTERN.search(page.text) is None

    def test_issuing_is_audited_without_any_code(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        department = campaign.targets[0].department
        signed_in_admin(client, session)

        batch_id = issued_batch(client, session, campaign, count=2, target=department.code)

        (entry,) = audit_entries(session, "codes_issue")
        assert entry.object == f"campaign:{campaign.slug}"
        assert entry.detail == {
            "batch": batch_id,
            "rater_group": "citizens",
            "target": department.code,
            "count": 2,
        }

    def test_codes_are_held_encrypted_until_downloaded(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        signed_in_admin(client, session)

        batch_id = issued_batch(client, session, campaign, count=3)

        row = pending_row(session, batch_id)
        assert row is not None
        assert not row.csv_taken
        assert not row.pdf_taken
        expires_at = row.expires_at.replace(tzinfo=row.expires_at.tzinfo or dt.UTC)
        remaining = expires_at - dt.datetime.now(dt.UTC)
        assert dt.timedelta(hours=23) < remaining <= dt.timedelta(hours=24)

    @pytest.mark.parametrize("count", ["0", "-3", "many", "200001", ""])
    def test_a_bad_count_is_refused_in_place_keeping_the_input(
        self, client: TestClient, session: Session, count: str
    ) -> None:
        campaign = make_campaign(session)
        signed_in_admin(client, session)

        response = issue(client, campaign, count=count)

        assert response.status_code == 422
        assert "The number of codes must be between 1 and 200000." in response.text
        assert f'value="{count}"' in response.text
        assert 'aria-invalid="true"' in response.text
        assert batches(session, campaign) == []
        assert audit_entries(session, "codes_issue") == []

    def test_a_department_outside_the_campaign_is_refused(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        signed_in_admin(client, session)

        response = issue(client, campaign, count=2, target="NOT-A-TARGET")

        assert response.status_code == 422
        assert "NOT-A-TARGET" in response.text
        assert batches(session, campaign) == []

    def test_a_closed_campaign_has_no_issue_form_and_refuses_codes(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session, status=CampaignStatus.CLOSED)
        signed_in_admin(client, session)

        page = client.get(codes_page(campaign))
        response = issue(client, campaign, count=2)

        assert 'name="count"' not in page.text
        assert "Codes can be issued only while a campaign is a draft or open." in page.text
        assert response.status_code == 422
        assert batches(session, campaign) == []


class TestDownloading:
    def test_csv_holds_the_codes_once(self, client: TestClient, session: Session) -> None:
        campaign = make_campaign(session)
        signed_in_admin(client, session)
        batch_id = issued_batch(client, session, campaign, count=5)

        first = download(client, campaign, batch_id, "csv")
        second = download(client, campaign, batch_id, "csv")

        assert first.status_code == 200
        assert first.headers["content-type"] == "text/csv; charset=utf-8"
        assert first.headers["content-disposition"] == (
            f'attachment; filename="codes-{campaign.slug}-{batch_id}.csv"'
        )
        assert first.headers["cache-control"] == "no-store"
        codes = csv_codes(first)
        assert len(set(codes)) == 5
        assert all(code_status(session, code) == CodeStatus.UNUSED for code in codes)
        assert second.status_code == 409
        assert "has already been downloaded" in second.text
        assert CODE_PATTERN.search(second.text) is None

    def test_pdf_of_25_codes_is_a_real_three_page_pdf_once(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        signed_in_admin(client, session)
        batch_id = issued_batch(client, session, campaign, count=25)

        first = download(client, campaign, batch_id, "pdf")
        second = download(client, campaign, batch_id, "pdf")

        assert first.status_code == 200
        assert first.headers["content-type"] == "application/pdf"
        assert first.headers["content-disposition"] == (
            f'attachment; filename="codes-{campaign.slug}-{batch_id}.pdf"'
        )
        assert first.content.startswith(b"%PDF")
        document = pypdfium2.PdfDocument(first.content)
        try:
            assert len(document) == 3  # ten slips to a page
            first_page = document[0].get_textpage().get_text_range()
        finally:
            document.close()
        assert "评议码" in first_page
        assert second.status_code == 409

    def test_both_files_hold_the_same_codes_then_nothing_is_left(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        signed_in_admin(client, session)
        batch_id = issued_batch(client, session, campaign, count=12)

        codes = csv_codes(download(client, campaign, batch_id, "csv"))
        pdf = download(client, campaign, batch_id, "pdf")

        assert pdf.status_code == 200
        document = pypdfium2.PdfDocument(pdf.content)
        try:
            text = "".join(page.get_textpage().get_text_range() for page in document)
        finally:
            document.close()
        assert all(code in text for code in codes)
        assert pending_row(session, batch_id) is None
        page = client.get(codes_page(campaign))
        assert f"/codes/{batch_id}/download/" not in page.text
        assert "None left" in page.text

    @pytest.mark.server_error
    def test_a_pdf_that_cannot_be_made_is_not_counted_as_downloaded(
        self, client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        campaign = make_campaign(session)
        signed_in_admin(client, session)
        batch_id = issued_batch(client, session, campaign, count=2)

        def no_font() -> None:
            raise PdfFontMissing()

        monkeypatch.setattr(fonts, "find_cjk_font", no_font)
        failed = download(client, campaign, batch_id, "pdf")
        monkeypatch.undo()
        retried = download(client, campaign, batch_id, "pdf")

        assert failed.status_code == 500
        assert "fonts-noto-cjk" in failed.text
        assert retried.status_code == 200
        assert retried.content.startswith(b"%PDF")
        assert len(audit_entries(session, "codes_download")) == 1

    def test_downloaded_codes_work_for_rating(self, client: TestClient, session: Session) -> None:
        campaign = make_campaign(session)
        signed_in_admin(client, session)
        batch_id = issued_batch(client, session, campaign, count=3)
        code = csv_codes(download(client, campaign, batch_id, "csv"))[0]

        response = client.post(
            "/api/v1/ballots",
            json={
                "code": code,
                "evaluations": [
                    {
                        "target": campaign.targets[0].department.code,
                        "answers": answers_for(campaign),
                    }
                ],
            },
        )

        assert response.status_code == 201
        assert code_status(session, code) == CodeStatus.USED

    def test_the_remaining_format_is_still_offered(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        signed_in_admin(client, session)
        batch_id = issued_batch(client, session, campaign, count=2)

        download(client, campaign, batch_id, "csv")
        page = client.get(codes_page(campaign))

        assert f"/codes/{batch_id}/download/csv" not in page.text
        assert f"/codes/{batch_id}/download/pdf" in page.text

    def test_expired_codes_are_refused_and_deleted(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        signed_in_admin(client, session)
        batch_id = issued_batch(client, session, campaign, count=2)
        session.execute(
            update(PendingCodes)
            .where(PendingCodes.batch_id == batch_id)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )

        response = download(client, campaign, batch_id, "csv")

        assert response.status_code == 410
        assert "were not downloaded in time" in response.text
        assert pending_row(session, batch_id) is None
        assert audit_entries(session, "codes_download") == []

    def test_downloads_are_audited_with_their_format_only(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        signed_in_admin(client, session)
        batch_id = issued_batch(client, session, campaign, count=2)

        download(client, campaign, batch_id, "pdf")
        download(client, campaign, batch_id, "csv")
        download(client, campaign, batch_id, "csv")  # refused: not audited

        entries = audit_entries(session, "codes_download")
        assert [entry.detail for entry in entries] == [
            {"batch": batch_id, "format": "pdf"},
            {"batch": batch_id, "format": "csv"},
        ]
        assert {entry.object for entry in entries} == {f"campaign:{campaign.slug}"}

    def test_a_download_is_a_post_with_a_csrf_token(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        signed_in_admin(client, session)
        batch_id = issued_batch(client, session, campaign, count=2)
        path = f"{codes_page(campaign)}/{batch_id}/download/csv"

        assert client.get(path).status_code == 405
        assert client.post(path).status_code == 403
        row = pending_row(session, batch_id)
        assert row is not None
        assert not row.csv_taken

    def test_another_campaigns_batch_is_404(self, client: TestClient, session: Session) -> None:
        campaign = make_campaign(session)
        other = make_campaign(session)
        signed_in_admin(client, session)
        batch_id = issued_batch(client, session, other, count=2)

        response = download(client, campaign, batch_id, "csv")

        assert response.status_code == 404
        row = pending_row(session, batch_id)
        assert row is not None
        assert not row.csv_taken

    def test_an_unknown_format_is_refused(self, client: TestClient, session: Session) -> None:
        campaign = make_campaign(session)
        signed_in_admin(client, session)
        batch_id = issued_batch(client, session, campaign, count=2)

        response = download(client, campaign, batch_id, "xlsx")

        assert response.status_code == 422
        assert pending_row(session, batch_id) is not None


class TestRevoking:
    def test_confirmation_then_revoke_stops_unused_codes_and_drops_held_ones(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        signed_in_admin(client, session)
        batch_id = issued_batch(client, session, campaign, count=3)
        codes = csv_codes(download(client, campaign, batch_id, "csv"))
        confirm_path = f"{codes_page(campaign)}/{batch_id}/revoke"

        confirmation = client.get(confirm_path)
        response = post_form(client, confirm_path, token_from=confirm_path)

        assert confirmation.status_code == 200
        assert f"Revoke batch {batch_id}" in confirmation.text
        assert "This cannot be undone." in confirmation.text
        assert response.status_code == 303
        assert response.headers["location"] == f"{codes_page(campaign)}?revoked={batch_id}"
        assert all(code_status(session, code) == CodeStatus.REVOKED for code in codes)
        assert pending_row(session, batch_id) is None
        (entry,) = audit_entries(session, "codes_revoke")
        assert entry.detail == {"batch": batch_id}
        page = client.get(response.headers["location"])
        assert f"Batch {batch_id} was revoked" in page.text
        assert "Revoked" in page.text
        assert f"/codes/{batch_id}/download/" not in page.text

    def test_a_revoked_batchs_confirmation_offers_no_button(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        signed_in_admin(client, session)
        batch_id = issued_batch(client, session, campaign, count=1)
        confirm_path = f"{codes_page(campaign)}/{batch_id}/revoke"
        post_form(client, confirm_path, token_from=confirm_path)

        page = client.get(confirm_path)

        assert "This batch has already been revoked." in page.text
        assert 'method="post" action="' + confirm_path not in page.text

    def test_unknown_batch_is_404(self, client: TestClient, session: Session) -> None:
        campaign = make_campaign(session)
        signed_in_admin(client, session)

        assert client.get(f"{codes_page(campaign)}/999999/revoke").status_code == 404


class TestNoCodeLeaks:
    def test_no_code_in_the_audit_trail_a_url_a_page_or_a_log_line(
        self, client: TestClient, session: Session, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        campaign = make_campaign(session)
        signed_in_admin(client, session)
        seen_urls: list[str] = []
        pages: list[str] = []

        def note(response: httpx.Response) -> httpx.Response:
            seen_urls.append(str(response.request.url))
            seen_urls.extend(str(r.request.url) for r in response.history)
            if "location" in response.headers:
                seen_urls.append(response.headers["location"])
            if response.headers.get("content-type", "").startswith("text/html"):
                pages.append(response.text)
            return response

        batch_id = issued_batch(client, session, campaign, count=12)
        scoped_id = issued_batch(
            client, session, campaign, count=3, target=campaign.targets[0].department.code
        )
        note(client.get(f"{codes_page(campaign)}?issued={batch_id}"))
        codes = csv_codes(note(download(client, campaign, batch_id, "csv")))
        note(download(client, campaign, batch_id, "pdf"))
        note(download(client, campaign, batch_id, "csv"))
        codes += csv_codes(note(download(client, campaign, scoped_id, "csv")))
        confirm_path = f"{codes_page(campaign)}/{scoped_id}/revoke"
        note(client.get(confirm_path))
        note(post_form(client, confirm_path, token_from=confirm_path))
        note(client.get(codes_page(campaign)))

        forms = {
            form
            for code in codes
            for form in (code, code_format.normalize(code), code.replace("-", "").lower())
        }
        assert len(codes) == 15
        entries = audit_entries(session)
        assert {entry.action for entry in entries} >= {
            "codes_issue",
            "codes_download",
            "codes_revoke",
        }
        trail = json.dumps(
            [[e.actor, e.action, e.object, e.detail] for e in entries], ensure_ascii=False
        )
        logged = "\n".join(record.getMessage() for record in caplog.records)
        links = [link for page in pages for link in re.findall(r'(?:href|action)="([^"]*)"', page)]
        for form in forms:
            assert form not in trail
            assert form not in logged
            assert all(form not in url for url in seen_urls + links)
            assert all(form not in page for page in pages)


class TestPermissions:
    @pytest.mark.parametrize("role", ["auditor", "liaison"])
    def test_roles_without_issue_codes_get_403_everywhere(
        self, client: TestClient, session: Session, role: str
    ) -> None:
        campaign = make_campaign(session)
        admin_batch = issued_batch_directly(session, campaign)
        user = make_staff(session, role=role, department=campaign.targets[0].department)
        sign_in(client, user.username)
        base = codes_page(campaign)

        assert client.get(base).status_code == 403
        assert client.get(f"{base}/{admin_batch}/revoke").status_code == 403
        for path, data in [
            (base, {"group": "citizens", "count": "2"}),
            (f"{base}/{admin_batch}/download/csv", {}),
            (f"{base}/{admin_batch}/download/pdf", {}),
            (f"{base}/{admin_batch}/revoke", {}),
        ]:
            assert post_form(client, path, data).status_code == 403, path
        assert len(batches(session, campaign)) == 1
        row = pending_row(session, admin_batch)
        assert row is not None
        assert not row.csv_taken
        assert not row.pdf_taken
        assert not batches(session, campaign)[0].revoked

    def test_signed_out_visitors_are_sent_to_sign_in(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)

        response = client.get(codes_page(campaign), follow_redirects=False)

        assert response.status_code == 303
        assert response.headers["location"].startswith("/admin/login")
