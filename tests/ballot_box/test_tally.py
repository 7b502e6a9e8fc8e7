"""The sealed ballot box: a ballot is one ciphertext until the trustees open the box, and the
tally writes what it held, all or nothing, once."""

from collections import Counter

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry
from app.ballot_box import opening, shares, tally_key
from app.ballot_box import service as box_service
from app.ballot_box.models import SealedBallot, Tally
from app.ballots import receipts
from app.ballots.models import Evaluation
from app.ballots.schemas import BallotIn, EvaluationIn
from app.ballots.service import submit_ballot
from app.campaigns import lifecycle
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus
from app.campaigns.policy import CommentPolicy, ResultsPolicy
from app.comments.models import CommentForReview
from app.errors import InvalidInput, InvalidTransition
from tests.factories import (
    HASHING_KEY,
    answers_for,
    ballot_count,
    evaluation_count,
    issue_code,
    make_campaign,
    tally,
    trustee_shares,
)


def rate(
    session: Session, campaign: Campaign, *, comment: str | None = None, level: int = 4
) -> str:
    """One ballot on a fresh code rating every department; its receipt."""
    code = issue_code(session, campaign)
    evaluations = [
        EvaluationIn(
            target=target.department.code,
            answers=answers_for(campaign, level=level),
            comment=comment,
        )
        for target in campaign.targets
    ]
    return submit_ballot(session, HASHING_KEY, BallotIn(code=code, evaluations=evaluations)).receipt


def releasing_comments(
    session: Session, campaign: Campaign, names: list[str] | None = None
) -> None:
    policy = ResultsPolicy(comments=CommentPolicy(min_respondents=1, scrub_names=names or []))
    campaign_service.set_policy(session, campaign, policy)


def stored_ciphertexts(session: Session, campaign: Campaign) -> list[bytes]:
    return [
        bytes(value)
        for value in session.scalars(
            select(SealedBallot.ciphertext).where(
                SealedBallot.campaign_id == campaign.id, SealedBallot.ciphertext.is_not(None)
            )
        )
    ]


class TestTallyKey:
    def test_a_draft_gets_a_key_whose_shares_rebuild_it(self, session: Session) -> None:
        campaign = make_campaign(session, status=CampaignStatus.DRAFT, sealed_box=False)

        made = box_service.create_tally_key(session, campaign, count=3, threshold=2)

        assert [share.trustee for share in made.share_files] == [1, 2, 3]
        assert {share.fingerprint for share in made.share_files} == {made.key.fingerprint.hex()}
        for pair in ((0, 1), (0, 2), (1, 2)):
            entered = [shares.parse_share(made.share_files[i].dump()) for i in pair]
            rebuilt = shares.rebuild_key(
                entered,
                campaign_slug=campaign.slug,
                key_fingerprint=made.key.fingerprint,
                threshold=2,
            )
            assert rebuilt.public_bytes == made.key.public_key

    @pytest.mark.parametrize(("count", "threshold"), [(3, 1), (3, 4), (1, 1), (17, 2), (2, 0)])
    def test_a_threshold_below_two_or_above_the_trustees_is_refused(
        self, session: Session, count: int, threshold: int
    ) -> None:
        campaign = make_campaign(session, status=CampaignStatus.DRAFT, sealed_box=False)

        with pytest.raises(InvalidInput):
            box_service.create_tally_key(session, campaign, count=count, threshold=threshold)

        assert box_service.tally_key_of(session, campaign) is None

    def test_an_open_campaigns_key_cannot_be_made_again(self, session: Session) -> None:
        campaign = make_campaign(session)

        with pytest.raises(InvalidTransition, match="only while the campaign is a draft"):
            box_service.create_tally_key(session, campaign, count=3, threshold=2, replace=True)

    def test_a_second_key_for_a_draft_needs_replace(self, session: Session) -> None:
        campaign = make_campaign(session, status=CampaignStatus.DRAFT)
        before = bytes(box_service.tally_key_of(session, campaign).fingerprint)  # type: ignore[union-attr]

        with pytest.raises(InvalidInput, match="already has a tally key"):
            box_service.create_tally_key(session, campaign, count=3, threshold=2)
        replaced = box_service.create_tally_key(
            session, campaign, count=5, threshold=3, replace=True
        )

        assert bytes(replaced.key.fingerprint) != before
        assert (replaced.key.share_count, replaced.key.threshold) == (5, 3)

    def test_a_campaign_cannot_open_without_a_tally_key(self, session: Session) -> None:
        campaign = make_campaign(session, status=CampaignStatus.DRAFT, sealed_box=False)

        with pytest.raises(InvalidTransition, match="cannot open without a tally key"):
            lifecycle.open_campaign(session, campaign, actor="test")

        assert campaign.status == CampaignStatus.DRAFT

    def test_an_upgraded_open_campaign_gets_its_box_from_today(self, session: Session) -> None:
        campaign = make_campaign(session, sealed_box=False)
        rate(session, campaign)

        made = box_service.create_tally_key(session, campaign, count=3, threshold=2)
        rate(session, campaign)

        assert made.key.applied_on is not None
        assert evaluation_count(session, campaign) == len(campaign.targets)  # the earlier ballot
        assert ballot_count(session, campaign) == 1  # the later one, sealed


class TestSealedBallots:
    def test_a_ballot_is_one_ciphertext_and_its_receipt_is_the_tracker(
        self, any_session: Session
    ) -> None:
        campaign = make_campaign(any_session)

        receipt = rate(any_session, campaign, comment="窗口办事很快")

        [ciphertext] = stored_ciphertexts(any_session, campaign)
        assert receipts.receipt_bytes(receipt) == tally_key.tracker(ciphertext)
        assert "窗口办事很快".encode() not in ciphertext
        assert evaluation_count(any_session, campaign) == 0

    def test_ciphertexts_of_short_and_long_ballots_have_one_length(self, session: Session) -> None:
        campaign = make_campaign(session)
        rate(session, campaign)
        rate(session, campaign, comment="办事窗口的工作人员非常耐心" * 10)

        lengths = {len(value) for value in stored_ciphertexts(session, campaign)}

        assert lengths == {
            tally_key.ENCAPSULATED_KEY_BYTES + tally_key.SMALLEST_BUCKET + tally_key.TAG_BYTES
        }


class TestTally:
    def test_the_tally_writes_every_evaluation_and_comment_and_empties_the_box(
        self, any_session: Session
    ) -> None:
        campaign = make_campaign(any_session)
        releasing_comments(any_session, campaign, names=["张三"])
        receipts_given = [
            rate(any_session, campaign, comment="张三态度很好", level=5),
            rate(any_session, campaign, level=3),
            rate(any_session, campaign, comment="流程清楚", level=4),
        ]

        counted = tally(any_session, campaign)

        assert (counted.ballots_in_box, counted.ballots_counted, counted.rejected) == (3, 3, [])
        assert campaign.status == CampaignStatus.TALLIED
        stored = Counter(
            any_session.scalars(
                select(Evaluation.answers).where(Evaluation.campaign_id == campaign.id)
            )
        )
        assert stored == Counter({"55-": 2, "33-": 2, "44-": 2})
        texts = sorted(
            any_session.scalars(
                select(CommentForReview.text).where(CommentForReview.campaign_id == campaign.id)
            )
        )
        assert texts == sorted(["〔已隐去〕态度很好"] * 2 + ["流程清楚"] * 2)
        assert stored_ciphertexts(any_session, campaign) == []
        assert box_service.trackers(any_session, campaign) == sorted(
            receipts.receipt_bytes(value) for value in receipts_given
        )
        raw = any_session.scalar(
            select(func.count())
            .select_from(Evaluation)
            .where(Evaluation.campaign_id == campaign.id, Evaluation.comment.is_not(None))
        )
        assert raw == 0

    def test_the_tally_is_audited_with_its_counts(self, session: Session) -> None:
        campaign = make_campaign(session)
        rate(session, campaign)

        tally(session, campaign)

        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "campaign_tally")
        ).one()
        assert entry.object == f"campaign:{campaign.slug}"
        assert entry.detail["ballots_counted"] == 1

    def test_too_few_shares_are_refused_and_nothing_changes(self, session: Session) -> None:
        campaign = make_campaign(session)
        rate(session, campaign)
        lifecycle.close_campaign(session, campaign, actor="test")

        with pytest.raises(InvalidInput, match="2 different trustees' shares are needed"):
            lifecycle.tally_campaign(session, campaign, trustee_shares(campaign)[:1], actor="test")
        same_twice = [trustee_shares(campaign)[0]] * 2
        with pytest.raises(InvalidInput, match="2 different trustees' shares are needed"):
            lifecycle.tally_campaign(session, campaign, same_twice, actor="test")

        assert campaign.status == CampaignStatus.CLOSED
        assert len(stored_ciphertexts(session, campaign)) == 1
        assert evaluation_count(session, campaign) == 0

    def test_a_share_of_another_campaign_is_refused(self, session: Session) -> None:
        campaign = make_campaign(session)
        other = make_campaign(session)
        rate(session, campaign)
        lifecycle.close_campaign(session, campaign, actor="test")
        mixed = [trustee_shares(campaign)[0], trustee_shares(other)[1]]
        words_only = [shares.parse_share(share.words) for share in mixed]

        with pytest.raises(InvalidInput, match=f"is a share of campaign “{other.slug}”"):
            lifecycle.tally_campaign(session, campaign, mixed, actor="test")
        with pytest.raises(InvalidInput, match="do not rebuild the tally key"):
            lifecycle.tally_campaign(session, campaign, words_only, actor="test")
        with pytest.raises(InvalidInput, match="do not rebuild the tally key"):
            lifecycle.tally_campaign(
                session,
                campaign,
                [shares.parse_share(s.words) for s in trustee_shares(other)[:2]],
                actor="test",
            )

        assert campaign.status == CampaignStatus.CLOSED

    def test_a_mistyped_share_names_the_problem(self) -> None:
        words = "academic acid " * 16 + "acid"

        with pytest.raises(InvalidInput, match="damaged or mistyped"):
            shares.parse_share(words, "trustee-1.json")

    def test_a_tampered_ballot_is_reported_by_its_tracker_and_not_counted(
        self, any_session: Session
    ) -> None:
        campaign = make_campaign(any_session)
        rate(any_session, campaign, level=5)
        victim = receipts.receipt_bytes(rate(any_session, campaign, level=1))
        [ciphertext] = any_session.scalars(
            select(SealedBallot.ciphertext).where(SealedBallot.tracker == victim)
        )
        flipped = bytes(ciphertext[:-1]) + bytes([ciphertext[-1] ^ 1])
        any_session.execute(
            update(SealedBallot).where(SealedBallot.tracker == victim).values(ciphertext=flipped)
        )
        # A ballot sealed to another key, stored under a tracker that matches it.
        stranger = tally_key.derive_key_pair(tally_key.new_master_secret())
        forged = tally_key.seal(b"{}", stranger.public_bytes, b"elsewhere")
        any_session.add(
            SealedBallot(
                tracker=tally_key.tracker(forged), campaign_id=campaign.id, ciphertext=forged
            )
        )
        any_session.flush()

        counted = tally(any_session, campaign)

        assert counted.ballots_in_box == 3
        assert counted.ballots_counted == 1
        assert sorted(counted.rejected) == sorted(
            [
                [victim.hex(), opening.ALTERED],
                [tally_key.tracker(forged).hex(), opening.UNREADABLE],
            ]
        )
        answers = set(
            any_session.scalars(
                select(Evaluation.answers).where(Evaluation.campaign_id == campaign.id)
            )
        )
        assert answers == {"55-"}

    def test_a_second_tally_is_refused(self, session: Session) -> None:
        campaign = make_campaign(session)
        rate(session, campaign)
        tally(session, campaign)

        with pytest.raises(InvalidTransition, match="cannot be opened"):
            lifecycle.tally_campaign(session, campaign, trustee_shares(campaign), actor="test")

        assert evaluation_count(session, campaign) == len(campaign.targets)

    def test_an_open_campaign_cannot_be_tallied(self, session: Session) -> None:
        campaign = make_campaign(session)
        rate(session, campaign)

        with pytest.raises(InvalidTransition, match="cannot be opened"):
            lifecycle.tally_campaign(session, campaign, trustee_shares(campaign), actor="test")

        assert evaluation_count(session, campaign) == 0

    def test_results_and_publication_wait_for_the_tally(self, session: Session) -> None:
        campaign = make_campaign(session)
        rate(session, campaign)
        lifecycle.close_campaign(session, campaign, actor="test")

        with pytest.raises(InvalidTransition, match="cannot be published"):
            lifecycle.publish_campaign(session, campaign, actor="test")

        tally(session, campaign)
        lifecycle.publish_campaign(session, campaign, actor="test")
        assert campaign.status == CampaignStatus.PUBLISHED

    def test_a_campaign_opened_before_the_box_tallies_without_shares(
        self, session: Session
    ) -> None:
        campaign = make_campaign(session, sealed_box=False)
        releasing_comments(session, campaign)
        rate(session, campaign, comment="以前存的意见")

        counted = tally(session, campaign)

        assert counted.ballots_in_box == 0
        assert evaluation_count(session, campaign) == len(campaign.targets)
        texts = set(
            session.scalars(
                select(CommentForReview.text).where(CommentForReview.campaign_id == campaign.id)
            )
        )
        assert texts == {"以前存的意见"}

    def test_a_box_begun_while_open_is_counted_with_the_earlier_evaluations(
        self, session: Session
    ) -> None:
        campaign = make_campaign(session, sealed_box=False)
        releasing_comments(session, campaign)
        rate(session, campaign, comment="升级前", level=2)
        made = box_service.create_tally_key(session, campaign, count=3, threshold=2)
        rate(session, campaign, comment="升级后", level=5)
        lifecycle.close_campaign(session, campaign, actor="test")

        entered = [shares.parse_share(share.dump()) for share in made.share_files[1:]]
        counted = lifecycle.tally_campaign(session, campaign, entered, actor="test")

        assert counted.ballots_counted == 1
        answers = Counter(
            session.scalars(select(Evaluation.answers).where(Evaluation.campaign_id == campaign.id))
        )
        assert answers == Counter({"22-": 2, "55-": 2})
        texts = Counter(
            session.scalars(
                select(CommentForReview.text).where(CommentForReview.campaign_id == campaign.id)
            )
        )
        assert texts == Counter({"升级前": 2, "升级后": 2})


class TestOfflineTally:
    def test_an_exported_box_tallied_offline_imports_as_if_tallied_here(
        self, session: Session
    ) -> None:
        campaign = make_campaign(session)
        releasing_comments(session, campaign)
        rate(session, campaign, comment="离线计票", level=2)
        rate(session, campaign, level=4)
        lifecycle.close_campaign(session, campaign, actor="test")
        key = box_service.tally_key_of(session, campaign)
        assert key is not None
        context = box_service.box_context(campaign, key)

        key_pair = shares.rebuild_key(
            trustee_shares(campaign)[:2],
            campaign_slug=campaign.slug,
            key_fingerprint=bytes(key.fingerprint),
            threshold=2,
        )
        opened = opening.open_box(box_service.sealed_ballots(session, campaign), key_pair, context)
        counted = lifecycle.import_tally(session, campaign, opened, actor="test")

        assert (counted.ballots_counted, counted.offline) == (2, True)
        assert evaluation_count(session, campaign) == 2 * len(campaign.targets)
        assert campaign.status == CampaignStatus.TALLIED

    def test_a_tally_of_another_box_is_refused(self, session: Session) -> None:
        campaign = make_campaign(session)
        rate(session, campaign)
        rate(session, campaign)
        lifecycle.close_campaign(session, campaign, actor="test")
        key = box_service.tally_key_of(session, campaign)
        assert key is not None
        key_pair = shares.rebuild_key(
            trustee_shares(campaign)[:2],
            campaign_slug=campaign.slug,
            key_fingerprint=bytes(key.fingerprint),
            threshold=2,
        )
        opened = opening.open_box(
            box_service.sealed_ballots(session, campaign),
            key_pair,
            box_service.box_context(campaign, key),
        )
        first = box_service.trackers(session, campaign)[0]
        session.execute(delete(SealedBallot).where(SealedBallot.tracker == first))

        with pytest.raises(InvalidInput, match="does not cover the ballot box"):
            lifecycle.import_tally(session, campaign, opened, actor="test")

        assert session.get(Tally, campaign.id) is None
        assert campaign.status == CampaignStatus.CLOSED
