"""The audit trail's hash chain: appends, and tampering caught at the first broken link."""

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.audit import service as audit_service
from app.audit.models import AuditEntry, AuditHead
from tests.conftest import PostgresDatabases, migrate, new_sqlite_engine


def append(session: Session, count: int) -> list[AuditEntry]:
    return [
        audit_service.record(
            session, actor="admin", action="campaign_open", object=f"campaign:c{i}", detail={"i": i}
        )
        for i in range(count)
    ]


class TestAppending:
    def test_entries_are_numbered_and_chained(self, any_session: Session) -> None:
        first, second, third = append(any_session, 3)

        assert second.sequence == first.sequence + 1
        assert second.previous_hash == first.entry_hash
        assert third.previous_hash == second.entry_hash
        assert audit_service.verify(any_session).intact

    def test_chain_survives_a_database_round_trip(self, any_session: Session) -> None:
        append(any_session, 2)
        any_session.flush()
        any_session.expire_all()

        result = audit_service.verify(any_session)

        assert result.intact
        assert result.entries >= 2


class TestTamperingIsCaught:
    def test_edited_entry(self, any_session: Session) -> None:
        entries = append(any_session, 4)
        any_session.flush()
        any_session.execute(
            update(AuditEntry)
            .where(AuditEntry.sequence == entries[1].sequence)
            .values(actor="someone else")
        )
        any_session.expire_all()

        result = audit_service.verify(any_session)

        assert result.first_broken == entries[1].sequence
        assert result.problem == "content changed"

    def test_edited_entry_with_its_hash_recomputed(self, session: Session) -> None:
        entries = append(session, 4)
        session.flush()
        forged = entries[1]
        forged.detail = {"i": 99}
        forged.entry_hash = audit_service._hash_of(forged)
        session.flush()

        result = audit_service.verify(session)

        assert result.first_broken == entries[2].sequence

    def test_deleted_entry(self, any_session: Session) -> None:
        entries = append(any_session, 4)
        any_session.flush()
        any_session.execute(delete(AuditEntry).where(AuditEntry.sequence == entries[2].sequence))
        any_session.expire_all()

        result = audit_service.verify(any_session)

        assert result.first_broken == entries[2].sequence
        assert result.problem == "entry missing"

    def test_reordered_entries(self, session: Session) -> None:
        entries = append(session, 4)
        session.flush()
        a, b = entries[1].sequence, entries[2].sequence
        session.execute(update(AuditEntry).where(AuditEntry.sequence == a).values(sequence=-1))
        session.execute(update(AuditEntry).where(AuditEntry.sequence == b).values(sequence=a))
        session.execute(update(AuditEntry).where(AuditEntry.sequence == -1).values(sequence=b))
        session.expire_all()

        result = audit_service.verify(session)

        assert result.first_broken == a

    def test_newest_entries_removed(self, session: Session) -> None:
        entries = append(session, 3)
        session.flush()
        session.execute(delete(AuditEntry).where(AuditEntry.sequence == entries[-1].sequence))
        session.expire_all()

        result = audit_service.verify(session)

        assert result.problem == "newest entries missing"

    def test_truncation_with_a_rewritten_head_is_caught_by_a_recorded_head(
        self, session: Session
    ) -> None:
        entries = append(session, 3)
        session.flush()
        recorded_head = audit_service.verify(session).head_hash
        session.execute(delete(AuditEntry).where(AuditEntry.sequence == entries[-1].sequence))
        session.execute(
            update(AuditHead).values(
                sequence=entries[-2].sequence, entry_hash=entries[-2].entry_hash
            )
        )
        session.expire_all()

        assert audit_service.verify(session).intact  # consistent on its own...
        assert not audit_service.has_entry_hash(session, recorded_head)  # ...but not the same


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def committed_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = new_sqlite_engine()
    else:
        databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
        engine = databases.create()
    migrate(engine)
    yield engine
    engine.dispose()


class TestConcurrentAppends:
    def test_simultaneous_actions_keep_one_unbroken_chain(self, committed_engine: Engine) -> None:
        factory = sessionmaker(bind=committed_engine)
        barrier = threading.Barrier(12)
        failures: list[BaseException] = []

        def act(index: int) -> None:
            try:
                with factory() as session:
                    barrier.wait()
                    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
                    audit_service.record(
                        session, actor=f"staff{index}", action="login", object="user:x"
                    )
                    session.commit()
            except BaseException as error:  # collected and asserted below
                failures.append(error)

        threads = [threading.Thread(target=act, args=(i,)) for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert failures == []
        with factory() as session:
            result = audit_service.verify(session)
            assert result.intact
            assert result.entries == 12
            assert len(set(session.scalars(select(AuditEntry.actor)))) == 12
