"""The sealed ballot box in the office console: making the tally key, downloading each
trustee's share once, and opening the box with the trustees' shares."""

import datetime as dt
import json

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry
from app.ballot_box import console_shares, shares
from app.ballot_box import service as box_service
from app.ballot_box.models import EnteredShare, PendingShare, TallyKey
from app.ballots import service as ballot_service
from app.ballots.schemas import BallotIn, EvaluationIn
from app.campaigns import lifecycle
from app.campaigns.models import Campaign, CampaignStatus
from app.middleware.locale import LANGUAGE_COOKIE
from tests.console import csrf_token, post_form, sign_in
from tests.factories import (
    HASHING_KEY,
    answers_for,
    evaluation_count,
    issue_code,
    make_campaign,
    make_staff,
    trustee_shares,
)


def trustees_path(campaign: Campaign) -> str:
    return f"/admin/campaigns/{campaign.slug}/trustees"


def tally_path(campaign: Campaign) -> str:
    return f"/admin/campaigns/{campaign.slug}/tally"


def signed_in(client: TestClient, session: Session, role: str = "admin") -> str:
    user = make_staff(session, role=role)
    assert sign_in(client, user.username).status_code == 303
    client.cookies.set(LANGUAGE_COOKIE, "en")
    return user.username


def make_key(
    client: TestClient, campaign: Campaign, *, count: int = 3, threshold: int = 2, **extra: str
) -> httpx.Response:
    return post_form(
        client,
        trustees_path(campaign),
        {"count": str(count), "threshold": str(threshold), **extra},
        token_from=trustees_path(campaign),
    )


def download(client: TestClient, campaign: Campaign, trustee: int, fmt: str) -> httpx.Response:
    return post_form(
        client,
        f"{trustees_path(campaign)}/{trustee}/download/{fmt}",
        token_from=trustees_path(campaign),
    )


def audit_entries(session: Session, action: str) -> list[AuditEntry]:
    session.expire_all()
    return list(
        session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.sequence)
        )
    )


def pending_rows(session: Session, campaign: Campaign) -> list[PendingShare]:
    session.expire_all()
    return list(
        session.scalars(
            select(PendingShare)
            .where(PendingShare.campaign_id == campaign.id)
            .order_by(PendingShare.trustee)
        )
    )


def entered_rows(session: Session, campaign: Campaign) -> list[EnteredShare]:
    session.expire_all()
    return list(
        session.scalars(select(EnteredShare).where(EnteredShare.campaign_id == campaign.id))
    )


def status_of(session: Session, campaign: Campaign) -> CampaignStatus:
    session.expire_all()
    stored = session.get(Campaign, campaign.id)
    assert stored is not None
    return stored.status


class TestMakingTheKey:
    def test_a_draft_gets_its_key_and_the_browser_a_key_to_the_shares(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session, status=CampaignStatus.DRAFT, sealed_box=False)
        admin = signed_in(client, session)
        form = client.get(trustees_path(campaign))
        assert form.status_code == 200
        assert 'name="threshold"' in form.text

        response = make_key(client, campaign, count=3, threshold=2)

        assert response.status_code == 303
        assert response.headers["location"] == f"{trustees_path(campaign)}?made=1"
        [cookie] = [
            header
            for header in response.headers.get_list("set-cookie")
            if header.startswith(console_shares.SHARES_COOKIE + "=")
        ]
        assert f"Path={trustees_path(campaign)}" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert "Max-Age=86400" in cookie
        key = session.get(TallyKey, campaign.id)
        assert key is not None
        assert (key.share_count, key.threshold) == (3, 2)
        assert len(pending_rows(session, campaign)) == 3
        [entry] = audit_entries(session, "tally_key_create")
        assert entry.actor == admin
        assert entry.detail == {"fingerprint": key.fingerprint.hex(), "count": 3, "threshold": 2}
        page = client.get(response.headers["location"])
        assert box_service.tally_key_of(session, campaign) is not None
        assert "The tally key was made" in page.text
        assert page.text.count("/download/json") == 3

    def test_only_a_draft_gets_a_key(self, client: TestClient, session: Session) -> None:
        campaign = make_campaign(session, status=CampaignStatus.OPEN, sealed_box=False)
        signed_in(client, session)

        page = client.get(trustees_path(campaign))
        response = make_key(client, campaign)

        assert 'name="threshold"' not in page.text
        assert response.status_code == 409
        assert "only while the campaign is a draft" in response.text
        assert box_service.tally_key_of(session, campaign) is None
        assert pending_rows(session, campaign) == []

    def test_making_it_again_needs_a_confirmation(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session, status=CampaignStatus.DRAFT)
        before = box_service.tally_key_of(session, campaign)
        assert before is not None
        fingerprint = bytes(before.fingerprint)
        signed_in(client, session)

        refused = make_key(client, campaign, count=4, threshold=3)
        session.expire_all()
        assert refused.status_code == 422
        assert "Tick the box" in refused.text
        unchanged = box_service.tally_key_of(session, campaign)
        assert unchanged is not None
        assert bytes(unchanged.fingerprint) == fingerprint

        replaced = make_key(client, campaign, count=4, threshold=3, replace="yes")
        session.expire_all()
        assert replaced.status_code == 303
        key = box_service.tally_key_of(session, campaign)
        assert key is not None
        assert (key.share_count, key.threshold) == (4, 3)
        assert bytes(key.fingerprint) != fingerprint

    def test_an_impossible_threshold_is_explained(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session, status=CampaignStatus.DRAFT, sealed_box=False)
        signed_in(client, session)

        response = make_key(client, campaign, count=3, threshold=4)

        assert response.status_code == 422
        assert "at most the number of trustees" in response.text
        assert box_service.tally_key_of(session, campaign) is None

    def test_an_auditor_sees_the_key_but_cannot_make_one(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session, status=CampaignStatus.DRAFT)
        signed_in(client, session, role="auditor")
        key = box_service.tally_key_of(session, campaign)
        assert key is not None

        page = client.get(trustees_path(campaign))
        token = csrf_token(client, trustees_path(campaign))
        response = client.post(
            trustees_path(campaign),
            data={"csrftoken": token, "count": "3", "threshold": "2", "replace": "yes"},
        )

        assert page.status_code == 200
        assert key.fingerprint.hex()[:8] in page.text
        assert 'name="threshold"' not in page.text
        assert response.status_code == 403


class TestDownloadingShares:
    @pytest.fixture
    def campaign(self, client: TestClient, session: Session) -> Campaign:
        campaign = make_campaign(session, status=CampaignStatus.DRAFT, sealed_box=False)
        signed_in(client, session)
        assert make_key(client, campaign).status_code == 303
        return campaign

    def test_each_share_downloads_once_per_format(
        self, client: TestClient, session: Session, campaign: Campaign
    ) -> None:
        key = box_service.tally_key_of(session, campaign)
        assert key is not None

        as_file = download(client, campaign, 2, "json")
        again = download(client, campaign, 2, "json")
        as_page = download(client, campaign, 2, "pdf")

        assert as_file.status_code == 200
        assert as_file.headers["content-disposition"] == (
            f'attachment; filename="{campaign.slug}-trustee-2-of-3.json"'
        )
        assert as_file.headers["cache-control"] == "no-store"
        document = json.loads(as_file.content)
        assert (document["campaign"], document["trustee"]) == (campaign.slug, 2)
        assert document["fingerprint"] == key.fingerprint.hex()
        assert len(document["words"].split()) == 33
        assert again.status_code == 409
        assert "has already been downloaded" in again.text
        assert as_page.status_code == 200
        assert as_page.content.startswith(b"%PDF")
        assert as_page.headers["content-disposition"].endswith('-trustee-2-of-3.pdf"')
        assert [row.trustee for row in pending_rows(session, campaign)] == [1, 3]
        entries = audit_entries(session, "tally_share_download")
        assert [entry.detail for entry in entries] == [
            {"trustee": 2, "format": "json"},
            {"trustee": 2, "format": "pdf"},
        ]
        assert document["words"] not in json.dumps([e.detail for e in entries])

    def test_the_shares_can_be_opened_once_downloaded(
        self, client: TestClient, session: Session, campaign: Campaign
    ) -> None:
        key = box_service.tally_key_of(session, campaign)
        assert key is not None
        files = [download(client, campaign, n, "json").text for n in (1, 3)]

        rebuilt = shares.rebuild_key(
            [shares.parse_share(text, "file") for text in files],
            campaign_slug=campaign.slug,
            key_fingerprint=bytes(key.fingerprint),
            threshold=2,
        )

        assert rebuilt.fingerprint == bytes(key.fingerprint)

    def test_a_browser_without_the_cookie_is_refused_and_changes_nothing(
        self, client: TestClient, session: Session, campaign: Campaign
    ) -> None:
        saved = client.cookies.get(console_shares.SHARES_COOKIE, path=trustees_path(campaign))
        assert saved
        client.cookies.delete(console_shares.SHARES_COOKIE, path=trustees_path(campaign))

        refused = download(client, campaign, 1, "json")

        assert refused.status_code == 403
        assert "only in the browser" in refused.text
        assert not pending_rows(session, campaign)[0].json_taken
        client.cookies.set(console_shares.SHARES_COOKIE, saved, path=trustees_path(campaign))
        assert download(client, campaign, 1, "json").status_code == 200

    def test_another_administrator_in_the_same_browser_is_refused(
        self, client: TestClient, session: Session, campaign: Campaign
    ) -> None:
        signed_in(client, session)  # a second administrator, with the first one's cookie

        refused = download(client, campaign, 1, "pdf")

        assert refused.status_code == 403
        assert "by the account, that made the tally key" in refused.text
        assert not pending_rows(session, campaign)[0].pdf_taken
        assert audit_entries(session, "tally_share_download") == []

    def test_when_every_file_is_out_the_rows_and_the_cookie_go(
        self, client: TestClient, session: Session, campaign: Campaign
    ) -> None:
        last = None
        for trustee in (1, 2, 3):
            for fmt in ("json", "pdf"):
                last = download(client, campaign, trustee, fmt)
                assert last.status_code == 200

        assert pending_rows(session, campaign) == []
        assert last is not None
        assert any(
            header.startswith(console_shares.SHARES_COOKIE + "=;") and "Max-Age=0" in header
            for header in last.headers.get_list("set-cookie")
        )
        assert download(client, campaign, 1, "json").status_code == 410


def closed_with_ballots(session: Session, ballots: int) -> Campaign:
    campaign = make_campaign(session)
    for _ in range(ballots):
        code = issue_code(session, campaign, group="citizens")
        evaluations = [
            EvaluationIn(target=target.department.code, answers=answers_for(campaign))
            for target in campaign.targets
        ]
        ballot_service.submit_ballot(
            session, HASHING_KEY, BallotIn(code=code, evaluations=evaluations)
        )
    lifecycle.close_campaign(session, campaign, actor="test")
    return campaign


def enter_file(
    client: TestClient, campaign: Campaign, share: shares.Share, *, trustee: int, count: int = 3
) -> httpx.Response:
    """Upload a share as the file a trustee was given."""
    document = {
        "format": shares.FORMAT,
        "campaign": share.campaign,
        "title": "",
        "fingerprint": share.fingerprint,
        "trustee": trustee,
        "count": count,
        "threshold": 2,
        "words": share.words,
    }
    token = csrf_token(client, tally_path(campaign))
    return client.post(
        tally_path(campaign),
        data={"csrftoken": token},
        files={"share_file": ("share.json", json.dumps(document).encode(), "application/json")},
        follow_redirects=False,
    )


def enter_words(client: TestClient, campaign: Campaign, words: str) -> httpx.Response:
    return post_form(
        client, tally_path(campaign), {"words": words}, token_from=tally_path(campaign)
    )


class TestOpeningTheBox:
    def test_two_trustees_open_the_box_each_in_their_own_session(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = closed_with_ballots(session, ballots=3)
        first, second, _third = trustee_shares(campaign)
        trustee_a = signed_in(client, session, role="trustee")
        page = client.get(tally_path(campaign))
        assert page.status_code == 200
        assert 'id="ballots-in-box">3<' in page.text

        kept = enter_file(client, campaign, first, trustee=1)

        assert kept.status_code == 303
        assert kept.headers["location"] == f"{tally_path(campaign)}?entered=1"
        [row] = entered_rows(session, campaign)
        assert (row.trustee, row.entered_by) == (1, trustee_a)
        for word in set(first.words.split()):
            assert word.encode() not in row.ciphertext
        assert status_of(session, campaign) == CampaignStatus.CLOSED
        assert evaluation_count(session, campaign) == 0
        shown = client.get(kept.headers["location"])
        assert "The share of trustee 1 was entered" in shown.text
        assert trustee_a in shown.text

        trustee_b = signed_in(client, session, role="trustee")
        opened = enter_words(client, campaign, second.words.upper())

        assert opened.status_code == 303
        assert opened.headers["location"] == f"/admin/campaigns/{campaign.slug}#tally"
        assert status_of(session, campaign) == CampaignStatus.TALLIED
        assert evaluation_count(session, campaign) == 6  # 3 ballots x 2 departments
        assert entered_rows(session, campaign) == []
        entries = audit_entries(session, "tally_share_enter")
        assert [entry.detail for entry in entries] == [
            {"trustee": 1, "entered_by": trustee_a},
            {"trustee": 2, "entered_by": trustee_b, "opens_box": True},
        ]
        [tallied] = audit_entries(session, "campaign_tally")
        assert tallied.actor == trustee_b
        assert tallied.detail["ballots_counted"] == 3
        detail = client.get(f"/admin/campaigns/{campaign.slug}")
        assert "3 of the 3 ballots in it were counted" in detail.text

    def test_an_auditor_cannot_enter_a_share(self, client: TestClient, session: Session) -> None:
        campaign = closed_with_ballots(session, ballots=1)
        signed_in(client, session, role="auditor")
        token = csrf_token(client, "/admin")

        page = client.get(tally_path(campaign))
        response = client.post(
            tally_path(campaign),
            data={"csrftoken": token, "words": trustee_shares(campaign)[0].words},
        )

        assert page.status_code == 403
        assert response.status_code == 403
        assert entered_rows(session, campaign) == []

    def test_a_share_of_another_campaign_is_refused_and_changes_nothing(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = closed_with_ballots(session, ballots=1)
        other = make_campaign(session, status=CampaignStatus.CLOSED)
        signed_in(client, session, role="trustee")
        assert enter_file(client, campaign, trustee_shares(campaign)[0], trustee=1).is_redirect

        response = enter_file(client, campaign, trustee_shares(other)[1], trustee=2)

        assert response.status_code == 422
        assert f"is a share of campaign “{other.slug}”, not of “{campaign.slug}”" in response.text
        assert [row.trustee for row in entered_rows(session, campaign)] == [1]
        assert status_of(session, campaign) == CampaignStatus.CLOSED
        assert len(audit_entries(session, "tally_share_enter")) == 1

    def test_the_same_trustee_twice_is_refused_and_changes_nothing(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = closed_with_ballots(session, ballots=1)
        first = trustee_shares(campaign)[0]
        trustee_a = signed_in(client, session, role="trustee")
        assert enter_words(client, campaign, first.words).is_redirect
        signed_in(client, session, role="trustee")

        response = enter_words(client, campaign, first.words)

        assert response.status_code == 422
        assert f"trustee 1 has already been entered (by {trustee_a})" in response.text
        assert [row.entered_by for row in entered_rows(session, campaign)] == [trustee_a]
        assert status_of(session, campaign) == CampaignStatus.CLOSED

    def test_words_typed_in_the_browser_form_with_no_file_chosen_are_taken(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = closed_with_ballots(session, ballots=1)
        signed_in(client, session, role="trustee")
        token = csrf_token(client, tally_path(campaign))

        response = client.post(
            tally_path(campaign),
            data={"csrftoken": token, "words": trustee_shares(campaign)[1].words},
            files={"share_file": ("", b"", "application/octet-stream")},
            follow_redirects=False,
        )

        assert response.status_code == 303
        assert [row.trustee for row in entered_rows(session, campaign)] == [2]

    def test_nothing_given_is_explained(self, client: TestClient, session: Session) -> None:
        campaign = closed_with_ballots(session, ballots=1)
        signed_in(client, session, role="trustee")

        response = enter_words(client, campaign, "  ")

        assert response.status_code == 422
        assert "Choose a share file, or type the share" in response.text

    def test_mistyped_words_are_refused(self, client: TestClient, session: Session) -> None:
        campaign = closed_with_ballots(session, ballots=1)
        signed_in(client, session, role="trustee")
        words = trustee_shares(campaign)[0].words.split()
        words[5], words[6] = words[6], words[5]

        response = enter_words(client, campaign, " ".join(words))

        assert response.status_code == 422
        assert "damaged or mistyped" in response.text
        assert entered_rows(session, campaign) == []

    def test_an_open_campaign_takes_no_share(self, client: TestClient, session: Session) -> None:
        campaign = make_campaign(session, status=CampaignStatus.OPEN)
        signed_in(client, session, role="trustee")

        page = client.get(tally_path(campaign))
        response = enter_words(client, campaign, trustee_shares(campaign)[0].words)

        assert 'name="words"' not in page.text
        assert response.status_code == 409
        assert entered_rows(session, campaign) == []

    def test_an_administrator_can_discard_the_shares_entered(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = closed_with_ballots(session, ballots=1)
        admin = signed_in(client, session)
        assert enter_words(client, campaign, trustee_shares(campaign)[2].words).is_redirect

        response = post_form(
            client, f"{tally_path(campaign)}/discard", token_from=tally_path(campaign)
        )

        assert response.status_code == 303
        assert entered_rows(session, campaign) == []
        [entry] = audit_entries(session, "tally_shares_discard")
        assert (entry.actor, entry.detail) == (admin, {"discarded": 1})

    def test_a_trustee_cannot_discard(self, client: TestClient, session: Session) -> None:
        campaign = closed_with_ballots(session, ballots=1)
        signed_in(client, session, role="trustee")
        assert enter_words(client, campaign, trustee_shares(campaign)[2].words).is_redirect

        response = post_form(
            client, f"{tally_path(campaign)}/discard", token_from=tally_path(campaign)
        )

        assert response.status_code == 403
        assert len(entered_rows(session, campaign)) == 1


class TestWithoutATallyKey:
    def test_a_campaign_opened_before_the_box_is_counted_without_shares(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session, status=CampaignStatus.CLOSED, sealed_box=False)
        signed_in(client, session, role="trustee")
        page = client.get(tally_path(campaign))
        assert "no share needed" in page.text

        response = post_form(client, tally_path(campaign), token_from=tally_path(campaign))

        assert response.status_code == 303
        assert status_of(session, campaign) == CampaignStatus.TALLIED


class TestExpiredShares:
    def test_showing_the_page_deletes_expired_shares(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session, status=CampaignStatus.DRAFT, sealed_box=False)
        signed_in(client, session)
        assert make_key(client, campaign).status_code == 303
        session.execute(
            update(PendingShare)
            .where(PendingShare.campaign_id == campaign.id)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )

        page = client.get(trustees_path(campaign))

        assert page.status_code == 200
        assert "/download/" not in page.text
        assert pending_rows(session, campaign) == []


class TestCampaignPage:
    def test_a_closed_campaign_shows_its_key_and_the_way_to_the_tally(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session, status=CampaignStatus.CLOSED)
        key = box_service.tally_key_of(session, campaign)
        assert key is not None
        signed_in(client, session, role="trustee")

        page = client.get(f"/admin/campaigns/{campaign.slug}")

        assert page.status_code == 200
        assert "Tally key" in page.text
        assert key.fingerprint.hex()[:8] in page.text
        assert f'href="{tally_path(campaign)}"' in page.text
        assert "Open the ballot box…" in page.text
        assert f'href="{trustees_path(campaign)}"' in page.text

    def test_opening_without_a_key_is_refused_with_the_way_to_make_one(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session, status=CampaignStatus.DRAFT, sealed_box=False)
        signed_in(client, session)

        confirm = client.get(f"/admin/campaigns/{campaign.slug}/open")
        refused = post_form(
            client, f"/admin/campaigns/{campaign.slug}/open", token_from=trustees_path(campaign)
        )

        for response in (confirm, refused):
            assert "cannot open without a tally key" in response.text
            assert f'href="{trustees_path(campaign)}#make"' in response.text
        assert refused.status_code == 409
        assert status_of(session, campaign) == CampaignStatus.DRAFT

    def test_the_status_badge_names_a_tallied_campaign(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session, status=CampaignStatus.TALLIED)
        signed_in(client, session)

        page = client.get(f"/admin/campaigns/{campaign.slug}")

        assert 'class="status status-tallied">Tallied<' in page.text
