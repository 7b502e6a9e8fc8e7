"""Statistics of exact weighted distributions, worked out by hand, and their properties.

A distribution maps (value, weight) to a number of observations. The t quantiles used by hand
are t(0.975; 2) = 4.3027, t(0.975; 3) = 3.1824 and t(0.975; 4) = 2.7764.
"""

import math
import statistics as reference
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import t as student_t  # type: ignore[import-untyped]

from app.results import statistics
from app.results.statistics import Distribution, half_up

ONE = Fraction(1)
HALF = Fraction(1, 2)


def unweighted(*values: float) -> dict[tuple[Fraction, Fraction], int]:
    distribution: dict[tuple[Fraction, Fraction], int] = {}
    for value in values:
        key = (Fraction(value), ONE)
        distribution[key] = distribution.get(key, 0) + 1
    return distribution


def rounded(value: Decimal | Fraction | None, decimals: int = 2) -> float:
    assert value is not None
    return half_up(value, decimals)


class TestMeanDeviationInterval:
    def test_three_unit_weight_observations(self) -> None:
        distribution = unweighted(100, 80, 40)

        # Mean 220 / 3; squared deviations (80/3)² + (20/3)² + (100/3)² = 5600/3, over n − 1 = 2.
        assert statistics.mean(distribution) == Fraction(220, 3)
        assert statistics.variance(distribution) == Fraction(2800, 3)
        assert rounded(statistics.standard_deviation(distribution)) == 30.55
        # 73.33 ± 4.3027 × 30.5505 / √3 = 73.33 ± 75.89
        interval = statistics.confidence_interval(distribution)
        assert interval is not None
        assert (rounded(interval[0]), rounded(interval[1])) == (-2.56, 149.22)

    def test_five_scores(self) -> None:
        distribution = unweighted(100, 90, 75, 55, 30)

        # Mean 70; squared deviations 900 + 400 + 25 + 225 + 1600 = 3150, over 4: 787.5.
        assert statistics.mean(distribution) == 70
        assert statistics.variance(distribution) == Fraction(1575, 2)
        assert rounded(statistics.standard_deviation(distribution)) == 28.06
        # 70 ± 2.7764 × 28.0624 / √5 = 70 ± 34.84
        interval = statistics.confidence_interval(distribution)
        assert interval is not None
        assert (rounded(interval[0]), rounded(interval[1])) == (35.16, 104.84)

    def test_equal_values_have_no_spread(self) -> None:
        distribution = unweighted(80, 80, 80)

        assert statistics.standard_deviation(distribution) == 0
        assert statistics.confidence_interval(distribution) == (Decimal(80), Decimal(80))

    def test_one_observation_has_a_mean_but_no_deviation_or_interval(self) -> None:
        distribution = unweighted(60)

        assert statistics.mean(distribution) == 60
        assert statistics.variance(distribution) is None
        assert statistics.standard_deviation(distribution) is None
        assert statistics.confidence_interval(distribution) is None

    def test_no_observations(self) -> None:
        assert statistics.mean({}) is None
        assert statistics.variance({}) is None
        assert statistics.confidence_interval({}) is None
        assert statistics.trimmed_mean({}, Fraction(1, 10)) is None


class TestWeights:
    def test_weighted_mean_variance_and_effective_size(self) -> None:
        """100, 80, 80, 40 at weight 1 and two 20s at weight 1/2.

        V1 = 5, V2 = 4 + 2 × 1/4 = 4.5. Mean (100 + 80 + 80 + 40 + 20) / 5 = 64.
        Σ w(x − 64)² = 1296 + 256 + 256 + 576 + 2 × ½ × 1936 = 4320; over V1 − V2/V1 = 4.1.
        Effective size 25 / 4.5 = 50/9.
        """
        distribution = {
            (Fraction(100), ONE): 1,
            (Fraction(80), ONE): 2,
            (Fraction(40), ONE): 1,
            (Fraction(20), HALF): 2,
        }

        assert statistics.total_weight(distribution) == 5
        assert statistics.mean(distribution) == 64
        assert statistics.variance(distribution) == Fraction(4320) / Fraction(41, 10)
        assert statistics.effective_size(distribution) == Fraction(50, 9)
        assert rounded(statistics.standard_deviation(distribution)) == 32.46
        interval = statistics.confidence_interval(distribution)
        assert interval is not None
        margin = student_t.ppf(0.975, 50 / 9 - 1) * math.sqrt(4320 / 4.1) / math.sqrt(50 / 9)
        assert float(interval[0]) == pytest.approx(64 - margin, abs=1e-9)
        assert float(interval[1]) == pytest.approx(64 + margin, abs=1e-9)

    def test_unit_weights_give_the_usual_sample_statistics(self) -> None:
        values = [100, 80, 80, 60, 20, 20, 40]

        distribution = unweighted(*values)

        assert statistics.variance(distribution) == reference.variance(
            [Fraction(value) for value in values]
        )
        assert statistics.effective_size(distribution) == len(values)


class TestTrimmedMean:
    SCORES = (20, 80, 80, 100, 100)  # mean 76

    @pytest.mark.parametrize(
        ("share", "expected"),
        [
            # nothing dropped: the plain mean
            (Fraction(0), Fraction(76)),
            # 0.5 of the weight from each end: (½·20 + 80 + 80 + 100 + ½·100) / 4
            (Fraction(1, 10), Fraction(80)),
            # one whole observation from each end: (80 + 80 + 100) / 3
            (Fraction(2, 10), Fraction(260, 3)),
            # 1.5 from each end: 20 and half an 80 go, one and a half 100s go: (1½·80 + ½·100) / 2
            (Fraction(3, 10), Fraction(85)),
        ],
    )
    def test_drops_the_share_of_weight_from_each_end_with_partial_weights(
        self, share: Fraction, expected: Fraction
    ) -> None:
        assert statistics.trimmed_mean(unweighted(*self.SCORES), share) == expected

    def test_weights_decide_how_much_is_dropped(self) -> None:
        """20 at weight ½, 60 and 100 at weight 1: V1 = 2.5, a share of 0.2 drops 0.5 of weight
        from each end: all of the 20, and half of the 100. (60 + ½·100) / 1.5."""
        distribution = {(Fraction(20), HALF): 1, (Fraction(60), ONE): 1, (Fraction(100), ONE): 1}

        assert statistics.trimmed_mean(distribution, Fraction(1, 5)) == Fraction(220, 3)

    @pytest.mark.parametrize("share", [Fraction(1, 2), Fraction(-1, 10)])
    def test_share_must_leave_something(self, share: Fraction) -> None:
        with pytest.raises(ValueError, match="trim share"):
            statistics.trimmed_mean(unweighted(1, 2, 3), share)


class TestHalfUp:
    @pytest.mark.parametrize(
        ("value", "decimals", "expected"),
        [
            (Fraction(385, 8), 2, 48.13),
            (Decimal("0.125"), 2, 0.13),
            (Decimal("-0.125"), 2, -0.13),
            (Fraction(2, 3), 4, 0.6667),
        ],
    )
    def test_rounds_exact_values_half_up(
        self, value: Fraction | Decimal, decimals: int, expected: float
    ) -> None:
        assert half_up(value, decimals) == expected


VALUES = st.sampled_from([Fraction(value) for value in (0, 20, 30, 40, 60, 70, 80, 100)])
WEIGHTS = st.sampled_from([ONE, HALF, Fraction(1, 4), Fraction(3, 4)])
DISTRIBUTIONS: st.SearchStrategy[Distribution] = st.dictionaries(
    st.tuples(VALUES, WEIGHTS), st.integers(1, 4), min_size=1, max_size=8
)


class TestProperties:
    @settings(max_examples=200, deadline=None)
    @given(distribution=DISTRIBUTIONS, scale=st.sampled_from([HALF, Fraction(3), Fraction(7, 4)]))
    def test_scaling_every_weight_changes_no_statistic(
        self, distribution: Distribution, scale: Fraction
    ) -> None:
        scaled = {(value, weight * scale): count for (value, weight), count in distribution.items()}

        assert statistics.mean(scaled) == statistics.mean(distribution)
        assert statistics.variance(scaled) == statistics.variance(distribution)
        assert statistics.effective_size(scaled) == statistics.effective_size(distribution)
        share = Fraction(1, 10)
        assert statistics.trimmed_mean(scaled, share) == statistics.trimmed_mean(
            distribution, share
        )

    @settings(max_examples=200, deadline=None)
    @given(distribution=DISTRIBUTIONS, share=st.sampled_from([Fraction(n, 20) for n in range(10)]))
    def test_means_lie_within_the_values(self, distribution: Distribution, share: Fraction) -> None:
        values = [value for value, _ in distribution]
        mean = statistics.mean(distribution)
        trimmed = statistics.trimmed_mean(distribution, share)

        assert mean is not None
        assert trimmed is not None
        assert min(values) <= mean <= max(values)
        assert min(values) <= trimmed <= max(values)
        interval = statistics.confidence_interval(distribution)
        if interval is not None:
            assert interval[0] <= Decimal(mean.numerator) / mean.denominator <= interval[1]

    @settings(max_examples=200, deadline=None)
    @given(distribution=DISTRIBUTIONS)
    def test_trimming_nothing_is_the_plain_mean(self, distribution: Distribution) -> None:
        assert statistics.trimmed_mean(distribution, Fraction(0)) == statistics.mean(distribution)

    @settings(max_examples=200, deadline=None)
    @given(
        kept=st.lists(VALUES, min_size=1, max_size=8),
        flagged=st.lists(VALUES, min_size=1, max_size=8),
        weight=st.sampled_from([Fraction(1, 10), HALF, Fraction(9, 10)]),
    )
    def test_down_weighting_moves_the_mean_between_the_full_and_the_unflagged_mean(
        self, kept: list[Fraction], flagged: list[Fraction], weight: Fraction
    ) -> None:
        def with_flagged_at(flagged_weight: Fraction) -> Distribution:
            distribution: dict[tuple[Fraction, Fraction], int] = {}
            for value, value_weight in [
                *((value, ONE) for value in kept),
                *((value, flagged_weight) for value in flagged),
            ]:
                key = (value, value_weight)
                distribution[key] = distribution.get(key, 0) + 1
            return distribution

        unflagged_mean = Fraction(sum(kept), len(kept))
        full_mean = statistics.mean(with_flagged_at(ONE))
        down_weighted = statistics.mean(with_flagged_at(weight))

        assert full_mean is not None
        assert down_weighted is not None
        low, high = sorted([unflagged_mean, full_mean])
        assert low <= down_weighted <= high
        assert abs(down_weighted - unflagged_mean) <= abs(full_mean - unflagged_mean)
