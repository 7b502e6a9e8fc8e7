"""The scoring engine on tallies built by hand: items, pooled dimensions, scores, quality
handling, composites, grades and ranks. Exact figures (fractions), before any suppression."""

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.ballots.models import STRAIGHT_LINING, TOO_FAST
from app.campaigns.policy import DEFAULT_GRADES, GradeBand, QualityPolicy
from app.results import scoring
from app.results.scoring import GroupFigures, Weighting
from app.results.tally import AnswerRow, tally
from app.surveys.schemas import LocalizedText, Questionnaire
from tests.factories import small_questionnaire

KEEP = Weighting(Fraction(1))
HALF = Weighting(Fraction(1, 2))
EXCLUDE = Weighting(None)


def pooled_questionnaire() -> Questionnaire:
    """Attitude pools courtesy (five levels) and patience (three levels); speed is efficiency;
    overall is reported but not scored. Answers are encoded in this order."""
    return small_questionnaire(
        rater_groups=[{"key": "citizens", "name": {"zh": "群众", "en": "Citizens"}}],
        items=[
            {
                "id": "courtesy",
                "dimension": "attitude",
                "scale": "five_level",
                "text": {"zh": "态度热情", "en": "Courteous"},
            },
            {
                "id": "patience",
                "dimension": "attitude",
                "scale": "three_level",
                "text": {"zh": "耐心细致", "en": "Patient"},
            },
            {
                "id": "speed",
                "dimension": "efficiency",
                "scale": "five_level",
                "text": {"zh": "办事快捷", "en": "Quick"},
            },
            {
                "id": "overall",
                "dimension": "attitude",
                "scale": "five_level",
                "scored": False,
                "text": {"zh": "总体印象", "en": "Overall"},
            },
        ],
    )


# Scores: "4232": (80 + 70 + 60) / 3 = 70, twice; "5350": (100 + 100 + 100) / 3 = 100;
# "0214": (70 + 20) / 2 = 45; "1111", flagged, twice: (20 + 30 + 20) / 3 = 70/3.
ROWS: list[AnswerRow] = [
    (1, 10, "4232", 0, 2),
    (1, 10, "5350", 0, 1),
    (1, 10, "0214", 0, 1),
    (1, 10, "1111", STRAIGHT_LINING, 1),
    (1, 10, "1111", STRAIGHT_LINING | TOO_FAST, 1),
]


def figures(weighting: Weighting, trim_share: Fraction = Fraction(0)) -> GroupFigures:
    questionnaire = pooled_questionnaire()
    cell = tally(questionnaire, ROWS).cells[(1, 10)]
    return scoring.group_figures(questionnaire, "citizens", cell, weighting, trim_share)


class TestTally:
    def test_flagged_evaluations_are_counted_by_kind_campaign_wide(self) -> None:
        counted = tally(pooled_questionnaire(), [*ROWS, (2, 10, "3333", TOO_FAST, 3)])

        assert counted.evaluations == 9
        assert counted.flagged == 5
        assert counted.flag_counts == {STRAIGHT_LINING: 2, TOO_FAST: 4}
        cell = counted.cells[(1, 10)]
        assert (cell.evaluations, cell.flagged_evaluations) == (4, 2)
        assert cell.scores == {Fraction(70): 2, Fraction(100): 1, Fraction(45): 1}
        assert cell.flagged_scores == {Fraction(70, 3): 2}
        assert cell.items["courtesy"].counts == {4: 2, 5: 1, 0: 1}
        assert cell.items["courtesy"].flagged_counts == {1: 2}


class TestWeighting:
    @pytest.mark.parametrize(
        ("handling", "expected"),
        [("keep", Fraction(1)), ("down_weight", Fraction(3, 10)), ("exclude", None)],
    )
    def test_policy_gives_the_flagged_weight(
        self, handling: str, expected: Fraction | None
    ) -> None:
        policy = QualityPolicy.model_validate({"handling": handling, "down_weight": 0.3})

        assert Weighting.of(policy).flagged_weight == expected


class TestItems:
    def test_keep_counts_and_weighs_flagged_evaluations_fully(self) -> None:
        courtesy = figures(KEEP).items[0]

        assert courtesy.item == "courtesy"
        assert (courtesy.respondents, courtesy.not_applicable) == (6, 1)
        assert courtesy.distribution == {5: 1, 4: 2, 3: 0, 2: 0, 1: 2}
        # 80, 80, 100, 20, 20: 300 / 5
        assert courtesy.estimate.mean == 60
        assert courtesy.satisfaction_rate == Fraction(3, 5)

    def test_down_weight_keeps_counts_and_weighs_means_and_rates(self) -> None:
        courtesy = figures(HALF).items[0]

        assert (courtesy.respondents, courtesy.not_applicable) == (6, 1)
        assert courtesy.distribution == {5: 1, 4: 2, 3: 0, 2: 0, 1: 2}
        # (80 + 80 + 100 + ½·20 + ½·20) / (3 + 1)
        assert courtesy.estimate.mean == 70
        assert courtesy.satisfaction_rate == Fraction(3, 4)

    def test_exclude_leaves_flagged_evaluations_out_of_counts_too(self) -> None:
        courtesy = figures(EXCLUDE).items[0]

        assert (courtesy.respondents, courtesy.not_applicable) == (4, 1)
        assert courtesy.distribution == {5: 1, 4: 2, 3: 0, 2: 0, 1: 0}
        assert courtesy.estimate.mean == Fraction(260, 3)
        assert courtesy.satisfaction_rate == 1


class TestDimensions:
    def test_a_dimension_pools_the_answers_to_its_scored_items(self) -> None:
        attitude, efficiency = figures(KEEP).dimensions

        assert attitude.dimension == "attitude"
        assert attitude.items == ("courtesy", "patience")  # overall is not scored
        # courtesy 80, 80, 100, 20, 20 (one 不了解); patience 70, 70, 100, 70, 30, 30
        assert attitude.answered == 11
        assert attitude.not_applicable == 1
        assert attitude.estimate.mean == Fraction(670, 11)
        # courtesy levels 4, 4, 5, 1, 1 and patience 2, 2, 3, 2, 1, 1, by level number
        assert attitude.distribution == {5: 1, 4: 2, 3: 1, 2: 3, 1: 4}
        # the top two levels of each item's own scale: 3 of courtesy's, 4 of patience's
        assert attitude.satisfaction_rate == Fraction(7, 11)
        assert efficiency.items == ("speed",)
        assert efficiency.estimate.mean == figures(KEEP).items[2].estimate.mean

    def test_pooled_figures_follow_the_quality_policy(self) -> None:
        assert figures(HALF).dimensions[0].estimate.mean == Fraction(620, 9)
        excluded = figures(EXCLUDE).dimensions[0]
        assert excluded.estimate.mean == Fraction(570, 7)
        assert excluded.answered == 7


class TestGroupScore:
    def test_score_is_the_mean_of_evaluation_scores(self) -> None:
        kept = figures(KEEP)

        assert kept.evaluations == 6
        assert kept.scored_evaluations == 6
        # (70 + 70 + 100 + 45 + 70/3 + 70/3) / 6
        assert kept.score.mean == Fraction(995, 18)
        assert not kept.unanimous

    def test_down_weighted_score_lies_between_the_kept_and_the_unflagged_score(self) -> None:
        down = figures(HALF).score.mean
        excluded = figures(EXCLUDE).score.mean
        kept = figures(KEEP).score.mean

        assert down == Fraction(185, 3)  # (285 + ½·140/3) / (4 + 1)
        assert excluded == Fraction(285, 4)
        assert kept is not None
        assert excluded is not None
        assert down is not None
        assert kept < down < excluded

    def test_trimmed_score_drops_a_share_of_weight_from_each_end(self) -> None:
        # Kept scores 70/3, 70/3, 45, 70, 70, 100, weight 6; a share of 1/4 drops 1.5 from each
        # end: one and a half of the two 70/3s, and from the top the 100 and half a 70.
        # Left: ½·70/3 + 45 + 1½·70, over a weight of 3.
        trimmed = figures(KEEP, Fraction(1, 4)).trimmed_score

        assert trimmed == (Fraction(70, 6) + 45 + 105) / 3

    def test_an_evaluation_of_only_dont_know_has_no_score(self) -> None:
        questionnaire = pooled_questionnaire()
        cell = tally(questionnaire, [(1, 10, "0000", 0, 3), (1, 10, "5355", 0, 1)]).cells[(1, 10)]

        result = scoring.group_figures(questionnaire, "citizens", cell, KEEP, Fraction(0))

        assert result.evaluations == 4
        assert result.scored_evaluations == 1
        assert result.score.mean == 100
        assert result.score.standard_deviation is None
        assert result.unanimous


class TestWeightedMean:
    def test_weights_renormalise_over_the_pairs_given(self) -> None:
        pairs = [(Fraction(3), Fraction(70)), (Fraction(1), Fraction(85))]

        assert scoring.weighted_mean(pairs) == Fraction(295, 4)
        assert scoring.weighted_mean(pairs[:1]) == 70
        assert scoring.weighted_mean([]) is None


class TestGrades:
    @pytest.mark.parametrize(
        ("composite", "grade"),
        [
            (100.0, "满意"),
            (85.0, "满意"),
            (84.99, "比较满意"),
            (75.0, "比较满意"),
            (74.99, "基本满意"),
            (60.0, "基本满意"),
            (59.99, "不满意"),
            (0.0, "不满意"),
        ],
    )
    def test_the_first_band_whose_minimum_is_reached(self, composite: float, grade: str) -> None:
        assert scoring.grade(composite, DEFAULT_GRADES).name.zh == grade

    @settings(max_examples=200, deadline=None)
    @given(
        minimums=st.lists(st.integers(1, 99), max_size=5, unique=True),
        composite=st.integers(0, 10000).map(lambda hundredths: hundredths / 100),
    )
    def test_grades_match_a_plain_reference(self, minimums: list[int], composite: float) -> None:
        bands = [
            GradeBand(name=LocalizedText(zh=f"档{minimum}", en=f"band {minimum}"), minimum=minimum)
            for minimum in [*sorted(minimums, reverse=True), 0]
        ]

        reached = max(band.minimum for band in bands if band.minimum <= composite)

        assert scoring.grade(composite, bands).minimum == reached


class TestRankings:
    def test_ties_share_a_rank_and_the_next_rank_skips(self) -> None:
        ranked = scoring.rankings(
            [
                ("窗口类", 80.0),
                ("窗口类", 73.75),
                ("窗口类", 73.75),
                ("窗口类", 50.0),
                ("执法类", 73.75),
            ]
        )

        assert ranked == [
            scoring.Ranking(rank=1, ranked_in_category=4, bottom=False),
            scoring.Ranking(rank=2, ranked_in_category=4, bottom=False),
            scoring.Ranking(rank=2, ranked_in_category=4, bottom=False),
            scoring.Ranking(rank=4, ranked_in_category=4, bottom=True),
            scoring.Ranking(rank=1, ranked_in_category=1, bottom=False),
        ]

    def test_targets_tied_for_last_place_are_all_at_the_bottom(self) -> None:
        ranked = scoring.rankings([("窗口类", 90.0), ("窗口类", 80.0), ("窗口类", 80.0)])

        assert [(r.rank, r.bottom) for r in ranked if r] == [(1, False), (2, True), (2, True)]

    def test_no_bottom_place_when_every_ranked_target_ties(self) -> None:
        ranked = scoring.rankings([("窗口类", 80.0), ("窗口类", 80.0), ("窗口类", None)])

        assert ranked == [
            scoring.Ranking(rank=1, ranked_in_category=2, bottom=False),
            scoring.Ranking(rank=1, ranked_in_category=2, bottom=False),
            None,
        ]

    def test_targets_without_a_composite_are_not_ranked_or_counted(self) -> None:
        ranked = scoring.rankings([("窗口类", None), ("窗口类", 70.0), ("窗口类", 60.0)])

        assert ranked == [
            None,
            scoring.Ranking(rank=1, ranked_in_category=2, bottom=False),
            scoring.Ranking(rank=2, ranked_in_category=2, bottom=True),
        ]

    @settings(max_examples=300, deadline=None)
    @given(
        entries=st.lists(
            st.tuples(
                st.sampled_from(["窗口类", "执法类", "综合类"]),
                st.none() | st.sampled_from([50.0, 60.5, 73.75, 80.0, 91.25]),
            ),
            max_size=12,
        )
    )
    def test_ranks_match_a_plain_reference(self, entries: list[tuple[str, float | None]]) -> None:
        ranked = scoring.rankings(entries)

        for (category, composite), ranking in zip(entries, ranked, strict=True):
            if composite is None:
                assert ranking is None
                continue
            peers = sorted(
                (score for other, score in entries if other == category and score is not None),
                reverse=True,
            )
            assert ranking is not None
            assert ranking.rank == peers.index(composite) + 1  # first place its score reaches
            assert ranking.ranked_in_category == len(peers)
            last_place = peers.index(peers[-1]) + 1
            assert ranking.bottom == (
                len(peers) >= 2 and peers[0] != peers[-1] and ranking.rank == last_place
            )
