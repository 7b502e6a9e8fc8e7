"""Statistics of exact weighted distributions, and the rounding published figures use.

A distribution is a mapping ``(value, weight) -> count``: ``count`` observations, each with
that value and that weight. Values are points (or 0/1 for a rate); the weight is 1 for an
evaluation that counts fully and the campaign's down-weight ``w`` for one flagged as low
quality. Sums are kept as fractions, so no order of the observations can move a figure; only
a square root and the t quantile are taken in (high-precision) floating point, at the end.
"""

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from functools import lru_cache

from scipy.stats import t as student_t  # type: ignore[import-untyped]  # scipy ships no stubs

Distribution = Mapping[tuple[Fraction, Fraction], int]  # (value, weight) -> observations
CONFIDENCE = Fraction(95, 100)
PRECISION = 40  # significant digits of square roots and interval bounds before rounding


def half_up(value: Fraction | Decimal, decimals: int) -> float:
    """Round an exact value half up (四舍五入), the rule official bulletins use."""
    exact = value if isinstance(value, Decimal) else _decimal(value)
    return float(exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def observations(distribution: Distribution) -> int:
    return sum(distribution.values())


def total_weight(distribution: Distribution) -> Fraction:
    """V1 = Σ wᵢ over the observations."""
    return sum((weight * count for (_, weight), count in distribution.items()), Fraction(0))


def effective_size(distribution: Distribution) -> Fraction | None:
    """Kish's effective number of observations, V1² / V2 with V2 = Σ wᵢ²; n when every wᵢ = 1."""
    squares = sum(
        (weight * weight * count for (_, weight), count in distribution.items()), Fraction(0)
    )
    if squares == 0:
        return None
    return total_weight(distribution) ** 2 / squares


def mean(distribution: Distribution) -> Fraction | None:
    """Σ wᵢxᵢ / Σ wᵢ; ``None`` without weight."""
    weight = total_weight(distribution)
    if weight == 0:
        return None
    weighted = sum(
        (value * weight * count for (value, weight), count in distribution.items()), Fraction(0)
    )
    return weighted / weight


def variance(distribution: Distribution) -> Fraction | None:
    """The sample variance, with weights read as reliability weights.

    s² = Σ wᵢ(xᵢ − x̄)² / (V1 − V2 / V1), with x̄ the weighted mean, V1 = Σ wᵢ and V2 = Σ wᵢ².
    With every weight 1 this is the usual Σ(xᵢ − x̄)² / (n − 1). ``None`` when the
    denominator is 0 (a single observation, or all the weight on one).
    """
    centre = mean(distribution)
    if centre is None:
        return None
    first = total_weight(distribution)
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


def standard_deviation(distribution: Distribution) -> Decimal | None:
    """The square root of :func:`variance` (sample, n − 1 with unit weights)."""
    exact = variance(distribution)
    if exact is None:
        return None
    with localcontext() as context:
        context.prec = PRECISION
        return _decimal(exact).sqrt()


def confidence_interval(
    distribution: Distribution, confidence: Fraction = CONFIDENCE
) -> tuple[Decimal, Decimal] | None:
    """The t interval of the mean: x̄ ± t(1 − α/2; n′ − 1) · s / √n′.

    n′ is the :func:`effective_size` (n with unit weights), s the :func:`standard_deviation`;
    the quantile is ``scipy.stats.t.ppf``, which takes the fractional degrees of freedom that
    down-weighted observations give. ``None`` when there is no standard deviation.
    """
    centre = mean(distribution)
    deviation = standard_deviation(distribution)
    size = effective_size(distribution)
    if centre is None or deviation is None or size is None or size <= 1:
        return None
    quantile = _t_quantile(float((1 + confidence) / 2), float(size - 1))
    with localcontext() as context:
        context.prec = PRECISION
        margin = Decimal(quantile) * deviation / _decimal(size).sqrt()
        middle = _decimal(centre)
        return middle - margin, middle + margin


def trimmed_mean(distribution: Distribution, trim_share: Fraction) -> Fraction | None:
    """The mean after dropping ``trim_share`` of the total weight from each end.

    Observations are sorted by value; from the lowest up, weight is removed until
    ``trim_share`` × V1 is gone, and the same from the highest down. Where the cut falls inside
    a value's weight, only the part beyond the cut is removed (so with five equal weights and
    a share of 0.1, half of the lowest and half of the highest observation are dropped).
    A share of 0 gives the plain weighted mean.
    """
    if not 0 <= trim_share < Fraction(1, 2):
        raise ValueError(f"trim share must be at least 0 and below 1/2, not {trim_share}")
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


def satisfaction_rate(satisfied_weight: Fraction, answered_weight: Fraction) -> Fraction | None:
    """The weighted share of answers in the top two levels; ``None`` without answers."""
    if answered_weight == 0:
        return None
    return satisfied_weight / answered_weight


@lru_cache(maxsize=1024)
def _t_quantile(probability: float, degrees_of_freedom: float) -> float:
    """Student's t quantile; remembered, as a campaign asks for the same few again and again."""
    return float(student_t.ppf(probability, degrees_of_freedom))


def _decimal(value: Fraction) -> Decimal:
    with localcontext() as context:
        context.prec = PRECISION
        return Decimal(value.numerator) / Decimal(value.denominator)
