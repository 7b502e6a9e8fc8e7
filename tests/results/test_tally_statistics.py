"""The statistics of tallied distributions, summed as integers, equal the same statistics summed
as fractions one observation at a time (the formulas as first written, kept here as the
reference), on random weighted distributions with awkward values and weights."""

from decimal import Decimal, localcontext
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import t as student_t  # type: ignore[import-untyped]

from app.results import statistics
from app.results.statistics import PRECISION, Distribution

FRACTIONS = st.fractions(min_value=-1000, max_value=1000, max_denominator=60)
WEIGHTS = st.sampled_from([Fraction(1), Fraction(1, 2), Fraction(3, 10), Fraction(7, 9)])
DISTRIBUTIONS: st.SearchStrategy[Distribution] = st.dictionaries(
    st.tuples(FRACTIONS, WEIGHTS), st.integers(0, 50), max_size=30
)
SHARES = st.sampled_from([Fraction(0), Fraction(1, 20), Fraction(1, 10), Fraction(1, 4)])


def decimal(value: Fraction) -> Decimal:
    with localcontext() as context:
        context.prec = PRECISION
        return Decimal(value.numerator) / Decimal(value.denominator)


def reference_total(distribution: Distribution) -> Fraction:
    return sum((weight * count for (_, weight), count in distribution.items()), Fraction(0))


def reference_mean(distribution: Distribution) -> Fraction | None:
    weight = reference_total(distribution)
    if weight == 0:
        return None
    weighted = sum(
        (value * weight * count for (value, weight), count in distribution.items()), Fraction(0)
    )
    return weighted / weight


def reference_variance(distribution: Distribution) -> Fraction | None:
    centre = reference_mean(distribution)
    if centre is None:
        return None
    first = reference_total(distribution)
    second = sum(
        (weight * weight * count for (_, weight), count in distribution.items()), Fraction(0)
    )
    denominator = first - second / first
    if denominator <= 0:
        return None
    spread = sum(
        (weight * count * (value - centre) ** 2 for (value, weight), count in distribution.items()),
        Fraction(0),
    )
    return spread / denominator


def reference_effective_size(distribution: Distribution) -> Fraction | None:
    squares = sum(
        (weight * weight * count for (_, weight), count in distribution.items()), Fraction(0)
    )
    if squares == 0:
        return None
    return reference_total(distribution) ** 2 / squares


def reference_interval(distribution: Distribution) -> tuple[Decimal, Decimal] | None:
    centre = reference_mean(distribution)
    variance = reference_variance(distribution)
    size = reference_effective_size(distribution)
    if centre is None or variance is None or size is None or size <= 1:
        return None
    with localcontext() as context:
        context.prec = PRECISION
        deviation = decimal(variance).sqrt()
        quantile = float(student_t.ppf(0.975, float(size - 1)))
        margin = Decimal(quantile) * deviation / decimal(size).sqrt()
        return decimal(centre) - margin, decimal(centre) + margin


def reference_trimmed_mean(distribution: Distribution, trim_share: Fraction) -> Fraction | None:
    by_value: dict[Fraction, Fraction] = {}
    for (value, weight), count in distribution.items():
        by_value[value] = by_value.get(value, Fraction(0)) + weight * count
    total = sum(by_value.values(), Fraction(0))
    if total == 0:
        return None
    cut = trim_share * total
    kept = dict(by_value)
    for values in (sorted(kept), sorted(kept, reverse=True)):
        remaining = cut
        for value in values:
            if remaining == 0:
                break
            removed = min(remaining, kept[value])
            kept[value] -= removed
            remaining -= removed
    kept_weight = sum(kept.values(), Fraction(0))
    return sum((value * weight for value, weight in kept.items()), Fraction(0)) / kept_weight


class TestSameAsSummingFractions:
    @settings(max_examples=300, deadline=None)
    @given(distribution=DISTRIBUTIONS)
    def test_mean_variance_and_effective_size(self, distribution: Distribution) -> None:
        assert statistics.total_weight(distribution) == reference_total(distribution)
        assert statistics.mean(distribution) == reference_mean(distribution)
        assert statistics.variance(distribution) == reference_variance(distribution)
        assert statistics.effective_size(distribution) == reference_effective_size(distribution)

    @settings(max_examples=300, deadline=None)
    @given(distribution=DISTRIBUTIONS)
    def test_deviation_and_interval(self, distribution: Distribution) -> None:
        variance = reference_variance(distribution)
        expected_deviation = None
        if variance is not None:
            with localcontext() as context:
                context.prec = PRECISION
                expected_deviation = decimal(variance).sqrt()

        mean, deviation, interval = statistics.summary(distribution)

        assert mean == reference_mean(distribution)
        assert deviation == expected_deviation == statistics.standard_deviation(distribution)
        assert interval == reference_interval(distribution)
        assert statistics.confidence_interval(distribution) == interval

    @settings(max_examples=300, deadline=None)
    @given(distribution=DISTRIBUTIONS, share=SHARES)
    def test_trimmed_mean(self, distribution: Distribution, share: Fraction) -> None:
        assert statistics.trimmed_mean(distribution, share) == reference_trimmed_mean(
            distribution, share
        )
