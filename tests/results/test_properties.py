"""Properties of scoring and suppression over random campaigns, checked on the pure functions.

The inputs are built directly (a questionnaire, a transient campaign and answer rows) so each
example costs microseconds; a plain reference computed with exact fractions from the raw
answers stands beside ``tally`` and ``build_results``.
"""

import itertools
import random
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.ballots.answers import encode
from app.campaigns.models import Campaign, CampaignStatus, RaterGroup, Target
from app.departments.models import Department
from app.results.schemas import CampaignResults, GroupResult, ItemResult, TargetResult
from app.results.service import build_results
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
ITEM_FIGURES = ("respondents", "not_applicable", "mean_points", "satisfaction_rate", "distribution")
ANSWERED_FIGURES = ("mean_points", "satisfaction_rate", "distribution")

Answers = dict[str, int | None]


@dataclass(frozen=True)
class RawEvaluation:
    target_index: int
    group_index: int
    answers: Answers  # every item the group sees; None is 不了解


@dataclass(frozen=True)
class Scenario:
    questionnaire: Questionnaire
    campaign: Campaign
    evaluations: list[RawEvaluation]

    @property
    def threshold(self) -> int:
        return self.campaign.disclosure_threshold

    def rows(self, evaluations: list[RawEvaluation] | None = None) -> list[AnswerRow]:
        """Rows as the database returns them: grouped by target, rater group and answers."""
        chosen = self.evaluations if evaluations is None else evaluations
        counted = Counter(self.encoded(evaluation) for evaluation in chosen)
        return [
            (target, group, encoded, count) for (target, group, encoded), count in counted.items()
        ]

    def encoded(self, evaluation: RawEvaluation) -> tuple[int, int, str]:
        group = self.campaign.rater_groups[evaluation.group_index]
        target = self.campaign.targets[evaluation.target_index]
        return target.id, group.id, encode(self.questionnaire, group.key, evaluation.answers)

    def results(self, rows: list[AnswerRow]) -> CampaignResults:
        return build_results(
            self.campaign, self.questionnaire, tally(self.questionnaire, rows), "zh_CN"
        )

    def cell(self, target_index: int, group_index: int) -> list[Answers]:
        return [
            evaluation.answers
            for evaluation in self.evaluations
            if (evaluation.target_index, evaluation.group_index) == (target_index, group_index)
        ]


def transient_campaign(
    questionnaire: Questionnaire, threshold: int, weights: list[float], target_count: int
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
                category="综合类",
            ),
        )
        for position in range(target_count)
    ]
    return campaign


MAX_GROUPS = 3
GROUP_KEYS = [f"group{index}" for index in range(MAX_GROUPS)]
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


def draw_item(draw: st.DrawFn, index: int, group_count: int) -> dict[str, Any]:
    scale = draw(SCALE_NAMES)
    custom_points = draw(CUSTOM_POINTS[scale])
    return {
        "id": f"item{index}",
        "dimension": "general",
        "scale": scale,
        "text": {"zh": f"题目{index}", "en": f"Item {index}"},
        "scored": draw(st.booleans()),
        "groups": draw(GROUPS_SEEING[group_count]),
        "points": None
        if custom_points is None
        else dict(zip(range(1, len(custom_points) + 1), custom_points, strict=True)),
    }


@st.composite
def scenarios(draw: st.DrawFn, max_evaluations: int = 30) -> Scenario:
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
            "dimensions": [{"id": "general", "name": {"zh": "综合", "en": "General"}}],
            "items": item_data,
        }
    )
    weights = draw(
        st.lists(st.sampled_from([0.5, 1.0, 2.0, 3.0]), min_size=group_count, max_size=group_count)
    )
    target_count = draw(st.integers(1, 2))
    campaign = transient_campaign(questionnaire, draw(st.integers(3, 5)), weights, target_count)
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
        evaluation = RawEvaluation(answers_random.randrange(target_count), group_index, answers)
        evaluations += [evaluation] * answers_random.randint(1, 3)
    return Scenario(questionnaire, campaign, evaluations)


# A plain reference, from the raw answers, in exact arithmetic.


def reference_points(questionnaire: Questionnaire, item: Item, level: int) -> Fraction:
    """The item's own points, else the questionnaire's for the scale, else the defaults."""
    points = item.points or questionnaire.points.get(item.scale) or DEFAULT_POINTS[item.scale]
    return Fraction(points[level])


def reference_item_mean(questionnaire: Questionnaire, item: Item, levels: list[int]) -> Fraction:
    return Fraction(
        sum(reference_points(questionnaire, item, level) for level in levels), len(levels)
    )


def reference_rate(item: Item, levels: list[int]) -> Fraction:
    satisfied = [level.value for level in item.levels][:SATISFIED_LEVEL_COUNT]
    return Fraction(sum(1 for level in levels if level in satisfied), len(levels))


def reference_evaluation_score(questionnaire: Questionnaire, answers: Answers) -> Fraction | None:
    points = []
    for item in questionnaire.items:
        level = answers.get(item.id)
        if item.scored and level is not None:
            points.append(reference_points(questionnaire, item, level))
    return Fraction(sum(points), len(points)) if points else None


def reference_group_score(questionnaire: Questionnaire, cell: list[Answers]) -> list[Fraction]:
    """The scores of the evaluations that have one."""
    scores = [reference_evaluation_score(questionnaire, answers) for answers in cell]
    return [score for score in scores if score is not None]


def group_named(target: TargetResult, key: str) -> GroupResult:
    return next(group for group in target.groups if group.rater_group == key)


def all_withheld_listed(result: ItemResult | GroupResult | TargetResult) -> None:
    """Every null figure is named in ``withheld``, and every name there is null."""
    figures = {
        ItemResult: ITEM_FIGURES,
        GroupResult: ("evaluations", "score"),
        TargetResult: ("composite_score",),
    }[type(result)]
    nulls = {name for name in figures if getattr(result, name) is None}
    assert set(result.withheld) == nulls
    assert len(result.withheld) == len(set(result.withheld))


class TestRowOrder:
    @PROPERTY_SETTINGS
    @given(scenario=scenarios(), seed=st.integers(0, 2**32 - 1))
    def test_results_do_not_depend_on_the_order_or_grouping_of_rows(
        self, scenario: Scenario, seed: int
    ) -> None:
        grouped = scenario.rows()
        one_per_evaluation: list[AnswerRow] = [
            (target, group, encoded, 1)
            for target, group, encoded, count in grouped
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
        campaign = transient_campaign(questionnaire, 3, [1.0, 1.0], 1)
        target_id, cadres_id = campaign.targets[0].id, campaign.rater_groups[1].id
        rows: list[AnswerRow] = [
            (target_id, cadres_id, "323", 2),
            (target_id, cadres_id, "011", 2),
            (target_id, cadres_id, "301", 3),
            (target_id, cadres_id, "233", 1),
        ]

        scores = {
            group_named(
                build_results(
                    campaign, questionnaire, tally(questionnaire, list(order)), "zh_CN"
                ).targets[0],
                "cadres",
            ).score
            for order in itertools.permutations(rows)
        }

        assert len(scores) == 1
        (score,) = scores
        assert score is not None
        assert abs(score - 48.125) <= POINTS_TOLERANCE


class TestNotApplicableAnswers:
    @PROPERTY_SETTINGS
    @given(scenario=scenarios(), data=st.data())
    def test_adding_evaluations_of_only_dont_know_moves_no_mean_rate_or_score(
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
            )
            for target_index, group_index in data.draw(
                st.lists(
                    st.tuples(
                        st.integers(0, len(campaign.targets) - 1),
                        st.integers(0, len(campaign.rater_groups) - 1),
                    ),
                    min_size=1,
                    max_size=12,
                )
            )
        ]

        before = scenario.results(scenario.rows())
        after = scenario.results(scenario.rows(scenario.evaluations + extra))

        for target_before, target_after in zip(before.targets, after.targets, strict=True):
            assert target_after.composite_score == target_before.composite_score
            assert target_after.composite_groups == target_before.composite_groups
            for group_before, group_after in zip(
                target_before.groups, target_after.groups, strict=True
            ):
                assert group_after.score == group_before.score
                for item_before, item_after in zip(
                    group_before.items, group_after.items, strict=True
                ):
                    for figure in ANSWERED_FIGURES:
                        assert getattr(item_after, figure) == getattr(item_before, figure)


class TestSuppression:
    @PROPERTY_SETTINGS
    @given(scenario=scenarios())
    def test_every_shown_figure_has_threshold_behind_it_and_the_rest_is_null_and_listed(
        self, scenario: Scenario
    ) -> None:
        threshold = scenario.threshold
        results = scenario.results(scenario.rows())

        assert results.disclosure_threshold == threshold
        for target_index, target in enumerate(results.targets):
            all_withheld_listed(target)
            for group_index, group in enumerate(target.groups):
                all_withheld_listed(group)
                cell = scenario.cell(target_index, group_index)
                if len(cell) < threshold:
                    assert group.evaluations is None
                    assert group.score is None
                    for item in group.items:
                        assert set(item.withheld) == set(ITEM_FIGURES)
                    continue
                assert group.evaluations == len(cell)
                scored = reference_group_score(scenario.questionnaire, cell)
                assert (group.score is not None) == (len(scored) >= threshold)
                for item in group.items:
                    all_withheld_listed(item)
                    answers = [answers[item.item] for answers in cell]
                    answered = [level for level in answers if level is not None]
                    assert item.respondents == len(answers)
                    assert item.not_applicable == len(answers) - len(answered)
                    shown = len(answered) >= threshold
                    for figure in ANSWERED_FIGURES:
                        assert (getattr(item, figure) is not None) == shown


class TestComposite:
    @PROPERTY_SETTINGS
    @given(scenario=scenarios())
    def test_composite_is_the_weighted_mean_of_shown_group_scores_within_their_range(
        self, scenario: Scenario
    ) -> None:
        weights = {group.key: group.weight for group in scenario.campaign.rater_groups}
        results = scenario.results(scenario.rows())

        for target in results.targets:
            shown = {
                group.rater_group: group.score for group in target.groups if group.score is not None
            }
            assert target.composite_groups == list(shown)
            if not shown:
                assert target.composite_score is None
                continue
            reference = sum(
                Fraction(weights[key]) * Fraction(score) for key, score in shown.items()
            ) / sum(Fraction(weights[key]) for key in shown)
            assert target.composite_score is not None
            assert abs(target.composite_score - reference) <= POINTS_TOLERANCE
            assert min(shown.values()) <= target.composite_score <= max(shown.values())


class TestFiguresAgainstReference:
    @PROPERTY_SETTINGS
    @given(scenario=scenarios())
    def test_item_means_rates_distributions_and_group_scores_match_the_raw_answers(
        self, scenario: Scenario
    ) -> None:
        questionnaire = scenario.questionnaire
        items = {item.id: item for item in questionnaire.items}
        results = scenario.results(scenario.rows())

        for target_index, target in enumerate(results.targets):
            for group_index, group in enumerate(target.groups):
                cell = scenario.cell(target_index, group_index)
                if group.score is not None:
                    scores = reference_group_score(questionnaire, cell)
                    assert abs(group.score - sum(scores) / len(scores)) <= POINTS_TOLERANCE
                for item in group.items:
                    if item.mean_points is None:
                        continue
                    definition = items[item.item]
                    answered = [
                        level for answers in cell if (level := answers[item.item]) is not None
                    ]
                    mean = reference_item_mean(questionnaire, definition, answered)
                    rate = reference_rate(definition, answered)
                    assert abs(item.mean_points - mean) <= POINTS_TOLERANCE
                    assert item.satisfaction_rate is not None
                    assert abs(item.satisfaction_rate - rate) <= RATE_TOLERANCE
                    assert item.distribution == {
                        level.value: answered.count(level.value) for level in definition.levels
                    }
