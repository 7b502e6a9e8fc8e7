"""Sealing a campaign (privacy rule 6): every row survives, its storage shows no order.

Most tests run on committed databases of their own (SQLite and PostgreSQL), because what is
checked lives in the storage: PostgreSQL's ``ctid``, ``xmin`` and dead row versions, SQLite's
write-ahead log and freelist. The rows are written the way the issuance and ballot paths
write them, one transaction per issuance and per ballot: each ballot puts a sealed ballot in
the box, and also writes an evaluation and a receipt as a campaign opened before the ballot
box existed does (the tally, too, writes evaluations), so every sealed table holds rows
written in a known order.
"""

import hashlib
import logging
import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from scipy import stats
from sqlalchemy import Connection, Engine, func, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from app import config, db
from app.admission import codes as admission_codes
from app.admission.models import AdmissionCode, CodeBatch, CodeStatus
from app.audit.models import AuditEntry
from app.ballot_box import contents as ballot_contents
from app.ballot_box import service as box_service
from app.ballots.models import Evaluation, Receipt
from app.campaigns.models import Campaign, CampaignStatus
from app.credentials import blind_rsa
from app.credentials.models import CredentialKey, RosterMember, SpentCredential
from app.deps import code_hashing_key
from app.main import create_app
from app.sealing import rows as sealing
from tests.conftest import PostgresDatabases, migrate, new_sqlite_engine
from tests.console import csrf_headers, post_form, sign_in
from tests.factories import (
    HASHING_KEY,
    issue_codes,
    make_campaign,
    make_department,
    make_staff,
)

BALLOTS = 200
PAGE_SIZE = 8192  # PostgreSQL's default block size, in bytes
ORDER_CORRELATION_BOUND = 0.3  # |Spearman rho| over 200 rows: p ≈ 1e-5 under no order


@lru_cache
def public_key() -> tuple[bytes, bytes]:
    """A real 3072-bit public key (SPKI DER) and its fingerprint, made once per run."""
    key = blind_rsa.generate_private_key().public_key()
    return blind_rsa.public_key_der(key), blind_rsa.public_key_fingerprint(key)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def committed_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated database of this test's own, whose data is really committed."""
    if request.param == "sqlite":
        engine = new_sqlite_engine()
    else:
        databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
        engine = databases.create()
    migrate(engine)
    yield engine
    engine.dispose()


# Writing a campaign's rows the way the services do


@dataclass(frozen=True)
class Populated:
    campaign_id: int
    slug: str
    evaluation_ids: list[uuid.UUID]  # in the order they were written
    spent_hashes: list[bytes]
    receipt_hashes: list[bytes]
    trackers: list[bytes]


def add_key(session: Session, campaign: Campaign) -> CredentialKey:
    der, fingerprint = public_key()
    key = CredentialKey(
        campaign_id=campaign.id,
        rater_group_id=campaign.rater_groups[0].id,
        target_id=None,
        public_key=der,
        fingerprint=fingerprint,
        private_key=None,
    )
    session.add(key)
    session.flush()
    return key


def populate(engine: Engine, *, ballots: int = BALLOTS, roster: int = 20) -> Populated:
    """An open campaign whose vouchers are exchanged and credentials spent one by one."""
    with Session(engine, expire_on_commit=False) as session:
        campaign = make_campaign(session)
        codes = issue_codes(session, campaign, count=ballots + 10)
        key = add_key(session, campaign)
        session.execute(
            insert(RosterMember),
            [
                {
                    "campaign_id": campaign.id,
                    "rater_group_id": campaign.rater_groups[1].id,
                    "identifier_hash": secrets.token_bytes(32),
                    "password_hash": "not a real hash",
                    "credential_issued": False,
                }
                for _ in range(roster)
            ],
        )
        member_ids = list(
            session.scalars(select(RosterMember.id).where(RosterMember.campaign_id == campaign.id))
        )
        targets = [target.id for target in campaign.targets]
        target_codes = [target.department.code for target in campaign.targets]
        group_id, group_key = campaign.rater_groups[0].id, campaign.rater_groups[0].key
        fingerprint = box_service.tally_fingerprint(session, campaign.id)
        box_key = box_service.box_key(session, campaign.id, campaign.slug, fingerprint)
        session.commit()

    evaluation_ids: list[uuid.UUID] = []
    spent: list[bytes] = []
    receipts: list[bytes] = []
    trackers: list[bytes] = []
    for index in range(ballots):
        with Session(engine) as issuance, issuance.begin():
            code_hash = admission_codes.keyed_hash(
                HASHING_KEY, admission_codes.normalize(codes[index])
            )
            issuance.execute(
                update(AdmissionCode)
                .where(AdmissionCode.code_hash == code_hash)
                .values(status=CodeStatus.USED, blinded_hash=secrets.token_bytes(32))
            )
        if index < len(member_ids):
            with Session(engine) as issuance, issuance.begin():
                issuance.execute(
                    update(RosterMember)
                    .where(RosterMember.id == member_ids[index])
                    .values(credential_issued=True, blinded_hash=secrets.token_bytes(32))
                )
        with Session(engine) as ballot, ballot.begin():
            spent.append(hashlib.sha256(secrets.token_bytes(64)).digest())
            ballot.execute(insert(SpentCredential).values(message_hash=spent[-1], key_id=key.id))
            sealed = ballot_contents.BallotContents(
                rater_group=group_key,
                evaluations=(
                    ballot_contents.SealedEvaluation(
                        target=target_codes[index % len(targets)],
                        answers="54-",
                        quality_flags=0,
                        comment=None,
                    ),
                ),
            )
            trackers.append(box_service.put_ballot(ballot, campaign.id, box_key, sealed))
            evaluation_ids.append(uuid.uuid4())
            ballot.execute(
                insert(Evaluation).values(
                    id=evaluation_ids[-1],
                    campaign_id=campaign.id,
                    target_id=targets[index % len(targets)],
                    rater_group_id=group_id,
                    answers="54-",
                    comment=None,
                    quality_flags=0,
                )
            )
            receipts.append(hashlib.sha256(secrets.token_bytes(16)).digest())
            ballot.execute(
                insert(Receipt).values(receipt_hash=receipts[-1], campaign_id=campaign.id)
            )
    return Populated(campaign.id, campaign.slug, evaluation_ids, spent, receipts, trackers)


# Looking at the storage


def campaign_conditions(campaign_id: int) -> dict[str, str]:
    """SQL conditions selecting one campaign's rows of each sealed table."""
    batches = f"SELECT id FROM code_batches WHERE campaign_id = {campaign_id}"  # noqa: S608
    keys = f"SELECT id FROM credential_keys WHERE campaign_id = {campaign_id}"  # noqa: S608
    return {
        "admission_codes": f"batch_id IN ({batches})",
        "roster_members": f"campaign_id = {campaign_id}",
        "spent_credentials": f"key_id IN ({keys})",
        "ballot_box": f"campaign_id = {campaign_id}",
        "evaluations": f"campaign_id = {campaign_id}",
        "receipts": f"campaign_id = {campaign_id}",
    }


def table_rows(connection: Connection, campaign_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every column of every sealed row, per table, as a sorted list (a multiset)."""
    return {
        table: sorted(
            tuple(row)
            for row in connection.execute(text(f"SELECT * FROM {table} WHERE {condition}"))  # noqa: S608
        )
        for table, condition in campaign_conditions(campaign_id).items()
    }


PHYSICAL_ORDER = {"postgresql": "ORDER BY ctid", "sqlite": ""}  # SQLite: the b-tree's order


def physical_order(engine: Engine, table: str, column: str, condition: str) -> list[Any]:
    """``column`` of the rows in storage order."""
    order = PHYSICAL_ORDER[engine.dialect.name]
    with engine.connect() as connection:
        return list(
            connection.scalars(text(f"SELECT {column} FROM {table} WHERE {condition} {order}"))  # noqa: S608
        )


def order_correlation(written: list[Any], stored: list[Any]) -> float:
    """Spearman's rho between the order rows were written in and the order they are stored in."""
    position = {value: index for index, value in enumerate(written)}
    ranks = [position[_plain(value)] for value in stored]
    return float(stats.spearmanr(ranks, range(len(ranks))).statistic)


def _plain(value: Any) -> Any:
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, str) and len(value) == 32:  # SQLite's UUIDs come back as hex
        return uuid.UUID(value)
    return value


def xmins(engine: Engine, campaign_id: int) -> dict[str, set[str]]:
    with engine.connect() as connection:
        return {
            table: set(
                connection.scalars(text(f"SELECT xmin::text FROM {table} WHERE {condition}"))  # noqa: S608
            )
            for table, condition in campaign_conditions(campaign_id).items()
        }


def stale_tuples(engine: Engine) -> dict[str, int]:
    """Per sealed table, the heap items that are not a live row: deleted or superseded row
    versions (which keep their old ``xmin``) and redirect or dead line pointers, read from
    the raw pages as someone with the data files would."""
    with engine.connect() as connection:
        connection.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
        connection.commit()
        counts: dict[str, int] = {}
        for table in sealing.SEALED_TABLE_NAMES:
            pages = f"generate_series(0, pg_relation_size('{table}') / {PAGE_SIZE} - 1)"
            counts[table] = connection.scalar(
                text(
                    f"SELECT count(*) FROM {pages} AS page, "  # noqa: S608 - our table names
                    f"heap_page_items(get_raw_page('{table}', page::int)) AS item "
                    "WHERE item.lp_flags <> 1 OR item.t_xmax <> '0'"
                )
            )
        return counts


def wal_size(engine: Engine) -> int:
    assert engine.url.database is not None
    wal = Path(engine.url.database + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def get_campaign(engine: Engine, campaign_id: int) -> Campaign:
    with Session(engine, expire_on_commit=False) as session:
        return session.get_one(Campaign, campaign_id)


# The tests


class TestRowsSurvive:
    def test_every_row_of_every_sealed_table_survives_unchanged(
        self, committed_engine: Engine
    ) -> None:
        populated = populate(committed_engine)
        other = populate(committed_engine, ballots=10, roster=3)
        with committed_engine.connect() as connection:
            before = table_rows(connection, populated.campaign_id)
            other_before = table_rows(connection, other.campaign_id)

        sealed = sealing.seal(
            committed_engine, get_campaign(committed_engine, populated.campaign_id)
        )

        with committed_engine.connect() as connection:
            assert table_rows(connection, populated.campaign_id) == before
            assert table_rows(connection, other.campaign_id) == other_before
        assert sealed.rewritten == {table: len(rows) for table, rows in before.items()}
        assert sealed.rewritten["evaluations"] == BALLOTS
        assert sealed.rewritten["ballot_box"] == BALLOTS

    def test_sealing_twice_changes_nothing_stored(self, committed_engine: Engine) -> None:
        populated = populate(committed_engine, ballots=20)
        campaign = get_campaign(committed_engine, populated.campaign_id)
        with committed_engine.connect() as connection:
            before = table_rows(connection, populated.campaign_id)
        sealing.seal(committed_engine, campaign)
        sealing.seal(committed_engine, campaign)
        with committed_engine.connect() as connection:
            assert table_rows(connection, populated.campaign_id) == before

    def test_a_campaign_without_rows_seals(self, committed_engine: Engine) -> None:
        with Session(committed_engine, expire_on_commit=False) as session:
            campaign = make_campaign(session, status=CampaignStatus.DRAFT)
            session.commit()
        sealed = sealing.seal(committed_engine, campaign)
        assert set(sealed.rewritten.values()) == {0}


class TestStorageOrder:
    def test_storage_order_is_not_the_order_rows_were_written_in(
        self, committed_engine: Engine
    ) -> None:
        populated = populate(committed_engine)
        conditions = campaign_conditions(populated.campaign_id)
        checked = {
            "evaluations": ("id", populated.evaluation_ids),
            "spent_credentials": ("message_hash", populated.spent_hashes),
            "ballot_box": ("tracker", populated.trackers),
            "receipts": ("receipt_hash", populated.receipt_hashes),
        }
        before = {
            table: order_correlation(
                written, physical_order(committed_engine, table, column, conditions[table])
            )
            for table, (column, written) in checked.items()
        }

        sealing.seal(committed_engine, get_campaign(committed_engine, populated.campaign_id))

        after = {
            table: order_correlation(
                written, physical_order(committed_engine, table, column, conditions[table])
            )
            for table, (column, written) in checked.items()
        }
        print(f"\n{committed_engine.dialect.name} storage order rho before {before}, after {after}")
        assert all(abs(rho) < ORDER_CORRELATION_BOUND for rho in after.values()), after
        if committed_engine.dialect.name == "postgresql":  # the check can fail: heaps append
            assert all(rho > 0.9 for rho in before.values()), before

    @pytest.mark.postgres
    def test_postgres_rows_carry_the_seal_transaction_id_and_no_dead_versions_remain(
        self, postgres_databases: PostgresDatabases
    ) -> None:
        engine = postgres_databases.create()
        migrate(engine)
        try:
            populated = populate(engine, ballots=60)
            before = xmins(engine, populated.campaign_id)
            assert len(before["evaluations"]) == 60
            campaign = get_campaign(engine, populated.campaign_id)

            with Session(engine) as session, session.begin():
                sealing.rewrite_in_random_order(session, campaign)
            rewritten = xmins(engine, populated.campaign_id)
            assert len(set().union(*rewritten.values())) == 1, rewritten
            assert stale_tuples(engine)["evaluations"] >= 60  # the old versions, until vacuumed

            assert sealing.reset_physical_order(engine)

            assert xmins(engine, populated.campaign_id) == rewritten
            assert set(stale_tuples(engine).values()) == {0}
        finally:
            engine.dispose()

    def test_sqlite_write_ahead_log_is_emptied_and_file_repacked(self) -> None:
        engine = new_sqlite_engine()
        migrate(engine)
        try:
            populated = populate(engine, ballots=60)
            assert wal_size(engine) > 0
            with engine.connect() as connection:
                connection.execute(text("DELETE FROM audit_entries"))  # leave free pages
                connection.commit()

            assert sealing.seal(engine, get_campaign(engine, populated.campaign_id))

            assert wal_size(engine) == 0
            with engine.connect() as connection:
                assert connection.scalar(text("PRAGMA freelist_count")) == 0
        finally:
            engine.dispose()


class TestSealInASession:
    """The API and the CLI seal in their own transaction; the vacuum follows its commit."""

    @pytest.fixture
    def vacuums(self, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
        """Records each vacuum, and whether the rewrite was committed when it began."""
        calls: list[bool] = []
        real = sealing.reset_physical_order

        def recording(engine: Engine, *args: Any, **options: Any) -> bool:
            with Session(engine) as reader:  # another connection sees only committed rows
                calls.append(reader.scalar(select(func.count()).select_from(Evaluation)) > 0)
            return real(engine, *args, **options)

        monkeypatch.setattr(sealing, "reset_physical_order", recording)
        return calls

    def test_vacuum_runs_after_the_commit(
        self, committed_engine: Engine, vacuums: list[bool]
    ) -> None:
        populated = populate(committed_engine, ballots=20)
        with Session(committed_engine) as session:
            sealing.seal(session, session.get_one(Campaign, populated.campaign_id))
            assert vacuums == []
            session.commit()
        assert vacuums == [True]

    def test_nothing_is_vacuumed_when_the_transaction_rolls_back(
        self, committed_engine: Engine, vacuums: list[bool]
    ) -> None:
        populated = populate(committed_engine, ballots=20)
        order = physical_order(
            committed_engine, "receipts", "receipt_hash", f"campaign_id = {populated.campaign_id}"
        )
        with Session(committed_engine) as session:
            sealing.seal(session, session.get_one(Campaign, populated.campaign_id))
            session.rollback()
            session.commit()  # a later transaction of the same session does not vacuum
        assert vacuums == []
        assert (
            physical_order(
                committed_engine,
                "receipts",
                "receipt_hash",
                f"campaign_id = {populated.campaign_id}",
            )
            == order
        )

    def test_a_session_inside_its_callers_transaction_leaves_the_vacuum_to_the_caller(
        self, session: Session, vacuums: list[bool], caplog: pytest.LogCaptureFixture
    ) -> None:
        campaign = make_campaign(session)
        with caplog.at_level(logging.INFO, logger="pingyi.sealing"):
            sealing.seal(session, campaign)
            session.commit()  # releases the test's savepoint only
        assert vacuums == []
        assert "vacuum left to the owner" in caplog.text


# The seal command and the API


def app_pointed_at(engine: Engine) -> Callable[[], Any]:
    """Point the app's settings at ``engine``'s database; returns the undo."""
    patch = pytest.MonkeyPatch()
    patch.setenv("PINGYI_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    clear = [config.get_settings.cache_clear, db.get_engine.cache_clear]
    clear.append(db.get_session_factory.cache_clear)
    for function in clear:
        function()

    def undo() -> None:
        if db.get_engine.cache_info().currsize:
            db.get_engine().dispose()
        patch.undo()
        for function in clear:
            function()

    return undo


@contextmanager
def app_database(engine: Engine) -> Iterator[None]:
    undo = app_pointed_at(engine)
    try:
        yield
    finally:
        undo()


class TestCommand:
    def test_seal_command_seals_and_vacuums(self, committed_engine: Engine) -> None:
        from tests.test_cli import run_ok

        populated = populate(committed_engine, ballots=30)
        with committed_engine.connect() as connection:
            before = table_rows(connection, populated.campaign_id)
        with app_database(committed_engine):
            result = run_ok("campaign", "seal", populated.slug)
        assert f"{populated.slug}: sealed" in result.output
        assert str(30) not in result.output.replace(populated.slug, "")  # no counts shown
        with committed_engine.connect() as connection:
            assert table_rows(connection, populated.campaign_id) == before
        assert_vacuumed(committed_engine, populated.campaign_id)

    def test_seal_command_refuses_an_unknown_campaign(self, committed_engine: Engine) -> None:
        from tests.test_cli import run_failing

        with app_database(committed_engine):
            result = run_failing("campaign", "seal", "no-such-campaign")
        assert "no-such-campaign" in result.output

    def test_close_command_seals(self, committed_engine: Engine) -> None:
        from tests.test_cli import run_ok

        populated = populate(committed_engine, ballots=30)
        with app_database(committed_engine):
            result = run_ok("campaign", "close", populated.slug)
        assert "sealed" in result.output
        assert_vacuumed(committed_engine, populated.campaign_id)


def assert_vacuumed(engine: Engine, campaign_id: int) -> None:
    """The seal's traces: one transaction id for every sealed row, no dead versions (PostgreSQL);
    an empty write-ahead log (SQLite)."""
    if engine.dialect.name == "postgresql":
        assert len(set().union(*xmins(engine, campaign_id).values())) == 1
        assert set(stale_tuples(engine).values()) == {0}
    else:
        assert wal_size(engine) == 0


class TestApi:
    def test_sign_in_is_required(self, client: TestClient, session: Session) -> None:
        campaign = make_campaign(session)
        response = client.post(f"/api/v1/campaigns/{campaign.slug}/seal")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_signed_in"

    @pytest.mark.parametrize("role", ["auditor", "liaison"])
    def test_roles_that_may_not_manage_campaigns_are_refused(
        self, client: TestClient, session: Session, role: str
    ) -> None:
        campaign = make_campaign(session)
        department = make_department(session) if role == "liaison" else None
        user = make_staff(session, role=role, department=department)
        sign_in(client, user.username)
        response = client.post(
            f"/api/v1/campaigns/{campaign.slug}/seal", headers=csrf_headers(client)
        )
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"

    def test_office_staff_seal_and_the_audit_trail_records_it(
        self, client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        campaign = make_campaign(session)
        user = make_staff(session, role="admin")
        sign_in(client, user.username)
        rewrites: list[str] = []
        real = sealing.rewrite_in_random_order

        def recording(inner: Session, sealed: Campaign) -> sealing.Seal:
            rewrites.append(sealed.slug)
            return real(inner, sealed)

        monkeypatch.setattr(sealing, "rewrite_in_random_order", recording)

        response = client.post(
            f"/api/v1/campaigns/{campaign.slug}/seal", headers=csrf_headers(client)
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["campaign"] == campaign.slug
        assert body["status"] == "open"
        assert rewrites == [campaign.slug]
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "campaign_seal")
        ).one()
        assert entry.actor == user.username
        assert entry.object == f"campaign:{campaign.slug}"

    def test_unknown_campaign_is_404(self, client: TestClient, session: Session) -> None:
        user = make_staff(session, role="admin")
        sign_in(client, user.username)
        response = client.post(
            "/api/v1/campaigns/no-such-campaign/seal", headers=csrf_headers(client)
        )
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"

    def test_the_route_is_documented(self, client: TestClient) -> None:
        schema = client.get("/openapi.json").json()
        assert "post" in schema["paths"]["/api/v1/campaigns/{slug}/seal"]


@contextmanager
def committed_client(engine: Engine) -> Iterator[TestClient]:
    """The app on a committed database: each request's transaction really commits."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    app = create_app()

    def request_session() -> Iterator[Session]:
        with factory() as session, db.committing(session):
            yield session

    app.dependency_overrides[db.get_session] = request_session
    app.dependency_overrides[code_hashing_key] = lambda: HASHING_KEY
    with TestClient(app) as client:
        yield client


class TestSealedOverHttp:
    def test_api_seal_vacuums_after_the_request_commits(self, committed_engine: Engine) -> None:
        populated = populate(committed_engine, ballots=30)
        with Session(committed_engine) as session:
            username = make_staff(session, role="admin").username
            session.commit()
        with committed_client(committed_engine) as client:
            sign_in(client, username)
            response = client.post(
                f"/api/v1/campaigns/{populated.slug}/seal", headers=csrf_headers(client)
            )
        assert response.status_code == 200, response.text
        assert_vacuumed(committed_engine, populated.campaign_id)

    def test_closing_in_the_console_seals(self, committed_engine: Engine) -> None:
        populated = populate(committed_engine, ballots=30)
        with Session(committed_engine) as session:
            username = make_staff(session, role="admin").username
            session.commit()
        with committed_client(committed_engine) as client:
            sign_in(client, username)
            path = f"/admin/campaigns/{populated.slug}/close"
            response = post_form(client, path, token_from=path)
        assert response.status_code == 303, response.text
        assert get_campaign(committed_engine, populated.campaign_id).status == CampaignStatus.CLOSED
        assert_vacuumed(committed_engine, populated.campaign_id)


def test_batches_of_other_campaigns_are_not_touched(session: Session) -> None:
    """The rows a seal selects: only the campaign's own batches, keys and rows."""
    campaign, other = make_campaign(session), make_campaign(session)
    issue_codes(session, campaign, count=3)
    issue_codes(session, other, count=4)
    sealed = sealing.rewrite_in_random_order(session, campaign)
    assert sealed.rewritten["admission_codes"] == 3
    batch_ids = select(CodeBatch.id).where(CodeBatch.campaign_id == other.id)
    assert session.scalar(select(func.count()).where(AdmissionCode.batch_id.in_(batch_ids))) == 4
