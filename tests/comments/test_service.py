"""The comment pipeline: scrubbed, shuffled copies at the tally, the review steps, publication.

The campaigns here were opened before the ballot box existed: their evaluations, comments
included, are stored directly, and the tally copies those comments (``prepare_review``). The
comments of sealed ballots take the same way from the opened box (``tests/ballot_box``).
"""

import uuid

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.orm import ORMExecuteState, Session

from app.ballots.models import Evaluation
from app.campaigns import lifecycle
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus, Target
from app.campaigns.policy import CommentPolicy, ResultsPolicy
from app.comments import service as comment_service
from app.comments.models import CommentForReview, CommentStatus
from app.comments.scrub import PLACEHOLDER
from app.errors import InvalidInput, InvalidTransition, NotFound
from tests.factories import make_campaign, tally

MINIMUM = 10


def add_evaluations(
    session: Session,
    campaign: Campaign,
    target: Target,
    comments: list[str | None],
    *,
    group: str = "citizens",
) -> None:
    """One evaluation per entry, with that comment (None: no comment)."""
    rater_group = next(g for g in campaign.rater_groups if g.key == group)
    answers = "44-" if group == "citizens" else "442"
    session.add_all(
        Evaluation(
            campaign_id=campaign.id,
            target_id=target.id,
            rater_group_id=rater_group.id,
            answers=answers,
            comment=comment,
        )
        for comment in comments
    )
    session.flush()


def closed_campaign(session: Session, *, names: list[str] | None = None) -> Campaign:
    """An open campaign without a tally key, which stores its evaluations directly."""
    campaign = make_campaign(session, status=CampaignStatus.OPEN, sealed_box=False)
    policy = ResultsPolicy(comments=CommentPolicy(min_respondents=MINIMUM, scrub_names=names or []))
    campaign_service.set_policy(session, campaign, policy)
    return campaign


def close(session: Session, campaign: Campaign) -> int:
    """Close the campaign and count its ballot box, which makes the copies; how many."""
    tally(session, campaign)
    return len(copies(session, campaign))


def copies(session: Session, campaign: Campaign) -> list[CommentForReview]:
    return list(
        session.scalars(select(CommentForReview).where(CommentForReview.campaign_id == campaign.id))
    )


def raw_comments(session: Session, campaign: Campaign) -> list[str | None]:
    session.expire_all()
    return list(
        session.scalars(select(Evaluation.comment).where(Evaluation.campaign_id == campaign.id))
    )


def physical_order(session: Session, campaign: Campaign) -> list[str]:
    """The copies' texts in the order a dump of the table would list them."""
    query = "SELECT text FROM comment_reviews WHERE campaign_id = :id"
    if session.get_bind().dialect.name == "postgresql":
        query += " ORDER BY ctid"  # heap order, which a dump follows
    return list(session.scalars(text(query), {"id": campaign.id}))


def reviewed(session: Session, texts: list[str]) -> tuple[Campaign, list[CommentForReview]]:
    """A tallied campaign whose first department has ten evaluations with these comments."""
    campaign = closed_campaign(session)
    target = campaign.targets[0]
    add_evaluations(session, campaign, target, [*texts, *[None] * (MINIMUM - len(texts))])
    close(session, campaign)
    return campaign, copies(session, campaign)


class TestPreparingTheReview:
    def test_refused_before_close(self, session: Session) -> None:
        campaign = closed_campaign(session)
        add_evaluations(session, campaign, campaign.targets[0], ["很好"] * MINIMUM)

        with pytest.raises(InvalidTransition, match="copied for review when its ballot box"):
            comment_service.prepare_review(session, campaign)

        assert copies(session, campaign) == []
        assert raw_comments(session, campaign) == ["很好"] * MINIMUM

    def test_closing_copies_nothing_until_the_tally(self, session: Session) -> None:
        campaign = closed_campaign(session)
        add_evaluations(session, campaign, campaign.targets[0], ["很好"] * MINIMUM)

        lifecycle.close_campaign(session, campaign, actor="test")

        assert copies(session, campaign) == []
        assert raw_comments(session, campaign) == ["很好"] * MINIMUM
        assert close(session, campaign) == MINIMUM
        assert raw_comments(session, campaign) == [None] * MINIMUM

    def test_refused_once_tallied(self, session: Session) -> None:
        campaign = closed_campaign(session)
        add_evaluations(session, campaign, campaign.targets[0], ["很好"] * MINIMUM)
        close(session, campaign)

        with pytest.raises(InvalidTransition, match="copied for review when its ballot box"):
            comment_service.prepare_review(session, campaign)

        assert len(copies(session, campaign)) == MINIMUM

    def test_copies_scrubbed_comments_of_departments_with_enough_raters(
        self, any_session: Session
    ) -> None:
        session = any_session
        campaign = closed_campaign(session, names=["张三"])
        first, second = campaign.targets
        comments: list[str | None] = [
            "张三态度不好，电话13812345678",
            "  窗口人少  ",
            "",
            "   ",
            *[None] * 6,
        ]
        add_evaluations(session, campaign, first, comments[:5])
        add_evaluations(session, campaign, first, comments[5:], group="cadres")

        copied = close(session, campaign)

        assert copied == 2
        made = copies(session, campaign)
        assert sorted(copy.text for copy in made) == sorted(
            [f"{PLACEHOLDER}态度不好，电话{PLACEHOLDER}", "窗口人少"]
        )
        assert {copy.target_id for copy in made} == {first.id}
        assert {copy.status for copy in made} == {CommentStatus.PENDING}
        assert all(copy.id.version == 4 for copy in made)
        assert second.id not in {copy.target_id for copy in made}
        assert raw_comments(session, campaign) == [None] * MINIMUM

    def test_nine_raters_are_too_few_and_their_comments_are_deleted(self, session: Session) -> None:
        campaign = closed_campaign(session)
        nine, ten = campaign.targets
        add_evaluations(session, campaign, nine, ["九个人评的"] * (MINIMUM - 1))
        add_evaluations(session, campaign, ten, ["十个人评的"] * MINIMUM)

        copied = close(session, campaign)

        assert copied == MINIMUM
        assert {copy.target_id for copy in copies(session, campaign)} == {ten.id}
        assert raw_comments(session, campaign) == [None] * (2 * MINIMUM - 1)

    def test_evaluations_of_every_group_count_towards_the_minimum(self, session: Session) -> None:
        campaign = closed_campaign(session)
        target = campaign.targets[0]
        add_evaluations(session, campaign, target, ["群众意见"] * 5)
        add_evaluations(session, campaign, target, [None] * 5, group="cadres")

        assert close(session, campaign) == 5

    def test_minimum_comes_from_the_campaign_policy(self, session: Session) -> None:
        campaign = make_campaign(session, status=CampaignStatus.OPEN)
        policy = ResultsPolicy(comments=CommentPolicy(min_respondents=3))
        campaign_service.set_policy(session, campaign, policy)
        add_evaluations(session, campaign, campaign.targets[0], ["好"] * 3)

        assert close(session, campaign) == 3

    def test_a_second_call_does_nothing(self, session: Session) -> None:
        campaign = closed_campaign(session)
        add_evaluations(session, campaign, campaign.targets[0], ["意见"] * MINIMUM)
        lifecycle.close_campaign(session, campaign, actor="test")
        assert comment_service.prepare_review(session, campaign) == MINIMUM
        first = {copy.id: copy.text for copy in copies(session, campaign)}

        assert comment_service.prepare_review(session, campaign) == 0

        assert {copy.id: copy.text for copy in copies(session, campaign)} == first

    def test_copies_are_shuffled_together_into_one_insert_with_random_ids(
        self, any_session: Session
    ) -> None:
        """Neither the order the copies are handed to the database nor their physical order
        (PostgreSQL's heap order, SQLite's primary key order) follows the evaluations'."""
        session = any_session
        written = [f"意见{number:02d}" for number in range(2 * MINIMUM)]
        inserted_orders: list[list[str]] = []
        stored_orders: list[list[str]] = []
        for _ in range(5):
            campaign = closed_campaign(session)
            first, second = campaign.targets
            add_evaluations(session, campaign, first, written[:MINIMUM])
            add_evaluations(session, campaign, second, written[MINIMUM:])
            inserts: list[list[str]] = []

            def spy(state: ORMExecuteState, inserts: list[list[str]] = inserts) -> None:
                copying = state.is_insert and state.statement.table.name == "comment_reviews"
                if copying and isinstance(state.parameters, list):
                    inserts.append([row["text"] for row in state.parameters])

            event.listen(session, "do_orm_execute", spy)
            try:
                close(session, campaign)
            finally:
                event.remove(session, "do_orm_execute", spy)

            [order] = inserts  # one statement for every department's copies
            assert sorted(order) == written
            inserted_orders.append(order)
            stored_orders.append(physical_order(session, campaign))
            assert all(copy.id.version == 4 for copy in copies(session, campaign))

        assert len({tuple(order) for order in inserted_orders}) > 1
        assert written not in stored_orders


class TestReviewSteps:
    def test_approve_reject_and_back_to_pending(self, session: Session) -> None:
        campaign, [comment] = reviewed(session, ["服务很好"])

        assert (
            comment_service.set_status(session, campaign, comment.id, CommentStatus.APPROVED)
            == CommentStatus.PENDING
        )
        assert comment.status == CommentStatus.APPROVED
        comment_service.set_status(session, campaign, comment.id, CommentStatus.PENDING)
        assert comment.status == CommentStatus.PENDING
        comment_service.set_status(session, campaign, comment.id, CommentStatus.REJECTED)
        assert comment.status == CommentStatus.REJECTED

    def test_after_publication_only_rejecting(self, session: Session) -> None:
        campaign, [approved, pending] = reviewed(session, ["好", "也好"])
        comment_service.set_status(session, campaign, approved.id, CommentStatus.APPROVED)
        lifecycle.publish_campaign(session, campaign, actor="test")

        for comment, status in [
            (approved, CommentStatus.PENDING),
            (pending, CommentStatus.APPROVED),
        ]:
            with pytest.raises(InvalidTransition, match="can still be rejected"):
                comment_service.set_status(session, campaign, comment.id, status)
        with pytest.raises(InvalidTransition):
            comment_service.edit(session, campaign, approved.id, PLACEHOLDER)

        comment_service.set_status(session, campaign, approved.id, CommentStatus.REJECTED)
        assert approved.status == CommentStatus.REJECTED

    def test_a_comment_of_another_campaign_is_not_found(self, session: Session) -> None:
        campaign, [comment] = reviewed(session, ["好"])
        other, _ = reviewed(session, ["别的"])

        with pytest.raises(NotFound):
            comment_service.set_status(session, other, comment.id, CommentStatus.APPROVED)
        with pytest.raises(NotFound):
            comment_service.set_status(session, campaign, uuid.uuid4(), CommentStatus.APPROVED)

    def test_queue_by_department_and_status(self, session: Session) -> None:
        campaign = closed_campaign(session)
        first, second = campaign.targets
        add_evaluations(session, campaign, first, ["甲"] * MINIMUM)
        add_evaluations(session, campaign, second, ["乙"] * MINIMUM)
        close(session, campaign)
        some = next(c for c in copies(session, campaign) if c.target_id == second.id)
        comment_service.set_status(session, campaign, some.id, CommentStatus.APPROVED)

        everything = comment_service.queue(session, campaign)
        pending = comment_service.queue(session, campaign, CommentStatus.PENDING)
        approved = comment_service.queue(session, campaign, CommentStatus.APPROVED)

        assert [(group.target.id, len(group.comments)) for group in everything] == [
            (first.id, MINIMUM),
            (second.id, MINIMUM),
        ]
        assert [(group.target.id, len(group.comments)) for group in pending] == [
            (first.id, MINIMUM),
            (second.id, MINIMUM - 1),
        ]
        assert [(group.target.id, group.comments) for group in approved] == [(second.id, [some])]
        assert comment_service.status_counts(session, campaign) == {
            CommentStatus.PENDING: 2 * MINIMUM - 1,
            CommentStatus.APPROVED: 1,
            CommentStatus.REJECTED: 0,
        }


class TestEditing:
    def test_hiding_a_part_is_saved(self, session: Session) -> None:
        campaign, [comment] = reviewed(session, ["窗口的小王很耐心"])

        changed = comment_service.edit(session, campaign, comment.id, f"窗口的{PLACEHOLDER}很耐心")

        assert changed
        assert comment.text == f"窗口的{PLACEHOLDER}很耐心"

    def test_the_edit_is_scrubbed_again_with_the_current_name_list(self, session: Session) -> None:
        campaign, [comment] = reviewed(session, ["老李和小王都很耐心"])
        policy = campaign_service.policy_of(campaign)
        policy.comments.scrub_names = ["小王"]
        campaign_service.set_policy(session, campaign, policy)

        comment_service.edit(session, campaign, comment.id, f"{PLACEHOLDER}和小王都很耐心")

        assert comment.text == f"{PLACEHOLDER}和{PLACEHOLDER}都很耐心"

    @pytest.mark.parametrize(
        "edited",
        ["窗口的小王很不耐心", "窗口的小王", f"窗口{PLACEHOLDER}不耐心", "小王很耐心窗口的"],
        ids=["added", "deleted", "replaced-then-added", "reordered"],
    )
    def test_anything_but_hiding_is_refused(self, session: Session, edited: str) -> None:
        campaign, [comment] = reviewed(session, ["窗口的小王很耐心"])

        with pytest.raises(InvalidInput, match="may only hide parts"):
            comment_service.edit(session, campaign, comment.id, edited)

        assert comment.text == "窗口的小王很耐心"

    def test_an_empty_edit_is_refused(self, session: Session) -> None:
        campaign, [comment] = reviewed(session, ["好"])

        with pytest.raises(InvalidInput, match="cannot be left empty"):
            comment_service.edit(session, campaign, comment.id, "  \n ")

    def test_the_placeholder_cannot_be_removed_again(self, session: Session) -> None:
        campaign, [comment] = reviewed(session, ["电话13812345678"])

        with pytest.raises(InvalidInput):
            comment_service.edit(session, campaign, comment.id, "电话")

    @pytest.mark.parametrize(
        ("edited", "original", "allowed"),
        [
            ("abc", "abc", True),
            (f"{PLACEHOLDER}", "abc", True),
            (f"a{PLACEHOLDER}c", "abc", True),
            (f"{PLACEHOLDER}b{PLACEHOLDER}", "abc", True),
            (f"a{PLACEHOLDER}b{PLACEHOLDER}", "abcab", True),
            (f"a{PLACEHOLDER}{PLACEHOLDER}c", "abc", True),
            (f"x{PLACEHOLDER}", "abc", False),
            (f"{PLACEHOLDER}x", "abc", False),
            (f"a{PLACEHOLDER}b{PLACEHOLDER}b", "abc", False),
            (f"ab{PLACEHOLDER}bc", "abc", False),
        ],
    )
    def test_what_counts_as_hiding(self, edited: str, original: str, allowed: bool) -> None:
        assert comment_service.is_redaction_of(edited, original) is allowed


class TestPublishedComments:
    def test_approved_only_and_only_once_published(self, any_session: Session) -> None:
        session = any_session
        campaign, made = reviewed(session, ["一", "二", "三"])
        by_text = {comment.text: comment for comment in made}
        comment_service.set_status(session, campaign, by_text["一"].id, CommentStatus.APPROVED)
        comment_service.set_status(session, campaign, by_text["二"].id, CommentStatus.APPROVED)
        comment_service.set_status(session, campaign, by_text["三"].id, CommentStatus.REJECTED)
        target, other = campaign.targets

        assert comment_service.published_comments(session, campaign, target) == []
        lifecycle.publish_campaign(session, campaign, actor="test")

        assert sorted(comment_service.published_comments(session, campaign, target)) == [
            "一",
            "二",
        ]
        assert comment_service.published_comments(session, campaign, other) == []

    def test_shuffled_on_every_call(self, session: Session) -> None:
        texts = [f"意见{number}" for number in range(MINIMUM)]
        campaign, made = reviewed(session, texts)
        for comment in made:
            comment_service.set_status(session, campaign, comment.id, CommentStatus.APPROVED)
        lifecycle.publish_campaign(session, campaign, actor="test")
        target = campaign.targets[0]

        orders = {
            tuple(comment_service.published_comments(session, campaign, target)) for _ in range(5)
        }

        assert all(sorted(order) == sorted(texts) for order in orders)
        assert len(orders) > 1
