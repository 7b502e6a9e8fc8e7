"""The public verification page ``/verify/{slug}``: keys before close; after close also the
counts per rater group (withheld below the threshold) and the receipt hashes, with a receipt
check that posts, is not logged and stores nothing.
"""

import hashlib
import logging
import secrets

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from app.admission import codes as admission_codes
from app.admission.models import AdmissionCode, CodeStatus
from app.ballots import receipts
from app.ballots.models import Evaluation
from app.campaigns.models import Campaign, CampaignStatus
from app.credentials import verify_pages
from app.credentials.models import CredentialKey, Receipt, RosterMember
from tests.credentials.test_sealing import public_key
from tests.factories import HASHING_KEY, issue_codes, make_campaign
from tests.public.test_pages import TableRows

THRESHOLD = 3


def add_keys(session: Session, campaign: Campaign) -> list[CredentialKey]:
    """An all-departments key per rater group and one scoped to the first department."""
    der, fingerprint = public_key()
    scopes = [(group, None) for group in campaign.rater_groups]
    scopes.append((campaign.rater_groups[0], campaign.targets[0]))
    keys = [
        CredentialKey(
            campaign_id=campaign.id,
            rater_group_id=group.id,
            target_id=target.id if target else None,
            public_key=der,
            fingerprint=fingerprint,
            private_key=None,
        )
        for group, target in scopes
    ]
    session.add_all(keys)
    session.flush()
    return keys


def exchange_vouchers(session: Session, campaign: Campaign, group: str, count: int) -> None:
    """``count`` codes exchanged for credentials, and one more used to rate directly."""
    for index, code in enumerate(issue_codes(session, campaign, group=group, count=count + 1)):
        hashed = admission_codes.keyed_hash(HASHING_KEY, admission_codes.normalize(code))
        blinded = secrets.token_bytes(32) if index < count else None
        session.execute(
            update(AdmissionCode)
            .where(AdmissionCode.code_hash == hashed)
            .values(status=CodeStatus.USED, blinded_hash=blinded)
        )


def add_roster(session: Session, campaign: Campaign, group_index: int, issued: int) -> None:
    session.execute(
        insert(RosterMember),
        [
            {
                "campaign_id": campaign.id,
                "rater_group_id": campaign.rater_groups[group_index].id,
                "identifier_hash": secrets.token_bytes(32),
                "password_hash": "not a real hash",
                "credential_issued": index < issued,
                "blinded_hash": secrets.token_bytes(32) if index < issued else None,
            }
            for index in range(issued + 2)
        ],
    )


def add_evaluations(session: Session, campaign: Campaign, group_index: int, count: int) -> None:
    session.add_all(
        Evaluation(
            campaign_id=campaign.id,
            target_id=campaign.targets[0].id,
            rater_group_id=campaign.rater_groups[group_index].id,
            answers="54-",
        )
        for _ in range(count)
    )
    session.flush()


def add_receipts(session: Session, campaign: Campaign, count: int) -> list[str]:
    issued = [receipts.new_receipt() for _ in range(count)]
    session.add_all(
        Receipt(receipt_hash=receipts.receipt_hash(receipt), campaign_id=campaign.id)
        for receipt in issued
    )
    session.flush()
    return issued


@pytest.fixture
def campaign(session: Session) -> Campaign:
    """Citizens: 2 vouchers exchanged + 2 roster members served, 5 evaluations (all shown).
    Cadres: 1 roster member served, 2 evaluations (both withheld). 4 receipts."""
    campaign = make_campaign(session, threshold=THRESHOLD)
    add_keys(session, campaign)
    exchange_vouchers(session, campaign, "citizens", 2)
    add_roster(session, campaign, 0, issued=2)
    add_roster(session, campaign, 1, issued=1)
    add_evaluations(session, campaign, 0, 5)
    add_evaluations(session, campaign, 1, 2)
    return campaign


@pytest.fixture
def closed(session: Session, campaign: Campaign) -> tuple[Campaign, list[str]]:
    issued = add_receipts(session, campaign, 4)
    campaign.status = CampaignStatus.CLOSED
    session.flush()
    return campaign, issued


def rows(page: str) -> list[list[str]]:
    parser = TableRows()
    parser.feed(page)
    return parser.rows


class TestWhoSeesWhat:
    def test_unknown_campaign_is_404(self, client: TestClient) -> None:
        assert client.get("/verify/no-such-campaign").status_code == 404

    def test_draft_campaign_is_404_like_an_unknown_one(
        self, client: TestClient, session: Session
    ) -> None:
        draft = make_campaign(session, status=CampaignStatus.DRAFT)
        add_keys(session, draft)
        assert client.get(f"/verify/{draft.slug}").status_code == 404
        key = session.scalars(select(CredentialKey).where(CredentialKey.campaign_id == draft.id))
        assert client.get(f"/verify/{draft.slug}/keys/{key.first().id}.der").status_code == 404

    def test_no_cookie_no_cache_and_no_log_line(
        self,
        client: TestClient,
        closed: tuple[Campaign, list[str]],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        campaign, issued = closed
        with caplog.at_level(logging.INFO, logger="pingyi.requests"):
            page = client.get(f"/verify/{campaign.slug}")
            check = client.post(f"/verify/{campaign.slug}", data={"receipt": issued[0]})
        for response in (page, check):
            assert response.status_code == 200
            assert "set-cookie" not in response.headers
            assert response.headers["cache-control"] == "no-store"
            assert response.headers["referrer-policy"] == "no-referrer"
        assert caplog.records == []


class TestKeys:
    def test_open_campaign_shows_its_keys_and_nothing_else(
        self, client: TestClient, campaign: Campaign
    ) -> None:
        response = client.get(f"/verify/{campaign.slug}?lang=en")
        assert response.status_code == 200
        page = response.text
        fingerprint = public_key()[1].hex()
        grouped = " ".join(fingerprint[i : i + 4] for i in range(0, 64, 4))
        assert page.count(grouped) == 3
        table = rows(page)
        assert table[0] == ["Rater group", "Departments", "SHA-256 fingerprint", "Public key"]
        department = campaign.targets[0].department.name
        assert [row[:2] for row in table[1:]] == [
            ["Citizens", "all departments of the campaign"],
            ["Citizens", department],
            ["Cadres", "all departments of the campaign"],
        ]
        assert "Credentials issued" not in page
        assert "Receipt hashes" not in page
        assert 'method="post"' not in page

    def test_chinese_by_default(self, client: TestClient, campaign: Campaign) -> None:
        page = client.get(f"/verify/{campaign.slug}").text
        assert 'lang="zh-CN"' in page
        assert "群众" in page

    def test_downloaded_key_hashes_to_the_fingerprint(
        self, client: TestClient, session: Session, campaign: Campaign
    ) -> None:
        key = session.scalars(
            select(CredentialKey).where(CredentialKey.campaign_id == campaign.id)
        ).first()
        assert key is not None
        page = client.get(f"/verify/{campaign.slug}").text
        assert f'href="/verify/{campaign.slug}/keys/{key.id}.der"' in page

        response = client.get(f"/verify/{campaign.slug}/keys/{key.id}.der")

        assert response.status_code == 200
        assert response.content == key.public_key
        assert hashlib.sha256(response.content).digest() == key.fingerprint
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["content-disposition"].startswith("attachment;")

    def test_a_key_of_another_campaign_or_none_is_404(
        self, client: TestClient, session: Session, campaign: Campaign
    ) -> None:
        other = make_campaign(session)
        other_key = add_keys(session, other)[0]
        assert client.get(f"/verify/{campaign.slug}/keys/{other_key.id}.der").status_code == 404
        assert client.get(f"/verify/{campaign.slug}/keys/999999.der").status_code == 404

    def test_campaign_without_keys_says_so(self, client: TestClient, session: Session) -> None:
        plain = make_campaign(session)
        page = client.get(f"/verify/{plain.slug}?lang=en").text
        assert "no signing keys" in page


class TestAfterClose:
    def test_counts_per_rater_group_withheld_below_the_threshold(
        self, client: TestClient, closed: tuple[Campaign, list[str]]
    ) -> None:
        campaign, _issued = closed
        page = client.get(f"/verify/{campaign.slug}?lang=en").text
        counts = next(i for i, row in enumerate(rows(page)) if "Credentials issued" in row)
        table = rows(page)[counts : counts + 3]
        assert table[1] == ["Citizens", "4", "5"]  # 2 vouchers + 2 roster members
        assert table[2][0] == "Cadres"
        assert all(cell.startswith("not published") for cell in table[2][1:])

    def test_a_collector_shows_evaluations_but_leaves_issuance_to_the_issuer(
        self, client: TestClient, closed: tuple[Campaign, list[str]]
    ) -> None:
        campaign, _issued = closed
        client.app.dependency_overrides[verify_pages.issues_credentials] = lambda: False  # type: ignore[attr-defined]
        page = client.get(f"/verify/{campaign.slug}?lang=en").text
        assert "Credentials issued" not in page
        assert "issued by a separate organisation" in page
        counts = next(i for i, row in enumerate(rows(page)) if "Evaluations accepted" in row)
        assert rows(page)[counts + 1] == ["Citizens", "5"]

    def test_receipt_hashes_are_listed_sorted(
        self, client: TestClient, closed: tuple[Campaign, list[str]]
    ) -> None:
        campaign, issued = closed
        expected = sorted(receipts.receipt_hash(receipt).hex() for receipt in issued)
        page = client.get(f"/verify/{campaign.slug}?lang=en").text
        positions = [page.index(digest) for digest in expected]
        assert positions == sorted(positions)
        assert "4 ballots were accepted." in page

        text = client.get(f"/verify/{campaign.slug}/receipts.txt")
        assert text.status_code == 200
        assert text.text.splitlines() == expected
        assert "set-cookie" not in text.headers

    def test_a_long_list_is_only_downloadable(
        self,
        client: TestClient,
        session: Session,
        closed: tuple[Campaign, list[str]],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        campaign, issued = closed
        monkeypatch.setattr(verify_pages, "RECEIPTS_SHOWN_INLINE", 3)
        page = client.get(f"/verify/{campaign.slug}?lang=en").text
        assert receipts.receipt_hash(issued[0]).hex() not in page
        assert f"/verify/{campaign.slug}/receipts.txt" in page

    def test_receipts_are_not_published_before_close(
        self, client: TestClient, session: Session, campaign: Campaign
    ) -> None:
        issued = add_receipts(session, campaign, 1)
        assert client.get(f"/verify/{campaign.slug}/receipts.txt").status_code == 404
        response = client.post(f"/verify/{campaign.slug}", data={"receipt": issued[0]})
        assert response.status_code == 404
        assert (
            receipts.receipt_hash(issued[0]).hex()
            not in client.get(f"/verify/{campaign.slug}").text
        )


class TestReceiptCheck:
    def test_the_page_offers_a_form_that_posts(
        self, client: TestClient, closed: tuple[Campaign, list[str]]
    ) -> None:
        campaign, _issued = closed
        page = client.get(f"/verify/{campaign.slug}?lang=en").text
        assert f'<form method="post" action="/verify/{campaign.slug}?lang=en">' in page
        assert 'name="receipt"' in page
        assert "sha256sum" in page

    @pytest.mark.parametrize(
        "spelling", [str, str.upper, lambda receipt: " ".join(receipt.split("-"))]
    )
    def test_a_counted_receipt_is_confirmed_however_it_is_spelled(
        self, client: TestClient, closed: tuple[Campaign, list[str]], spelling: object
    ) -> None:
        campaign, issued = closed
        typed = spelling(issued[2])  # type: ignore[operator]
        response = client.post(f"/verify/{campaign.slug}?lang=en", data={"receipt": typed})
        assert response.status_code == 200
        assert "Yes: this receipt is in the list." in response.text
        assert typed not in response.text  # what the rater typed is not echoed back

    def test_an_unknown_receipt_is_not_confirmed(
        self, client: TestClient, session: Session, closed: tuple[Campaign, list[str]]
    ) -> None:
        campaign, _issued = closed
        other = make_campaign(session)
        elsewhere = add_receipts(session, other, 1)[0]
        for receipt in (receipts.new_receipt(), elsewhere):
            response = client.post(f"/verify/{campaign.slug}?lang=en", data={"receipt": receipt})
            assert response.status_code == 200
            assert "No: this receipt is not in this campaign" in response.text

    @pytest.mark.parametrize("typed", ["", "not a receipt", "ab" * 17, "x" * 5000])
    def test_text_that_is_not_a_receipt_is_explained(
        self, client: TestClient, closed: tuple[Campaign, list[str]], typed: str
    ) -> None:
        campaign, _issued = closed
        response = client.post(f"/verify/{campaign.slug}?lang=en", data={"receipt": typed})
        assert response.status_code == 422
        assert "does not look like a receipt" in response.text
        assert 'aria-invalid="true"' in response.text

    def test_checking_stores_nothing(
        self, client: TestClient, session: Session, closed: tuple[Campaign, list[str]]
    ) -> None:
        campaign, issued = closed
        before = session.scalars(select(Receipt.receipt_hash)).all()
        client.post(f"/verify/{campaign.slug}", data={"receipt": issued[0]})
        client.post(f"/verify/{campaign.slug}", data={"receipt": receipts.new_receipt()})
        assert session.scalars(select(Receipt.receipt_hash)).all() == before

    def test_verify_paths_are_rater_paths(self) -> None:
        from app.middleware import is_rater_path

        assert is_rater_path("/verify/some-campaign")
        assert is_rater_path("/verify/some-campaign/receipts.txt")
