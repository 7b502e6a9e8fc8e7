"""Laying exact group figures out as published results (:func:`app.results.layout.lay_out`).

The inputs are written by hand, so each test says exactly what the reader is given: a campaign
never stored (:func:`tests.results.test_properties.transient_campaign`) with citizens and
enterprises, a questionnaire of two scored items (courtesy, 服务态度, five levels; speed,
办事效率, three levels), each group's exact figures (:class:`scoring.GroupFigures`), the counts
those figures publish, and a suppression chosen by the test rather than planned by disclosure
control. Texts are English; departments are named 单位0, 单位1, … (no English names).
"""

from decimal import Decimal
from fractions import Fraction

from app.ballots.models import STRAIGHT_LINING, TOO_FAST
from app.campaigns.models import Campaign
from app.campaigns.policy import ResultsPolicy
from app.results import layout, scoring
from app.results import service as results_service
from app.results.disclosure import Suppression
from app.results.schemas import CampaignResults, GroupResult, TargetResult
from app.results.tables import (
    CAMPAIGN_KEY,
    FLAGGED_KEY,
    STRAIGHT_LINING_KEY,
    TOO_FAST_KEY,
    CellKey,
    answer_key,
    group_key,
    target_key,
)
from app.results.tally import CampaignTally
from app.surveys.schemas import Questionnaire
from tests.factories import small_questionnaire
from tests.results.test_properties import transient_campaign

THRESHOLD = 3
EVALUATIONS = 10  # per group unless a test says otherwise
REASON = "withheld to protect raters' anonymity"
SPREAD = scoring.Estimate(Fraction(0), Decimal("12.5"), (Decimal("61.25"), Decimal("78.75")))


def questionnaire() -> Questionnaire:
    return small_questionnaire(
        rater_groups=[
            {"key": "citizens", "name": {"zh": "群众", "en": "Citizens"}},
            {"key": "enterprises", "name": {"zh": "企业", "en": "Enterprises"}},
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
        ],
    )


def estimate(mean: Fraction) -> scoring.Estimate:
    return scoring.Estimate(mean, SPREAD.standard_deviation, SPREAD.interval)


def group_figures(
    score: Fraction,
    *,
    attitude: Fraction | None = None,
    efficiency: Fraction | None = None,
    attitude_rate: Fraction = Fraction(1, 2),
    efficiency_rate: Fraction = Fraction(1, 2),
    evaluations: int = EVALUATIONS,
    scored_evaluations: int | None = None,
) -> scoring.GroupFigures:
    """A group's exact figures: each dimension pools one item, so an item's mean and rate are
    its dimension's (both ``score`` unless given)."""
    attitude = score if attitude is None else attitude
    efficiency = score if efficiency is None else efficiency
    half = evaluations // 2
    courtesy_levels = {5: half, 4: evaluations - half, 3: 0, 2: 0, 1: 0}
    speed_levels = {3: half, 2: evaluations - half, 1: 0}
    return scoring.GroupFigures(
        evaluations=evaluations,
        scored_evaluations=evaluations if scored_evaluations is None else scored_evaluations,
        score=estimate(score),
        trimmed_score=None,
        unanimous=False,
        items=[
            scoring.ItemFigures(
                0, courtesy_levels, estimate(attitude), attitude_rate, "courtesy", evaluations
            ),
            scoring.ItemFigures(
                0, speed_levels, estimate(efficiency), efficiency_rate, "speed", evaluations
            ),
        ],
        dimensions=[
            scoring.DimensionFigures(
                0, courtesy_levels, estimate(attitude), attitude_rate, "attitude", ("courtesy",)
            ),
            scoring.DimensionFigures(
                0, speed_levels, estimate(efficiency), efficiency_rate, "efficiency", ("speed",)
            ),
        ],
    )


class Inputs:
    """A transient campaign, each target's (citizens, enterprises) figures and the counts
    they publish; :meth:`results` lays them out with the cells given withheld."""

    def __init__(
        self,
        cells: list[tuple[scoring.GroupFigures, scoring.GroupFigures]],
        *,
        weights: tuple[float, float] = (1.0, 1.0),
        categories: list[str] | None = None,
    ) -> None:
        self.questionnaire = questionnaire()
        self.campaign: Campaign = transient_campaign(
            self.questionnaire, THRESHOLD, list(weights), categories or ["窗口类"] * len(cells)
        )
        citizens, enterprises = self.campaign.rater_groups
        self.citizens, self.enterprises = citizens.id, enterprises.id
        self.targets = [target.id for target in self.campaign.targets]
        self.figures = {
            (target, group): figures
            for target, pair in zip(self.targets, cells, strict=True)
            for group, figures in zip((self.citizens, self.enterprises), pair, strict=True)
        }
        self.tables = results_service.count_tables(self.campaign, self.questionnaire, self.figures)
        evaluations = sum(figures.evaluations for figures in self.figures.values())
        self.counted = CampaignTally(evaluations=evaluations)

    def results(self, *withheld: CellKey) -> CampaignResults:
        return layout.lay_out(
            self.campaign,
            self.questionnaire,
            ResultsPolicy(),
            self.counted,
            self.figures,
            self.tables,
            Suppression(dict.fromkeys(withheld, "threshold")),
            "en",
        )


def group(target: TargetResult, key: str) -> GroupResult:
    return next(result for result in target.groups if result.rater_group == key)


def dimension_scores(target: TargetResult) -> dict[str, tuple[float | None, float | None]]:
    return {
        dimension.dimension: (dimension.score, dimension.satisfaction_rate)
        for dimension in target.dimensions
    }


class TestDepartmentFiguresAreExact:
    def test_composite_weighs_the_groups_exact_scores_not_their_published_ones(self) -> None:
        """Citizens 80.006 (published 80.01), enterprises 80.002 (published 80.00): exactly
        80.004, published 80.00; from the published scores it would be 80.005 → 80.01."""
        campaign = Inputs([(group_figures(Fraction("80.006")), group_figures(Fraction("80.002")))])

        (target,) = campaign.results().targets

        assert (group(target, "citizens").score, group(target, "enterprises").score) == (
            80.01,
            80.0,
        )
        assert target.composite_score == 80.0
        assert target.composite_groups == ["citizens", "enterprises"]

    def test_dimension_score_and_rate_weigh_the_groups_exact_dimension_figures(self) -> None:
        """服务态度: citizens 70.006 and enterprises 70.002, so 70.004 → 70.00 (70.01 from the
        published 70.01 and 70.00). Its rate: 2/3 (0.6667) and 0.33335 (0.3334), so
        0.5000083… → 0.5000 (0.5001 from the published rates)."""
        campaign = Inputs(
            [
                (
                    group_figures(
                        Fraction(75),
                        attitude=Fraction("70.006"),
                        attitude_rate=Fraction(2, 3),
                    ),
                    group_figures(
                        Fraction(75),
                        attitude=Fraction("70.002"),
                        attitude_rate=Fraction("0.33335"),
                    ),
                )
            ]
        )

        (target,) = campaign.results().targets

        citizens, enterprises = group(target, "citizens"), group(target, "enterprises")
        assert (citizens.dimensions[0].mean_points, enterprises.dimensions[0].mean_points) == (
            70.01,
            70.0,
        )
        assert (
            citizens.dimensions[0].satisfaction_rate,
            enterprises.dimensions[0].satisfaction_rate,
        ) == (0.6667, 0.3334)
        assert dimension_scores(target)["attitude"] == (70.0, 0.5)

    def test_composite_uses_the_campaigns_weights(self) -> None:
        """Citizens 90 weigh 3, enterprises 70 weigh 1: (270 + 70) / 4 = 85."""
        campaign = Inputs(
            [(group_figures(Fraction(90)), group_figures(Fraction(70)))], weights=(3.0, 1.0)
        )

        (target,) = campaign.results().targets

        assert target.composite_score == 85.0
        assert dimension_scores(target)["efficiency"] == (85.0, 0.5)


class TestGradeAndRankOnThePublishedComposite:
    def test_a_composite_published_at_a_band_minimum_gets_that_band(self) -> None:
        """84.996 is published 85.00: graded 满意 (≥ 85) as published, not 比较满意."""
        campaign = Inputs([(group_figures(Fraction("84.996")), group_figures(Fraction("84.996")))])

        (target,) = campaign.results().targets

        assert (target.composite_score, target.grade) == (85.0, "Satisfied")

    def test_composites_published_alike_share_a_rank_and_the_next_rank_skips(self) -> None:
        """80.554 and 80.546 both publish 80.55: both first; 70 is third and last (末位)."""
        campaign = Inputs(
            [
                (group_figures(Fraction("80.554")), group_figures(Fraction("80.554"))),
                (group_figures(Fraction("80.546")), group_figures(Fraction("80.546"))),
                (group_figures(Fraction(70)), group_figures(Fraction(70))),
            ]
        )

        targets = campaign.results().targets

        assert [(t.composite_score, t.rank, t.bottom) for t in targets] == [
            (80.55, 1, False),
            (80.55, 1, False),
            (70.0, 3, True),
        ]
        assert {t.ranked_in_category for t in targets} == {3}
        assert all("rank" not in t.withheld for t in targets)

    def test_ranks_are_counted_within_each_category(self) -> None:
        campaign = Inputs(
            [
                (group_figures(Fraction(70)), group_figures(Fraction(70))),
                (group_figures(Fraction(90)), group_figures(Fraction(90))),
            ],
            categories=["窗口类", "执法类"],
        )

        targets = campaign.results().targets

        assert [(t.rank, t.ranked_in_category, t.bottom) for t in targets] == [
            (1, 1, False),
            (1, 1, False),
        ]


class TestWithheldGroup:
    def test_every_figure_is_null_and_named_and_the_composite_is_renormalised(self) -> None:
        """Enterprises withheld: the composite is the citizens' 90 alone (weights 3 and 1
        renormalised over the citizens), not (3 × 90 + 70) / 4 = 85."""
        campaign = Inputs(
            [(group_figures(Fraction(90)), group_figures(Fraction(70)))], weights=(3.0, 1.0)
        )
        (target_id,) = campaign.targets

        results = campaign.results(group_key(target_id, campaign.enterprises))

        (target,) = results.targets
        enterprises = group(target, "enterprises")
        assert (enterprises.evaluations, enterprises.score) == (None, None)
        assert enterprises.withheld == list(layout.GROUP_FIGURES)
        assert all(item.withheld == list(layout.ITEM_FIGURES) for item in enterprises.items)
        assert all(item.mean_points is None for item in enterprises.items)
        assert all(
            dimension.withheld == list(layout.DIMENSION_FIGURES)
            for dimension in enterprises.dimensions
        )
        assert (target.composite_score, target.composite_groups) == (90.0, ["citizens"])
        assert target.grade == "Satisfied"
        assert dimension_scores(target) == {"attitude": (90.0, 0.5), "efficiency": (90.0, 0.5)}
        assert target.evaluations == 2 * EVALUATIONS  # the department's count is its own cell
        assert results.withheld_figures == [f"单位0 · Enterprises: all figures ({REASON})"]

    def test_no_shown_group_means_no_composite_grade_or_rank(self) -> None:
        campaign = Inputs(
            [
                (group_figures(Fraction(90)), group_figures(Fraction(90))),
                (group_figures(Fraction(60)), group_figures(Fraction(60))),
            ]
        )
        _first, second = campaign.targets

        results = campaign.results(
            group_key(second, campaign.citizens), group_key(second, campaign.enterprises)
        )

        ranked, unranked = results.targets
        assert (unranked.composite_score, unranked.grade, unranked.rank) == (None, None, None)
        assert unranked.withheld == ["composite_score", "grade", "rank"]
        assert unranked.composite_groups == []
        assert dimension_scores(unranked) == {
            "attitude": (None, None),
            "efficiency": (None, None),
        }
        assert (ranked.rank, ranked.ranked_in_category, ranked.bottom) == (1, 1, False)
        assert unranked.ranked_in_category == 1
        assert results.withheld_figures == [
            f"单位1 · Citizens: all figures ({REASON})",
            f"单位1 · Enterprises: all figures ({REASON})",
            f"单位1: composite score, grade, rank and dimension scores ({REASON})",
        ]


class TestWithheldAnswers:
    def test_a_withheld_answer_cell_hides_its_item_dimension_and_the_groups_score(self) -> None:
        """One level of the enterprises' speed withheld: speed's answer figures go, and with
        them their 办事效率 and their score (it and courtesy would give speed back). The
        department's 办事效率 is the citizens' alone, its 服务态度 both groups'."""
        campaign = Inputs(
            [
                (
                    group_figures(Fraction(80), attitude=Fraction(70), efficiency=Fraction(90)),
                    group_figures(Fraction(60), attitude=Fraction(50), efficiency=Fraction(70)),
                )
            ]
        )
        (target_id,) = campaign.targets

        results = campaign.results(answer_key(target_id, campaign.enterprises, "speed", 2))

        (target,) = results.targets
        enterprises = group(target, "enterprises")
        courtesy, speed = enterprises.items
        assert speed.withheld == [
            "mean_points",
            "standard_deviation",
            "ci_low",
            "ci_high",
            "satisfaction_rate",
            "distribution",
        ]
        assert (speed.respondents, speed.not_applicable) == (EVALUATIONS, 0)
        assert (courtesy.mean_points, courtesy.withheld) == (50.0, [])
        attitude, efficiency = enterprises.dimensions
        assert (attitude.mean_points, efficiency.mean_points) == (50.0, None)
        assert efficiency.withheld == list(layout.DIMENSION_FIGURES)
        assert enterprises.evaluations == EVALUATIONS
        assert enterprises.score is None
        assert enterprises.withheld == [
            "score",
            "score_standard_deviation",
            "score_ci_low",
            "score_ci_high",
        ]
        assert (target.composite_score, target.composite_groups) == (80.0, ["citizens"])
        assert dimension_scores(target)["attitude"] == (60.0, 0.5)
        assert dimension_scores(target)["efficiency"] == (90.0, 0.5)
        assert results.withheld_figures == [
            f"单位0 · Enterprises · Quick: distribution, mean, spread and satisfaction rate "
            f"({REASON})",
            f"单位0 · Enterprises: score ({REASON})",
            f"单位0 · Enterprises · Efficiency: dimension figures ({REASON})",
        ]

    def test_a_withheld_dont_know_cell_hides_only_that_count_of_the_item(self) -> None:
        campaign = Inputs([(group_figures(Fraction(80)), group_figures(Fraction(60)))])
        (target_id,) = campaign.targets

        results = campaign.results(answer_key(target_id, campaign.citizens, "courtesy", 0))

        citizens = group(results.targets[0], "citizens")
        courtesy = citizens.items[0]
        assert (courtesy.not_applicable, courtesy.withheld) == (None, ["not_applicable"])
        assert courtesy.mean_points == 80.0
        assert courtesy.distribution == {5: 5, 4: 5, 3: 0, 2: 0, 1: 0}
        assert citizens.score is None  # a scored item is not fully shown
        assert (
            f"单位0 · Citizens · Courteous: “don't know” count ({REASON})"
            in results.withheld_figures
        )

    def test_a_score_resting_on_fewer_than_k_scored_evaluations_is_withheld(self) -> None:
        """Ten citizens, two with a score (eight answered only 不了解): the group and its
        items are shown, its score is not."""
        campaign = Inputs(
            [
                (
                    group_figures(Fraction(80), scored_evaluations=THRESHOLD - 1),
                    group_figures(Fraction(60)),
                )
            ]
        )

        results = campaign.results()

        (target,) = results.targets
        citizens = group(target, "citizens")
        assert (citizens.evaluations, citizens.score) == (EVALUATIONS, None)
        assert citizens.items[0].mean_points == 80.0
        assert (target.composite_score, target.composite_groups) == (60.0, ["enterprises"])
        assert results.withheld_figures == [f"单位0 · Citizens: score ({REASON})"]


class TestWithheldCounts:
    def test_a_withheld_department_count_is_null_named_and_described(self) -> None:
        campaign = Inputs([(group_figures(Fraction(80)), group_figures(Fraction(60)))])
        (target_id,) = campaign.targets

        results = campaign.results(target_key(target_id))

        (target,) = results.targets
        assert (target.evaluations, target.withheld) == (None, ["evaluations"])
        assert target.composite_score == 70.0
        assert results.withheld_figures == [f"单位0: number of evaluations ({REASON})"]

    def test_a_withheld_campaign_count_takes_the_stored_count_with_it(self) -> None:
        campaign = Inputs([(group_figures(Fraction(80)), group_figures(Fraction(60)))])

        results = campaign.results(CAMPAIGN_KEY)

        assert results.evaluations is None
        assert results.quality is not None
        assert results.quality.evaluations is None
        assert results.withheld_figures == [f"Number of evaluations in the campaign ({REASON})"]

    def test_every_figure_shown_lists_nothing_withheld(self) -> None:
        campaign = Inputs([(group_figures(Fraction(80)), group_figures(Fraction(60)))])

        results = campaign.results()

        assert results.withheld_figures == []
        assert results.quality is not None
        assert results.evaluations == results.quality.evaluations == 2 * EVALUATIONS
        assert [target.withheld for target in results.targets] == [[]]


class TestQualityCounts:
    def test_a_flag_count_withheld_under_the_threshold_is_null_the_others_are_counted(
        self,
    ) -> None:
        """Two evaluations too fast (below k = 3), four straight-lined, five flagged."""
        campaign = Inputs([(group_figures(Fraction(80)), group_figures(Fraction(60)))])
        campaign.counted.flagged = 5
        campaign.counted.flag_counts = {TOO_FAST: 2, STRAIGHT_LINING: 4}
        campaign.tables.values.update({FLAGGED_KEY: 5, STRAIGHT_LINING_KEY: 4, TOO_FAST_KEY: 2})

        results = campaign.results(TOO_FAST_KEY)

        quality = results.quality
        assert quality is not None
        assert (quality.too_fast, quality.straight_lining, quality.flagged) == (None, 4, 5)
        assert results.withheld_figures == [
            f"Numbers of evaluations flagged as low quality ({REASON})"
        ]

    def test_without_flag_cells_in_the_tables_the_counts_are_published_as_counted(
        self,
    ) -> None:
        """A release planned before flag counts were cells: nothing to withhold them by."""
        campaign = Inputs([(group_figures(Fraction(80)), group_figures(Fraction(60)))])
        campaign.counted.flagged = 2
        campaign.counted.flag_counts = {TOO_FAST: 2}

        results = campaign.results()

        quality = results.quality
        assert quality is not None
        assert (quality.too_fast, quality.straight_lining, quality.flagged) == (2, 0, 2)
        assert results.withheld_figures == []
