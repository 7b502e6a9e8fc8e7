"""Statistics of exact weighted distributions, and the rounding published figures use.

A distribution is a mapping ``(value, weight) -> count``: ``count`` observations, each with
that value and that weight. Values are points (or 0/1 for a rate); the weight is 1 for an
evaluation that counts fully and the campaign's down-weight ``w`` for one flagged as low
quality. Sums are kept as fractions, so no order of the observations can move a figure; only
a square root and the t quantile are taken in (high-precision) floating point, at the end.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from functools import lru_cache

from scipy.special import stdtrit  # type: ignore[import-untyped]  # scipy ships no stubs

Distribution = Mapping[tuple[Fraction, Fraction], int]  # (value, weight) -> observations
CONFIDENCE = Fraction(95, 100)
PRECISION = 40  # significant digits of square roots and interval bounds before rounding


def half_up(value: Fraction | Decimal, decimals: int) -> float:
    """Round an exact value half up (四舍五入), the rule official bulletins use."""
    exact = value if isinstance(value, Decimal) else _decimal(value)
    return float(exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def observations(distribution: Distribution) -> int:
    return sum(distribution.values())


@dataclass(frozen=True)
class _Sums:
    """The sums every statistic here rests on, as integers: exact and fast.

    Each value times ``value_scale`` and each weight times ``weight_scale`` (the least common
    multiples of their denominators) is an integer X or W, so with counts c: ``weights`` is
    Σ W·c, ``weighted`` Σ W·X·c, ``squares`` Σ W·X²·c, ``weight_squares`` Σ W²·c. Python
    integers never round, so the fractions built from them are the ones summing fractions
    gives, at a small part of the cost (a campaign of a million evaluations has tens of
    thousands of distinct scores to sum, several times each).
    """

    value_scale: int
    weight_scale: int
    weights: int
    weighted: int
    squares: int
    weight_squares: int

    @classmethod
    def of(cls, distribution: Distribution) -> "_Sums":
        value_scale = weight_scale = 1
        for value, weight in distribution:
            value_scale = math.lcm(value_scale, value.denominator)
            weight_scale = math.lcm(weight_scale, weight.denominator)
        weights = weighted = squares = weight_squares = 0
        for (value, weight), count in distribution.items():
            scaled_value = value.numerator * (value_scale // value.denominator)
            scaled_weight = weight.numerator * (weight_scale // weight.denominator) * count
            weights += scaled_weight
            weighted += scaled_weight * scaled_value
            squares += scaled_weight * scaled_value * scaled_value
            weight_squares += (
                scaled_weight * weight.numerator * (weight_scale // weight.denominator)
            )
        return cls(value_scale, weight_scale, weights, weighted, squares, weight_squares)

    @property
    def total_weight(self) -> Fraction:
        return Fraction(self.weights, self.weight_scale)

    @property
    def mean(self) -> Fraction | None:
        if self.weights == 0:
            return None
        return Fraction(self.weighted, self.value_scale * self.weights)

    @property
    def effective_size(self) -> Fraction | None:
        if self.weight_squares == 0:
            return None
        return Fraction(self.weights * self.weights, self.weight_squares)

    @property
    def variance(self) -> Fraction | None:
        """Σ wᵢ(xᵢ − x̄)² = Σ wᵢxᵢ² − (Σ wᵢxᵢ)² / V1, over V1 − V2 / V1."""
        if self.weights == 0:
            return None
        denominator = Fraction(
            self.weights * self.weights - self.weight_squares, self.weight_scale * self.weights
        )
        if denominator <= 0:
            return None
        spread = Fraction(
            self.squares * self.weights - self.weighted * self.weighted,
            self.weight_scale * self.value_scale * self.value_scale * self.weights,
        )
        return spread / denominator


def total_weight(distribution: Distribution) -> Fraction:
    """V1 = Σ wᵢ over the observations."""
    return _Sums.of(distribution).total_weight


def effective_size(distribution: Distribution) -> Fraction | None:
    """Kish's effective number of observations, V1² / V2 with V2 = Σ wᵢ²; n when every wᵢ = 1."""
    return _Sums.of(distribution).effective_size


def mean(distribution: Distribution) -> Fraction | None:
    """Σ wᵢxᵢ / Σ wᵢ; ``None`` without weight."""
    return _Sums.of(distribution).mean


def variance(distribution: Distribution) -> Fraction | None:
    """The sample variance, with weights read as reliability weights.

    s² = Σ wᵢ(xᵢ − x̄)² / (V1 − V2 / V1), with x̄ the weighted mean, V1 = Σ wᵢ and V2 = Σ wᵢ².
    With every weight 1 this is the usual Σ(xᵢ − x̄)² / (n − 1). ``None`` when the
    denominator is 0 (a single observation, or all the weight on one).
    """
    return _Sums.of(distribution).variance


def standard_deviation(distribution: Distribution) -> Decimal | None:
    """The square root of :func:`variance` (sample, n − 1 with unit weights)."""
    return _square_root(_Sums.of(distribution).variance)


def confidence_interval(
    distribution: Distribution, confidence: Fraction = CONFIDENCE
) -> tuple[Decimal, Decimal] | None:
    """The t interval of the mean: x̄ ± t(1 − α/2; n′ − 1) · s / √n′.

    n′ is the :func:`effective_size` (n with unit weights), s the :func:`standard_deviation`;
    the quantile is Student's t (``scipy.special.stdtrit``, as ``scipy.stats.t.ppf``), which
    takes the fractional degrees of freedom that down-weighted observations give. ``None`` when
    there is no standard deviation.
    """
    return summary(distribution, confidence)[2]


def summary(
    distribution: Distribution, confidence: Fraction = CONFIDENCE
) -> tuple[Fraction | None, Decimal | None, tuple[Decimal, Decimal] | None]:
    """:func:`mean`, :func:`standard_deviation` and :func:`confidence_interval` at once,
    from one pass over the distribution."""
    sums = _Sums.of(distribution)
    centre = sums.mean
    deviation = _square_root(sums.variance)
    size = sums.effective_size
    if centre is None or deviation is None or size is None or size <= 1:
        return centre, deviation, None
    quantile = _t_quantile(float((1 + confidence) / 2), float(size - 1))
    with localcontext() as context:
        context.prec = PRECISION
        margin = Decimal(quantile) * deviation / _decimal(size).sqrt()
        middle = _decimal(centre)
        return centre, deviation, (middle - margin, middle + margin)


def trimmed_mean(distribution: Distribution, trim_share: Fraction) -> Fraction | None:
    """The mean after dropping ``trim_share`` of the total weight from each end.

    Observations are sorted by value; from the lowest up, weight is removed until
    ``trim_share`` × V1 is gone, and the same from the highest down. Where the cut falls inside
    a value's weight, only the part beyond the cut is removed (so with five equal weights and
    a share of 0.1, half of the lowest and half of the highest observation are dropped).
    A share of 0 gives the plain weighted mean.

    Computed on integers: values times their common denominator, weights times theirs and the
    share's, so the cut falls exactly where it falls on the fractions.
    """
    if not 0 <= trim_share < Fraction(1, 2):
        raise ValueError(f"trim share must be at least 0 and below 1/2, not {trim_share}")
    value_scale = weight_scale = 1
    for value, weight in distribution:
        value_scale = math.lcm(value_scale, value.denominator)
        weight_scale = math.lcm(weight_scale, weight.denominator)
    weight_scale *= trim_share.denominator
    by_value: dict[int, int] = {}
    for (value, weight), count in distribution.items():
        scaled_value = value.numerator * (value_scale // value.denominator)
        scaled_weight = weight.numerator * (weight_scale // weight.denominator) * count
        by_value[scaled_value] = by_value.get(scaled_value, 0) + scaled_weight
    total = sum(by_value.values())
    if total == 0:
        return None
    cut = trim_share.numerator * (total // trim_share.denominator)  # total is a multiple
    kept = dict(by_value)
    for ordered in (sorted(kept), sorted(kept, reverse=True)):
        remaining = cut
        for scaled in ordered:
            if remaining == 0:
                break
            removed = min(remaining, kept[scaled])
            kept[scaled] -= removed
            remaining -= removed
    kept_weight = sum(kept.values())
    return Fraction(
        sum(scaled * weight for scaled, weight in kept.items()), value_scale * kept_weight
    )


def satisfaction_rate(satisfied_weight: Fraction, answered_weight: Fraction) -> Fraction | None:
    """The weighted share of answers in the top two levels; ``None`` without answers."""
    if answered_weight == 0:
        return None
    return satisfied_weight / answered_weight


@lru_cache(maxsize=1024)
def _t_quantile(probability: float, degrees_of_freedom: float) -> float:
    """Student's t quantile; remembered, as a campaign asks for the same few again and again.

    ``scipy.special.stdtrit`` is what ``scipy.stats.t.ppf`` computes, without the checking and
    broadcasting around it that cost some hundred microseconds a call.
    """
    return float(stdtrit(degrees_of_freedom, probability))


def _square_root(value: Fraction | None) -> Decimal | None:
    if value is None:
        return None
    with localcontext() as context:
        context.prec = PRECISION
        return _decimal(value).sqrt()


def _decimal(value: Fraction) -> Decimal:
    with localcontext() as context:
        context.prec = PRECISION
        return Decimal(value.numerator) / Decimal(value.denominator)
