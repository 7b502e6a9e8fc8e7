"""The public verification page ``/verify/{slug}``: keys before close; after close also the
credentials issued per rater group (withheld below the threshold), the ballot box's size and
the sorted trackers (with the receipt hashes of ballots stored before the box existed), with a
receipt check that posts, is not logged and stores nothing.
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
from app.ballot_box import contents as ballot_contents
from app.ballot_box import service as box_service
from app.ballots import answers as answer_codec
from app.ballots import receipts
from app.ballots.models import Receipt
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus
from app.credentials import verify_pages
from app.credentials.models import CredentialKey, RosterMember
from tests.factories import HASHING_KEY, answers_for, issue_codes, make_campaign, tally
from tests.public.test_pages import TableRows
from tests.sealing.test_rows import public_key

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


def add_ballots(session: Session, campaign: Campaign, group_index: int, count: int) -> list[str]:
    """``count`` ballots sealed in the campaign's box as the ballot path puts them; their
    receipts (trackers)."""
    fingerprint = box_service.tally_fingerprint(session, campaign.id)
    assert fingerprint is not None
    key = box_service.box_key(session, campaign.id, campaign.slug, fingerprint)
    group = campaign.rater_groups[group_index].key
    questionnaire = campaign_service.questionnaire_of(campaign)
    ballot = ballot_contents.BallotContents(
        rater_group=group,
        evaluations=(
            ballot_contents.SealedEvaluation(
                target=campaign.targets[0].department.code,
                answers=answer_codec.encode(
                    questionnaire, group, answers_for(campaign, group, level=3)
                ),
                quality_flags=0,
                comment=None,
            ),
        ),
    )
    return [
        receipts.tracker_text(box_service.put_ballot(session, campaign.id, key, ballot))
        for _ in range(count)
    ]


def add_legacy_receipts(session: Session, campaign: Campaign, count: int) -> list[str]:
    """Random receipts whose hashes are stored, as for ballots of a campaign opened before
    the ballot box existed."""
    issued = [receipts.new_receipt() for _ in range(count)]
    session.add_all(
        Receipt(receipt_hash=receipts.receipt_hash(receipt), campaign_id=campaign.id)
        for receipt in issued
    )
    session.flush()
    return issued


@pytest.fixture
def campaign(session: Session) -> Campaign:
    """Citizens: 2 vouchers exchanged + 2 roster members served (shown).
    Cadres: 1 roster member served (withheld)."""
    campaign = make_campaign(session, threshold=THRESHOLD)
    add_keys(session, campaign)
    exchange_vouchers(session, campaign, "citizens", 2)
    add_roster(session, campaign, 0, issued=2)
    add_roster(session, campaign, 1, issued=1)
    return campaign


@pytest.fixture
def closed(session: Session, campaign: Campaign) -> tuple[Campaign, list[str]]:
    """The campaign closed with 4 ballots in its box (3 citizens', 1 cadre's); their trackers."""
    issued = add_ballots(session, campaign, 0, 3) + add_ballots(session, campaign, 1, 1)
    campaign.status = CampaignStatus.CLOSED
    session.flush()
    return campaign, issued


def plain(receipt: str) -> str:
    """A receipt's hex digits, as the downloadable list spells them."""
    return receipt.replace("-", "")


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
        assert 'id="receipts"' not in page
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
        assert table[1] == ["Citizens", "4"]  # 2 vouchers + 2 roster members
        assert table[2][0] == "Cadres"
        assert all(cell.startswith("not published") for cell in table[2][1:])
        assert "Evaluations accepted" not in page  # the box holds ballots, not evaluations

    def test_the_box_is_counted_whole_and_no_figure_is_given_per_rater_group(
        self, client: TestClient, session: Session, closed: tuple[Campaign, list[str]]
    ) -> None:
        """Only the credentials are counted per group; ballots and, after the tally, counted
        ballots are given for the whole box (the cadres' single ballot shows nowhere)."""
        campaign, _issued = closed
        page = client.get(f"/verify/{campaign.slug}?lang=en").text
        assert "The ballot box holds 4 ballots." in page
        assert "The trustees have not opened it yet." in page

        tally(session, campaign)

        page = client.get(f"/verify/{campaign.slug}?lang=en").text
        assert "The ballot box holds 4 ballots." in page
        assert "4 ballots were opened and counted." in page
        assert "could not be counted" not in page
        assert "Evaluations accepted" not in page
        counts = next(i for i, row in enumerate(rows(page)) if "Credentials issued" in row)
        assert rows(page)[counts] == ["Rater group", "Credentials issued"]  # nothing else

    def test_a_collector_shows_the_box_but_leaves_issuance_to_the_issuer(
        self, client: TestClient, closed: tuple[Campaign, list[str]]
    ) -> None:
        campaign, _issued = closed
        client.app.dependency_overrides[verify_pages.issues_credentials] = lambda: False  # type: ignore[attr-defined]
        page = client.get(f"/verify/{campaign.slug}?lang=en").text
        assert "Credentials issued" not in page
        assert "The ballot box holds 4 ballots." in page
        assert "4 ballots were accepted." in page

    def test_trackers_are_listed_sorted(
        self, client: TestClient, closed: tuple[Campaign, list[str]]
    ) -> None:
        campaign, issued = closed
        expected = sorted(issued)
        page = client.get(f"/verify/{campaign.slug}?lang=en").text
        positions = [page.index(f"<code>{tracker}</code>") for tracker in expected]
        assert positions == sorted(positions)
        assert "4 ballots were accepted." in page

        text = client.get(f"/verify/{campaign.slug}/receipts.txt")
        assert text.status_code == 200
        assert text.text.splitlines() == [plain(tracker) for tracker in expected]
        assert "set-cookie" not in text.headers

    def test_receipt_hashes_of_a_campaign_opened_before_the_box_are_listed_sorted(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session, threshold=THRESHOLD, sealed_box=False)
        issued = add_legacy_receipts(session, campaign, 4)
        campaign.status = CampaignStatus.CLOSED
        session.flush()
        expected = sorted(receipts.receipt_hash(receipt).hex() for receipt in issued)

        page = client.get(f"/verify/{campaign.slug}?lang=en").text
        positions = [page.index(receipts.grouped(bytes.fromhex(digest))) for digest in expected]
        assert positions == sorted(positions)
        assert "4 ballots were accepted." in page
        assert "opened before the ballot box existed" in page
        assert client.get(f"/verify/{campaign.slug}/receipts.txt").text.splitlines() == expected

    def test_an_upgraded_campaign_lists_trackers_and_older_receipt_hashes_sorted_together(
        self, client: TestClient, session: Session, closed: tuple[Campaign, list[str]]
    ) -> None:
        campaign, trackers = closed
        legacy = add_legacy_receipts(session, campaign, 3)
        expected = sorted(
            [plain(tracker) for tracker in trackers]
            + [receipts.receipt_hash(receipt).hex() for receipt in legacy]
        )

        text = client.get(f"/verify/{campaign.slug}/receipts.txt").text

        assert text.splitlines() == expected
        assert "7 ballots were accepted." in client.get(f"/verify/{campaign.slug}?lang=en").text

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
        assert issued[0] not in page
        assert plain(issued[0]) not in page
        assert f"/verify/{campaign.slug}/receipts.txt" in page

    def test_receipts_are_not_published_before_close(
        self, client: TestClient, session: Session, campaign: Campaign
    ) -> None:
        issued = add_ballots(session, campaign, 0, 1)
        assert client.get(f"/verify/{campaign.slug}/receipts.txt").status_code == 404
        response = client.post(f"/verify/{campaign.slug}", data={"receipt": issued[0]})
        assert response.status_code == 404
        page = client.get(f"/verify/{campaign.slug}?lang=en").text
        assert issued[0] not in page
        assert plain(issued[0]) not in page
        assert "The ballot box holds" not in page


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
        listed = client.get(f"/verify/{campaign.slug}?lang=en").text.count(typed)
        response = client.post(f"/verify/{campaign.slug}?lang=en", data={"receipt": typed})
        assert response.status_code == 200
        assert "Yes: this receipt is in the list." in response.text
        # What the rater typed is not echoed back: it shows only where the list shows it.
        assert response.text.count(typed) == listed

    def test_a_receipt_of_a_ballot_stored_before_the_box_is_confirmed(
        self, client: TestClient, session: Session, closed: tuple[Campaign, list[str]]
    ) -> None:
        campaign, _issued = closed
        (legacy,) = add_legacy_receipts(session, campaign, 1)
        response = client.post(f"/verify/{campaign.slug}?lang=en", data={"receipt": legacy})
        assert response.status_code == 200
        assert "Yes: this receipt is in the list." in response.text

    def test_an_unknown_receipt_is_not_confirmed(
        self, client: TestClient, session: Session, closed: tuple[Campaign, list[str]]
    ) -> None:
        campaign, _issued = closed
        other = make_campaign(session)
        elsewhere = add_ballots(session, other, 0, 1)[0]
        elsewhere_legacy = add_legacy_receipts(session, other, 1)[0]
        unknown_tracker = receipts.tracker_text(secrets.token_bytes(32))
        for receipt in (unknown_tracker, receipts.new_receipt(), elsewhere, elsewhere_legacy):
            response = client.post(f"/verify/{campaign.slug}?lang=en", data={"receipt": receipt})
            assert response.status_code == 200
            assert "No: this receipt is not in this campaign" in response.text

    @pytest.mark.parametrize(
        "typed", ["", "not a receipt", "ab" * 17, "ab" * 24, "ab" * 33, "x" * 5000]
    )
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
        trackers_before = box_service.trackers(session, campaign)
        client.post(f"/verify/{campaign.slug}", data={"receipt": issued[0]})
        client.post(f"/verify/{campaign.slug}", data={"receipt": receipts.new_receipt()})
        unknown_tracker = receipts.tracker_text(secrets.token_bytes(32))
        client.post(f"/verify/{campaign.slug}", data={"receipt": unknown_tracker})
        assert session.scalars(select(Receipt.receipt_hash)).all() == before
        assert box_service.trackers(session, campaign) == trackers_before

    def test_verify_paths_are_rater_paths(self) -> None:
        from app.middleware.paths import is_rater_path

        assert is_rater_path("/verify/some-campaign")
        assert is_rater_path("/verify/some-campaign/receipts.txt")
