"""The rating pages with a credential in place of a code, without JavaScript.

The page's script posts the credential to ``/r`` the way a rater pasting a saved one does;
every step then carries it in a hidden field, checks it, and only submission spends it.
"""

import re
from html import unescape

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.admission.models import CodeStatus
from app.ballot_box import service as box_service
from app.ballots import receipts
from app.ballots.models import Receipt
from app.campaigns.models import Campaign, CampaignStatus
from app.credentials.models import SpentCredential
from tests.ballots.credential_factories import (
    as_text,
    cached_key,
    make_credential,
    message_hash,
    store_key,
)
from tests.ballots.test_pages import answer_all, hidden_fields, post_step
from tests.factories import (
    ballot_count,
    code_status,
    evaluation_count,
    issue_code,
    make_campaign,
    tally,
)

CHOOSE_HEADING = "您和哪些单位打过交道？"
REVIEW_HEADING = "核对并提交"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return cached_key("main")


@pytest.fixture
def campaign(session: Session, signing_key: rsa.RSAPrivateKey) -> Campaign:
    made = make_campaign(session)
    store_key(session, made, signing_key)
    return made


def spent(session: Session) -> set[bytes]:
    return set(session.scalars(select(SpentCredential.message_hash)))


def textarea(html: str, element_id: str) -> str:
    found = re.search(rf'<textarea id="{element_id}"[^>]*>([^<]*)</textarea>', html)
    assert found, f"no textarea #{element_id}"
    return unescape(found.group(1))


def start_with(client: TestClient, credential_text: str) -> str:
    return client.post("/r", data={"credential": credential_text}).text


def rate_everything(client: TestClient, campaign: Campaign, first_page: str) -> str:
    """Choose every department, answer every question, and return the review page."""
    codes = [target.department.code for target in campaign.targets]
    page = post_step(client, first_page, "next", target=codes).text
    for _ in codes:
        page = post_step(client, page, "next", **answer_all(["courtesy", "speed"], "4")).text
    assert REVIEW_HEADING in page
    return page


class TestStartingWithACredential:
    def test_posted_credential_leads_to_choosing_without_spending_it(
        self,
        client: TestClient,
        session: Session,
        campaign: Campaign,
        signing_key: rsa.RSAPrivateKey,
    ) -> None:
        text = as_text(make_credential(signing_key, campaign))

        response = client.post("/r", data={"credential": text})

        assert response.status_code == 200
        assert CHOOSE_HEADING in response.text
        fields = hidden_fields(response.text)
        assert fields["credential"] == text
        assert "code" not in fields
        assert spent(session) == set()

    def test_pasted_text_broken_over_lines_is_accepted(
        self, client: TestClient, campaign: Campaign, signing_key: rsa.RSAPrivateKey
    ) -> None:
        text = as_text(make_credential(signing_key, campaign))
        wrapped = "\n".join(text[i : i + 60] for i in range(0, len(text), 60)) + "\n"

        response = client.post("/r", data={"credential": wrapped})

        assert response.status_code == 200
        assert CHOOSE_HEADING in response.text

    def test_every_step_offers_to_save_the_credential(
        self, client: TestClient, campaign: Campaign, signing_key: rsa.RSAPrivateKey
    ) -> None:
        text = as_text(make_credential(signing_key, campaign))

        page = client.post("/r", data={"credential": text}).text

        assert textarea(page, "credential-text") == text
        assert 'id="credential-download"' in page
        assert '<script src="/static/js/rate.js" type="module"></script>' in page

    def test_code_steps_offer_no_credential_to_save(
        self, client: TestClient, session: Session, campaign: Campaign
    ) -> None:
        page = client.post("/r", data={"code": issue_code(session, campaign)}).text

        assert 'id="save-credential"' not in page
        assert "rate.js" not in page

    def test_damaged_text_is_explained_and_kept_for_correction(
        self, client: TestClient, campaign: Campaign, signing_key: rsa.RSAPrivateKey
    ) -> None:
        damaged = as_text(make_credential(signing_key, campaign))[:-40]

        response = client.post("/r", data={"credential": damaged})

        assert response.status_code == 422
        assert 'id="credential-error"' in response.text
        assert 'id="code-error"' not in response.text
        assert textarea(response.text, "credential") == damaged
        assert '<details class="credential-paste" id="credential-paste" open>' in response.text

    def test_forged_credential_is_refused(self, client: TestClient, campaign: Campaign) -> None:
        forged = as_text(make_credential(cached_key("forger"), campaign))

        response = client.post("/r", data={"credential": forged})

        assert response.status_code == 403
        assert 'id="credential-error"' in response.text

    def test_direct_flag_from_the_script_shows_a_notice_on_the_first_step(
        self, client: TestClient, session: Session, campaign: Campaign
    ) -> None:
        code = issue_code(session, campaign)

        with_flag = client.post("/r", data={"code": code, "direct": "1"})
        without = client.post("/r", data={"code": code})

        assert 'id="form-notice"' in with_flag.text
        assert 'id="form-notice"' not in without.text
        assert "direct" not in hidden_fields(with_flag.text)


class TestRatingWithACredential:
    def test_submission_spends_the_credential_and_shows_a_receipt(
        self,
        client: TestClient,
        session: Session,
        campaign: Campaign,
        signing_key: rsa.RSAPrivateKey,
    ) -> None:
        credential = make_credential(signing_key, campaign)
        page = client.post("/r", data={"credential": as_text(credential)}).text
        review = rate_everything(client, campaign, page)
        assert spent(session) == set()

        response = post_step(client, review, "submit")

        assert response.status_code == 201
        assert "提交成功" in response.text
        assert ballot_count(session, campaign) == 1
        assert spent(session) == {message_hash(credential)}
        receipt = re.search(
            r'<code id="receipt-code">([^<]+)</code>', response.text.replace("<wbr>", "")
        )
        assert receipt
        assert box_service.trackers(session, campaign) == [receipts.receipt_hash(receipt.group(1))]
        assert set(session.scalars(select(Receipt.receipt_hash))) == set()
        assert f'href="/verify/{campaign.slug}"' in response.text
        assert f'data-message="{credential["message"]}"' in response.text

    def test_code_receipt_page_shows_a_receipt_and_forgets_no_credential(
        self, client: TestClient, session: Session, campaign: Campaign
    ) -> None:
        code = issue_code(session, campaign)
        review = rate_everything(client, campaign, client.post("/r", data={"code": code}).text)

        response = post_step(client, review, "submit")

        assert response.status_code == 201
        tracker = re.search(
            r'<code id="receipt-code">([0-9a-f]{4}(?:-[0-9a-f]{4}){15})</code>',
            response.text.replace("<wbr>", ""),
        )
        assert tracker
        assert box_service.trackers(session, campaign) == [receipts.receipt_hash(tracker.group(1))]
        assert 'id="spent-credential"' not in response.text
        assert code_status(session, code) == CodeStatus.USED

    def test_credential_spent_meanwhile_sends_the_rater_back_with_a_marker(
        self,
        client: TestClient,
        session: Session,
        campaign: Campaign,
        signing_key: rsa.RSAPrivateKey,
    ) -> None:
        """Checked at every step: spent in another tab, the next step says so, and the
        page's script is told which stored credential to forget."""
        credential = make_credential(signing_key, campaign)
        text = as_text(credential)
        first_tab = client.post("/r", data={"credential": text}).text
        review = rate_everything(
            client, campaign, client.post("/r", data={"credential": text}).text
        )
        assert post_step(client, review, "submit").status_code == 201

        response = post_step(
            client, first_tab, "next", target=[campaign.targets[0].department.code]
        )

        assert response.status_code == 409
        assert 'id="credential-error"' in response.text
        assert f'data-message="{credential["message"]}"' in response.text
        assert ballot_count(session, campaign) == 1

    def test_second_submission_with_the_same_credential_stores_nothing(
        self,
        client: TestClient,
        session: Session,
        campaign: Campaign,
        signing_key: rsa.RSAPrivateKey,
    ) -> None:
        text = as_text(make_credential(signing_key, campaign))
        review = rate_everything(
            client, campaign, client.post("/r", data={"credential": text}).text
        )
        assert post_step(client, review, "submit").status_code == 201

        again = post_step(client, review, "submit")

        assert again.status_code == 409
        assert ballot_count(session, campaign) == 1
        tally(session, campaign)
        assert evaluation_count(session, campaign) == 2

    def test_closed_campaign_refuses_the_credential(
        self,
        client: TestClient,
        session: Session,
        campaign: Campaign,
        signing_key: rsa.RSAPrivateKey,
    ) -> None:
        text = as_text(make_credential(signing_key, campaign))
        campaign.status = CampaignStatus.CLOSED

        response = client.post("/r", data={"credential": text})

        assert response.status_code == 409
        assert "评议活动“测试评议”已经结束，不再接受评价。" in response.text
        assert 'id="spent-credential"' not in response.text

    def test_the_review_says_the_credential_is_used_not_the_code(
        self,
        client: TestClient,
        campaign: Campaign,
        signing_key: rsa.RSAPrivateKey,
    ) -> None:
        page = start_with(client, as_text(make_credential(signing_key, campaign)))
        review = rate_everything(client, campaign, page)

        assert "提交后不能再修改，您的评议凭证随即用完，不能再次评议。" in review
        assert "评议码也将失效" not in review  # the code was spent on the credential already


class TestEntryPage:
    def test_entry_page_preloads_the_blind_signature_module_with_its_integrity(
        self, client: TestClient
    ) -> None:
        from app.credentials import sri

        page = client.get("/r").text

        expected = sri.integrity(sri.BLIND_RSA_MODULE)
        assert (
            f'<link rel="modulepreload" href="/static/js/blind-rsa.js" integrity="{expected}">'
            in page
        )
        assert 'id="credential-form"' in page
        assert 'id="saved-credentials"' in page
        assert "<script>" not in page
