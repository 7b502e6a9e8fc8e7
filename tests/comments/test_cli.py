"""``pingyi campaign close`` leaves the comments sealed; ``pingyi tally`` copies them for review
and deletes the raw text."""

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.ballot_box.models import SealedBallot
from app.ballots.models import Evaluation
from app.ballots.schemas import BallotIn, EvaluationIn
from app.ballots.service import submit_ballot
from app.campaigns import service as campaign_service
from app.campaigns.models import CampaignStatus
from app.campaigns.policy import CommentPolicy, ResultsPolicy
from app.comments.models import CommentForReview
from app.comments.scrub import PLACEHOLDER
from tests.factories import HASHING_KEY, answers_for, issue_codes, make_campaign, trustee_shares
from tests.test_cli import app_database, run_ok


def test_the_tally_copies_scrubbed_comments_and_deletes_the_raw_text(tmp_path: Path) -> None:
    with app_database() as engine:
        with Session(engine) as session, session.begin():
            campaign = make_campaign(session, slug="cli-comments", status=CampaignStatus.OPEN)
            policy = ResultsPolicy(comments=CommentPolicy(min_respondents=2))
            campaign_service.set_policy(session, campaign, policy)
            enough, too_few = (target.department.code for target in campaign.targets)
            rated = [(enough, "电话13812345678"), (enough, "很好"), (too_few, "只有一个人评")]
            codes = issue_codes(session, campaign, count=len(rated))
            for code, (target, text) in zip(codes, rated, strict=True):
                answers = answers_for(campaign)
                evaluation = EvaluationIn(target=target, answers=answers, comment=text)
                submit_ballot(session, HASHING_KEY, BallotIn(code=code, evaluations=[evaluation]))
            share_options: list[str] = []
            for share in trustee_shares(campaign)[:2]:
                path = tmp_path / share.source
                path.write_text(share.words)
                share_options += ["--share", str(path)]

        closed = run_ok("campaign", "close", "cli-comments")

        assert "cli-comments: closed" in closed.output
        with Session(engine) as session:
            assert session.scalars(select(CommentForReview.text)).all() == []

        tallied = run_ok("tally", "cli-comments", *share_options)

        assert "cli-comments: tallied. 3 ballots in the box, 3 counted." in tallied.output
        with Session(engine) as session:
            copied = session.scalars(select(CommentForReview.text)).all()
            raw = session.scalars(select(Evaluation.comment)).all()
            ciphertexts = session.scalars(select(SealedBallot.ciphertext)).all()
        assert sorted(copied) == sorted([f"电话{PLACEHOLDER}", "很好"])
        assert raw == [None, None, None]
        assert ciphertexts == [None, None, None]
