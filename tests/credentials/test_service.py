"""Credential keys, issuance for vouchers and roster members, and checking and spending a
credential, with the rater's side of RFC 9474 played by ``app.credentials.blind_rsa``."""

import hashlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app import db
from app.accounts import passwords
from app.admission import codes
from app.admission import service as admission_service
from app.admission.models import AdmissionCode, CodeStatus
from app.campaigns.models import Campaign, CampaignStatus
from app.credentials import blind_rsa, issuance, spending
from app.credentials import keys as credential_keys
from app.credentials.models import CredentialKey, RosterMember, SpentCredential
from app.errors import PingyiError
from tests.conftest import PostgresDatabases, migrate, new_sqlite_engine
from tests.credentials.credential_helpers import (
    SERVER_SECRET,
    CredentialData,
    RaterSide,
    all_keys,
    key_of,
    key_pool,  # noqa: F401 - an autouse fixture
    race,
    rater_side,
)
from tests.factories import HASHING_KEY, issue_code, issue_codes, make_campaign

ATTEMPTS = 20


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


def open_campaign(session: Session, **options: Any) -> Campaign:
    campaign = make_campaign(session, **options)
    credential_keys.open_campaign_keys(session, campaign, SERVER_SECRET)
    return campaign


def group(campaign: Campaign, key: str = "citizens") -> Any:
    return next(g for g in campaign.rater_groups if g.key == key)


def code_row(session: Session, code: str) -> AdmissionCode:
    hashed = codes.keyed_hash(HASHING_KEY, codes.normalize(code))
    row = session.get(AdmissionCode, hashed)
    assert row is not None
    session.refresh(row)
    return row


def voucher_side(session: Session, campaign: Campaign, key_group: str = "citizens") -> RaterSide:
    return rater_side(key_of(session, campaign.id, group(campaign, key_group).id).public_key)


def issue(session: Session, code: str, side: RaterSide) -> issuance.Issued:
    return issuance.issue_for_voucher(session, HASHING_KEY, SERVER_SECRET, code, side.blinded_b64)


def add_member(session: Session, campaign: Campaign, key_group: str = "cadres") -> RosterMember:
    member = RosterMember(
        campaign_id=campaign.id,
        rater_group_id=group(campaign, key_group).id,
        identifier_hash=hashlib.sha256(str(id(campaign)).encode()).digest(),
        password_hash=passwords.hash_password("not used here"),
    )
    session.add(member)
    session.flush()
    return member


def credential_for(
    session: Session, campaign: Campaign, key_group: str = "citizens", **scope: Any
) -> CredentialData:
    """A credential obtained with a fresh voucher, end to end."""
    code = issue_code(session, campaign, group=key_group, **scope)
    key = credential_keys.key_for_code(session, HASHING_KEY, code)
    assert key is not None
    side = rater_side(key.public_key)
    issued = issue(session, code, side)
    return side.credential(side.finalize(issued.blind_signature), key_group)


def refused(error: pytest.ExceptionInfo[PingyiError]) -> tuple[int, str, str | None]:
    return error.value.status_code, error.value.code, error.value.field


class TestKeys:
    def test_opening_makes_one_key_per_rater_group_for_all_targets(self, session: Session) -> None:
        campaign = open_campaign(session)

        keys = all_keys(session)
        assert [(key.rater_group_id, key.target_id) for key in keys] == [
            (g.id, None) for g in campaign.rater_groups
        ]
        for key in keys:
            public_key = blind_rsa.load_public_key(key.public_key)
            assert public_key.key_size >= 3072
            assert key.fingerprint == hashlib.sha256(key.public_key).digest()
            assert key.private_key is not None

    def test_a_new_key_is_3072_bits_generated_for_it(
        self, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.undo()  # the real generator, not the test pool
        campaign = make_campaign(session, groups={"citizens": 1.0})

        key = credential_keys.ensure_key(session, campaign, group(campaign), None, SERVER_SECRET)

        assert blind_rsa.load_public_key(key.public_key).key_size == 3072

    def test_opening_again_keeps_the_keys(self, session: Session) -> None:
        campaign = open_campaign(session)
        before = [(key.id, key.fingerprint) for key in all_keys(session)]

        credential_keys.open_campaign_keys(session, campaign, SERVER_SECRET)

        assert [(key.id, key.fingerprint) for key in all_keys(session)] == before

    def test_a_scoped_batch_gets_its_scopes_key_even_in_a_draft(self, session: Session) -> None:
        campaign = make_campaign(session, status=CampaignStatus.DRAFT)
        target = campaign.targets[1]
        issued = admission_service.issue_codes(
            session,
            campaign,
            hashing_key=HASHING_KEY,
            group_key="cadres",
            count=1,
            target_code=target.department.code,
        )

        key = credential_keys.ensure_batch_key(session, campaign, issued.batch, SERVER_SECRET)

        assert key is not None
        assert (key.rater_group_id, key.target_id) == (group(campaign, "cadres").id, target.id)
        assert len(all_keys(session)) == 1

    def test_an_unscoped_batch_of_a_draft_waits_for_the_opening(self, session: Session) -> None:
        campaign = make_campaign(session, status=CampaignStatus.DRAFT)
        issued = admission_service.issue_codes(
            session, campaign, hashing_key=HASHING_KEY, group_key="citizens", count=1
        )

        assert (
            credential_keys.ensure_batch_key(session, campaign, issued.batch, SERVER_SECRET) is None
        )
        assert all_keys(session) == []

    def test_opening_makes_keys_for_scoped_batches_issued_before(self, session: Session) -> None:
        campaign = make_campaign(session, status=CampaignStatus.DRAFT)
        target = campaign.targets[0]
        issue_codes(session, campaign, group="citizens", target=target.department.code)

        credential_keys.open_campaign_keys(session, campaign, SERVER_SECRET)

        scopes = {(key.rater_group_id, key.target_id) for key in all_keys(session)}
        assert scopes == {
            (group(campaign, "citizens").id, None),
            (group(campaign, "cadres").id, None),
            (group(campaign, "citizens").id, target.id),
        }

    def test_public_keys_list_each_groups_all_targets_key_before_its_scoped_ones(
        self, session: Session
    ) -> None:
        campaign = make_campaign(session, status=CampaignStatus.DRAFT)
        issue_codes(session, campaign, group="cadres", target=campaign.targets[1].department.code)
        issue_codes(session, campaign, group="cadres", target=campaign.targets[0].department.code)
        credential_keys.open_campaign_keys(session, campaign, SERVER_SECRET)

        listed = [
            (info.rater_group.key, info.target.department.code if info.target else None)
            for info in credential_keys.public_keys(session, campaign)
        ]

        first, second = (target.department.code for target in campaign.targets)
        assert listed == [
            ("citizens", None),
            ("cadres", None),
            ("cadres", first),
            ("cadres", second),
        ]


class TestPrivateKeysAtRest:
    def test_the_stored_private_key_is_encrypted_under_the_server_secret(
        self, session: Session
    ) -> None:
        campaign = open_campaign(session)
        key = key_of(session, campaign.id, group(campaign).id)
        assert key.private_key is not None
        private_key = credential_keys.private_key_of(key, SERVER_SECRET)
        numbers = private_key.private_numbers()
        plain = private_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

        stored = bytes(key.private_key)
        assert plain not in stored
        for secret_number in (numbers.p, numbers.q, numbers.d):
            assert secret_number.to_bytes(192 * 2, "big").lstrip(b"\0") not in stored
        with pytest.raises(blind_rsa.KeyDecryptionFailed):
            blind_rsa.decrypt_private_key(stored, b"another secret", key.fingerprint)
        with pytest.raises(blind_rsa.KeyDecryptionFailed):
            blind_rsa.decrypt_private_key(stored, SERVER_SECRET, b"another key id")

    def test_a_decrypted_key_is_kept_for_the_process(
        self, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        campaign = open_campaign(session)
        key = key_of(session, campaign.id, group(campaign).id)
        first = credential_keys.private_key_of(key, SERVER_SECRET)

        def no_decrypting(*_args: object) -> None:
            raise AssertionError("decrypted twice")

        monkeypatch.setattr(blind_rsa, "decrypt_private_key", no_decrypting)
        assert credential_keys.private_key_of(key, SERVER_SECRET) is first


class TestVoucherIssuance:
    def test_a_voucher_is_exchanged_for_a_blind_signature_that_finalizes(
        self, session: Session
    ) -> None:
        campaign = open_campaign(session)
        code = issue_code(session, campaign)
        side = voucher_side(session, campaign)

        issued = issue(session, code, side)

        signature = side.finalize(issued.blind_signature)
        assert blind_rsa.verify(side.public_key, side.prepared, signature)
        assert issued.campaign.id == campaign.id
        assert issued.rater_group.key == "citizens"
        row = code_row(session, code)
        assert row.status == CodeStatus.USED
        assert row.blinded_hash == hashlib.sha256(side.blinded).digest()

    def test_the_same_blinded_message_again_gets_the_same_signature(self, session: Session) -> None:
        campaign = open_campaign(session)
        code = issue_code(session, campaign)
        side = voucher_side(session, campaign)
        first = issue(session, code, side)

        again = issue(session, code, side)

        assert again.blind_signature == first.blind_signature
        assert again.key.id == first.key.id

    def test_another_blinded_message_is_refused_and_changes_nothing(self, session: Session) -> None:
        campaign = open_campaign(session)
        code = issue_code(session, campaign)
        side = voucher_side(session, campaign)
        issue(session, code, side)

        with pytest.raises(PingyiError) as error:
            issue(session, code, voucher_side(session, campaign))

        assert refused(error) == (409, "code_used", "voucher")
        assert code_row(session, code).blinded_hash == hashlib.sha256(side.blinded).digest()

    def test_a_code_used_to_rate_directly_gets_no_credential(self, session: Session) -> None:
        campaign = open_campaign(session)
        code = issue_code(session, campaign)
        admission_service.use_code(session, HASHING_KEY, code)

        with pytest.raises(PingyiError) as error:
            issue(session, code, voucher_side(session, campaign))

        assert refused(error) == (409, "code_used", "voucher")
        assert code_row(session, code).blinded_hash is None

    def test_a_scoped_voucher_is_signed_with_its_scopes_key(self, session: Session) -> None:
        campaign = make_campaign(session, status=CampaignStatus.DRAFT)
        target = campaign.targets[1]
        code = issue_code(session, campaign, target=target.department.code)
        credential_keys.open_campaign_keys(session, campaign, SERVER_SECRET)
        campaign.status = CampaignStatus.OPEN
        scoped = key_of(session, campaign.id, group(campaign).id, target.id)
        side = rater_side(scoped.public_key)

        issued = issue(session, code, side)

        assert issued.key.id == scoped.id
        assert credential_keys.key_for_code(session, HASHING_KEY, code) == scoped
        admitted = spending.credential_admission(
            session, side.credential(side.finalize(issued.blind_signature), "citizens")
        )
        assert [t.id for t in admitted.targets] == [target.id]

    @pytest.mark.parametrize(
        ("problem", "expected"),
        [
            ("unknown", (403, "code_unknown", "voucher")),
            ("revoked", (403, "code_revoked", "voucher")),
            ("mistyped", (422, "code_mistyped", "voucher")),
            ("not base64url", (422, "credential_malformed", "blinded_message")),
            ("too short", (422, "credential_malformed", "blinded_message")),
            ("not below the modulus", (422, "credential_malformed", "blinded_message")),
            ("campaign closed", (409, "campaign_not_open", None)),
            ("no key", (409, "credentials_unavailable", None)),
        ],
    )
    def test_refusals_change_nothing(
        self, session: Session, problem: str, expected: tuple[int, str, str | None]
    ) -> None:
        campaign = open_campaign(session)
        code, other = issue_codes(session, campaign, count=2)
        side = voucher_side(session, campaign)
        presented, blinded = code, side.blinded_b64
        if problem == "unknown":
            presented = codes.generate()
        elif problem == "revoked":
            batch_id = code_row(session, code).batch_id
            admission_service.revoke_batch(session, campaign, batch_id)
        elif problem == "mistyped":
            presented = code[:-1] + ("0" if code[-1] != "0" else "1")
        elif problem == "not base64url":
            blinded = "a+b/c=="
        elif problem == "too short":
            blinded = credential_keys.encode_b64url(side.blinded[1:])
        elif problem == "not below the modulus":
            blinded = credential_keys.encode_b64url(b"\xff" * len(side.blinded))
        elif problem == "campaign closed":
            campaign.status = CampaignStatus.CLOSED
        elif problem == "no key":
            for key in all_keys(session):
                session.delete(key)
        session.flush()
        before = {
            c: (code_row(session, c).status, code_row(session, c).blinded_hash)
            for c in (code, other)
        }

        with pytest.raises(PingyiError) as error:
            issuance.issue_for_voucher(session, HASHING_KEY, SERVER_SECRET, presented, blinded)

        assert refused(error) == expected
        after = {
            c: (code_row(session, c).status, code_row(session, c).blinded_hash)
            for c in (code, other)
        }
        assert after == before


class TestMemberIssuance:
    def test_a_member_gets_one_blind_signature_and_is_marked(self, session: Session) -> None:
        campaign = open_campaign(session)
        member = add_member(session, campaign)
        side = voucher_side(session, campaign, "cadres")

        issued = issuance.issue_for_member(
            session, SERVER_SECRET, member.id, campaign.id, side.blinded_b64
        )

        assert blind_rsa.verify(
            side.public_key, side.prepared, side.finalize(issued.blind_signature)
        )
        session.refresh(member)
        assert member.credential_issued
        assert member.blinded_hash == hashlib.sha256(side.blinded).digest()

    def test_the_same_blinded_message_again_is_answered_and_another_refused(
        self, session: Session
    ) -> None:
        campaign = open_campaign(session)
        member = add_member(session, campaign)
        side = voucher_side(session, campaign, "cadres")
        first = issuance.issue_for_member(
            session, SERVER_SECRET, member.id, campaign.id, side.blinded
        )

        again = issuance.issue_for_member(
            session, SERVER_SECRET, member.id, campaign.id, side.blinded
        )
        with pytest.raises(PingyiError) as error:
            issuance.issue_for_member(
                session,
                SERVER_SECRET,
                member.id,
                campaign.id,
                voucher_side(session, campaign, "cadres").blinded,
            )

        assert again.blind_signature == first.blind_signature
        assert refused(error) == (409, "credential_issued", None)
        session.refresh(member)
        assert member.blinded_hash == hashlib.sha256(side.blinded).digest()

    @pytest.mark.parametrize("problem", ["no such member", "another campaign", "closed"])
    def test_refusals_change_nothing(self, session: Session, problem: str) -> None:
        campaign = open_campaign(session)
        member = add_member(session, campaign)
        side = voucher_side(session, campaign, "cadres")
        member_id, campaign_id = member.id, campaign.id
        if problem == "no such member":
            member_id += 1000
        elif problem == "another campaign":
            campaign_id = open_campaign(session).id
        else:
            campaign.status = CampaignStatus.CLOSED
            session.flush()

        with pytest.raises(PingyiError) as error:
            issuance.issue_for_member(session, SERVER_SECRET, member_id, campaign_id, side.blinded)

        assert error.value.code == (
            "campaign_not_open" if problem == "closed" else "roster_session_missing"
        )
        session.refresh(member)
        assert (member.credential_issued, member.blinded_hash) == (False, None)


class TestCheckingACredential:
    def test_a_credential_admits_to_its_campaign_group_and_targets(self, session: Session) -> None:
        campaign = open_campaign(session)
        credential = credential_for(session, campaign)

        admitted = spending.credential_admission(session, credential)

        assert admitted.campaign.id == campaign.id
        assert admitted.rater_group.key == "citizens"
        assert [t.id for t in admitted.targets] == [t.id for t in campaign.targets]
        assert admitted.questionnaire.id == "small"
        assert session.scalar(select(func.count()).select_from(SpentCredential)) == 0

    def test_naming_the_campaign_finds_it_too(self, session: Session) -> None:
        campaign = open_campaign(session)
        credential = credential_for(session, campaign)
        named = CredentialData(
            credential.rater_group, credential.message, credential.signature, campaign.slug
        )

        assert spending.credential_admission(session, named).campaign.id == campaign.id

    def test_spending_stores_only_the_hash_of_the_message(self, session: Session) -> None:
        campaign = open_campaign(session)
        credential = credential_for(session, campaign)

        admitted = spending.spend_credential(session, credential)

        message = credential_keys.decode_b64url(credential.message, field="message")
        spent = session.execute(select(SpentCredential)).scalars().all()
        assert [(row.message_hash, row.key_id) for row in spent] == [
            (
                hashlib.sha256(message).digest(),
                key_of(session, campaign.id, admitted.rater_group.id).id,
            )
        ]

    def test_a_spent_credential_is_refused(self, session: Session) -> None:
        campaign = open_campaign(session)
        credential = credential_for(session, campaign)
        spending.spend_credential(session, credential)

        with pytest.raises(PingyiError) as spend_again:
            spending.spend_credential(session, credential)
        with pytest.raises(PingyiError) as check_again:
            spending.credential_admission(session, credential)

        assert spend_again.value.status_code == check_again.value.status_code == 409
        assert spend_again.value.code == check_again.value.code == "credential_spent"
        assert session.scalar(select(func.count()).select_from(SpentCredential)) == 1

    @pytest.mark.parametrize(
        ("problem", "expected"),
        [
            ("tampered signature", (403, "credential_invalid")),
            ("tampered message", (403, "credential_invalid")),
            ("another group's key", (403, "credential_invalid")),
            ("another campaign named", (403, "credential_invalid")),
            ("unknown rater group", (403, "credential_invalid")),
            ("message too short", (422, "credential_malformed")),
            ("message not base64url", (422, "credential_malformed")),
            ("signature too short", (422, "credential_malformed")),
            ("campaign closed", (409, "campaign_not_open")),
        ],
    )
    def test_refusals_spend_nothing(
        self, session: Session, problem: str, expected: tuple[int, str]
    ) -> None:
        campaign = open_campaign(session)
        other = open_campaign(session)
        good = credential_for(session, campaign)
        message = credential_keys.decode_b64url(good.message, field="m")
        signature = credential_keys.decode_b64url(good.signature, field="s")
        flip = credential_keys.encode_b64url
        changes: dict[str, Any] = {
            "tampered signature": {"signature": flip(signature[:-1] + bytes([signature[-1] ^ 1]))},
            "tampered message": {"message": flip(message[:-1] + bytes([message[-1] ^ 1]))},
            "another group's key": {"rater_group": "cadres"},
            "another campaign named": {"campaign": other.slug},
            "unknown rater group": {"rater_group": "journalists"},
            "message too short": {"message": flip(message[:-1])},
            "message not base64url": {"message": "%%%"},
            "signature too short": {"signature": flip(signature[:-1])},
            "campaign closed": {},
        }[problem]
        if problem == "campaign closed":
            campaign.status = CampaignStatus.CLOSED
            session.flush()
        credential = CredentialData(**{**good.__dict__, **changes})

        for check in (spending.credential_admission, spending.spend_credential):
            with pytest.raises(PingyiError) as error:
                check(session, credential)
            assert (error.value.status_code, error.value.code) == expected
        assert session.scalar(select(func.count()).select_from(SpentCredential)) == 0

    def test_a_credential_is_independent_of_the_voucher_that_fetched_it(
        self, session: Session
    ) -> None:
        """What issuance stores (a hash of the blinded message) matches nothing the ballot
        carries or the spent set stores."""
        campaign = open_campaign(session)
        code = issue_code(session, campaign)
        side = voucher_side(session, campaign)
        issued = issue(session, code, side)
        credential = side.credential(side.finalize(issued.blind_signature), "citizens")
        spending.spend_credential(session, credential)

        stored_at_issuance = code_row(session, code).blinded_hash
        spent = session.scalars(select(SpentCredential.message_hash)).one()
        carried = {
            side.prepared,
            credential_keys.decode_b64url(credential.signature, field="s"),
        }
        assert stored_at_issuance is not None
        assert stored_at_issuance != spent
        assert all(stored_at_issuance not in value and spent not in value for value in carried)


class TestExactlyOnceUnderConcurrency:
    """Twenty simultaneous requests, each with its own connection, on committed data."""

    def test_one_voucher_gets_one_credential(self, committed_engine: Engine) -> None:
        with Session(committed_engine) as session:
            campaign = open_campaign(session)
            code = issue_code(session, campaign)
            spki = key_of(session, campaign.id, group(campaign).id).public_key
            session.commit()
        sides = [rater_side(spki) for _ in range(ATTEMPTS)]

        def attempt(side: RaterSide) -> Any:
            return lambda session: issue(session, code, side).blind_signature

        outcomes = race(committed_engine, [attempt(side) for side in sides])

        assert Counter(type(o).__name__ if isinstance(o, bytes) else o for o in outcomes) == {
            "bytes": 1,
            "code_used": ATTEMPTS - 1,
        }
        winner = next(i for i, o in enumerate(outcomes) if isinstance(o, bytes))
        with Session(committed_engine) as session:
            row = code_row(session, code)
            assert row.status == CodeStatus.USED
            assert row.blinded_hash == hashlib.sha256(sides[winner].blinded).digest()

    def test_the_same_request_twenty_times_gets_the_same_signature(
        self, committed_engine: Engine
    ) -> None:
        with Session(committed_engine) as session:
            campaign = open_campaign(session)
            code = issue_code(session, campaign)
            side = voucher_side(session, campaign)
            session.commit()

        outcomes = race(
            committed_engine,
            [lambda session: issue(session, code, side).blind_signature] * ATTEMPTS,
        )

        assert len(set(outcomes)) == 1
        assert isinstance(outcomes[0], bytes)

    def test_one_roster_member_gets_one_credential(self, committed_engine: Engine) -> None:
        with Session(committed_engine) as session:
            campaign = open_campaign(session)
            member = add_member(session, campaign)
            spki = key_of(session, campaign.id, group(campaign, "cadres").id).public_key
            member_id, campaign_id = member.id, campaign.id
            session.commit()
        sides = [rater_side(spki) for _ in range(ATTEMPTS)]

        def attempt(side: RaterSide) -> Any:
            return lambda session: (
                issuance.issue_for_member(
                    session, SERVER_SECRET, member_id, campaign_id, side.blinded
                ).blind_signature
            )

        outcomes = race(committed_engine, [attempt(side) for side in sides])

        assert Counter(type(o).__name__ if isinstance(o, bytes) else o for o in outcomes) == {
            "bytes": 1,
            "credential_issued": ATTEMPTS - 1,
        }
        with Session(committed_engine) as session:
            stored = session.get_one(RosterMember, member_id)
            assert stored.credential_issued

    def test_one_credential_is_spent_once(self, committed_engine: Engine) -> None:
        with Session(committed_engine) as session:
            campaign = open_campaign(session)
            credential = credential_for(session, campaign)
            campaign_id = campaign.id
            session.commit()

        outcomes = race(
            committed_engine,
            [lambda session: spending.spend_credential(session, credential).campaign.id] * ATTEMPTS,
        )

        assert Counter(outcomes) == {campaign_id: 1, "credential_spent": ATTEMPTS - 1}
        with Session(committed_engine) as session:
            assert session.scalar(select(func.count()).select_from(SpentCredential)) == 1
            assert session.scalar(select(func.count()).select_from(CredentialKey)) == 2

    def test_scoped_batches_issued_at_once_share_one_new_key(
        self, committed_engine: Engine
    ) -> None:
        with Session(committed_engine) as session:
            campaign = make_campaign(session, status=CampaignStatus.DRAFT)
            campaign_id = campaign.id
            target_code = campaign.targets[0].department.code
            session.commit()

        def attempt(session: Session) -> int:
            db.begin_writing(session)  # as the console's write sessions do
            campaign = session.get_one(Campaign, campaign_id)
            issued = admission_service.issue_codes(
                session,
                campaign,
                hashing_key=HASHING_KEY,
                group_key="citizens",
                count=1,
                target_code=target_code,
            )
            key = credential_keys.ensure_batch_key(session, campaign, issued.batch, SERVER_SECRET)
            assert key is not None
            return key.id

        outcomes = race(committed_engine, [attempt] * 6)

        assert len(set(outcomes)) == 1
        with Session(committed_engine) as session:
            assert len(all_keys(session)) == 1
