"""Results of small campaigns, worked out by hand figure by figure.

The questionnaire has three items every rater group sees: ``courtesy`` on the five-level scale
(100/80/60/40/20 points), ``speed`` on the three-level scale (100/70/30) and ``overall``
(five-level) that is reported but not scored. Answers are written (courtesy, speed, overall);
``None`` is 不了解. The disclosure threshold is 3 throughout.
"""

import pytest
from sqlalchemy.orm import Session

from app.campaigns.models import Campaign
from app.results import service as results_service
from app.results.schemas import CampaignResults, GroupResult, ItemResult, TargetResult
from app.surveys.schemas import Questionnaire
from tests.factories import make_campaign
from tests.results.helpers import rate, rating_questionnaire

THRESHOLD = 3
ITEM_FIGURES = ["respondents", "not_applicable", "mean_points", "satisfaction_rate", "distribution"]
ANSWERED_FIGURES = ["mean_points", "satisfaction_rate", "distribution"]

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
        assert citizens.withheld == ["evaluations", "score"]
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
        assert target.withheld == ["composite_score"]

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
    @pytest.mark.parametrize(
        ("level", "points", "satisfied"),
        [(5, 100.0, 1.0), (4, 80.0, 1.0), (3, 60.0, 0.0), (2, 40.0, 0.0), (1, 20.0, 0.0)],
    )
    def test_five_level_item_earns_the_points_of_its_level(
        self, session: Session, level: int, points: float, satisfied: float
    ) -> None:
        campaign = new_campaign(session)
        rate(session, campaign, "citizens", [(level, 3, 3)] * 3)

        courtesy = item_result(cell(session, campaign), "courtesy")

        assert courtesy.mean_points == points
        assert courtesy.satisfaction_rate == satisfied
        assert courtesy.distribution == {
            value: 3 if value == level else 0 for value in range(5, 0, -1)
        }

    @pytest.mark.parametrize(
        ("level", "points", "satisfied"), [(3, 100.0, 1.0), (2, 70.0, 1.0), (1, 30.0, 0.0)]
    )
    def test_three_level_item_earns_the_points_of_its_level(
        self, session: Session, level: int, points: float, satisfied: float
    ) -> None:
        campaign = new_campaign(session)
        rate(session, campaign, "citizens", [(5, level, 5)] * 3)

        citizens = cell(session, campaign)
        speed = item_result(citizens, "speed")

        assert speed.mean_points == points
        assert speed.satisfaction_rate == satisfied
        assert speed.distribution == {value: 3 if value == level else 0 for value in (3, 2, 1)}
        assert citizens.score == (100.0 + points) / 2

    def test_questionnaire_points_for_a_scale_replace_the_default_points(
        self, session: Session
    ) -> None:
        questionnaire = rating_questionnaire(points={"three_level": {3: 90, 2: 60, 1: 0}})
        campaign = new_campaign(session, questionnaire=questionnaire)
        rate(session, campaign, "citizens", [(4, 3, 4), (4, 2, 4), (4, 1, 4)])

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
        rate(session, campaign, "citizens", [(5, 3, 4), (None, None, 4), (None, None, 5)])

        citizens = cell(session, campaign)

        assert citizens.evaluations == 3
        assert citizens.score is None  # only one evaluation has a score, below the threshold
        assert citizens.withheld == ["score"]
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
    def test_item_answered_one_fewer_than_threshold_withholds_its_answer_figures(
        self, any_session: Session
    ) -> None:
        campaign = new_campaign(any_session)
        rate(any_session, campaign, "citizens", COURTESY_TWO_ANSWERED)

        courtesy = item_result(cell(any_session, campaign), "courtesy")

        assert courtesy.respondents == 4
        assert courtesy.not_applicable == 2
        assert courtesy.mean_points is None
        assert courtesy.satisfaction_rate is None
        assert courtesy.distribution is None
        assert courtesy.withheld == ANSWERED_FIGURES

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
        # Three evaluations have a score: (100 + 100) / 2, (80 + 100) / 2, 70 / 1.
        assert citizens.score == 86.67  # 260 / 3


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


class TestCompositeRenormalisation:
    def test_withheld_group_is_left_out_and_the_other_weights_renormalised(
        self, any_session: Session
    ) -> None:
        campaign = new_campaign(any_session, groups=THREE_GROUPS)
        rate(any_session, campaign, "citizens", CITIZENS_SCORING_70)
        rate(any_session, campaign, "enterprises", ENTERPRISES_SCORING_85)
        rate(any_session, campaign, "cadres", [(1, 1, 1)] * 2)  # would score 25

        target = target_result(results_of(any_session, campaign), campaign)

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

        target = target_result(results_of(any_session, campaign), campaign)

        assert target.composite_score == 70.0
        assert target.composite_groups == ["citizens"]

    def test_group_with_evaluations_but_withheld_score_stays_out_of_the_composite(
        self, session: Session
    ) -> None:
        campaign = new_campaign(session, groups=THREE_GROUPS)
        rate(session, campaign, "citizens", CITIZENS_SCORING_70)
        rate(session, campaign, "enterprises", ENTERPRISES_SCORING_85)
        rate(session, campaign, "cadres", [(1, 1, 1), (None, None, 1), (None, None, 1)])

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
