"""Building small rated campaigns for the results tests."""

from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.ballots.schemas import BallotIn, EvaluationIn
from app.ballots.service import submit_ballot
from app.campaigns.models import Campaign
from app.surveys.schemas import Questionnaire
from tests.factories import HASHING_KEY, issue_codes, small_questionnaire

Level = int | None


def rating_questionnaire(**overrides: object) -> Questionnaire:
    """Courtesy (five-level), speed (three-level) and overall (five-level, not scored)."""
    return small_questionnaire(
        rater_groups=[
            {"key": "citizens", "name": {"zh": "群众", "en": "Citizens"}},
            {"key": "enterprises", "name": {"zh": "企业", "en": "Enterprises"}},
            {"key": "cadres", "name": {"zh": "基层干部", "en": "Cadres"}},
        ],
        items=[
            {
                "id": "courtesy",
                "dimension": "attitude",
                "scale": "five_level",
                "text": {"zh": "态度热情", "en": "Courteous"},
            },
            {
                "id": "speed",
                "dimension": "efficiency",
                "scale": "three_level",
                "text": {"zh": "办事快捷", "en": "Quick"},
            },
            {
                "id": "overall",
                "dimension": "attitude",
                "scale": "five_level",
                "scored": False,
                "text": {"zh": "总体印象", "en": "Overall impression"},
            },
        ],
        **overrides,
    )


def rate(
    session: Session,
    campaign: Campaign,
    group: str,
    answer_sets: Sequence[tuple[Level, Level, Level]],
    target_index: int = 0,
) -> None:
    """One ballot per answer set, each on its own admission code."""
    target = campaign.targets[target_index].department.code
    codes = issue_codes(session, campaign, group=group, count=len(answer_sets))
    for code, (courtesy, speed, overall) in zip(codes, answer_sets, strict=True):
        answers = {"courtesy": courtesy, "speed": speed, "overall": overall}
        ballot = BallotIn(code=code, evaluations=[EvaluationIn(target=target, answers=answers)])
        submit_ballot(session, HASHING_KEY, ballot)
