"""POST /api/v1/ballots with a blind-signed credential in place of a code, and receipts
(a ballot's receipt is its tracker: the SHA-256 of its ciphertext in the ballot box).

Credentials are made as a rater's browser makes them, against a key stored as a collector
holds it (see ``tests/ballots/credential_factories.py``): these tests exercise spending alone.
"""

import hashlib
import re
import secrets
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.admission.models import CodeStatus
from app.ballot_box import service as box_service
from app.ballot_box.models import SealedBallot
from app.ballots import receipts
from app.ballots.models import TOO_FAST, Evaluation, Receipt
from app.ballots.schemas import BallotIn
from app.campaigns.models import Campaign
from app.credentials.models import SpentCredential
from tests.ballots.credential_factories import (
    b64url,
    cached_key,
    from_b64url,
    make_credential,
    message_hash,
    store_key,
)
from tests.ballots.test_concurrency import race
from tests.conftest import PostgresDatabases, migrate, new_sqlite_engine
from tests.factories import (
    answers_for,
    ballot_count,
    code_status,
    evaluation_count,
    issue_code,
    make_campaign,
    tally,
)

URL = "/api/v1/ballots"
CONCURRENT_SUBMISSIONS = 20
RECEIPT_PATTERN = re.compile(r"[0-9a-f]{4}(-[0-9a-f]{4}){15}")  # a tracker: 64 hex digits


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return cached_key("main")


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return cached_key("other")


def ballot(
    campaign: Campaign,
    credential: dict[str, str],
    *,
    group: str = "citizens",
    target: str | None = None,
    **evaluation: Any,
) -> dict[str, Any]:
    return {
        "credential": credential,
        "evaluations": [
            {
                "target": target or campaign.targets[0].department.code,
                "answers": answers_for(campaign, group, level=3),  # on every scale
                **evaluation,
            }
        ],
    }


def spent_hashes(session: Session) -> set[bytes]:
    return set(session.scalars(select(SpentCredential.message_hash)))


def trackers(session: Session, campaign: Campaign) -> set[bytes]:
    """The trackers of the ballots in the campaign's box."""
    return set(box_service.trackers(session, campaign))


def legacy_receipt_hashes(session: Session, campaign: Campaign) -> set[bytes]:
    """The receipts table, used only by campaigns opened before the ballot box existed."""
    return set(
        session.scalars(select(Receipt.receipt_hash).where(Receipt.campaign_id == campaign.id))
    )


def flip_last_bit(value: str) -> str:
    data = bytearray(from_b64url(value))
    data[-1] ^= 0x01
    return b64url(bytes(data))


@pytest.fixture
def campaign(session: Session, signing_key: rsa.RSAPrivateKey) -> Campaign:
    made = make_campaign(session)
    store_key(session, made, signing_key)
    return made


# --- tests ------------------------------------------------------------------------------------


class TestAcceptedCredentialBallot:
    def test_returns_201_with_a_receipt_and_spends_the_credential(
        self,
        client: TestClient,
        session: Session,
        campaign: Campaign,
        signing_key: rsa.RSAPrivateKey,
    ) -> None:
        credential = make_credential(signing_key, campaign)

        response = client.post(URL, json=ballot(campaign, credential, comment="很方便"))

        assert response.status_code == 201, response.text
        body = response.json()
        assert body["campaign"] == campaign.slug
        assert body["accepted_evaluations"] == 1
        assert RECEIPT_PATTERN.fullmatch(body["receipt"])
        assert ballot_count(session, campaign) == 1
        assert spent_hashes(session) == {message_hash(credential)}
        assert trackers(session, campaign) == {receipts.receipt_hash(body["receipt"])}
        assert legacy_receipt_hashes(session, campaign) == set()

    def test_campaign_may_be_left_out_of_the_credential(
        self,
        client: TestClient,
        session: Session,
        campaign: Campaign,
        signing_key: rsa.RSAPrivateKey,
    ) -> None:
        credential = make_credential(signing_key)

        response = client.post(URL, json=ballot(campaign, credential))

        assert response.status_code == 201, response.text
        assert ballot_count(session, campaign) == 1

    def test_credential_of_another_group_answers_that_groups_questionnaire(
        self, client: TestClient, session: Session, signing_key: rsa.RSAPrivateKey
    ) -> None:
        campaign = make_campaign(session)
        store_key(session, campaign, signing_key, group="cadres")
        credential = make_credential(signing_key, campaign, group="cadres")

        citizens_answers = client.post(URL, json=ballot(campaign, credential))
        cadres_answers = client.post(URL, json=ballot(campaign, credential, group="cadres"))

        assert citizens_answers.status_code == 422
        assert citizens_answers.json()["error"]["field"] == "evaluations[0].answers.guidance"
        assert cadres_answers.status_code == 201, cadres_answers.text

    def test_quality_flags_are_stored_as_on_the_code_path(
        self,
        client: TestClient,
        session: Session,
        campaign: Campaign,
        signing_key: rsa.RSAPrivateKey,
    ) -> None:
        """A form submitted the moment it was shown is flagged too fast, not refused."""
        started = client.get("/api/v1/start-token").json()["started"]
        credential = make_credential(signing_key, campaign)

        response = client.post(URL, json=ballot(campaign, credential, started=started))

        assert response.status_code == 201
        assert ballot_count(session, campaign) == 1
        tally(session, campaign)
        flags = session.scalars(
            select(Evaluation.quality_flags).where(Evaluation.campaign_id == campaign.id)
        ).all()
        assert flags == [TOO_FAST]


class TestSpentCredential:
    def test_second_use_is_refused_with_409_and_stores_nothing(
        self,
        client: TestClient,
        session: Session,
        campaign: Campaign,
        signing_key: rsa.RSAPrivateKey,
    ) -> None:
        credential = make_credential(signing_key, campaign)
        first = client.post(URL, json=ballot(campaign, credential))
        assert first.status_code == 201

        second = client.post(URL, json=ballot(campaign, credential, comment="再来一次"))

        assert second.status_code == 409
        assert second.json()["error"]["code"] == "credential_spent"
        assert ballot_count(session, campaign) == 1
        assert trackers(session, campaign) == {receipts.receipt_hash(first.json()["receipt"])}
        assert spent_hashes(session) == {message_hash(credential)}

    def test_same_message_with_another_campaign_field_is_still_spent(
        self,
        client: TestClient,
        session: Session,
        campaign: Campaign,
        signing_key: rsa.RSAPrivateKey,
    ) -> None:
        credential = make_credential(signing_key, campaign)
        assert client.post(URL, json=ballot(campaign, credential)).status_code == 201
        without_campaign = {k: v for k, v in credential.items() if k != "campaign"}

        again = client.post(URL, json=ballot(campaign, without_campaign))

        assert again.status_code == 409
        assert ballot_count(session, campaign) == 1


class TestInvalidSignature:
    @pytest.mark.parametrize("tamper", ["signature", "message"])
    def test_tampered_credential_is_refused_with_403_and_nothing_is_spent(
        self,
        client: TestClient,
        session: Session,
        campaign: Campaign,
        signing_key: rsa.RSAPrivateKey,
        tamper: str,
    ) -> None:
        credential = make_credential(signing_key, campaign)
        tampered = {**credential, tamper: flip_last_bit(credential[tamper])}

        response = client.post(URL, json=ballot(campaign, tampered))

        assert response.status_code == 403
        assert response.json()["error"]["code"] == "credential_invalid"
        assert ballot_count(session, campaign) == 0
        assert spent_hashes(session) == set()
        assert trackers(session, campaign) == set()

    def test_credential_signed_with_another_key_is_refused(
        self,
        client: TestClient,
        session: Session,
        campaign: Campaign,
        other_key: rsa.RSAPrivateKey,
    ) -> None:
        response = client.post(URL, json=ballot(campaign, make_credential(other_key, campaign)))

        assert response.status_code == 403
        assert ballot_count(session, campaign) == 0

    def test_credential_of_one_group_does_not_admit_another(
        self,
        client: TestClient,
        session: Session,
        campaign: Campaign,
        signing_key: rsa.RSAPrivateKey,
    ) -> None:
        """The key binds the rater group: claiming another group fails the signature check."""
        credential = {**make_credential(signing_key, campaign), "rater_group": "cadres"}

        response = client.post(URL, json=ballot(campaign, credential, group="cadres"))

        assert response.status_code in (403, 409)
        assert ballot_count(session, campaign) == 0

    def test_credential_for_another_campaign_is_refused(
        self,
        client: TestClient,
        session: Session,
        campaign: Campaign,
        signing_key: rsa.RSAPrivateKey,
    ) -> None:
        other = make_campaign(session)
        store_key(session, other, cached_key("third"))
        credential = {**make_credential(signing_key, campaign), "campaign": other.slug}

        response = client.post(URL, json=ballot(other, credential))

        assert response.status_code == 403
        assert ballot_count(session, other) == 0


class TestMalformedCredential:
    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("message", "not base64url!"),
            ("message", b64url(secrets.token_bytes(32))),  # half a prepared message
            ("signature", b64url(secrets.token_bytes(16))),  # far too short for the key
            ("signature", "a"),  # no whole byte
        ],
    )
    def test_malformed_value_is_refused_with_422(
        self,
        client: TestClient,
        session: Session,
        campaign: Campaign,
        signing_key: rsa.RSAPrivateKey,
        field: str,
        value: str,
    ) -> None:
        credential = {**make_credential(signing_key, campaign), field: value}

        response = client.post(URL, json=ballot(campaign, credential))

        assert response.status_code == 422
        assert ballot_count(session, campaign) == 0
        assert spent_hashes(session) == set()

    @pytest.mark.parametrize("missing", ["rater_group", "message", "signature"])
    def test_incomplete_credential_is_refused_with_422(
        self,
        client: TestClient,
        campaign: Campaign,
        signing_key: rsa.RSAPrivateKey,
        missing: str,
    ) -> None:
        credential = make_credential(signing_key, campaign)
        del credential[missing]

        response = client.post(URL, json=ballot(campaign, credential))

        assert response.status_code == 422
        assert response.json()["error"]["field"] == f"credential.{missing}"

    def test_unknown_field_in_credential_is_refused(
        self, client: TestClient, campaign: Campaign, signing_key: rsa.RSAPrivateKey
    ) -> None:
        credential = {**make_credential(signing_key, campaign), "key_id": "1"}

        response = client.post(URL, json=ballot(campaign, credential))

        assert response.status_code == 422


class TestCodeOrCredential:
    def test_code_and_credential_together_are_refused_and_nothing_is_used(
        self,
        client: TestClient,
        session: Session,
        campaign: Campaign,
        signing_key: rsa.RSAPrivateKey,
    ) -> None:
        code = issue_code(session, campaign)
        credential = make_credential(signing_key, campaign)
        body = {**ballot(campaign, credential), "code": code}

        response = client.post(URL, json=body)

        assert response.status_code == 422
        assert code_status(session, code) == CodeStatus.UNUSED
        assert spent_hashes(session) == set()
        assert ballot_count(session, campaign) == 0

    def test_neither_code_nor_credential_is_refused(
        self, client: TestClient, campaign: Campaign
    ) -> None:
        body = {
            "evaluations": [
                {"target": campaign.targets[0].department.code, "answers": answers_for(campaign)}
            ]
        }

        response = client.post(URL, json=body)

        assert response.status_code == 422

    def test_null_code_with_a_credential_is_a_credential_ballot(
        self, client: TestClient, campaign: Campaign, signing_key: rsa.RSAPrivateKey
    ) -> None:
        body = {**ballot(campaign, make_credential(signing_key, campaign)), "code": None}

        assert client.post(URL, json=body).status_code == 201


class TestScopedKey:
    def test_credential_of_a_scoped_key_rates_only_its_department(
        self,
        client: TestClient,
        session: Session,
        signing_key: rsa.RSAPrivateKey,
        other_key: rsa.RSAPrivateKey,
    ) -> None:
        campaign = make_campaign(session)
        store_key(session, campaign, signing_key)
        scoped = campaign.targets[1].department.code
        store_key(session, campaign, other_key, target=scoped)
        credential = make_credential(other_key, campaign)
        elsewhere = campaign.targets[0].department.code

        refused = client.post(URL, json=ballot(campaign, credential, target=elsewhere))

        assert refused.status_code == 422
        assert refused.json()["error"]["field"] == "evaluations[0].target"
        assert spent_hashes(session) == set()

        accepted = client.post(URL, json=ballot(campaign, credential, target=scoped))

        assert accepted.status_code == 201, accepted.text
        assert ballot_count(session, campaign) == 1
        tally(session, campaign)
        assert evaluation_count(session, campaign) == 1
        rated = session.scalar(
            select(Evaluation.target_id).where(Evaluation.campaign_id == campaign.id)
        )
        assert rated == campaign.targets[1].id

    def test_refused_evaluation_leaves_the_credential_unspent(
        self,
        client: TestClient,
        session: Session,
        campaign: Campaign,
        signing_key: rsa.RSAPrivateKey,
    ) -> None:
        credential = make_credential(signing_key, campaign)
        body = ballot(campaign, credential)
        body["evaluations"][0]["answers"]["courtesy"] = 9

        refused = client.post(URL, json=body)

        assert refused.status_code == 422
        assert spent_hashes(session) == set()
        assert client.post(URL, json=ballot(campaign, credential)).status_code == 201


class TestReceipts:
    def test_code_ballot_also_gets_its_tracker_as_the_receipt(
        self, client: TestClient, session: Session, campaign: Campaign
    ) -> None:
        code = issue_code(session, campaign)
        body = {
            "code": code,
            "evaluations": [
                {"target": campaign.targets[0].department.code, "answers": answers_for(campaign)}
            ],
        }

        response = client.post(URL, json=body)

        assert response.status_code == 201
        receipt = response.json()["receipt"]
        assert RECEIPT_PATTERN.fullmatch(receipt)
        sealed = session.scalars(
            select(SealedBallot).where(SealedBallot.campaign_id == campaign.id)
        ).one()
        assert sealed.ciphertext is not None
        assert bytes.fromhex(receipt.replace("-", "")) == sealed.tracker
        assert hashlib.sha256(sealed.ciphertext).digest() == sealed.tracker
        assert legacy_receipt_hashes(session, campaign) == set()

    def test_receipts_differ_each_is_its_ciphertexts_hash_and_no_text_is_stored(
        self,
        client: TestClient,
        session: Session,
        campaign: Campaign,
        signing_key: rsa.RSAPrivateKey,
    ) -> None:
        given = [
            client.post(URL, json=ballot(campaign, make_credential(signing_key, campaign))).json()[
                "receipt"
            ]
            for _ in range(3)
        ]

        assert len(set(given)) == 3
        assert trackers(session, campaign) == {receipts.receipt_bytes(r) for r in given}
        for tracker, ciphertext in box_service.sealed_ballots(session, campaign):
            assert hashlib.sha256(ciphertext).digest() == tracker
        # The tracker is stored (it is the box's key, public after close), its text is not.
        dump = "\n".join(session.connection().connection.driver_connection.iterdump())
        for receipt in given:
            assert receipt not in dump

    def test_refused_ballot_stores_no_receipt(
        self, client: TestClient, session: Session, campaign: Campaign
    ) -> None:
        code = issue_code(session, campaign)
        body = {
            "code": code,
            "evaluations": [{"target": "NO-SUCH-DEPT", "answers": answers_for(campaign)}],
        }

        assert client.post(URL, json=body).status_code == 422
        assert session.scalar(select(func.count()).select_from(Receipt)) == 0
        assert ballot_count(session) == 0


class TestReceiptFormat:
    @pytest.mark.parametrize(
        "receipt",
        [receipts.tracker_text(secrets.token_bytes(32)), receipts.new_receipt()],
        ids=["tracker", "legacy-receipt"],
    )
    def test_any_spelling_of_a_receipt_hashes_alike(self, receipt: str) -> None:
        loose = " " + receipt.replace("-", " ").upper() + "\n"

        assert receipts.receipt_hash(loose) == receipts.receipt_hash(receipt)

    def test_a_tracker_is_64_hex_digits_in_groups_of_four_and_is_its_own_hash(self) -> None:
        tracker = secrets.token_bytes(32)

        text = receipts.tracker_text(tracker)

        assert RECEIPT_PATTERN.fullmatch(text)
        assert receipts.receipt_hash(text) == tracker

    @pytest.mark.parametrize(
        "text", ["", "12345", "g" * 32, "0" * 31, "0" * 33, "g" * 64, "0" * 63, "0" * 65]
    )
    def test_text_that_is_not_a_receipt_is_refused(self, text: str) -> None:
        with pytest.raises(receipts.MalformedReceipt):
            receipts.receipt_hash(text)


# --- exactly once under concurrency, on committed data ------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def committed_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated database whose data is really committed (no wrapping transaction)."""
    if request.param == "sqlite":
        engine = new_sqlite_engine()
    else:
        databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
        engine = databases.create()
    migrate(engine)
    yield engine
    engine.dispose()


class TestOneCredentialManySubmissions:
    def test_one_credential_is_spent_once_under_concurrent_submissions(
        self, committed_engine: Engine, signing_key: rsa.RSAPrivateKey
    ) -> None:
        with Session(committed_engine) as setup:
            campaign = make_campaign(setup)
            key = store_key(setup, campaign, signing_key)
            targets = [t.department.code for t in campaign.targets]
            body = ballot(campaign, make_credential(signing_key, campaign))
            body["evaluations"] = [
                {"target": target, "answers": answers_for(campaign)} for target in targets
            ]
            campaign_id, key_id = campaign.id, key.id
            setup.commit()

        outcomes = race(committed_engine, [BallotIn.model_validate(body)] * CONCURRENT_SUBMISSIONS)

        assert Counter(outcomes) == {"accepted": 1, "credential_spent": CONCURRENT_SUBMISSIONS - 1}
        with Session(committed_engine) as check:
            stored = check.get_one(Campaign, campaign_id)
            assert ballot_count(check, stored) == 1
            assert check.scalar(select(func.count()).where(SpentCredential.key_id == key_id)) == 1
            tally(check, stored)
            assert evaluation_count(check, stored) == len(targets)
