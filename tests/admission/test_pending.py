"""A new batch's codes, held encrypted until each format is downloaded once, or expired."""

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.admission import codes as code_format
from app.admission import pending as pending_codes
from app.admission import service as admission_service
from app.admission.models import PendingCodes
from app.admission.pending import DownloadFormat
from app.admission.service import IssuedBatch
from app.campaigns.models import Campaign
from app.errors import NotFound
from tests.factories import HASHING_KEY, make_campaign

KEY = pending_codes.pending_codes_key(b"test-secret-key")
LIFETIME = dt.timedelta(hours=24)
CSV = DownloadFormat.CSV
PDF = DownloadFormat.PDF


def issue_and_hold(session: Session, campaign: Campaign, count: int = 5) -> IssuedBatch:
    issued = admission_service.issue_codes(
        session, campaign, hashing_key=HASHING_KEY, group_key="citizens", count=count
    )
    pending_codes.hold_for_download(session, issued, KEY, lifetime=LIFETIME)
    return issued


def pending_row(session: Session, batch_id: int) -> PendingCodes | None:
    session.expire_all()
    return session.scalar(select(PendingCodes).where(PendingCodes.batch_id == batch_id))


class TestEncryptionAtRest:
    def test_ciphertext_contains_no_code_in_any_form(self, session: Session) -> None:
        campaign = make_campaign(session)
        issued = issue_and_hold(session, campaign, count=20)

        row = pending_row(session, issued.batch.id)

        assert row is not None
        stored = row.ciphertext
        for code in issued.codes:
            for form in (code, code_format.normalize(code), code.replace("-", "")):
                assert form.encode() not in stored
                assert form.lower().encode() not in stored

    def test_the_key_is_derived_from_the_secret_not_the_secret_itself(self) -> None:
        assert b"test-secret-key" not in KEY
        assert pending_codes.pending_codes_key(b"another secret") != KEY
        assert pending_codes.pending_codes_key(b"test-secret-key") == KEY

    def test_another_key_cannot_decrypt(self, session: Session) -> None:
        campaign = make_campaign(session)
        issued = issue_and_hold(session, campaign)
        other_key = pending_codes.pending_codes_key(b"another secret")

        with pytest.raises(pending_codes.CodesUndecryptable):
            pending_codes.take_codes(session, campaign, issued.batch.id, CSV, other_key)

    def test_a_ciphertext_moved_to_another_batch_is_refused(self, session: Session) -> None:
        campaign = make_campaign(session)
        first = issue_and_hold(session, campaign)
        second = issue_and_hold(session, campaign)
        first_row = pending_row(session, first.batch.id)
        second_row = pending_row(session, second.batch.id)
        assert first_row is not None
        assert second_row is not None
        second_row.ciphertext = first_row.ciphertext
        session.flush()

        with pytest.raises(pending_codes.CodesUndecryptable):
            pending_codes.take_codes(session, campaign, second.batch.id, CSV, KEY)


class TestOneTakePerFormat:
    def test_each_format_gives_the_issued_codes_once(self, session: Session) -> None:
        campaign = make_campaign(session)
        issued = issue_and_hold(session, campaign)

        as_csv = pending_codes.take_codes(session, campaign, issued.batch.id, CSV, KEY)
        as_pdf = pending_codes.take_codes(session, campaign, issued.batch.id, PDF, KEY)

        assert as_csv == issued.codes
        assert as_pdf == issued.codes

    def test_second_take_of_a_format_is_refused_naming_it(self, session: Session) -> None:
        campaign = make_campaign(session)
        issued = issue_and_hold(session, campaign)
        pending_codes.take_codes(session, campaign, issued.batch.id, CSV, KEY)

        with pytest.raises(pending_codes.CodesAlreadyTaken) as refused:
            pending_codes.take_codes(session, campaign, issued.batch.id, CSV, KEY)

        assert refused.value.status_code == 409
        assert "CSV" in str(refused.value)
        assert str(issued.batch.id) in str(refused.value)
        row = pending_row(session, issued.batch.id)
        assert row is not None
        assert row.csv_taken
        assert not row.pdf_taken

    def test_row_is_deleted_once_both_formats_are_taken(self, session: Session) -> None:
        campaign = make_campaign(session)
        issued = issue_and_hold(session, campaign)

        pending_codes.take_codes(session, campaign, issued.batch.id, PDF, KEY)
        assert pending_row(session, issued.batch.id) is not None
        pending_codes.take_codes(session, campaign, issued.batch.id, CSV, KEY)

        assert pending_row(session, issued.batch.id) is None
        with pytest.raises(pending_codes.CodesUnavailable):
            pending_codes.take_codes(session, campaign, issued.batch.id, PDF, KEY)

    def test_pending_downloads_lists_the_formats_left(self, session: Session) -> None:
        campaign = make_campaign(session)
        issued = issue_and_hold(session, campaign)
        untouched = issue_and_hold(session, campaign)
        pending_codes.take_codes(session, campaign, issued.batch.id, CSV, KEY)

        pending = pending_codes.pending_downloads(session, campaign)

        assert pending[issued.batch.id].formats == (PDF,)
        assert pending[untouched.batch.id].formats == (CSV, PDF)

    def test_a_batch_never_held_has_nothing_to_take(self, session: Session) -> None:
        campaign = make_campaign(session)
        issued = admission_service.issue_codes(
            session, campaign, hashing_key=HASHING_KEY, group_key="citizens", count=2
        )

        with pytest.raises(pending_codes.CodesUnavailable):
            pending_codes.take_codes(session, campaign, issued.batch.id, CSV, KEY)

    def test_another_campaigns_batch_is_not_found(self, session: Session) -> None:
        campaign = make_campaign(session)
        other = make_campaign(session)
        issued = issue_and_hold(session, other)

        with pytest.raises(NotFound):
            pending_codes.take_codes(session, campaign, issued.batch.id, CSV, KEY)
        assert pending_row(session, issued.batch.id) is not None


class TestExpiry:
    def test_expired_codes_are_refused_and_deleted(self, session: Session) -> None:
        campaign = make_campaign(session)
        issued = issue_and_hold(session, campaign)
        later = dt.datetime.now(dt.UTC) + LIFETIME + dt.timedelta(seconds=1)

        with pytest.raises(pending_codes.CodesExpired) as refused:
            pending_codes.take_codes(session, campaign, issued.batch.id, CSV, KEY, now=later)

        assert refused.value.status_code == 410
        assert pending_row(session, issued.batch.id) is None

    def test_codes_can_be_taken_until_just_before_expiry(self, session: Session) -> None:
        campaign = make_campaign(session)
        issued = issue_and_hold(session, campaign)
        almost = dt.datetime.now(dt.UTC) + LIFETIME - dt.timedelta(minutes=1)

        taken = pending_codes.take_codes(session, campaign, issued.batch.id, PDF, KEY, now=almost)

        assert taken == issued.codes

    def test_expired_batches_are_not_listed_as_pending(self, session: Session) -> None:
        campaign = make_campaign(session)
        issued = issue_and_hold(session, campaign)
        later = dt.datetime.now(dt.UTC) + LIFETIME + dt.timedelta(seconds=1)

        assert issued.batch.id in pending_codes.pending_downloads(session, campaign)
        assert pending_codes.pending_downloads(session, campaign, now=later) == {}

    def test_discard_expired_deletes_only_expired_rows(self, session: Session) -> None:
        campaign = make_campaign(session)
        issued = issue_and_hold(session, campaign)
        later = dt.datetime.now(dt.UTC) + LIFETIME + dt.timedelta(seconds=1)

        assert pending_codes.discard_expired(session) == 0
        assert pending_row(session, issued.batch.id) is not None
        assert pending_codes.discard_expired(session, now=later) >= 1
        assert pending_row(session, issued.batch.id) is None

    def test_lifetime_must_be_positive(self, session: Session) -> None:
        campaign = make_campaign(session)
        issued = admission_service.issue_codes(
            session, campaign, hashing_key=HASHING_KEY, group_key="citizens", count=1
        )

        with pytest.raises(ValueError, match="lifetime"):
            pending_codes.hold_for_download(session, issued, KEY, lifetime=dt.timedelta(0))


class TestRevokedBatches:
    def test_codes_of_a_revoked_batch_cannot_be_taken_and_are_deleted(
        self, session: Session
    ) -> None:
        campaign = make_campaign(session)
        issued = issue_and_hold(session, campaign)
        admission_service.revoke_batch(session, campaign, issued.batch.id)

        with pytest.raises(pending_codes.CodesUnavailable):
            pending_codes.take_codes(session, campaign, issued.batch.id, CSV, KEY)

        assert pending_row(session, issued.batch.id) is None

    def test_discard_pending_deletes_a_batchs_held_codes(self, session: Session) -> None:
        campaign = make_campaign(session)
        issued = issue_and_hold(session, campaign)

        assert pending_codes.discard_pending(session, campaign, issued.batch.id)
        assert pending_row(session, issued.batch.id) is None
        assert not pending_codes.discard_pending(session, campaign, issued.batch.id)
