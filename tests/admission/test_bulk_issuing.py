"""Large batches of codes: every code is stored, usable, and in an order that says nothing."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from app.admission import codes
from app.admission import service as admission_service
from app.admission.models import AdmissionCode, CodeStatus
from tests.conftest import _session_in_rolled_back_transaction
from tests.factories import HASHING_KEY, code_status, make_campaign

BATCH_SIZE = 1500


class TestLargeBatch:
    def test_every_code_is_stored_unused_and_admits_once(self, any_session: Session) -> None:
        campaign = make_campaign(any_session)

        issued = admission_service.issue_codes(
            any_session, campaign, hashing_key=HASHING_KEY, group_key="citizens", count=BATCH_SIZE
        )

        rows = any_session.execute(
            select(AdmissionCode.code_hash, AdmissionCode.status).where(
                AdmissionCode.batch_id == issued.batch.id
            )
        )
        stored = {bytes(code_hash): status for code_hash, status in rows}
        expected = {codes.keyed_hash(HASHING_KEY, codes.normalize(code)) for code in issued.codes}
        assert set(stored) == expected
        assert set(stored.values()) == {CodeStatus.UNUSED}
        admission_service.use_code(any_session, HASHING_KEY, issued.codes[-1])
        assert code_status(any_session, issued.codes[-1]) == CodeStatus.USED
        assert code_status(any_session, issued.codes[0]) == CodeStatus.UNUSED

    def test_batch_after_batch_adds_up(self, any_session: Session) -> None:
        campaign = make_campaign(any_session)

        for _ in range(3):
            admission_service.issue_codes(
                any_session, campaign, hashing_key=HASHING_KEY, group_key="cadres", count=200
            )

        assert any_session.scalar(select(func.count()).select_from(AdmissionCode)) >= 600


@pytest.mark.postgres
class TestPhysicalOrder:
    """On PostgreSQL only: SQLite keeps this table in key order by itself (WITHOUT ROWID)."""

    @pytest.fixture
    def any_session(self, postgres_engine: Engine) -> Iterator[Session]:
        yield from _session_in_rolled_back_transaction(postgres_engine)

    def test_rows_are_stored_in_hash_order_not_in_the_order_of_the_slips(
        self, any_session: Session
    ) -> None:
        """The CSV file and the slips list codes as they were made; the table must not, or a
        row's place on disk would say which slip (and so which rater) it came from."""
        campaign = make_campaign(any_session)
        issued = admission_service.issue_codes(
            any_session, campaign, hashing_key=HASHING_KEY, group_key="citizens", count=300
        )

        rows = any_session.execute(
            text("SELECT ctid::text, code_hash FROM admission_codes WHERE batch_id = :batch"),
            {"batch": issued.batch.id},
        )
        pages: dict[int, list[tuple[int, bytes]]] = {}
        for ctid, code_hash in rows:
            page, item = (int(part) for part in ctid.strip("()").split(","))
            pages.setdefault(page, []).append((item, bytes(code_hash)))

        # Pages may be filled in any order (free space is reused), but each holds a run of
        # hashes in order: rows went in sorted by hash, not in the order of the slips.
        runs = [[code_hash for _, code_hash in sorted(items)] for items in pages.values()]
        in_slip_order = [
            codes.keyed_hash(HASHING_KEY, codes.normalize(code)) for code in issued.codes
        ]
        assert [code_hash for run in sorted(runs) for code_hash in run] == sorted(in_slip_order)
        assert all(run == sorted(run) for run in runs)
