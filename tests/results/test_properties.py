"""Properties of scoring and of the published results over random campaigns.

The inputs are built directly (a questionnaire, a transient campaign, answer rows with quality
flags) so each example costs milliseconds; a plain reference computed with exact fractions
from the raw answers stands beside ``tally``, ``scoring`` and ``build_results``. Suppression
is planned by :mod:`app.results.disclosure`, except where a test draws its own to check how
withheld counts reach the figures.
"""

import itertools
import math
import random
import statistics as textbook
from collections import Counter
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import t as student_t  # type: ignore[import-untyped]

from app.ballots.answers import encode
from app.ballots.models import STRAIGHT_LINING, TOO_FAST
from app.campaigns.models import Campaign, CampaignStatus, RaterGroup, Target
from app.campaigns.policy import QualityPolicy, ResultsPolicy
from app.departments.models import Department
from app.results import scoring, service
from app.results.disclosure import Suppression, plan_suppression
from app.results.layout import ITEM_FIGURES
from app.results.schemas import (
    CampaignResults,
    DimensionResult,
    GroupResult,
    ItemResult,
    TargetResult,
)
from app.results.statistics import half_up
from app.results.tables import CountTables, answer_key, group_key, target_key
from app.results.tally import AnswerRow, tally
from app.surveys.schemas import (
    DEFAULT_POINTS,
    SATISFIED_LEVEL_COUNT,
    SCALES,
    Item,
    Questionnaire,
    ScaleName,
)
from tests.factories import small_questionnaire

PROPERTY_SETTINGS = settings(max_examples=100, deadline=None)
POINTS_TOLERANCE = 0.005 + 1e-9  # shown points are rounded to two decimals
RATE_TOLERANCE = 0.00005 + 1e-12  # shown rates are rounded to four decimals
ANSWERED_FIGURES = ITEM_FIGURES[2:]  # all but respondents and 不了解

Answers = dict[str, int | None]


@dataclass(frozen=True)
class RawEvaluation:
    target_index: int
    group_index: int
    answers: Answers  # every item the group sees; None is 不了解
    flags: int = 0


@dataclass(frozen=True)
class Scenario:
    questionnaire: Questionnaire
    campaign: Campaign
    policy: ResultsPolicy
    evaluations: list[RawEvaluation]

    @property
    def threshold(self) -> int:
        return self.campaign.disclosure_threshold

    def rows(self, evaluations: list[RawEvaluation] | None = None) -> list[AnswerRow]:
        """Rows as the database returns them: grouped by target, group, answers and flags."""
        chosen = self.evaluations if evaluations is None else evaluations
        counted = Counter(self.encoded(evaluation) for evaluation in chosen)
        return [
            (target, group, encoded, flags, count)
            for (target, group, encoded, flags), count in counted.items()
        ]

    def encoded(self, evaluation: RawEvaluation) -> tuple[int, int, str, int]:
        group = self.campaign.rater_groups[evaluation.group_index]
        target = self.campaign.targets[evaluation.target_index]
        encoded = encode(self.questionnaire, group.key, evaluation.answers)
        return target.id, group.id, encoded, evaluation.flags

    def results(
        self,
        rows: list[AnswerRow] | None = None,
        policy: ResultsPolicy | None = None,
        plan: service.SuppressionPlanner = plan_suppression,
    ) -> CampaignResults:
        return service.build_results(
            self.campaign,
            self.questionnaire,
            policy or self.policy,
            tally(self.questionnaire, self.rows() if rows is None else rows),
            "zh_CN",
            plan,
        )

    def figures(
        self, rows: list[AnswerRow] | None = None, policy: ResultsPolicy | None = None
    ) -> dict[tuple[int, int], scoring.GroupFigures]:
        return service.score_cells(
            self.campaign,
            self.questionnaire,
            policy or self.policy,
            tally(self.questionnaire, self.rows() if rows is None else rows),
        )

    def cell(self, target_index: int, group_index: int) -> list[RawEvaluation]:
        return [
            evaluation
            for evaluation in self.evaluations
            if (evaluation.target_index, evaluation.group_index) == (target_index, group_index)
        ]


def transient_campaign(
    questionnaire: Questionnaire,
    threshold: int,
    weights: list[float],
    categories: list[str],
) -> Campaign:
    """A campaign that is never added to a session, with the ids results are keyed on."""
    campaign = Campaign(
        slug="property",
        title_zh="性质测试",
        title_en="Property test",
        status=CampaignStatus.OPEN,
        disclosure_threshold=threshold,
        questionnaire=questionnaire.model_dump(mode="json"),
    )
    campaign.rater_groups = [
        RaterGroup(
            id=100 + position,
            position=position,
            key=definition.key,
            name_zh=definition.name.zh,
            name_en=definition.name.en,
            weight=weight,
        )
        for position, (definition, weight) in enumerate(
            zip(questionnaire.rater_groups, weights, strict=True)
        )
    ]
    campaign.targets = [
        Target(
            id=200 + position,
            position=position,
            department=Department(
                id=300 + position,
                code=f"D{position:03d}",
                name=f"单位{position}",
                category=category,
            ),
        )
        for position, category in enumerate(categories)
    ]
    return campaign


MAX_GROUPS = 3
GROUP_KEYS = [f"group{index}" for index in range(MAX_GROUPS)]
DIMENSIONS = ["general", "special"]
# Strategies are built once: building them inside every draw costs more than the test.
SCALE_NAMES: st.SearchStrategy[ScaleName] = st.sampled_from(["five_level", "three_level"])
CUSTOM_POINTS = {
    scale: st.none()
    | st.lists(st.integers(0, 100), min_size=len(levels), max_size=len(levels)).map(sorted)
    for scale, levels in SCALES.items()
}
GROUPS_SEEING = {
    count: st.none() | st.lists(st.sampled_from(GROUP_KEYS[:count]), min_size=1, unique=True)
    for count in range(1, MAX_GROUPS + 1)
}
WEIGHTS = st.sampled_from([0.5, 1.0, 2.0, 3.0])
POLICIES = st.builds(
    lambda handling, down_weight, trim_share: ResultsPolicy(
        trim_share=trim_share,
        quality=QualityPolicy(handling=handling, down_weight=down_weight),
    ),
    st.sampled_from(["keep", "down_weight", "exclude"]),
    st.sampled_from([0.25, 0.5, 0.8]),
    st.sampled_from([0.0, 0.1, 0.25]),
)
FLAGS = [0] * 6 + [STRAIGHT_LINING, TOO_FAST, STRAIGHT_LINING | TOO_FAST]


def draw_item(draw: st.DrawFn, index: int, group_count: int) -> dict[str, Any]:
    scale = draw(SCALE_NAMES)
    custom_points = draw(CUSTOM_POINTS[scale])
    return {
        "id": f"item{index}",
        "dimension": draw(st.sampled_from(DIMENSIONS)),
        "scale": scale,
        "text": {"zh": f"题目{index}", "en": f"Item {index}"},
        "scored": draw(st.booleans()),
        "groups": draw(GROUPS_SEEING[group_count]),
        "points": None
        if custom_points is None
        else dict(zip(range(1, len(custom_points) + 1), custom_points, strict=True)),
    }


@st.composite
def scenarios(draw: st.DrawFn, max_evaluations: int = 40) -> Scenario:
    group_count = draw(st.integers(1, MAX_GROUPS))
    group_keys = GROUP_KEYS[:group_count]
    item_data = [draw_item(draw, index, group_count) for index in range(draw(st.integers(1, 4)))]
    for key in group_keys:  # every rater group must see at least one item
        if not any(item["groups"] is None or key in item["groups"] for item in item_data):
            item_data[0]["groups"].append(key)
    questionnaire = Questionnaire.model_validate(
        {
            "id": "random",
            "version": 1,
            "title": {"zh": "随机问卷", "en": "Random questionnaire"},
            "rater_groups": [
                {"key": key, "name": {"zh": f"主体{key}", "en": key}} for key in group_keys
            ],
            "dimensions": [
                {"id": dimension, "name": {"zh": dimension, "en": dimension}}
                for dimension in DIMENSIONS
            ],
            "items": item_data,
        }
    )
    weights = draw(st.lists(WEIGHTS, min_size=group_count, max_size=group_count))
    categories = draw(st.lists(st.sampled_from(["窗口类", "执法类"]), min_size=1, max_size=4))
    campaign = transient_campaign(questionnaire, draw(st.integers(3, 5)), weights, categories)
    # Answers come from a seeded generator: drawing each one through hypothesis costs ten times
    # as much, and the structure above is what shrinking needs to simplify.
    answers_random = random.Random(draw(st.integers(0, 2**32 - 1)))
    not_applicable_weight = draw(st.integers(0, 4))  # how likely 不了解 is, from never on
    evaluations: list[RawEvaluation] = []
    for _ in range(draw(st.integers(0, max_evaluations))):
        group_index = answers_random.randrange(group_count)
        answers = {
            item.id: answers_random.choice(
                [None] * not_applicable_weight + [level.value for level in item.levels]
            )
            for item in questionnaire.items_for(group_keys[group_index])
        }
        evaluation = RawEvaluation(
            answers_random.randrange(len(categories)),
            group_index,
            answers,
            answers_random.choice(FLAGS),
        )
        evaluations += [evaluation] * answers_random.randint(1, 3)
    return Scenario(questionnaire, campaign, draw(POLICIES), evaluations)


# A plain reference, from the raw answers, in exact arithmetic.


def reference_points(questionnaire: Questionnaire, item: Item, level: int) -> Fraction:
    """The item's own points, else the questionnaire's for the scale, else the defaults."""
    points = item.points or questionnaire.points.get(item.scale) or DEFAULT_POINTS[item.scale]
    return Fraction(str(points[level]))


def reference_evaluation_score(questionnaire: Questionnaire, answers: Answers) -> Fraction | None:
    points = [
        reference_points(questionnaire, item, level)
        for item in questionnaire.items
        if item.scored and (level := answers.get(item.id)) is not None
    ]
    return Fraction(sum(points), len(points)) if points else None


def counted(scenario: Scenario, cell: list[RawEvaluation]) -> list[RawEvaluation]:
    """The evaluations a figure counts: the flagged ones go when the policy excludes them."""
    if scenario.policy.quality.handling == "exclude":
        return [evaluation for evaluation in cell if not evaluation.flags]
    return cell


def weight_of(scenario: Scenario, evaluation: RawEvaluation) -> Fraction:
    if evaluation.flags and scenario.policy.quality.handling == "down_weight":
        return Fraction(str(scenario.policy.quality.down_weight))
    return Fraction(1)


def reference_mean(pairs: list[tuple[Fraction, Fraction]]) -> Fraction:
    """Σ w·x / Σ w over (value, weight) pairs."""
    return sum((value * weight for value, weight in pairs), Fraction(0)) / sum(
        (weight for _, weight in pairs), Fraction(0)
    )


def reference_group_score(
    scenario: Scenario, target_index: int, group_index: int
) -> tuple[list[tuple[Fraction, Fraction]], Fraction | None]:
    """A group's evaluation scores with their weights, and its exact score (their mean)."""
    scored = [
        (score, weight_of(scenario, evaluation))
        for evaluation in counted(scenario, scenario.cell(target_index, group_index))
        if (score := reference_evaluation_score(scenario.questionnaire, evaluation.answers))
        is not None
    ]
    return scored, reference_mean(scored) if scored else None


def reference_dimension(
    scenario: Scenario, target_index: int, group_index: int, dimension: str
) -> tuple[Fraction, Fraction]:
    """A group's exact mean points and satisfaction rate over the answers to the scored items
    of ``dimension`` it sees, pooled."""
    questionnaire = scenario.questionnaire
    items = [
        item
        for item in questionnaire.items_for(scenario.campaign.rater_groups[group_index].key)
        if item.scored and item.dimension == dimension
    ]
    points: list[tuple[Fraction, Fraction]] = []
    satisfied: list[tuple[Fraction, Fraction]] = []
    for evaluation in counted(scenario, scenario.cell(target_index, group_index)):
        weight = weight_of(scenario, evaluation)
        for item in items:
            level = evaluation.answers[item.id]
            if level is None:
                continue
            top_levels = [choice.value for choice in item.levels][:SATISFIED_LEVEL_COUNT]
            points.append((reference_points(questionnaire, item, level), weight))
            satisfied.append((Fraction(int(level in top_levels)), weight))
    return reference_mean(points), reference_mean(satisfied)


def reference_trimmed_mean(values: list[Fraction], share: Fraction) -> Fraction:
    """Unit weights: the mean of the sorted values' step function over [s·n, n − s·n]."""
    ordered = sorted(values)
    low, high = share * len(ordered), len(ordered) - share * len(ordered)
    total = Fraction(0)
    for index, value in enumerate(ordered):
        overlap = min(high, Fraction(index + 1)) - max(low, Fraction(index))
        if overlap > 0:
            total += overlap * value
    return total / (high - low)


def group_named(target: TargetResult, key: str) -> GroupResult:
    return next(group for group in target.groups if group.rater_group == key)


def nulls_are_listed(result: ItemResult | DimensionResult | GroupResult | TargetResult) -> None:
    """Every null figure is named in ``withheld``, and every name there is null."""
    figures = {
        ItemResult: ITEM_FIGURES,
        DimensionResult: ("answers", *ITEM_FIGURES[1:]),
        GroupResult: (
            "evaluations",
            "score",
            "score_standard_deviation",
            "score_ci_low",
            "score_ci_high",
        ),
        TargetResult: ("evaluations", "composite_score", "grade", "rank"),
    }[type(result)]
    nulls = {name for name in figures if getattr(result, name) is None}
    assert set(result.withheld) - {"trimmed_score"} == nulls
    assert len(result.withheld) == len(set(result.withheld))


def shows_everything(tables: CountTables, *, threshold: int, width: float) -> Suppression:
    return Suppression({})


class TestRowOrder:
    @PROPERTY_SETTINGS
    @given(scenario=scenarios(), seed=st.integers(0, 2**32 - 1))
    def test_results_do_not_depend_on_the_order_or_grouping_of_rows(
        self, scenario: Scenario, seed: int
    ) -> None:
        grouped = scenario.rows()
        one_per_evaluation: list[AnswerRow] = [
            (target, group, encoded, flags, 1)
            for target, group, encoded, flags, count in grouped
            for _ in range(count)
        ]
        random.Random(seed).shuffle(one_per_evaluation)
        shuffled_groups = list(grouped)
        random.Random(seed + 1).shuffle(shuffled_groups)

        expected = scenario.results(grouped)

        assert scenario.results(shuffled_groups) == expected
        assert scenario.results(one_per_evaluation) == expected

    def test_group_score_on_a_rounding_tie_is_the_same_in_every_row_order(self) -> None:
        """Cadres see courtesy and speed (100/80/60/40/20) and guidance (100/70/30).

        323 ×2: (60 + 40 + 100) / 3 each; 011 ×2: (20 + 30) / 2 = 25 each;
        301 ×3: (60 + 30) / 2 = 45 each; 233 ×1: (40 + 60 + 100) / 3.
        Sum 200 + 50 + 135 = 385 over 8 evaluations: exactly 48.125, halfway between two
        shown values, so a sum that drifts by one float ulp with the order flips the result.
        """
        questionnaire = small_questionnaire()
        campaign = transient_campaign(questionnaire, 3, [1.0, 1.0], ["综合类"])
        target_id, cadres_id = campaign.targets[0].id, campaign.rater_groups[1].id
        rows: list[AnswerRow] = [
            (target_id, cadres_id, "323", 0, 2),
            (target_id, cadres_id, "011", 0, 2),
            (target_id, cadres_id, "301", 0, 3),
            (target_id, cadres_id, "233", 0, 1),
        ]

        scores = {
            group_named(
                service.build_results(
                    campaign,
                    questionnaire,
                    ResultsPolicy(),
                    tally(questionnaire, list(order)),
                    "zh_CN",
                    shows_everything,
                ).targets[0],
                "cadres",
            ).score
            for order in itertools.permutations(rows)
        }

        assert scores == {48.13}


class TestNotApplicableAnswers:
    @PROPERTY_SETTINGS
    @given(scenario=scenarios(), data=st.data())
    def test_evaluations_of_only_dont_know_move_no_mean_rate_spread_or_score(
        self, scenario: Scenario, data: st.DataObject
    ) -> None:
        questionnaire, campaign = scenario.questionnaire, scenario.campaign
        extra = [
            RawEvaluation(
                target_index,
                group_index,
                {
                    item.id: None
                    for item in questionnaire.items_for(campaign.rater_groups[group_index].key)
                },
                flags,
            )
            for target_index, group_index, flags in data.draw(
                st.lists(
                    st.tuples(
                        st.integers(0, len(campaign.targets) - 1),
                        st.integers(0, len(campaign.rater_groups) - 1),
                        st.sampled_from(FLAGS),
                    ),
                    min_size=1,
                    max_size=12,
                )
            )
        ]
        rows_after = scenario.rows(scenario.evaluations + extra)

        before, after = scenario.figures(), scenario.figures(rows_after)

        for key, cell_before in before.items():
            cell_after = after[key]
            assert cell_after.score == cell_before.score
            assert cell_after.trimmed_score == cell_before.trimmed_score
            for item_before, item_after in zip(cell_before.items, cell_after.items, strict=True):
                assert item_after.estimate == item_before.estimate
                assert item_after.satisfaction_rate == item_before.satisfaction_rate
                assert item_after.distribution == item_before.distribution
            for pooled_before, pooled_after in zip(
                cell_before.dimensions, cell_after.dimensions, strict=True
            ):
                assert pooled_after.estimate == pooled_before.estimate
                assert pooled_after.satisfaction_rate == pooled_before.satisfaction_rate
        # Published: whatever is shown both times is the same.
        published_before, published_after = scenario.results(), scenario.results(rows_after)
        for target_before, target_after in zip(
            published_before.targets, published_after.targets, strict=True
        ):
            if target_before.composite_groups == target_after.composite_groups:
                assert target_after.composite_score == target_before.composite_score
            for group_before, group_after in zip(
                target_before.groups, target_after.groups, strict=True
            ):
                if None not in (group_before.score, group_after.score):
                    assert group_after.score == group_before.score


class TestWeights:
    @PROPERTY_SETTINGS
    @given(scenario=scenarios())
    def test_composite_is_the_weighted_mean_of_shown_group_scores_within_their_range(
        self, scenario: Scenario
    ) -> None:
        """From the shown groups' exact scores, rounded once: not from their rounded ones."""
        weights = {
            group.key: Fraction(str(group.weight)) for group in scenario.campaign.rater_groups
        }
        results = scenario.results()

        for target_index, target in enumerate(results.targets):
            shown = {
                group.rater_group: group.score for group in target.groups if group.score is not None
            }
            assert target.composite_groups == list(shown)
            if not shown:
                assert target.composite_score is None
                continue
            exact_scores = []
            for group_index, group in enumerate(scenario.campaign.rater_groups):
                if group.key in shown:
                    _, exact_score = reference_group_score(scenario, target_index, group_index)
                    assert exact_score is not None
                    exact_scores.append((exact_score, weights[group.key]))
            # reference_mean weighs each group by its weight, renormalised over those shown.
            assert target.composite_score == half_up(reference_mean(exact_scores), 2)
            assert min(shown.values()) <= target.composite_score <= max(shown.values())

    @PROPERTY_SETTINGS
    @given(scenario=scenarios(), factor=st.sampled_from([0.5, 2.0, 4.0]))
    def test_scaling_every_weight_changes_nothing(self, scenario: Scenario, factor: float) -> None:
        scaled_campaign = transient_campaign(
            scenario.questionnaire,
            scenario.threshold,
            [group.weight * factor for group in scenario.campaign.rater_groups],
            [target.department.category for target in scenario.campaign.targets],
        )
        scaled = replace(scenario, campaign=scaled_campaign)

        assert scaled.results().targets == scenario.results().targets

    @PROPERTY_SETTINGS
    @given(scenario=scenarios())
    def test_target_dimension_scores_weigh_the_shown_group_dimension_means(
        self, scenario: Scenario
    ) -> None:
        """From the shown groups' exact dimension figures, rounded once."""
        weights = {
            group.key: Fraction(str(group.weight)) for group in scenario.campaign.rater_groups
        }

        for target_index, target in enumerate(scenario.results().targets):
            for dimension in target.dimensions:
                shown_means = []
                exact: list[tuple[Fraction, tuple[Fraction, Fraction]]] = []
                for group_index, group in enumerate(target.groups):
                    for pooled in group.dimensions:
                        if pooled.dimension != dimension.dimension or pooled.mean_points is None:
                            continue
                        shown_means.append(pooled.mean_points)
                        exact.append(
                            (
                                weights[group.rater_group],
                                reference_dimension(
                                    scenario, target_index, group_index, dimension.dimension
                                ),
                            )
                        )
                if not exact:
                    assert dimension.score is None
                    assert dimension.withheld == ["score", "satisfaction_rate"]
                    continue
                score = reference_mean([(mean, weight) for weight, (mean, _) in exact])
                rate = reference_mean([(rate, weight) for weight, (_, rate) in exact])
                assert dimension.score == half_up(score, 2)
                assert dimension.satisfaction_rate == half_up(rate, 4)
                assert dimension.score is not None
                assert min(shown_means) <= dimension.score <= max(shown_means)


class TestGradesAndRanks:
    @PROPERTY_SETTINGS
    @given(scenario=scenarios())
    def test_grades_and_ranks_match_a_plain_reference(self, scenario: Scenario) -> None:
        results = scenario.results()
        bands = scenario.policy.grades

        for target in results.targets:
            if target.composite_score is None:
                assert (target.grade, target.rank, target.bottom) == (None, None, False)
                assert {"composite_score", "grade", "rank"} <= set(target.withheld)
                continue
            reached = [band for band in bands if band.minimum <= target.composite_score]
            assert target.grade == max(reached, key=lambda band: band.minimum).name.zh
            peers = sorted(
                (
                    other.composite_score
                    for other in results.targets
                    if other.category == target.category and other.composite_score is not None
                ),
                reverse=True,
            )
            assert target.rank == peers.index(target.composite_score) + 1
            assert target.ranked_in_category == len(peers)
            last = peers.index(peers[-1]) + 1
            assert target.bottom == (
                len(peers) >= 2 and peers[0] != peers[-1] and target.rank == last
            )


class TestQualityHandling:
    @PROPERTY_SETTINGS
    @given(scenario=scenarios())
    def test_excluding_flagged_evaluations_equals_removing_them(self, scenario: Scenario) -> None:
        excluding = scenario.policy.model_copy(
            update={"quality": QualityPolicy(handling="exclude")}
        )
        keeping = scenario.policy.model_copy(update={"quality": QualityPolicy(handling="keep")})
        unflagged = [evaluation for evaluation in scenario.evaluations if not evaluation.flags]

        excluded = scenario.results(policy=excluding)
        removed = scenario.results(scenario.rows(unflagged), policy=keeping)

        assert excluded.targets == removed.targets
        assert excluded.evaluations == removed.evaluations
        assert excluded.withheld_figures == removed.withheld_figures
        assert excluded.quality is not None
        assert excluded.quality.flagged == len(scenario.evaluations) - len(unflagged)

    @PROPERTY_SETTINGS
    @given(scenario=scenarios(), weight=st.sampled_from([0.1, 0.5, 0.9]))
    def test_down_weighting_moves_figures_toward_the_unflagged_ones(
        self, scenario: Scenario, weight: float
    ) -> None:
        def figures(handling: str) -> dict[tuple[int, int], scoring.GroupFigures]:
            quality = QualityPolicy.model_validate({"handling": handling, "down_weight": weight})
            return scenario.figures(policy=scenario.policy.model_copy(update={"quality": quality}))

        kept, down, excluded = figures("keep"), figures("down_weight"), figures("exclude")

        for key, cell in down.items():
            estimates = [
                (kept[key].score, cell.score, excluded[key].score),
                *(
                    (kept_item.estimate, item.estimate, excluded_item.estimate)
                    for kept_item, item, excluded_item in zip(
                        kept[key].items, cell.items, excluded[key].items, strict=True
                    )
                ),
            ]
            for full, weighted, unflagged in estimates:
                if unflagged.mean is None:  # every answer flagged: only the weight differs
                    assert weighted.mean == full.mean
                    continue
                assert full.mean is not None
                assert weighted.mean is not None
                assert min(full.mean, unflagged.mean) <= weighted.mean
                assert weighted.mean <= max(full.mean, unflagged.mean)
                assert abs(weighted.mean - unflagged.mean) <= abs(full.mean - unflagged.mean)
            # Counts stay numbers of evaluations.
            assert cell.evaluations == kept[key].evaluations
            assert [item.distribution for item in cell.items] == [
                item.distribution for item in kept[key].items
            ]


def random_suppression(tables: CountTables, seed: int) -> Suppression:
    """Each count withheld with probability 1/4, for any reason."""
    chooser = random.Random(seed)
    return Suppression(
        {
            key: chooser.choice(["threshold", "unanimity", "remainder", "complementary"])
            for key in sorted(tables.values, key=repr)
            if chooser.random() < 0.25
        }
    )


class TestWithheldCountsReachTheFigures:
    @PROPERTY_SETTINGS
    @given(scenario=scenarios(), seed=st.integers(0, 2**32 - 1))
    def test_every_figure_resting_on_a_withheld_count_is_null_and_listed(
        self, scenario: Scenario, seed: int
    ) -> None:
        planned: list[Suppression] = []

        def plan(tables: CountTables, *, threshold: int, width: float) -> Suppression:
            planned.append(random_suppression(tables, seed))
            return planned[-1]

        results = scenario.results(plan=plan)
        (suppression,) = planned
        shows = suppression.shows
        assert (results.evaluations is None) == (not shows(("campaign",)))
        assert bool(results.withheld_figures) >= bool(suppression.withheld)
        for target, target_result in zip(scenario.campaign.targets, results.targets, strict=True):
            nulls_are_listed(target_result)
            assert (target_result.evaluations is None) == (not shows(target_key(target.id)))
            for group, group_result in zip(
                scenario.campaign.rater_groups, target_result.groups, strict=True
            ):
                nulls_are_listed(group_result)
                self.check_group(scenario, target.id, group.id, group_result, shows)
                if not shows(group_key(target.id, group.id)):
                    assert group.key not in target_result.composite_groups

    def check_group(
        self,
        scenario: Scenario,
        target_id: int,
        group_id: int,
        result: GroupResult,
        shows: Any,
    ) -> None:
        group_shown = shows(group_key(target_id, group_id))
        assert (result.evaluations is None) == (not group_shown)
        if not group_shown:
            assert result.score is None
            assert result.trimmed_score is None
        fully_shown = {}
        for item in result.items:
            nulls_are_listed(item)
            definition = next(i for i in scenario.questionnaire.items if i.id == item.item)
            levels = [level.value for level in definition.levels]
            answers_shown = group_shown and all(
                shows(answer_key(target_id, group_id, item.item, level)) for level in levels
            )
            not_applicable_shown = group_shown and shows(
                answer_key(target_id, group_id, item.item, 0)
            )
            fully_shown[item.item] = answers_shown and not_applicable_shown
            assert (item.respondents is None) == (not group_shown)
            assert (item.not_applicable is None) == (not not_applicable_shown)
            if not answers_shown:
                assert all(getattr(item, figure) is None for figure in ANSWERED_FIGURES)
        for pooled in result.dimensions:
            nulls_are_listed(pooled)
            pooled_items = [
                item.id
                for item in scenario.questionnaire.items_for(
                    next(g.key for g in scenario.campaign.rater_groups if g.id == group_id)
                )
                if item.scored and item.dimension == pooled.dimension
            ]
            if not all(fully_shown[item] for item in pooled_items):
                assert pooled.answers is None
                assert pooled.mean_points is None
            else:
                assert pooled.answers is not None


class TestPlannedSuppression:
    @PROPERTY_SETTINGS
    @given(scenario=scenarios())
    def test_every_shown_figure_has_threshold_behind_it(self, scenario: Scenario) -> None:
        threshold = scenario.threshold
        results = scenario.results()

        assert results.disclosure_threshold == threshold
        for target_index, target in enumerate(results.targets):
            nulls_are_listed(target)
            for group_index, group in enumerate(target.groups):
                nulls_are_listed(group)
                cell = counted(scenario, scenario.cell(target_index, group_index))
                if group.evaluations is None:
                    assert group.score is None
                    continue
                assert group.evaluations == len(cell) >= threshold
                scores = [
                    score
                    for evaluation in cell
                    if (
                        score := reference_evaluation_score(
                            scenario.questionnaire, evaluation.answers
                        )
                    )
                    is not None
                ]
                # A group whose scores all agree, fewer than 2k, is withheld whole.
                if threshold <= len(scores) < 2 * threshold:
                    assert len(set(scores)) > 1
                if group.score is not None:
                    assert len(scores) >= threshold
                    assert len(set(scores)) > 1 or len(scores) >= 2 * threshold
                for item in group.items:
                    nulls_are_listed(item)
                    answered = [
                        evaluation.answers[item.item]
                        for evaluation in cell
                        if evaluation.answers[item.item] is not None
                    ]
                    if item.mean_points is not None:
                        assert len(answered) >= threshold
                        assert len(set(answered)) > 1 or len(answered) >= 2 * threshold


class TestFiguresAgainstReference:
    @PROPERTY_SETTINGS
    @given(scenario=scenarios())
    def test_shown_figures_match_the_raw_answers(self, scenario: Scenario) -> None:
        questionnaire = scenario.questionnaire
        items = {item.id: item for item in questionnaire.items}
        trim_share = Fraction(str(scenario.policy.trim_share))
        unit_weights = scenario.policy.quality.handling != "down_weight"
        results = scenario.results()

        for target_index, target in enumerate(results.targets):
            for group_index, group in enumerate(target.groups):
                cell = counted(scenario, scenario.cell(target_index, group_index))
                if group.score is not None:
                    scored, exact_score = reference_group_score(scenario, target_index, group_index)
                    assert exact_score is not None
                    assert group.score == half_up(exact_score, 2)
                    if unit_weights and trim_share:
                        trimmed = reference_trimmed_mean([s for s, _ in scored], trim_share)
                        assert group.trimmed_score == half_up(trimmed, 2)
                for item in group.items:
                    if item.mean_points is None:
                        continue
                    definition = items[item.item]
                    answered = [
                        (level, weight_of(scenario, evaluation))
                        for evaluation in cell
                        if (level := evaluation.answers[item.item]) is not None
                    ]
                    points = [
                        (reference_points(questionnaire, definition, level), weight)
                        for level, weight in answered
                    ]
                    satisfied = [level.value for level in definition.levels][:SATISFIED_LEVEL_COUNT]
                    rate = reference_mean(
                        [(Fraction(int(level in satisfied)), weight) for level, weight in answered]
                    )
                    assert item.mean_points == half_up(reference_mean(points), 2)
                    assert item.satisfaction_rate == half_up(rate, 4)
                    assert item.distribution == {
                        level.value: sum(1 for value, _ in answered if value == level.value)
                        for level in definition.levels
                    }
                    if unit_weights:
                        check_spread(item, [value for value, _ in points])


def check_spread(item: ItemResult, values: list[Fraction]) -> None:
    """Sample standard deviation (n − 1) and the t interval, against the textbook formulas."""
    floats = [float(value) for value in values]
    deviation = textbook.stdev(floats)
    assert item.standard_deviation is not None
    assert abs(item.standard_deviation - deviation) <= POINTS_TOLERANCE
    margin = student_t.ppf(0.975, len(floats) - 1) * deviation / math.sqrt(len(floats))
    mean = textbook.fmean(floats)
    assert item.ci_low is not None
    assert item.ci_high is not None
    assert abs(item.ci_low - (mean - margin)) <= POINTS_TOLERANCE + 1e-9
    assert abs(item.ci_high - (mean + margin)) <= POINTS_TOLERANCE + 1e-9
