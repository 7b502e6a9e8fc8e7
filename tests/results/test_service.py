"""Results of small campaigns, worked out by hand figure by figure.

The questionnaire has three items every rater group sees: ``courtesy`` on the five-level scale
(100/80/60/40/20 points), ``speed`` on the three-level scale (100/70/30) and ``overall``
(five-level) that is reported but not scored. Answers are written (courtesy, speed, overall);
``None`` is 不了解. The disclosure threshold is 3 unless a test says otherwise. Ballots are
submitted sealed; the figures are those of the evaluations the tally writes when it opens the
ballot box.
"""

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.ballots.models import STRAIGHT_LINING, TOO_FAST, Evaluation
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus
from app.campaigns.policy import QualityPolicy, ResultsPolicy
from app.results import service as results_service
from app.results.schemas import (
    CampaignResults,
    GroupResult,
    ItemResult,
    QualitySummary,
    TargetResult,
)
from app.surveys.schemas import Questionnaire
from tests.factories import make_campaign, make_department, tally
from tests.results.helpers import Level, rate, rating_questionnaire

THRESHOLD = 3
SPREAD_FIGURES = ["standard_deviation", "ci_low", "ci_high"]
ITEM_FIGURES = [
    "respondents",
    "not_applicable",
    "mean_points",
    *SPREAD_FIGURES,
    "satisfaction_rate",
    "distribution",
]
ANSWERED_FIGURES = ["mean_points", *SPREAD_FIGURES, "satisfaction_rate", "distribution"]
SCORE_FIGURES = ["score", "score_standard_deviation", "score_ci_low", "score_ci_high"]

# Three citizens: evaluation scores (100 + 100) / 2 = 100, (80 + 70) / 2 = 75 and
# (40 + 30) / 2 = 35, so the group's score is 210 / 3 = 70.
CITIZENS_SCORING_70 = [(5, 3, 1), (4, 2, 2), (2, 1, 5)]
# Three enterprises: (100 + 100) / 2 = 100, (80 + 100) / 2 = 90, (60 + 70) / 2 = 65: 255 / 3 = 85.
ENTERPRISES_SCORING_85 = [(5, 3, 3), (4, 3, 3), (3, 2, 3)]
# Scores: (100 + 100) / 2 = 100, (80 + 70) / 2 = 75, 60 / 1 = 60, 30 / 1 = 30.
WITH_DONT_KNOW = [(5, 3, 4), (4, 2, 4), (3, None, None), (None, 1, 3)]
# Courtesy: two answered, two 不了解. Speed: three answered, one 不了解.
COURTESY_TWO_ANSWERED = [(5, 3, 5), (4, 3, 5), (None, 2, 5), (None, None, 5)]
THREE_GROUPS = {"citizens": 3.0, "enterprises": 1.0, "cadres": 2.0}


def new_campaign(
    session: Session,
    groups: dict[str, float] | None = None,
    questionnaire: Questionnaire | None = None,
) -> Campaign:
    return make_campaign(
        session,
        questionnaire=questionnaire or rating_questionnaire(),
        groups=groups or {"citizens": 1.0},
        threshold=THRESHOLD,
    )


def results_of(session: Session, campaign: Campaign) -> CampaignResults:
    """The campaign's results, its ballot box first closed and counted if it is still sealed."""
    if campaign.status in (CampaignStatus.OPEN, CampaignStatus.CLOSED):
        tally(session, campaign)
    return results_service.campaign_results(session, campaign, "zh_CN")


def target_result(results: CampaignResults, campaign: Campaign, index: int = 0) -> TargetResult:
    code = campaign.targets[index].department.code
    return next(target for target in results.targets if target.target == code)


def group_result(target: TargetResult, key: str) -> GroupResult:
    return next(group for group in target.groups if group.rater_group == key)


def item_result(group: GroupResult, item_id: str) -> ItemResult:
    return next(item for item in group.items if item.item == item_id)


def cell(
    session: Session, campaign: Campaign, group: str = "citizens", target_index: int = 0
) -> GroupResult:
    return group_result(target_result(results_of(session, campaign), campaign, target_index), group)


class TestCellSuppression:
    def test_cell_one_evaluation_short_of_threshold_withholds_every_figure(
        self, any_session: Session
    ) -> None:
        campaign = new_campaign(any_session)
        rate(any_session, campaign, "citizens", CITIZENS_SCORING_70[:2])

        target = target_result(results_of(any_session, campaign), campaign)
        citizens = group_result(target, "citizens")

        assert citizens.evaluations is None
        assert citizens.score is None
        assert citizens.withheld == ["evaluations", *SCORE_FIGURES]
        assert [item.item for item in citizens.items] == ["courtesy", "speed", "overall"]
        for item in citizens.items:
            assert item.respondents is None
            assert item.not_applicable is None
            assert item.mean_points is None
            assert item.satisfaction_rate is None
            assert item.distribution is None
            assert item.withheld == ITEM_FIGURES
        assert target.composite_score is None
        assert target.composite_groups == []
        assert target.withheld == ["evaluations", "composite_score", "grade", "rank"]

    def test_cell_with_exactly_threshold_evaluations_shows_its_figures(
        self, any_session: Session
    ) -> None:
        campaign = new_campaign(any_session)
        rate(any_session, campaign, "citizens", CITIZENS_SCORING_70)

        target = target_result(results_of(any_session, campaign), campaign)
        citizens = group_result(target, "citizens")

        assert citizens.evaluations == 3
        assert citizens.score == 70.0
        assert citizens.withheld == []
        for item in citizens.items:
            assert item.respondents == 3
            assert item.not_applicable == 0
            assert item.withheld == []
        assert target.composite_score == 70.0
        assert target.withheld == []

    def test_other_targets_cells_do_not_count_toward_a_cells_threshold(
        self, session: Session
    ) -> None:
        campaign = new_campaign(session)
        rate(session, campaign, "citizens", CITIZENS_SCORING_70[:2], target_index=0)
        rate(session, campaign, "citizens", CITIZENS_SCORING_70, target_index=1)

        results = results_of(session, campaign)

        first = group_result(target_result(results, campaign, 0), "citizens")
        second = group_result(target_result(results, campaign, 1), "citizens")
        assert first.evaluations is None
        assert second.evaluations == 3
        assert second.score == 70.0


class TestItemFigures:
    def test_means_rates_and_distributions_of_a_five_and_a_three_level_item(
        self, any_session: Session
    ) -> None:
        campaign = new_campaign(any_session)
        rate(any_session, campaign, "citizens", CITIZENS_SCORING_70)

        citizens = cell(any_session, campaign)

        courtesy = item_result(citizens, "courtesy")  # levels 5, 4, 2
        assert courtesy.mean_points == 73.33  # (100 + 80 + 40) / 3
        assert courtesy.satisfaction_rate == 0.6667  # 5 and 4 are the top two: 2 of 3
        assert courtesy.distribution == {5: 1, 4: 1, 3: 0, 2: 1, 1: 0}
        speed = item_result(citizens, "speed")  # levels 3, 2, 1
        assert speed.mean_points == 66.67  # (100 + 70 + 30) / 3
        assert speed.satisfaction_rate == 0.6667  # 3 and 2 are the top two: 2 of 3
        assert speed.distribution == {3: 1, 2: 1, 1: 1}


class TestScalePoints:
    """Six raters at one level: unanimous answers are shown from 2k = 6 on."""

    @pytest.mark.parametrize(
        ("level", "points", "satisfied"),
        [(5, 100.0, 1.0), (4, 80.0, 1.0), (3, 60.0, 0.0), (2, 40.0, 0.0), (1, 20.0, 0.0)],
    )
    def test_five_level_item_earns_the_points_of_its_level(
        self, session: Session, level: int, points: float, satisfied: float
    ) -> None:
        campaign = new_campaign(session)
        rate(session, campaign, "citizens", [(level, 3, 3)] * 6)

        courtesy = item_result(cell(session, campaign), "courtesy")

        assert courtesy.mean_points == points
        assert courtesy.standard_deviation == 0.0
        assert (courtesy.ci_low, courtesy.ci_high) == (points, points)
        assert courtesy.satisfaction_rate == satisfied
        assert courtesy.distribution == {
            value: 6 if value == level else 0 for value in range(5, 0, -1)
        }

    @pytest.mark.parametrize(
        ("level", "points", "satisfied"), [(3, 100.0, 1.0), (2, 70.0, 1.0), (1, 30.0, 0.0)]
    )
    def test_three_level_item_earns_the_points_of_its_level(
        self, session: Session, level: int, points: float, satisfied: float
    ) -> None:
        campaign = new_campaign(session)
        rate(session, campaign, "citizens", [(5, level, 5)] * 6)

        citizens = cell(session, campaign)
        speed = item_result(citizens, "speed")

        assert speed.mean_points == points
        assert speed.satisfaction_rate == satisfied
        assert speed.distribution == {value: 6 if value == level else 0 for value in (3, 2, 1)}
        assert citizens.score == (100.0 + points) / 2

    def test_questionnaire_points_for_a_scale_replace_the_default_points(
        self, session: Session
    ) -> None:
        questionnaire = rating_questionnaire(points={"three_level": {3: 90, 2: 60, 1: 0}})
        campaign = new_campaign(session, questionnaire=questionnaire)
        rate(session, campaign, "citizens", [(4, 3, 4), (4, 2, 4), (4, 1, 4)] * 2)

        citizens = cell(session, campaign)

        assert item_result(citizens, "speed").mean_points == 50.0  # (90 + 60 + 0) / 3
        assert item_result(citizens, "courtesy").mean_points == 80.0  # five-level keeps defaults
        # Evaluation scores (80 + 90) / 2 = 85, (80 + 60) / 2 = 70, (80 + 0) / 2 = 40.
        assert citizens.score == 65.0  # 195 / 3


class TestNonScoredItems:
    def test_non_scored_item_is_reported_but_left_out_of_the_score(self, session: Session) -> None:
        campaign = new_campaign(session)
        rate(session, campaign, "citizens", CITIZENS_SCORING_70)

        results = results_of(session, campaign)
        citizens = group_result(target_result(results, campaign), "citizens")

        overall = item_result(citizens, "overall")  # levels 1, 2, 5
        assert overall.mean_points == 53.33  # (20 + 40 + 100) / 3
        assert overall.satisfaction_rate == 0.3333
        assert overall.distribution == {5: 1, 4: 0, 3: 0, 2: 1, 1: 1}
        # Counting overall would give (100+100+20)/3, (80+70+40)/3, (40+30+100)/3: 64.44.
        assert citizens.score == 70.0
        assert [(item.id, item.scored) for item in results.items] == [
            ("courtesy", True),
            ("speed", True),
            ("overall", False),
        ]

    def test_evaluation_answering_only_non_scored_items_has_no_score(
        self, session: Session
    ) -> None:
        campaign = new_campaign(session)
        rate(session, campaign, "citizens", [(5, 3, 4), (4, 2, 4), (None, None, 5)])

        citizens = cell(session, campaign)

        assert citizens.evaluations == 3
        # Only two evaluations (scoring 100 and 75) have a score, below the threshold.
        assert citizens.score is None
        assert citizens.withheld == SCORE_FIGURES
        assert item_result(citizens, "overall").mean_points == 86.67  # (80 + 80 + 100) / 3


class TestNotApplicable:
    def test_dont_know_is_left_out_of_means_rates_distributions_and_scores(
        self, any_session: Session
    ) -> None:
        campaign = new_campaign(any_session)
        rate(any_session, campaign, "citizens", WITH_DONT_KNOW)

        citizens = cell(any_session, campaign)

        assert citizens.evaluations == 4
        assert citizens.score == 66.25  # 265 / 4; N/A as 0 points would give 55
        courtesy = item_result(citizens, "courtesy")
        assert (courtesy.respondents, courtesy.not_applicable) == (4, 1)
        assert courtesy.mean_points == 80.0  # (100 + 80 + 60) / 3, not 240 / 4
        assert courtesy.satisfaction_rate == 0.6667  # 2 of 3 answered, not 2 of 4
        assert courtesy.distribution == {5: 1, 4: 1, 3: 1, 2: 0, 1: 0}
        speed = item_result(citizens, "speed")
        assert (speed.respondents, speed.not_applicable) == (4, 1)
        assert speed.mean_points == 66.67  # (100 + 70 + 30) / 3
        assert speed.distribution == {3: 1, 2: 1, 1: 1}
        overall = item_result(citizens, "overall")
        assert overall.mean_points == 73.33  # (80 + 80 + 60) / 3

    def test_evaluation_of_only_dont_know_is_counted_but_moves_no_figure(
        self, any_session: Session
    ) -> None:
        campaign = new_campaign(any_session)
        rate(any_session, campaign, "citizens", [*WITH_DONT_KNOW, (None, None, None)])

        citizens = cell(any_session, campaign)

        assert citizens.evaluations == 5
        assert citizens.score == 66.25
        courtesy = item_result(citizens, "courtesy")
        assert (courtesy.respondents, courtesy.not_applicable) == (5, 2)
        assert courtesy.mean_points == 80.0
        assert courtesy.satisfaction_rate == 0.6667
        assert item_result(citizens, "speed").mean_points == 66.67


class TestItemSuppression:
    def test_item_answered_one_fewer_than_threshold_withholds_its_answer_and_dont_know_figures(
        self, any_session: Session
    ) -> None:
        """How many gave an opinion is itself a count below the threshold (2 of 4 here)."""
        campaign = new_campaign(any_session)
        rate(any_session, campaign, "citizens", COURTESY_TWO_ANSWERED)

        courtesy = item_result(cell(any_session, campaign), "courtesy")

        assert courtesy.respondents == 4
        assert courtesy.not_applicable is None
        assert courtesy.mean_points is None
        assert courtesy.satisfaction_rate is None
        assert courtesy.distribution is None
        assert courtesy.withheld == ["not_applicable", *ANSWERED_FIGURES]

    def test_item_answered_exactly_threshold_times_is_shown(self, any_session: Session) -> None:
        campaign = new_campaign(any_session)
        rate(any_session, campaign, "citizens", COURTESY_TWO_ANSWERED)

        citizens = cell(any_session, campaign)
        speed = item_result(citizens, "speed")

        assert (speed.respondents, speed.not_applicable) == (4, 1)
        assert speed.mean_points == 90.0  # (100 + 100 + 70) / 3
        assert speed.satisfaction_rate == 1.0
        assert speed.distribution == {3: 2, 2: 1, 1: 0}
        assert speed.withheld == []
        # The score, (100 + 100) / 2, (80 + 100) / 2, 70 / 1 → 86.67, is withheld with the
        # courtesy item's figures (2 answers): with the speed mean it would narrow them.
        assert citizens.score is None
        assert "score" in citizens.withheld


class TestCompositeWeighting:
    def test_composite_weights_group_scores_by_the_campaign_weights(
        self, any_session: Session
    ) -> None:
        campaign = new_campaign(any_session, groups={"citizens": 3.0, "enterprises": 1.0})
        rate(any_session, campaign, "citizens", CITIZENS_SCORING_70)
        rate(any_session, campaign, "enterprises", ENTERPRISES_SCORING_85)

        target = target_result(results_of(any_session, campaign), campaign)

        assert group_result(target, "citizens").score == 70.0
        assert group_result(target, "enterprises").score == 85.0
        assert target.composite_score == 73.75  # (3 × 70 + 1 × 85) / 4; unweighted: 77.5
        assert target.composite_groups == ["citizens", "enterprises"]
        assert target.withheld == []


def rate_second_department_alike(session: Session, campaign: Campaign) -> None:
    """Citizens and enterprises rate the second department too. With one department rated,
    its count would be the number of ballots, which the verification page publishes, and
    that count less the shown groups would give a withheld group's count back."""
    rate(session, campaign, "citizens", CITIZENS_SCORING_70, target_index=1)
    rate(session, campaign, "enterprises", ENTERPRISES_SCORING_85, target_index=1)


class TestCompositeRenormalisation:
    def test_withheld_group_is_left_out_and_the_other_weights_renormalised(
        self, any_session: Session
    ) -> None:
        campaign = new_campaign(any_session, groups=THREE_GROUPS)
        rate(any_session, campaign, "citizens", CITIZENS_SCORING_70)
        rate(any_session, campaign, "enterprises", ENTERPRISES_SCORING_85)
        rate(any_session, campaign, "cadres", [(1, 1, 1)] * 2)  # would score 25
        rate_second_department_alike(any_session, campaign)

        target = target_result(results_of(any_session, campaign), campaign)

        assert group_result(target, "cadres").evaluations is None
        assert group_result(target, "cadres").score is None
        # (3 × 70 + 1 × 85) / (3 + 1). Over all weights: 295 / 6 = 49.17; with cadres' 25: 57.5.
        assert target.composite_score == 73.75
        assert target.composite_groups == ["citizens", "enterprises"]

    def test_composite_of_a_single_shown_group_is_that_groups_score(
        self, any_session: Session
    ) -> None:
        campaign = new_campaign(any_session, groups=THREE_GROUPS)
        rate(any_session, campaign, "citizens", CITIZENS_SCORING_70)
        rate(any_session, campaign, "enterprises", ENTERPRISES_SCORING_85[:2])
        rate_second_department_alike(any_session, campaign)

        target = target_result(results_of(any_session, campaign), campaign)

        assert group_result(target, "enterprises").evaluations is None
        assert target.composite_score == 70.0
        assert target.composite_groups == ["citizens"]

    def test_group_with_evaluations_but_withheld_score_stays_out_of_the_composite(
        self, session: Session
    ) -> None:
        campaign = new_campaign(session, groups=THREE_GROUPS)
        rate(session, campaign, "citizens", CITIZENS_SCORING_70)
        rate(session, campaign, "enterprises", ENTERPRISES_SCORING_85)
        # Two evaluations have a score (25 and 55), fewer than the threshold; one has none.
        rate(session, campaign, "cadres", [(1, 1, 1), (2, 2, 1), (None, None, 1)])

        target = target_result(results_of(session, campaign), campaign)

        assert group_result(target, "cadres").evaluations == 3
        assert group_result(target, "cadres").score is None
        assert target.composite_score == 73.75
        assert target.composite_groups == ["citizens", "enterprises"]


class TestCampaignIsolation:
    def test_evaluations_of_another_campaign_do_not_count(self, session: Session) -> None:
        campaign = new_campaign(session)
        other = make_campaign(
            session,
            questionnaire=rating_questionnaire(),
            groups={"citizens": 1.0},
            departments=[target.department for target in campaign.targets],
            threshold=THRESHOLD,
        )
        rate(session, campaign, "citizens", CITIZENS_SCORING_70[:2])
        rate(session, other, "citizens", [(1, 1, 1)] * 3)
        tally(session, other)

        citizens = cell(session, campaign)

        assert citizens.evaluations is None  # two of its own, not five


class TestRoundingIsHalfUp:
    """Published figures round half up (四舍五入), as official bulletins do."""

    @pytest.mark.parametrize(
        ("numerator", "denominator", "decimals", "expected"),
        [
            (385, 8, 2, 48.13),
            (-385, 8, 2, -48.13),
            (1, 3, 4, 0.3333),
            (5, 8, 2, 0.63),
            (1, 8, 2, 0.13),
        ],
    )
    def test_halves_round_away_from_zero(
        self, numerator: int, denominator: int, decimals: int, expected: float
    ) -> None:
        from fractions import Fraction

        from app.results.service import half_up

        assert half_up(Fraction(numerator, denominator), decimals) == expected


class TestUnanimity:
    """A group whose evaluations all score the same, fewer than 2k = 6 of them, is withheld
    whole, its count included: its score (or its items, whose means give the score back)
    would tell how each rater rated, and withholding only the score beside the count and the
    items would tell that they all agree."""

    @pytest.mark.parametrize(
        "answer_sets",
        [
            # Every answer the same: (80 + 70) / 2 = 75 each.
            [(4, 2, 3)] * 5,
            # Answers differ, scores do not: (100 + 30) / 2 = (60 + 70) / 2 = 65 each.
            [(5, 1, 4), (3, 2, 4), (5, 1, 2), (3, 2, 5), (5, 1, 1)],
        ],
    )
    def test_group_scoring_alike_below_2k_is_withheld_exactly_as_a_group_below_the_threshold(
        self, session: Session, answer_sets: list[tuple[Level, Level, Level]]
    ) -> None:
        alike, small = (make_department(session, name=name) for name in ("区民政局", "区教育局"))
        campaign = make_campaign(
            session,
            questionnaire=rating_questionnaire(),
            groups={"citizens": 1.0},
            departments=[alike, small],
            threshold=THRESHOLD,
        )
        rate(session, campaign, "citizens", answer_sets, target_index=0)
        rate(session, campaign, "citizens", CITIZENS_SCORING_70[:2], target_index=1)
        tally(session, campaign)

        results = results_service.campaign_results(session, campaign, "en")

        citizens = group_result(target_result(results, campaign, 0), "citizens")
        assert citizens.evaluations is None
        assert citizens.score is None
        assert citizens.withheld == ["evaluations", *SCORE_FIGURES]
        for item in citizens.items:
            assert item.withheld == ITEM_FIGURES
        # The same null figures as the second department's two citizens, below the threshold,
        assert citizens == group_result(target_result(results, campaign, 1), "citizens")
        # and the same lines in plain words.
        reason = "(withheld to protect raters' anonymity)"
        assert f"区民政局 · Citizens: all figures {reason}" in results.withheld_figures
        assert lines_about(results, "区民政局") == [
            line.replace("区教育局", "区民政局") for line in lines_about(results, "区教育局")
        ]

    def test_group_scoring_alike_from_2k_on_is_shown(self, session: Session) -> None:
        campaign = new_campaign(session)
        rate(session, campaign, "citizens", [(4, 2, 3)] * 6)

        citizens = cell(session, campaign)

        assert citizens.evaluations == 6
        assert citizens.score == 75.0
        assert citizens.withheld == []


def lines_about(results: CampaignResults, department: str) -> list[str]:
    """The plain-words lines of withheld figures that name ``department``."""
    return [
        line
        for line in results.withheld_figures
        if line.startswith((f"{department} ", f"{department}:"))
    ]


def rate_hand_worked_campaign(session: Session) -> Campaign:
    """Five departments, citizens weighing 3 and enterprises 1, threshold 3, trim share 0.1.

    Four departments are 窗口类 (A, B, C, D) and one 执法类 (E). Answers are
    (courtesy, speed, overall); overall is not scored. Evaluation scores:

    - A citizens: (100+100)/2 = 100, (80+100)/2 = 90, (80+70)/2 = 75, (40+70)/2 = 55, 30/1 = 30
    - A enterprises: 100, (60+70)/2 = 65, 90
    - B citizens: 100, 90, (40+30)/2 = 35; enterprises: 100, 65, (20+70)/2 = 45
    - C citizens and enterprises alike: 100, 75, 65
    - D citizens: (60+30)/2 = 45, 55, 55; enterprises: 35, 65, 35
    - E citizens: 100, 75, 35; enterprises: 100, 90, 65
    """
    departments = [
        make_department(session, name=name, category=category)
        for name, category in [
            ("区政务服务中心", "窗口类"),
            ("区不动产登记中心", "窗口类"),
            ("区医保服务中心", "窗口类"),
            ("区社保服务中心", "窗口类"),
            ("区市场监管局", "执法类"),
        ]
    ]
    campaign = make_campaign(
        session,
        questionnaire=rating_questionnaire(),
        groups={"citizens": 3.0, "enterprises": 1.0},
        departments=departments,
        threshold=THRESHOLD,
    )
    campaign_service.set_policy(session, campaign, ResultsPolicy(trim_share=0.1))
    answers: dict[int, dict[str, list[tuple[Level, Level, Level]]]] = {
        0: {
            "citizens": [(5, 3, 5), (4, 3, 4), (4, 2, 4), (2, 2, None), (None, 1, 2)],
            "enterprises": [(5, 3, 3), (3, 2, 3), (4, 3, 3)],
        },
        1: {
            "citizens": [(5, 3, 4), (4, 3, 4), (2, 1, 2)],
            "enterprises": [(5, 3, 5), (3, 2, 3), (1, 2, 1)],
        },
        2: {
            "citizens": [(5, 3, 5), (4, 2, 4), (3, 2, 3)],
            "enterprises": [(5, 3, 5), (4, 2, 4), (3, 2, 3)],
        },
        3: {
            "citizens": [(3, 1, 3), (2, 2, 2), (4, 1, 4)],
            "enterprises": [(2, 1, 2), (3, 2, 3), (2, 1, 1)],
        },
        4: {"citizens": CITIZENS_SCORING_70, "enterprises": ENTERPRISES_SCORING_85},
    }
    for target_index, by_group in answers.items():
        for group, answer_sets in by_group.items():
            rate(session, campaign, group, answer_sets, target_index=target_index)
    return campaign


class TestHandWorkedCampaign:
    """Every figure of a small campaign, worked out by hand (see the rating function).

    t(0.975; 2) = 4.3027, t(0.975; 3) = 3.1824, t(0.975; 4) = 2.7764.
    """

    def test_department_a_figure_by_figure(self, any_session: Session) -> None:
        campaign = rate_hand_worked_campaign(any_session)

        results = results_of(any_session, campaign)
        first = target_result(results, campaign, 0)
        citizens = group_result(first, "citizens")
        enterprises = group_result(first, "enterprises")

        # Citizens: scores 100, 90, 75, 55, 30.
        assert citizens.evaluations == 5
        assert citizens.score == 70.0  # 350 / 5
        assert citizens.score_standard_deviation == 28.06  # √(3150 / 4)
        assert (citizens.score_ci_low, citizens.score_ci_high) == (35.16, 104.84)  # ± 34.84
        # A share of 0.1 of five drops half of the 30 and half of the 100:
        # (15 + 55 + 75 + 90 + 50) / 4
        assert citizens.trimmed_score == 71.25
        assert citizens.withheld == []
        courtesy = item_result(citizens, "courtesy")  # 100, 80, 80, 40 and one 不了解
        assert (courtesy.respondents, courtesy.not_applicable) == (5, 1)
        assert courtesy.mean_points == 75.0
        assert courtesy.standard_deviation == 25.17  # √(1900 / 3)
        assert (courtesy.ci_low, courtesy.ci_high) == (34.96, 115.04)  # ± 3.1824 × 25.17 / 2
        assert courtesy.satisfaction_rate == 0.75
        assert courtesy.distribution == {5: 1, 4: 2, 3: 0, 2: 1, 1: 0}
        speed = item_result(citizens, "speed")  # 100, 100, 70, 70, 30
        assert (speed.respondents, speed.not_applicable) == (5, 0)
        assert speed.mean_points == 74.0
        assert speed.standard_deviation == 28.81  # √(3320 / 4)
        assert (speed.ci_low, speed.ci_high) == (38.23, 109.77)
        assert speed.satisfaction_rate == 0.8
        assert speed.distribution == {3: 2, 2: 2, 1: 1}
        overall = item_result(citizens, "overall")  # 100, 80, 80, 40: reported, not scored
        assert (overall.mean_points, overall.not_applicable) == (75.0, 1)
        # Dimensions pool the scored items: attitude is courtesy, efficiency is speed.
        attitude, efficiency = citizens.dimensions
        assert (attitude.dimension, attitude.name) == ("attitude", "服务态度")
        assert (attitude.answers, attitude.not_applicable) == (4, 1)
        assert (attitude.mean_points, attitude.standard_deviation) == (75.0, 25.17)
        assert (attitude.ci_low, attitude.ci_high, attitude.satisfaction_rate) == (
            34.96,
            115.04,
            0.75,
        )
        assert attitude.distribution == courtesy.distribution
        assert (efficiency.answers, efficiency.mean_points) == (5, 74.0)

        # Enterprises: scores 100, 65, 90.
        assert enterprises.evaluations == 3
        assert enterprises.score == 85.0
        assert enterprises.score_standard_deviation == 18.03  # √(650 / 2)
        assert (enterprises.score_ci_low, enterprises.score_ci_high) == (40.22, 129.78)
        # 0.3 of the weight from each end: (0.7 × 65 + 90 + 0.7 × 100) / 2.4 = 85.625
        assert enterprises.trimmed_score == 85.63
        courtesy = item_result(enterprises, "courtesy")  # 100, 60, 80
        assert (courtesy.mean_points, courtesy.standard_deviation) == (80.0, 20.0)
        assert (courtesy.ci_low, courtesy.ci_high) == (30.32, 129.68)  # ± 4.3027 × 20 / √3
        assert courtesy.satisfaction_rate == 0.6667
        speed = item_result(enterprises, "speed")  # 100, 70, 100
        assert (speed.mean_points, speed.standard_deviation) == (90.0, 17.32)
        assert (speed.ci_low, speed.ci_high, speed.satisfaction_rate) == (46.97, 133.03, 1.0)
        assert speed.distribution == {3: 2, 2: 1, 1: 0}
        # Overall: all three at level 3, fewer than 2k: unanimous, withheld with its 不了解
        # count, as an item answered by fewer than the threshold is.
        overall = item_result(enterprises, "overall")
        assert (overall.respondents, overall.not_applicable) == (3, None)
        assert overall.withheld == ["not_applicable", *ANSWERED_FIGURES]
        assert enterprises.dimensions[0].mean_points == 80.0  # overall is not pooled

        # The department, from the groups' exact figures: (3 × 70 + 1 × 85) / 4; dimensions
        # weighted alike.
        assert first.evaluations == 8
        assert first.composite_score == 73.75
        assert first.composite_groups == ["citizens", "enterprises"]
        assert first.grade == "基本满意"  # 60 ≤ 73.75 < 75
        assert [(d.dimension, d.score, d.satisfaction_rate) for d in first.dimensions] == [
            ("attitude", 76.25, 0.7292),  # (3 × 75 + 80) / 4; (3 × 3/4 + 2/3) / 4 = 35/48
            ("efficiency", 78.0, 0.85),  # (3 × 74 + 90) / 4; (3 × 4/5 + 1) / 4
        ]
        assert first.withheld == []

    def test_ranks_tie_and_skip_within_each_category(self, any_session: Session) -> None:
        campaign = rate_hand_worked_campaign(any_session)

        results = results_of(any_session, campaign)

        # From the groups' exact scores: A (3 × 70 + 85) / 4 = 73.75; B (3 × 75 + 70) / 4 =
        # 73.75; C 80; D (3 × 155/3 + 45) / 4 = 50 (citizens show 51.67, the composite does
        # not use it); E (3 × 70 + 85) / 4 = 73.75, alone in its category.
        assert [
            (t.composite_score, t.grade, t.rank, t.ranked_in_category, t.bottom)
            for t in results.targets
        ] == [
            (73.75, "基本满意", 2, 4, False),
            (73.75, "基本满意", 2, 4, False),
            (80.0, "比较满意", 1, 4, False),
            (50.0, "不满意", 4, 4, True),
            (73.75, "基本满意", 1, 1, False),
        ]
        # B's citizens: 0.3 from each end of 35, 90, 100: (24.5 + 90 + 70) / 2.4 = 76.875
        assert group_result(target_result(results, campaign, 1), "citizens").trimmed_score == 76.88

    def test_campaign_wide_figures(self, any_session: Session) -> None:
        campaign = rate_hand_worked_campaign(any_session)

        results = results_of(any_session, campaign)

        assert results.evaluations == 32
        assert results.disclosure_threshold == 3
        assert results.protection_width == 3.0
        assert results.trim_share == 0.1
        assert results.points == {
            "five_level": {5: 100.0, 4: 80.0, 3: 60.0, 2: 40.0, 1: 20.0},
            "three_level": {3: 100.0, 2: 70.0, 1: 30.0},
        }
        assert [(grade.name, grade.minimum) for grade in results.grades] == [
            ("满意", 85.0),
            ("比较满意", 75.0),
            ("基本满意", 60.0),
            ("不满意", 0.0),
        ]
        assert [(d.id, d.name) for d in results.dimensions] == [
            ("attitude", "服务态度"),
            ("efficiency", "办事效率"),
        ]
        assert results.quality is not None
        # Nothing was flagged: a count of 0 is below the threshold, so the flag counts are
        # withheld like any other count; the evaluations stored go with the campaign's count.
        assert results.quality.model_dump() == {
            "handling": "keep",
            "down_weight": None,
            "straight_lining": None,
            "too_fast": None,
            "flagged": None,
            "evaluations": 32,
        }
        assert results.privacy is None
        # Only the two unanimous "overall" items of enterprises are withheld, each with its
        # 不了解 count: two lines each, as for an item answered by fewer than the threshold;
        # and the flag counts, in one line.
        assert [line.split("：")[0].split("（")[0] for line in results.withheld_figures] == [
            "区政务服务中心 · 企业 · 总体印象",
            "区政务服务中心 · 企业 · 总体印象",
            "区市场监管局 · 企业 · 总体印象",
            "区市场监管局 · 企业 · 总体印象",
            "被标记为低质量的评价份数",
        ]


def flag_lowest_answers(session: Session, campaign: Campaign) -> None:
    """The two straight-lined (1, 1, 1) evaluations; one was also too fast."""
    flagged = session.scalars(
        select(Evaluation)
        .where(Evaluation.campaign_id == campaign.id, Evaluation.answers == "111")
        .order_by(Evaluation.id)
    ).all()
    assert len(flagged) == 2
    flagged[0].quality_flags = STRAIGHT_LINING | TOO_FAST
    flagged[1].quality_flags = STRAIGHT_LINING
    session.flush()


class TestQualityPolicy:
    """Four citizens scoring 100, 90, 75, 55 and two straight-liners scoring (20 + 30) / 2."""

    @pytest.mark.parametrize(
        (
            "handling",
            "evaluations",
            "score",
            "courtesy_mean",
            "courtesy_rate",
            "lowest_level",
            "stored",
        ),
        [
            # 370 / 6; courtesy (100 + 80 + 80 + 40 + 20 + 20) / 6, 3 of 6 satisfied
            ("keep", 6, 61.67, 56.67, 0.5, 2, 12),
            # (320 + ½ × 50) / 5; courtesy (300 + ½ × 40) / 5, 3 of 5 satisfied
            ("down_weight", 6, 69.0, 64.0, 0.6, 2, 12),
            # 320 / 4; courtesy 300 / 4, 3 of 4. The 12 stored would leave 2 beside the 10
            # counted: the flagged count again, so it is withheld.
            ("exclude", 4, 80.0, 75.0, 0.75, 0, None),
        ],
    )
    def test_flagged_evaluations_are_kept_down_weighted_or_excluded(
        self,
        session: Session,
        handling: str,
        evaluations: int,
        score: float,
        courtesy_mean: float,
        courtesy_rate: float,
        lowest_level: int,
        stored: int | None,
    ) -> None:
        # A second department, rated by six other ballots, none flagged: with one department
        # alone, the ballots counted less its evaluations counted would be the flagged count.
        campaign = make_campaign(
            session,
            questionnaire=rating_questionnaire(),
            groups={"citizens": 1.0},
            departments=[make_department(session), make_department(session, name="区教育局")],
            threshold=THRESHOLD,
        )
        policy = QualityPolicy.model_validate({"handling": handling, "down_weight": 0.5})
        campaign_service.set_policy(session, campaign, ResultsPolicy(quality=policy))
        rate(
            session,
            campaign,
            "citizens",
            [(5, 3, 5), (4, 3, 4), (4, 2, 4), (2, 2, 2), (1, 1, 1), (1, 1, 1)],
        )
        rate(session, campaign, "citizens", CITIZENS_SCORING_70 * 2, target_index=1)
        tally(session, campaign)
        flag_lowest_answers(session, campaign)

        results = results_of(session, campaign)
        citizens = group_result(target_result(results, campaign), "citizens")
        courtesy = item_result(citizens, "courtesy")

        assert citizens.evaluations == evaluations
        assert citizens.score == score
        assert courtesy.respondents == evaluations
        assert courtesy.mean_points == courtesy_mean
        assert courtesy.satisfaction_rate == courtesy_rate
        # Distributions stay numbers of evaluations, weighted or not.
        assert courtesy.distribution == {5: 1, 4: 2, 3: 0, 2: 1, 1: lowest_level}
        assert results.evaluations == evaluations + 6
        # 2 flagged (both straight-lining, one too fast): each count is below the threshold
        # of 3, so each is withheld like any other count.
        assert results.quality == QualitySummary(
            handling=handling,
            down_weight=0.5 if handling == "down_weight" else None,
            straight_lining=None,
            too_fast=None,
            flagged=None,
            evaluations=stored,
        )

    def test_down_weighted_spread_uses_reliability_weights(self, session: Session) -> None:
        campaign = make_campaign(
            session,
            questionnaire=rating_questionnaire(),
            groups={"citizens": 1.0},
            departments=[make_department(session)],
            threshold=THRESHOLD,
        )
        policy = ResultsPolicy(quality=QualityPolicy(handling="down_weight", down_weight=0.5))
        campaign_service.set_policy(session, campaign, policy)
        rate(
            session,
            campaign,
            "citizens",
            [(5, 3, 5), (4, 3, 4), (4, 2, 4), (2, 2, 2), (1, 1, 1), (1, 1, 1)],
        )
        tally(session, campaign)
        flag_lowest_answers(session, campaign)

        courtesy = item_result(cell(session, campaign), "courtesy")

        # 100, 80, 80, 40 at weight 1, 20 and 20 at ½: mean 64; Σw(x − 64)² = 4320 over
        # V1 − V2/V1 = 5 − 4.5/5 = 4.1.
        assert courtesy.standard_deviation == 32.46


class TestQualityCounts:
    """Flag counts are counts of raters like any other: shown from the threshold on, and
    only when they leave none, or at least the threshold, without them."""

    @staticmethod
    def campaign(session: Session, threshold: int) -> Campaign:
        return make_campaign(
            session,
            questionnaire=rating_questionnaire(),
            groups={"citizens": 1.0},
            departments=[make_department(session)],
            threshold=threshold,
        )

    def test_a_flag_count_of_two_is_withheld_with_a_threshold_of_five(
        self, session: Session
    ) -> None:
        campaign = self.campaign(session, threshold=5)
        rate(session, campaign, "citizens", [*CITIZENS_SCORING_70, *WITH_DONT_KNOW])
        rate(session, campaign, "citizens", [(1, 1, 1), (1, 1, 1)])
        tally(session, campaign)
        flag_lowest_answers(session, campaign)

        results = results_of(session, campaign)

        assert results.evaluations == 9
        assert results.quality is not None
        assert results.quality.flagged is None  # 2 < 5
        assert results.quality.straight_lining is None  # 2 < 5
        assert results.quality.too_fast is None  # 1 < 5
        assert results.quality.evaluations == 9

    def test_flag_counts_at_the_threshold_are_shown(self, session: Session) -> None:
        campaign = self.campaign(session, threshold=THRESHOLD)
        rate(session, campaign, "citizens", [*CITIZENS_SCORING_70, *ENTERPRISES_SCORING_85])
        rate(session, campaign, "citizens", [(1, 1, 1)] * 3)
        tally(session, campaign)
        flagged = session.scalars(
            select(Evaluation).where(
                Evaluation.campaign_id == campaign.id, Evaluation.answers == "111"
            )
        ).all()
        for evaluation in flagged:
            evaluation.quality_flags = STRAIGHT_LINING | TOO_FAST
        session.flush()

        results = results_of(session, campaign)

        # 3 of 9 flagged, all for both reasons: every count reaches 3, and leaves 6 or none
        # beside it.
        assert results.quality is not None
        assert results.quality.model_dump() == {
            "handling": "keep",
            "down_weight": None,
            "straight_lining": 3,
            "too_fast": 3,
            "flagged": 3,
            "evaluations": 9,
        }


class TestWithheldFiguresInPlainWords:
    def test_a_withheld_group_and_what_it_takes_with_it_are_listed(self, session: Session) -> None:
        department = make_department(session, name="区民政局")
        campaign = make_campaign(
            session,
            questionnaire=rating_questionnaire(),
            groups={"citizens": 1.0, "cadres": 1.0},
            departments=[department, make_department(session, name="区教育局")],
            threshold=THRESHOLD,
        )
        rate(session, campaign, "citizens", CITIZENS_SCORING_70)
        rate(session, campaign, "cadres", [(1, 1, 1)] * 2)
        tally(session, campaign)

        results = results_service.campaign_results(session, campaign, "en")

        cadres = group_result(target_result(results, campaign), "cadres")
        assert cadres.evaluations is None
        reason = "(withheld to protect raters' anonymity)"
        assert f"区民政局 · Cadres: all figures {reason}" in results.withheld_figures
        # 5 evaluations of which 3 are shown would give the cadres' 2 by subtraction.
        assert target_result(results, campaign).evaluations is None
        assert f"区民政局: number of evaluations {reason}" in results.withheld_figures
        assert (
            f"区教育局: composite score, grade, rank and dimension scores {reason}"
            in results.withheld_figures
        )
        # Which rule withheld what is not said: it would narrow the hidden counts.
        assert not [line for line in results.withheld_figures if "fewer than" in line]
