"""Disclosure control over a campaign's count hierarchy: hand-worked cases and properties.

Campaigns are written as counts directly: evaluations per target × rater group, and per item
the answers at each level (level 0 is 不了解). The threshold k is 5 and the protection width k
in the hand-worked cases unless a test says otherwise.
"""

import itertools
import math
import random
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog  # type: ignore[import-untyped]

from app.results import attack
from app.results.disclosure import Suppression, plan_suppression
from app.results.tables import (
    CAMPAIGN_KEY,
    FLAGGED_KEY,
    STRAIGHT_LINING_KEY,
    TOO_FAST_KEY,
    CellKey,
    CountTables,
    Relation,
    Surroundings,
    add_surroundings,
    answer_key,
    build_count_tables,
    group_key,
    target_key,
)

THRESHOLD = 5
THREE_LEVELS = [1, 2, 3]
FIVE_LEVELS = [1, 2, 3, 4, 5]
PROPERTY_SETTINGS = settings(max_examples=30, deadline=None)

Levels = dict[int, int]  # level → answers; 0 is 不了解


@dataclass
class Campaign:
    """Counts of a campaign, before they are laid out as tables."""

    targets: list[int]
    groups: list[int]
    items_by_group: dict[int, list[tuple[str, list[int]]]]
    evaluations: dict[tuple[int, int], int]
    answers: dict[tuple[int, int, str], Levels] = field(default_factory=dict)

    def tables(
        self, targets: list[int] | None = None, groups: list[int] | None = None
    ) -> CountTables:
        return build_count_tables(
            targets or self.targets,
            groups or self.groups,
            self.items_by_group,
            self.answers,
            self.evaluations,
        )


def spread(count: int, levels: list[int] = THREE_LEVELS) -> Levels:
    """``count`` answers spread over the levels as evenly as they go, none 不了解."""
    return {
        level: count // len(levels) + (index < count % len(levels))
        for index, level in enumerate(levels)
    }


def one_item_campaign(evaluations: dict[tuple[int, int], int]) -> Campaign:
    """Every group sees one three-level item, answered by everyone and spread over the levels."""
    targets = sorted({target for target, _ in evaluations})
    groups = sorted({group for _, group in evaluations})
    return Campaign(
        targets=targets,
        groups=groups,
        items_by_group={group: [("q", THREE_LEVELS)] for group in groups},
        evaluations=evaluations,
        answers={
            (target, group, "q"): spread(count) for (target, group), count in evaluations.items()
        },
    )


def item_keys(
    target: int, group: int, item: str = "q", levels: list[int] = THREE_LEVELS
) -> list[CellKey]:
    return [answer_key(target, group, item, level) for level in [*levels, 0]]


def plan(campaign: Campaign, width: float = THRESHOLD) -> Suppression:
    return plan_suppression(campaign.tables(), threshold=THRESHOLD, width=width)


class TestThreshold:
    def test_group_one_below_threshold_is_withheld_with_its_answers(self) -> None:
        suppression = plan(one_item_campaign({(1, 1): THRESHOLD - 1, (1, 2): 20}))

        assert suppression.withheld[group_key(1, 1)] == "threshold"
        assert all(suppression.withheld[key] == "threshold" for key in item_keys(1, 1))
        assert suppression.shows(group_key(1, 2))
        assert all(suppression.shows(key) for key in item_keys(1, 2))

    def test_group_at_threshold_is_shown(self) -> None:
        suppression = plan(one_item_campaign({(1, 1): THRESHOLD, (1, 2): 20}))

        assert suppression.withheld == {}

    def test_empty_group_is_below_threshold(self) -> None:
        suppression = plan(one_item_campaign({(1, 1): 0, (1, 2): 20}))

        assert suppression.withheld[group_key(1, 1)] == "threshold"

    def test_target_and_campaign_below_threshold_are_withheld(self) -> None:
        suppression = plan(one_item_campaign({(1, 1): 2, (1, 2): 2}))

        assert suppression.withheld[target_key(1)] == "threshold"
        assert suppression.withheld[CAMPAIGN_KEY] == "threshold"

    def test_threshold_below_one_is_refused(self) -> None:
        with pytest.raises(ValueError, match="threshold"):
            plan_suppression(one_item_campaign({(1, 1): 5}).tables(), threshold=0, width=1)


class TestItemsWithFewAnswers:
    def test_item_answered_by_fewer_than_threshold_is_withheld_with_its_not_applicable(
        self,
    ) -> None:
        campaign = Campaign(
            targets=[1],
            groups=[1],
            items_by_group={1: [("few", THREE_LEVELS), ("many", THREE_LEVELS)]},
            evaluations={(1, 1): 10},
            answers={(1, 1, "few"): {1: 2, 2: 2, 0: 6}, (1, 1, "many"): spread(10)},
        )

        suppression = plan(campaign)

        assert {
            key: suppression.withheld.get(key) for key in item_keys(1, 1, "few")
        } == dict.fromkeys(item_keys(1, 1, "few"), "threshold")
        assert suppression.shows(group_key(1, 1))
        assert all(suppression.shows(key) for key in item_keys(1, 1, "many"))

    def test_item_answered_by_threshold_is_shown(self) -> None:
        campaign = Campaign(
            targets=[1],
            groups=[1],
            items_by_group={1: [("q", THREE_LEVELS)]},
            evaluations={(1, 1): 10},
            answers={(1, 1, "q"): {1: 3, 2: 2, 0: 5}},
        )

        assert plan(campaign).withheld == {}


class TestUnanimity:
    @staticmethod
    def campaign(answers: Levels) -> Campaign:
        """A group of 20 whose item is answered as given; the rest is 不了解."""
        answers = {**answers, 0: 20 - sum(answers.values())}
        return Campaign(
            targets=[1],
            groups=[1],
            items_by_group={1: [("q", THREE_LEVELS)]},
            evaluations={(1, 1): 20},
            answers={(1, 1, "q"): answers},
        )

    @pytest.mark.parametrize("answered", [THRESHOLD, 2 * THRESHOLD - 1])
    def test_one_level_below_twice_threshold_withholds_the_item_with_its_not_applicable(
        self, answered: int
    ) -> None:
        suppression = plan(self.campaign({2: answered}))

        assert suppression.withheld == dict.fromkeys(item_keys(1, 1), "unanimity")
        # The same cells as an item answered by fewer than the threshold: the pattern does
        # not tell which rule withheld them.
        too_few = plan(self.campaign({2: THRESHOLD - 1}))
        assert set(too_few.withheld) == set(suppression.withheld)

    def test_one_level_at_twice_threshold_is_shown(self) -> None:
        assert plan(self.campaign({2: 2 * THRESHOLD})).withheld == {}

    def test_two_levels_below_twice_threshold_are_shown(self) -> None:
        assert plan(self.campaign({2: THRESHOLD, 3: 1})).withheld == {}

    def test_group_whose_evaluations_all_scored_the_same_is_withheld_whole_as_if_small(
        self,
    ) -> None:
        # Target 1's group 1 (8 evaluations) is marked unanimous by scoring; target 2's group 1
        # has 4, below the threshold. Both take their answer cells, 不了解 included.
        campaign = one_item_campaign({(1, 1): 8, (1, 2): 20, (2, 1): 4, (2, 2): 20})
        tables = campaign.tables()
        tables.unanimous = {group_key(1, 1)}

        suppression = plan_suppression(tables, threshold=THRESHOLD, width=THRESHOLD)

        assert {
            key: suppression.withheld.get(key) for key in [group_key(1, 1), *item_keys(1, 1)]
        } == dict.fromkeys([group_key(1, 1), *item_keys(1, 1)], "unanimity")
        assert {
            key: suppression.withheld.get(key) for key in [group_key(2, 1), *item_keys(2, 1)]
        } == dict.fromkeys([group_key(2, 1), *item_keys(2, 1)], "threshold")
        assert suppression.shows(group_key(1, 2))
        # Each target's total would give its withheld group back: both go alike.
        assert not suppression.shows(target_key(1))
        assert not suppression.shows(target_key(2))


class TestQualityCounts:
    """Flag counts beside a campaign of 40 evaluations (two targets, two groups of 10 each)."""

    @staticmethod
    def tables_with_flags(flagged: int, straight_lining: int, too_fast: int) -> CountTables:
        tables = one_item_campaign({(1, 1): 10, (1, 2): 10, (2, 1): 10, (2, 2): 10}).tables()
        around = Surroundings(flagged=flagged, straight_lining=straight_lining, too_fast=too_fast)
        return add_surroundings(tables, around, [1, 2], [1, 2])

    def test_a_flag_count_of_two_is_withheld_below_a_threshold_of_five(self) -> None:
        tables = self.tables_with_flags(flagged=2, straight_lining=2, too_fast=0)

        suppression = plan_suppression(tables, threshold=THRESHOLD, width=THRESHOLD)

        assert suppression.withheld == {
            FLAGGED_KEY: "threshold",
            STRAIGHT_LINING_KEY: "threshold",
            TOO_FAST_KEY: "threshold",  # zero is below the threshold too
        }

    def test_flag_counts_at_the_threshold_are_shown(self) -> None:
        tables = self.tables_with_flags(flagged=5, straight_lining=5, too_fast=5)

        assert plan_suppression(tables, threshold=THRESHOLD, width=THRESHOLD).withheld == {}

    def test_a_flag_count_leaving_fewer_than_the_threshold_without_it_is_withheld(
        self,
    ) -> None:
        # 8 flagged, 6 of them for straight-lining: 8 − 6 = 2 would be the others.
        tables = self.tables_with_flags(flagged=8, straight_lining=6, too_fast=8)

        suppression = plan_suppression(tables, threshold=THRESHOLD, width=THRESHOLD)

        assert suppression.withheld[STRAIGHT_LINING_KEY] == "remainder"
        assert suppression.shows(FLAGGED_KEY)
        bounds = attack.intervals(tables, set(suppression.withheld))
        assert all(high - low >= THRESHOLD for low, high in bounds.values())


class TestRemainder:
    def test_target_leaving_less_than_threshold_beside_a_shown_group_is_withheld(self) -> None:
        # Target 1: 12 = 10 + 2. The group of 2 is withheld; showing 12 and 10 would give it.
        campaign = one_item_campaign({(1, 1): 10, (1, 2): 2, (2, 1): 20, (2, 2): 20})

        suppression = plan(campaign)

        assert suppression.withheld[group_key(1, 2)] == "threshold"
        assert suppression.withheld[target_key(1)] == "remainder"
        assert suppression.shows(group_key(1, 1))

    def test_remainder_of_exactly_threshold_keeps_the_target(self) -> None:
        campaign = one_item_campaign({(1, 1): 10, (1, 2): 2, (1, 3): 3})

        suppression = plan(campaign)

        assert suppression.shows(target_key(1))  # 15 − 10 = 5, and the 2 and 3 hide each other


class TestComplementary:
    def test_lone_withheld_group_takes_its_target_then_the_campaign(self) -> None:
        # Target 1: 23 = 3 + 10 + 10, so the remainder rule keeps the total; but 23 − 10 − 10
        # gives the 3 away, and the campaign total minus target 2 gives 23 away.
        campaign = one_item_campaign(
            {(1, 1): 3, (1, 2): 10, (1, 3): 10, (2, 1): 10, (2, 2): 10, (2, 3): 10}
        )

        suppression = plan(campaign)

        assert suppression.withheld == {
            group_key(1, 1): "threshold",
            **dict.fromkeys(item_keys(1, 1), "threshold"),
            target_key(1): "complementary",
            CAMPAIGN_KEY: "complementary",
        }

    def test_two_withheld_targets_keep_the_campaign_total(self) -> None:
        # Both targets lose their totals; together they hide 3 + 4 = 7 ≥ 5 evaluations.
        campaign = one_item_campaign(
            {(1, 1): 3, (1, 2): 10, (1, 3): 10, (2, 1): 4, (2, 2): 10, (2, 3): 10}
        )

        suppression = plan(campaign)

        assert suppression.withheld[target_key(1)] == "complementary"
        assert suppression.withheld[target_key(2)] == "complementary"
        assert suppression.shows(CAMPAIGN_KEY)
        assert attack.intervals(campaign.tables(), set(suppression.withheld))[target_key(1)] == (
            20.0,
            27.0,
        )

    def test_two_withheld_groups_adding_up_to_the_width_keep_their_target(self) -> None:
        campaign = one_item_campaign({(1, 1): 2, (1, 2): 3, (1, 3): 20})

        suppression = plan(campaign)

        assert set(suppression.withheld) == {
            group_key(1, 1),
            group_key(1, 2),
            *item_keys(1, 1),
            *item_keys(1, 2),
        }
        bounds = attack.intervals(campaign.tables(), set(suppression.withheld))
        assert bounds[group_key(1, 1)] == (0.0, 5.0)
        assert bounds[group_key(1, 2)] == (0.0, 5.0)

    def test_wider_protection_withholds_more(self) -> None:
        campaign = one_item_campaign(
            {(1, 1): 2, (1, 2): 3, (1, 3): 20, (2, 1): 20, (2, 2): 20, (2, 3): 20}
        )

        suppression = plan(campaign, width=6)

        assert suppression.withheld[target_key(1)] == "complementary"
        bounds = attack.intervals(campaign.tables(), set(suppression.withheld))
        assert all(high - low >= 6 for low, high in bounds.values())


class TestTablesOfAnyShape:
    def test_count_pinned_by_the_shape_of_the_tables_takes_nothing_with_it(self) -> None:
        # Target 1 has no rater groups: its 0 is known whatever is published.
        tables = CountTables(
            values={CAMPAIGN_KEY: 20, target_key(1): 0, target_key(2): 20, group_key(2, 1): 20},
            relations=[
                Relation(CAMPAIGN_KEY, (target_key(1), target_key(2))),
                Relation(target_key(1), ()),
                Relation(target_key(2), (group_key(2, 1),)),
            ],
        )

        suppression = plan_suppression(tables, threshold=THRESHOLD, width=THRESHOLD)

        assert suppression.withheld == {target_key(1): "threshold"}

    def test_second_breakdown_of_the_campaign_total_still_ends_safe(self) -> None:
        # The campaign total is also split by department category, which pins it even when it
        # is withheld; the plan goes past ancestors to siblings and still ends safe.
        tables = one_item_campaign(
            {(1, 1): 3, (1, 2): 10, (1, 3): 10, (2, 1): 10, (2, 2): 10, (2, 3): 10}
        ).tables()
        categories = [("category", 1), ("category", 2)]
        tables.values.update(dict(zip(categories, [20, 33], strict=True)))
        tables.relations.append(Relation(CAMPAIGN_KEY, tuple(categories)))

        suppression = plan_suppression(tables, threshold=THRESHOLD, width=THRESHOLD)

        bounds = attack.intervals(tables, set(suppression.withheld))
        assert all(high - low >= THRESHOLD for low, high in bounds.values())
        assert not suppression.shows(target_key(1))


class TestAttackIntervals:
    """campaign 40 = target 1 + target 2 (17); target 1: 23 = 3 + 10 + 10 over groups 1–3;
    group 2 answers one item: 6 at level 1, 4 at level 2, none 不了解."""

    @staticmethod
    def tables() -> CountTables:
        groups = [group_key(1, group) for group in (1, 2, 3)]
        item = [answer_key(1, 2, "q", level) for level in (1, 2, 0)]
        return CountTables(
            values={
                CAMPAIGN_KEY: 40,
                target_key(1): 23,
                target_key(2): 17,
                **dict(zip(groups, [3, 10, 10], strict=True)),
                **dict(zip(item, [6, 4, 0], strict=True)),
            },
            relations=[
                Relation(CAMPAIGN_KEY, (target_key(1), target_key(2))),
                Relation(target_key(1), tuple(groups)),
                Relation(group_key(1, 2), tuple(item)),
            ],
        )

    @pytest.mark.parametrize(
        ("withheld", "expected"),
        [
            # g1 + g2 = 23 − 10 alone would leave each anywhere in [0, 13], but group 2's
            # item is shown in full and adds up to its 10, so g1 = 13 − 10.
            (
                {("group", 1, 1), ("group", 1, 2)},
                {("group", 1, 1): (3, 3), ("group", 1, 2): (10, 10)},
            ),
            # With one answer cell of that item withheld too, g2 ≥ 6 + 0: g1 ∈ [0, 7].
            (
                {("group", 1, 1), ("group", 1, 2), ("answer", 1, 2, "q", 2)},
                {
                    ("group", 1, 1): (0, 7),
                    ("group", 1, 2): (6, 13),
                    ("answer", 1, 2, "q", 2): (0, 7),
                },
            ),
            # t1 = 40 − 17, then g1 = 23 − 10 − 10.
            ({("group", 1, 1), ("target", 1)}, {("group", 1, 1): (3, 3), ("target", 1): (23, 23)}),
            # Nothing bounds the campaign from above: t1 = c − 17 ≥ 20, g1 = t1 − 20 ≥ 0.
            (
                {("group", 1, 1), ("target", 1), ("campaign",)},
                {
                    ("group", 1, 1): (0, math.inf),
                    ("target", 1): (20, math.inf),
                    ("campaign",): (37, math.inf),
                },
            ),
            # Two answer cells share what the shown group leaves: 10 − 0.
            (
                {("answer", 1, 2, "q", 1), ("answer", 1, 2, "q", 2)},
                {("answer", 1, 2, "q", 1): (0, 10), ("answer", 1, 2, "q", 2): (0, 10)},
            ),
            # One answer cell is what its group leaves: 10 − 4 − 0.
            ({("answer", 1, 2, "q", 1)}, {("answer", 1, 2, "q", 1): (6, 6)}),
            # g2 ≥ 4 because its level-2 answers are shown; g1 + g2 = 13; level 1 = g2 − 4.
            (
                {("group", 1, 1), ("group", 1, 2), ("answer", 1, 2, "q", 1)},
                {
                    ("group", 1, 1): (0, 9),
                    ("group", 1, 2): (4, 13),
                    ("answer", 1, 2, "q", 1): (0, 9),
                },
            ),
        ],
    )
    def test_intervals_match_hand_computation(
        self, withheld: set[CellKey], expected: dict[CellKey, tuple[float, float]]
    ) -> None:
        assert attack.intervals(self.tables(), withheld) == expected

    def test_cell_in_no_relation_is_unbounded(self) -> None:
        tables = CountTables(values={("lonely",): 3})

        assert attack.intervals(tables, {("lonely",)}) == {("lonely",): (0.0, math.inf)}


# --- properties over random campaigns -------------------------------------------------------


@st.composite
def level_counts(draw: st.DrawFn, count: int, levels: list[int]) -> Levels:
    """``count`` answers over the levels and 不了解: sometimes all at one level."""
    if draw(st.booleans()):
        not_applicable = draw(st.integers(0, count))
        return {0: not_applicable, draw(st.sampled_from(levels)): count - not_applicable}
    cuts = sorted(draw(st.lists(st.integers(0, count), min_size=len(levels), max_size=len(levels))))
    parts = [high - low for low, high in itertools.pairwise([0, *cuts, count])]
    return dict(zip([0, *levels], parts, strict=True))


@st.composite
def campaigns(draw: st.DrawFn) -> tuple[Campaign, int]:
    """A campaign with 1–6 targets, 1–3 groups and 1–4 items, and its threshold (3–6)."""
    threshold = draw(st.integers(3, 6))
    ids = st.integers(1, 99)
    targets = draw(st.lists(ids, min_size=1, max_size=6, unique=True))
    groups = draw(st.lists(ids, min_size=1, max_size=3, unique=True))
    items = [
        (f"item{index}", draw(st.sampled_from([THREE_LEVELS, FIVE_LEVELS])))
        for index in range(draw(st.integers(1, 4)))
    ]
    seen_items = st.sets(st.integers(0, len(items) - 1), min_size=1)  # each group's items
    items_by_group = {
        group: [items[index] for index in sorted(draw(seen_items))] for group in groups
    }
    counts = st.one_of(st.integers(0, 2 * threshold + 1), st.integers(0, 40))
    campaign = Campaign(targets, groups, items_by_group, evaluations={})
    for target, group in itertools.product(targets, groups):
        count = campaign.evaluations[(target, group)] = draw(counts)
        for item, levels in items_by_group[group]:
            campaign.answers[(target, group, item)] = draw(level_counts(count, levels))
    return campaign, threshold


def primary_cells(tables: CountTables, threshold: int) -> dict[CellKey, str]:
    """The threshold and unanimity rules, worked out plainly from the counts."""
    expected: dict[CellKey, str] = {}
    for key, count in tables.values.items():
        if key[0] in ("campaign", "target", "group") and count < threshold:
            expected[key] = "threshold"
    for relation in tables.relations:
        if relation.parent[0] != "group":
            continue
        levels = [tables.values[key] for key in relation.children if key[-1] != 0]
        answered = sum(levels)
        if relation.parent in expected or answered < threshold:
            expected.update(dict.fromkeys(relation.children, "threshold"))
        elif answered < 2 * threshold and max(levels) == answered:
            expected.update(dict.fromkeys(relation.children, "unanimity"))  # 不了解 too
    return expected


class TestPlanOverRandomCampaigns:
    @PROPERTY_SETTINGS
    @given(campaigns())
    def test_no_withheld_cell_can_be_recomputed(self, drawn: tuple[Campaign, int]) -> None:
        campaign, threshold = drawn
        tables = campaign.tables()

        suppression = plan_suppression(tables, threshold=threshold, width=threshold)

        bounds = attack.intervals(tables, set(suppression.withheld))
        narrow = {key: bound for key, bound in bounds.items() if bound[1] - bound[0] < threshold}
        assert narrow == {}

    @PROPERTY_SETTINGS
    @given(campaigns())
    def test_every_shown_count_and_distribution_reaches_the_threshold(
        self, drawn: tuple[Campaign, int]
    ) -> None:
        campaign, threshold = drawn
        tables = campaign.tables()

        suppression = plan_suppression(tables, threshold=threshold, width=threshold)

        for key, count in tables.values.items():
            if key[0] in ("campaign", "target", "group") and suppression.shows(key):
                assert count >= threshold, key
        for relation in tables.relations:
            level_cells = [key for key in relation.children if key[-1] != 0]
            if relation.parent[0] == "group" and any(map(suppression.shows, level_cells)):
                levels = [tables.values[key] for key in level_cells]
                assert sum(levels) >= threshold, relation
                if max(levels) == sum(levels):  # unanimous
                    assert sum(levels) >= 2 * threshold, relation

        expected = primary_cells(tables, threshold)
        assert {key: suppression.withheld.get(key) for key in expected} == expected

    @PROPERTY_SETTINGS
    @given(campaigns(), st.randoms(use_true_random=False))
    def test_plan_does_not_depend_on_listing_order(
        self, drawn: tuple[Campaign, int], shuffler: random.Random
    ) -> None:
        campaign, threshold = drawn
        targets, groups = list(campaign.targets), list(campaign.groups)
        shuffler.shuffle(targets)
        shuffler.shuffle(groups)

        listed = plan_suppression(campaign.tables(), threshold=threshold, width=threshold)
        shuffled = plan_suppression(
            campaign.tables(targets, groups), threshold=threshold, width=threshold
        )

        assert shuffled == listed


class TestAttackAgainstPlainProgramme:
    """The folded, split programme gives the same intervals as one plain linear programme."""

    @settings(max_examples=20, deadline=None)
    @given(campaigns(), st.randoms(use_true_random=False), st.sampled_from([0.2, 0.5, 0.9]))
    def test_intervals_equal_the_unreduced_programme(
        self, drawn: tuple[Campaign, int], chooser: random.Random, share: float
    ) -> None:
        tables = drawn[0].tables()
        withheld = {key for key in sorted(tables.values, key=repr) if chooser.random() < share}

        checked = chooser.sample(sorted(withheld, key=repr), min(len(withheld), 8))

        found = attack.intervals(tables, withheld)
        plain = plain_intervals(tables, withheld, checked)

        assert found.keys() == withheld
        for key, ends in plain.items():
            assert found[key] == pytest.approx(ends, abs=1e-6), key


def plain_intervals(
    tables: CountTables, withheld: set[CellKey], checked: list[CellKey]
) -> dict[CellKey, tuple[float, float]]:
    """Minimise and maximise the checked cells over the whole programme, nothing folded."""
    cells = sorted(withheld, key=repr)
    column = {key: index for index, key in enumerate(cells)}
    rows, constants = [], []
    for relation in tables.relations:
        row = np.zeros(len(cells))
        constant = 0.0
        for key, sign in [(relation.parent, 1), *((child, -1) for child in relation.children)]:
            if key in withheld:
                row[column[key]] += sign
            else:
                constant -= sign * tables.values[key]
        if row.any():
            rows.append(row)
            constants.append(constant)
    found = {}
    for key in checked:
        objective = np.zeros(len(cells))
        objective[column[key]] = 1.0
        ends = []
        for direction in (1.0, -1.0):
            result = linprog(
                direction * objective,
                A_eq=np.array(rows) if rows else None,
                b_eq=constants if rows else None,
                bounds=[(0, None)] * len(cells),
                method="highs",
            )
            ends.append(direction * result.fun if result.status == 0 else math.inf)  # max unbounded
        found[key] = (ends[0], ends[1])
    return found


class TestRealisticCampaign:
    def test_twelve_targets_three_groups_fourteen_items_complete(self) -> None:
        """12 targets × 3 groups × 14 items × 4 levels (+ 不了解), small groups included."""
        rng = random.Random(4)
        targets, groups = list(range(1, 13)), [1, 2, 3]
        items = [(f"item{index}", [1, 2, 3, 4]) for index in range(14)]
        group_sizes = {1: (20, 150), 2: (3, 40), 3: (0, 9)}
        campaign = Campaign(targets, groups, dict.fromkeys(groups, items), evaluations={})
        for target, group in itertools.product(targets, groups):
            count = campaign.evaluations[(target, group)] = rng.randint(*group_sizes[group])
            for item, _ in items:
                answers = rng.choices([0, 1, 2, 3, 4], weights=[1, 2, 3, 4, 4], k=count)
                campaign.answers[(target, group, item)] = {
                    level: answers.count(level) for level in set(answers)
                }
        tables = campaign.tables()

        suppression = plan_suppression(tables, threshold=THRESHOLD, width=THRESHOLD)

        bounds = attack.intervals(tables, set(suppression.withheld))
        assert all(high - low >= THRESHOLD for low, high in bounds.values())
