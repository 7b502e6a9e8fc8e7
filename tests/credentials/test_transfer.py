"""Moving public keys from the issuer to the collector (:mod:`app.credentials.transfer`).

The issuer's database is the test's ``session``; the collector's is a second, separate SQLite
database. A key file goes across as the bytes ``pingyi keys export`` writes; whatever the
collector refuses, it refuses whole (the command rolls its transaction back), so a refused
file changes nothing there.
"""

import copy
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import i18n
from app.ballot_box import service as box_service
from app.ballot_box.models import TallyKey
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus
from app.credentials import issuance, spending, transfer
from app.credentials import keys as credential_keys
from app.credentials.errors import KeyTransferInvalid
from app.credentials.models import SpentCredential
from app.db import build_engine
from tests.conftest import migrate, new_sqlite_engine
from tests.credentials.credential_helpers import (
    SERVER_SECRET,
    all_keys,
    key_of,
    key_pool,  # noqa: F401 - an autouse fixture
    rater_side,
)
from tests.factories import HASHING_KEY, issue_code, make_campaign, make_department


@pytest.fixture(autouse=True)
def _english() -> None:
    i18n.set_locale("en")


@pytest.fixture(scope="module")
def migrated_directory() -> Path:
    """A migrated, empty SQLite database's directory, copied for each test's collector:
    migrating takes about a second, copying a few milliseconds."""
    engine = new_sqlite_engine()
    migrate(engine)
    assert engine.url.database is not None
    engine.dispose()
    return Path(engine.url.database).parent


@pytest.fixture
def collector(migrated_directory: Path, tmp_path: Path) -> Iterator[Session]:
    """The collector's database: a second, separate one."""
    directory = shutil.copytree(migrated_directory, tmp_path / "collector")
    engine = build_engine(f"sqlite:///{directory / 'test.db'}")
    with Session(engine) as session:
        yield session
    engine.dispose()


def issuer_campaign(session: Session) -> Campaign:
    campaign = make_campaign(session)
    credential_keys.open_campaign_keys(session, campaign, SERVER_SECRET)
    return campaign


class TestMovingKeys:
    def test_the_collector_gets_the_campaign_and_public_keys_only(
        self, session: Session, collector: Session
    ) -> None:
        campaign = issuer_campaign(session)
        data = transfer.export_keys(session, campaign)

        report = transfer.import_keys(collector, json.dumps(data).encode(), default_threshold=5)

        assert (report.campaign_created, report.keys_added, report.keys_kept) == (True, 2, 0)
        copied = campaign_service.get_campaign(collector, campaign.slug)
        assert copied.status == CampaignStatus.OPEN
        assert copied.title_zh == campaign.title_zh
        assert copied.questionnaire == campaign.questionnaire
        assert copied.disclosure_threshold == campaign.disclosure_threshold
        assert [(g.key, g.weight) for g in copied.rater_groups] == [
            (g.key, g.weight) for g in campaign.rater_groups
        ]
        assert [t.department.code for t in copied.targets] == [
            t.department.code for t in campaign.targets
        ]
        keys = all_keys(collector)
        assert [key.private_key for key in keys] == [None, None]
        assert sorted(key.fingerprint for key in keys) == sorted(
            key.fingerprint for key in all_keys(session)
        )
        assert "private" not in json.dumps(data)

    def test_a_credential_issued_by_the_issuer_is_spent_at_the_collector(
        self, session: Session, collector: Session
    ) -> None:
        campaign = issuer_campaign(session)
        transfer.import_keys(
            collector,
            json.dumps(transfer.export_keys(session, campaign)).encode(),
            default_threshold=5,
        )
        code = issue_code(session, campaign)
        side = rater_side(key_of(session, campaign.id, campaign.rater_groups[0].id).public_key)
        issued = issuance.issue_for_voucher(session, HASHING_KEY, SERVER_SECRET, code, side.blinded)
        credential = side.credential(
            side.finalize(issued.blind_signature), "citizens", campaign.slug
        )

        admitted = spending.spend_credential(collector, credential)

        assert admitted.campaign.slug == campaign.slug
        assert admitted.campaign.id == campaign_service.get_campaign(collector, campaign.slug).id
        assert len(collector.scalars(select(SpentCredential)).all()) == 1
        assert session.scalars(select(SpentCredential)).all() == []

    def test_importing_again_keeps_the_keys_and_adds_new_scopes(
        self, session: Session, collector: Session
    ) -> None:
        campaign = issuer_campaign(session)
        first = json.dumps(transfer.export_keys(session, campaign)).encode()
        transfer.import_keys(collector, first, default_threshold=5)
        target = campaign.targets[0]
        issue_code(session, campaign, target=target.department.code)
        credential_keys.open_campaign_keys(session, campaign, SERVER_SECRET)
        second = json.dumps(transfer.export_keys(session, campaign)).encode()

        report = transfer.import_keys(collector, second, default_threshold=5)

        assert (report.campaign_created, report.keys_added, report.keys_kept) == (False, 1, 2)
        copied = campaign_service.get_campaign(collector, campaign.slug)
        scoped = [key for key in all_keys(collector) if key.target_id is not None]
        assert [key.target_id for key in scoped] == [copied.targets[0].id]

    @pytest.mark.parametrize(
        "tamper",
        [
            "private key field",
            "private key text",
            "fingerprint",
            "small key",
            "unknown rater group",
            "not json",
        ],
    )
    def test_a_bad_key_file_imports_nothing(
        self, session: Session, collector: Session, tamper: str
    ) -> None:
        campaign = issuer_campaign(session)
        data = transfer.export_keys(session, campaign)
        bad = copy.deepcopy(data)
        if tamper == "private key field":
            bad["keys"][0]["private_key"] = "MIIG..."
        elif tamper == "private key text":
            bad["campaign"]["title"]["en"] = "-----BEGIN PRIVATE KEY-----"
        elif tamper == "fingerprint":
            bad["keys"][1]["fingerprint"] = "00" * 32
        elif tamper == "small key":
            from cryptography.hazmat.primitives.asymmetric import rsa

            from app.credentials import blind_rsa

            small = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
            bad["keys"][0]["public_key"] = credential_keys.encode_b64url(
                blind_rsa.public_key_der(small)
            )
            bad["keys"][0]["fingerprint"] = blind_rsa.public_key_fingerprint(small).hex()
        elif tamper == "unknown rater group":
            bad["keys"][1]["rater_group"] = "journalists"
        content = b"{not json" if tamper == "not json" else json.dumps(bad).encode()

        with pytest.raises(KeyTransferInvalid):
            transfer.import_keys(collector, content, default_threshold=5)
        collector.rollback()

        assert collector.scalars(select(Campaign)).all() == []
        assert all_keys(collector) == []

    def test_a_different_key_for_a_scope_already_here_is_refused(
        self, session: Session, collector: Session
    ) -> None:
        campaign = issuer_campaign(session)
        data = transfer.export_keys(session, campaign)
        transfer.import_keys(collector, json.dumps(data).encode(), default_threshold=5)
        swapped = copy.deepcopy(data)
        swapped["keys"][0], swapped["keys"][1] = (
            {**data["keys"][1], "rater_group": data["keys"][0]["rater_group"]},
            {**data["keys"][0], "rater_group": data["keys"][1]["rater_group"]},
        )

        with pytest.raises(KeyTransferInvalid) as error:
            transfer.import_keys(collector, json.dumps(swapped).encode(), default_threshold=5)

        assert "differs from the one already stored here" in error.value.translated()

    def test_a_campaign_without_keys_cannot_be_exported(self, session: Session) -> None:
        campaign = make_campaign(session, status=CampaignStatus.DRAFT)

        with pytest.raises(KeyTransferInvalid):
            transfer.export_keys(session, campaign)


def key_file(session: Session, campaign: Campaign) -> bytes:
    return json.dumps(transfer.export_keys(session, campaign)).encode()


def refusal(collector: Session, content: bytes) -> str:
    """Import ``content``, which must be refused; the message, once rolled back."""
    with pytest.raises(KeyTransferInvalid) as refused:
        transfer.import_keys(collector, content, default_threshold=5)
    collector.rollback()
    return refused.value.translated()


def collector_state(collector: Session) -> tuple[Any, ...]:
    """Everything an import can change on the collector, comparable before and after."""
    campaigns = [
        (
            campaign.slug,
            campaign.status,
            [group.key for group in campaign.rater_groups],
            [target.department.code for target in campaign.targets],
        )
        for campaign in collector.scalars(select(Campaign).order_by(Campaign.id))
    ]
    keys = [(key.campaign_id, key.rater_group_id, key.fingerprint) for key in all_keys(collector)]
    tally_keys = [
        (key.campaign_id, key.fingerprint)
        for key in collector.scalars(select(TallyKey).order_by(TallyKey.campaign_id))
    ]
    return campaigns, keys, tally_keys


class TestTallyKey:
    def test_the_tally_keys_public_half_arrives_with_its_fingerprint(
        self, session: Session, collector: Session
    ) -> None:
        campaign = issuer_campaign(session)
        issued = box_service.tally_key_of(session, campaign)
        assert issued is not None

        report = transfer.import_keys(collector, key_file(session, campaign), default_threshold=5)

        copied = campaign_service.get_campaign(collector, campaign.slug)
        stored = box_service.tally_key_of(collector, copied)
        assert stored is not None
        assert report.tally_fingerprint == bytes(issued.fingerprint)
        assert bytes(stored.fingerprint) == bytes(issued.fingerprint)
        assert bytes(stored.public_key) == bytes(issued.public_key)
        assert (stored.share_count, stored.threshold) == (issued.share_count, issued.threshold)

    def test_a_tally_key_that_does_not_match_its_fingerprint_is_refused(
        self, session: Session, collector: Session
    ) -> None:
        data = transfer.export_keys(session, issuer_campaign(session))
        data["tally_key"]["fingerprint"] = "00" * 32

        message = refusal(collector, json.dumps(data).encode())

        assert message == (
            "The key file cannot be imported: the tally key does not match its fingerprint"
        )
        assert collector_state(collector) == ([], [], [])

    def test_another_tally_key_for_a_campaign_here_is_refused_and_the_first_kept(
        self, session: Session, collector: Session
    ) -> None:
        campaign = issuer_campaign(session)
        transfer.import_keys(collector, key_file(session, campaign), default_threshold=5)
        collector.commit()
        before = collector_state(collector)
        other = transfer.export_keys(session, issuer_campaign(session))
        data = transfer.export_keys(session, campaign)
        data["tally_key"] = other["tally_key"]

        message = refusal(collector, json.dumps(data).encode())

        assert "the tally key differs from the one already stored here" in message
        assert collector_state(collector) == before


class TestImportingAgain:
    def test_the_same_file_twice_adds_nothing_and_says_so(
        self, session: Session, collector: Session
    ) -> None:
        content = key_file(session, issuer_campaign(session))
        transfer.import_keys(collector, content, default_threshold=5)
        collector.commit()
        before = collector_state(collector)

        again = transfer.import_keys(collector, content, default_threshold=5)
        collector.commit()

        assert (again.campaign_created, again.keys_added, again.keys_kept) == (False, 0, 2)
        assert collector_state(collector) == before
        assert collector.scalar(select(func.count()).select_from(Campaign)) == 1


class TestWrongCampaign:
    def test_a_file_whose_campaign_is_here_with_other_targets_is_refused_and_changes_nothing(
        self, session: Session, collector: Session
    ) -> None:
        campaign = issuer_campaign(session)
        data = transfer.export_keys(session, campaign)
        transfer.import_keys(collector, json.dumps(data).encode(), default_threshold=5)
        collector.commit()
        before = collector_state(collector)
        other = copy.deepcopy(data)
        elsewhere = make_department(session)
        other["campaign"]["targets"][1] = {
            "code": elsewhere.code,
            "name": elsewhere.name,
            "category": elsewhere.category,
        }

        message = refusal(collector, json.dumps(other).encode())

        assert message == (
            f"The key file cannot be imported: campaign {campaign.slug} exists here with other "
            "rater groups or targets"
        )
        assert collector_state(collector) == before

    def test_a_key_for_a_department_the_campaign_does_not_have_is_refused(
        self, session: Session, collector: Session
    ) -> None:
        data = transfer.export_keys(session, issuer_campaign(session))
        data["keys"][0]["target"] = "NOWHERE"

        message = refusal(collector, json.dumps(data).encode())

        assert "'NOWHERE'" in message
        assert collector_state(collector) == ([], [], [])


class TestExportable:
    @pytest.mark.parametrize("status", [CampaignStatus.CLOSED, CampaignStatus.TALLIED])
    def test_a_campaign_past_open_is_not_exported(
        self, session: Session, status: CampaignStatus
    ) -> None:
        campaign = issuer_campaign(session)
        campaign.status = status

        with pytest.raises(KeyTransferInvalid) as refused:
            transfer.export_keys(session, campaign)

        assert f"is {status.value}; export it while open" in refused.value.translated()

    def test_a_campaign_without_a_tally_key_is_not_exported(self, session: Session) -> None:
        campaign = make_campaign(session, sealed_box=False)
        credential_keys.open_campaign_keys(session, campaign, SERVER_SECRET)

        with pytest.raises(KeyTransferInvalid) as refused:
            transfer.export_keys(session, campaign)

        assert "has no tally key" in refused.value.translated()
