"""Trustees' shares in the console, without the web: held for download, entered for the tally."""

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry
from app.ballot_box import console_shares, shares
from app.ballot_box import service as box_service
from app.ballot_box.console_shares import ShareFormat
from app.ballot_box.models import EnteredShare, PendingShare, SealedBallot
from app.ballots import service as ballot_service
from app.ballots.schemas import BallotIn, EvaluationIn
from app.campaigns import lifecycle
from app.campaigns.models import Campaign, CampaignStatus
from app.errors import InvalidInput, InvalidTransition
from tests.factories import (
    HASHING_KEY,
    answers_for,
    evaluation_count,
    issue_code,
    make_campaign,
    trustee_shares,
)

SERVER_SECRET = b"test-secret-key"
ENTERED_KEY = console_shares.entered_shares_key(SERVER_SECRET)


def held_for_download(
    session: Session, *, staff_id: int = 1
) -> tuple[Campaign, box_service.NewTallyKey, bytes]:
    """A draft campaign whose new tally key's shares are held; the key to them."""
    campaign = make_campaign(session, status=CampaignStatus.DRAFT, sealed_box=False)
    made = box_service.create_tally_key(session, campaign, count=3, threshold=2)
    key = console_shares.pending_shares_key(
        SERVER_SECRET, console_shares.new_browser_key(), campaign_id=campaign.id, staff_id=staff_id
    )
    console_shares.hold_shares(session, campaign, made, key)
    return campaign, made, key


def pending_row(session: Session, campaign: Campaign, trustee: int) -> PendingShare | None:
    session.expire_all()
    return session.get(PendingShare, (campaign.id, trustee))


def closed_with_ballots(session: Session, ballots: int = 2) -> Campaign:
    campaign = make_campaign(session)
    for _ in range(ballots):
        code = issue_code(session, campaign, group="citizens")
        evaluations = [
            EvaluationIn(target=target.department.code, answers=answers_for(campaign))
            for target in campaign.targets
        ]
        ballot_service.submit_ballot(
            session, HASHING_KEY, BallotIn(code=code, evaluations=evaluations)
        )
    lifecycle.close_campaign(session, campaign, actor="test")
    return campaign


def entered_rows(session: Session, campaign: Campaign) -> list[EnteredShare]:
    session.expire_all()
    return list(
        session.scalars(select(EnteredShare).where(EnteredShare.campaign_id == campaign.id))
    )


def audit_actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.sequence)))


class TestHeldForDownload:
    def test_each_format_is_taken_once_then_the_row_is_deleted(self, session: Session) -> None:
        campaign, made, key = held_for_download(session)

        as_file = console_shares.take_share(session, campaign, 2, ShareFormat.JSON, key)
        with pytest.raises(console_shares.ShareAlreadyTaken):
            console_shares.take_share(session, campaign, 2, ShareFormat.JSON, key)
        assert pending_row(session, campaign, 2) is not None
        as_page = console_shares.take_share(session, campaign, 2, ShareFormat.PDF, key)

        assert as_file == as_page == made.share_files[1]
        assert pending_row(session, campaign, 2) is None
        assert [p.trustee for p in console_shares.pending_downloads(session, campaign)] == [1, 3]

    def test_no_share_word_is_stored_readable(self, session: Session) -> None:
        campaign, made, _key = held_for_download(session)

        for share in made.share_files:
            row = pending_row(session, campaign, share.trustee)
            assert row is not None
            for word in set(share.words.split()):
                assert word.encode() not in row.ciphertext

    def test_without_the_browser_key_or_with_another_one_nothing_is_taken(
        self, session: Session
    ) -> None:
        campaign, _made, key = held_for_download(session, staff_id=7)
        other_account = console_shares.pending_shares_key(
            SERVER_SECRET, console_shares.new_browser_key(), campaign_id=campaign.id, staff_id=8
        )

        for wrong in (None, other_account):
            with pytest.raises(console_shares.ShareNotThisBrowser):
                console_shares.take_share(session, campaign, 1, ShareFormat.JSON, wrong)
        row = pending_row(session, campaign, 1)
        assert row is not None
        assert not row.json_taken
        console_shares.take_share(session, campaign, 1, ShareFormat.JSON, key)

    def test_the_server_secret_alone_or_the_browser_key_alone_derive_other_keys(self) -> None:
        browser_key = console_shares.new_browser_key()
        key = console_shares.pending_shares_key(
            SERVER_SECRET, browser_key, campaign_id=1, staff_id=1
        )

        assert key != console_shares.pending_shares_key(
            b"another secret", browser_key, campaign_id=1, staff_id=1
        )
        assert key != console_shares.pending_shares_key(
            SERVER_SECRET, console_shares.new_browser_key(), campaign_id=1, staff_id=1
        )
        assert key != console_shares.pending_shares_key(
            SERVER_SECRET, browser_key, campaign_id=2, staff_id=1
        )

    def test_an_expired_share_is_refused_and_deleted(self, session: Session) -> None:
        campaign, _made, key = held_for_download(session)
        later = dt.datetime.now(dt.UTC) + console_shares.PENDING_LIFETIME + dt.timedelta(minutes=1)

        with pytest.raises(console_shares.SharesExpired):
            console_shares.take_share(session, campaign, 1, ShareFormat.PDF, key, now=later)

        assert pending_row(session, campaign, 1) is None
        assert console_shares.pending_downloads(session, campaign, now=later) == []

    def test_making_the_key_again_replaces_the_held_shares(self, session: Session) -> None:
        campaign, first, key = held_for_download(session)
        second = box_service.create_tally_key(session, campaign, count=2, threshold=2, replace=True)
        console_shares.hold_shares(session, campaign, second, key)

        taken = console_shares.take_share(session, campaign, 1, ShareFormat.JSON, key)

        assert taken == second.share_files[0]
        assert taken.fingerprint != first.share_files[0].fingerprint
        assert [p.trustee for p in console_shares.pending_downloads(session, campaign)] == [1, 2]

    def test_browser_key_text_round_trips_and_refuses_garbage(self) -> None:
        browser_key = console_shares.new_browser_key()

        text = console_shares.browser_key_text(browser_key)

        assert console_shares.browser_key_from_text(text) == browser_key
        for garbage in (None, "", "abc", "!" * 43, text + "AAAA"):
            assert console_shares.browser_key_from_text(garbage) is None


class TestEnteringShares:
    def test_the_first_share_is_kept_encrypted_the_second_opens_the_box(
        self, session: Session
    ) -> None:
        campaign = closed_with_ballots(session, ballots=2)
        first, second, _third = trustee_shares(campaign)

        kept = console_shares.enter_share(
            session, campaign, first, ENTERED_KEY, entered_by="trustee-a"
        )

        assert kept.tally is None
        [row] = entered_rows(session, campaign)
        assert (row.trustee, row.entered_by) == (1, "trustee-a")
        for word in set(first.words.split()):
            assert word.encode() not in row.ciphertext
        assert campaign.status == CampaignStatus.CLOSED

        opened = console_shares.enter_share(
            session, campaign, second, ENTERED_KEY, entered_by="trustee-b"
        )

        assert opened.tally is not None
        assert opened.tally.ballots_counted == 2
        assert entered_rows(session, campaign) == []
        assert campaign.status == CampaignStatus.TALLIED
        assert evaluation_count(session, campaign) == 4  # 2 ballots x 2 departments
        assert (
            session.scalar(
                select(SealedBallot.ciphertext).where(SealedBallot.campaign_id == campaign.id)
            )
            is None
        )
        actions = audit_actions(session)
        assert actions[-3:] == ["tally_share_enter", "tally_share_enter", "campaign_tally"]

    def test_a_share_of_another_campaign_is_refused(self, session: Session) -> None:
        campaign = closed_with_ballots(session, ballots=1)
        other = make_campaign(session)

        with pytest.raises(InvalidInput, match="not of"):
            console_shares.enter_share(
                session, campaign, trustee_shares(other)[0], ENTERED_KEY, entered_by="t"
            )
        assert entered_rows(session, campaign) == []

    def test_bare_words_of_another_key_do_not_mix_with_the_shares_held(
        self, session: Session
    ) -> None:
        campaign = closed_with_ballots(session, ballots=1)
        other = make_campaign(session)
        console_shares.enter_share(
            session, campaign, trustee_shares(campaign)[0], ENTERED_KEY, entered_by="t"
        )
        stranger = shares.Share(words=trustee_shares(other)[1].words)

        with pytest.raises(InvalidInput, match="does not belong with the shares already"):
            console_shares.enter_share(session, campaign, stranger, ENTERED_KEY, entered_by="u")

        assert [row.trustee for row in entered_rows(session, campaign)] == [1]
        assert campaign.status == CampaignStatus.CLOSED

    def test_the_same_trustee_twice_is_refused(self, session: Session) -> None:
        campaign = make_campaign(session, status=CampaignStatus.CLOSED)
        first = trustee_shares(campaign)[0]
        console_shares.enter_share(session, campaign, first, ENTERED_KEY, entered_by="t")

        with pytest.raises(InvalidInput, match="trustee 1 has already been entered"):
            console_shares.enter_share(
                session, campaign, shares.Share(words=first.words), ENTERED_KEY, entered_by="u"
            )
        assert [row.entered_by for row in entered_rows(session, campaign)] == ["t"]

    def test_no_share_is_taken_unless_the_campaign_is_closed(self, session: Session) -> None:
        campaign = make_campaign(session, status=CampaignStatus.OPEN)

        with pytest.raises(InvalidTransition):
            console_shares.enter_share(
                session, campaign, trustee_shares(campaign)[0], ENTERED_KEY, entered_by="t"
            )
        assert entered_rows(session, campaign) == []

    def test_discarding_deletes_the_held_shares_and_is_audited(self, session: Session) -> None:
        campaign = make_campaign(session, status=CampaignStatus.CLOSED)
        console_shares.enter_share(
            session, campaign, trustee_shares(campaign)[2], ENTERED_KEY, entered_by="t"
        )

        assert console_shares.discard_entered(session, campaign, actor="admin") == 1

        assert entered_rows(session, campaign) == []
        assert audit_actions(session)[-1] == "tally_shares_discard"
