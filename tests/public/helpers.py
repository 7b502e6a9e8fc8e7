"""Published campaigns for the public pages' tests, rated through ``submit_ballot`` (sealed in
the ballot box) and counted by the tally before they are published.

The disclosure threshold is 3. In :class:`Published` every target × rater group has 3
evaluations with answers spread over at least two levels, so nothing is withheld.
"""

from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.ballots.schemas import BallotIn, EvaluationIn
from app.ballots.service import submit_ballot
from app.campaigns import lifecycle
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign
from app.campaigns.policy import CommentPolicy, ResultsPolicy
from app.departments.models import Department
from tests.factories import HASHING_KEY, issue_codes, make_campaign, make_department, tally

THRESHOLD = 3
Answers = dict[str, int | None]
# (courtesy, speed) for citizens, (courtesy, speed, guidance) for cadres; never unanimous.
GOOD_CITIZENS = [(5, 4), (4, 5), (4, 4)]
GOOD_CADRES = [(5, 4, 3), (4, 5, 2), (4, 4, 3)]
POOR_CITIZENS = [(3, 2), (2, 3), (3, 3)]
POOR_CADRES = [(3, 2, 1), (2, 3, 2), (3, 3, 1)]


def rate(
    session: Session,
    campaign: Campaign,
    department: Department,
    group: str,
    answer_sets: Sequence[tuple[int, ...]],
    comments: Sequence[str | None] = (),
) -> None:
    """One ballot per answer set, each on its own code."""
    item_ids = ["courtesy", "speed", "guidance"]
    codes = issue_codes(session, campaign, group=group, count=len(answer_sets))
    for index, (code, levels) in enumerate(zip(codes, answer_sets, strict=True)):
        answers: Answers = dict(zip(item_ids, levels, strict=False))
        comment = comments[index] if index < len(comments) else None
        evaluation = EvaluationIn(target=department.code, answers=answers, comment=comment)
        submit_ballot(session, HASHING_KEY, BallotIn(code=code, evaluations=[evaluation]))


def close_and_publish(session: Session, campaign: Campaign) -> None:
    """Close the campaign, count its ballot box (which copies the comments for review) and
    publish it."""
    tally(session, campaign)
    lifecycle.publish_campaign(session, campaign, actor="test")


class Published:
    """The main campaign and its departments."""

    def __init__(self, session: Session, *, publish: bool = True) -> None:
        self.east = make_department(session, name="东城区税务局", category="执法类")
        self.west = make_department(session, name="西城区市场监管局", category="执法类")
        self.north = make_department(session, name="北城区城管局", category="执法类")
        self.centre = make_department(session, name="政务服务中心", category="综合类")
        self.campaign = make_campaign(
            session,
            groups={"citizens": 3.0, "cadres": 1.0},
            departments=[self.east, self.west, self.north, self.centre],
            threshold=THRESHOLD,
        )
        campaign_service.set_policy(
            session,
            self.campaign,
            ResultsPolicy(comments=CommentPolicy(min_respondents=THRESHOLD)),
        )
        for department in (self.east, self.west, self.centre):
            rate(session, self.campaign, department, "citizens", GOOD_CITIZENS)
            rate(session, self.campaign, department, "cadres", GOOD_CADRES)
        rate(
            session,
            self.campaign,
            self.north,
            "citizens",
            POOR_CITIZENS,
            comments=["窗口排队太久", "态度冷淡", "希望改进"],
        )
        rate(session, self.campaign, self.north, "cadres", POOR_CADRES)
        if publish:
            close_and_publish(session, self.campaign)

    @property
    def slug(self) -> str:
        return self.campaign.slug
