"""``pingyi campaign close`` copies the comments for review and deletes the raw text."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.ballots.models import Evaluation
from app.campaigns import service as campaign_service
from app.campaigns.models import CampaignStatus
from app.campaigns.policy import CommentPolicy, ResultsPolicy
from app.comments.models import CommentForReview
from app.comments.scrub import PLACEHOLDER
from tests.factories import make_campaign
from tests.test_cli import app_database, run_ok


def test_close_copies_scrubbed_comments_and_deletes_the_raw_text() -> None:
    with app_database() as engine:
        with Session(engine) as session, session.begin():
            campaign = make_campaign(session, slug="cli-comments", status=CampaignStatus.OPEN)
            policy = ResultsPolicy(comments=CommentPolicy(min_respondents=2))
            campaign_service.set_policy(session, campaign, policy)
            enough, too_few = campaign.targets
            citizens = campaign.rater_groups[0]
            for target, text in [
                (enough, "电话13812345678"),
                (enough, "很好"),
                (too_few, "只有一个人评"),
            ]:
                session.add(
                    Evaluation(
                        campaign_id=campaign.id,
                        target_id=target.id,
                        rater_group_id=citizens.id,
                        answers="44-",
                        comment=text,
                    )
                )

        result = run_ok("campaign", "close", "cli-comments")

        assert "cli-comments: closed" in result.output
        assert "2 comments copied for review" in result.output
        assert "fewer than 2 evaluations were not copied" in result.output
        with Session(engine) as session:
            copied = session.scalars(select(CommentForReview.text)).all()
            raw = session.scalars(select(Evaluation.comment)).all()
        assert sorted(copied) == sorted([f"电话{PLACEHOLDER}", "很好"])
        assert raw == [None, None, None]
