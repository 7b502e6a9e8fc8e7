"""The optional differentially private release of a campaign's results (policy ``privacy``).

What is protected, the unit of privacy: one rater's whole ballot. A code belongs to one rater
group and can rate every target of the campaign once, answering every item its group is shown
(不了解 included), so one ballot is up to T evaluations, T the campaign's targets. The
guarantee is ε-differential privacy for adding or removing one ballot: whatever else a
reader knows, the release tells little about whether, and how, any one person rated.

What is released: the vector of every count a campaign publishes (:mod:`app.results.tables`:
E, E[t], E[t,g], and per item of the group's questionnaire one cell per level and one for
不了解), together with the low-quality counts (straight-lining, too fast, flagged), each plus
discrete Laplace noise from OpenDP's vector mechanism, calibrated once for the whole vector:
``make_laplace`` on ``vector_domain(atom_domain(i64))`` with the ``l1_distance`` metric, its
scale found by ``binary_search_param`` so that inputs ``sensitivity`` apart give outputs
ε-close (scale = sensitivity / ε). Sampling is OpenDP's, from the operating system's
cryptographic generator, with no seed.

The sensitivity (L1) of the count vector, per ballot, is
``T × max over groups g of (3 + I_g + Q)``: for every target rated, +1 to E, E[t] and E[t,g],
+1 to one cell (a level or 不了解) of each of the I_g items group g is shown, and +1 to each of
the Q = 3 low-quality counts it may be flagged in (Q = 0 when the policy excludes flagged
evaluations: a flagged evaluation then enters only those three, an unflagged one only the
others, and 3 + I_g ≥ 3).

Everything published is computed from the noisy counts (post-processing, which costs no
privacy): counts below 0 are shown as 0; item and dimension means, deviations, intervals,
rates and distributions from the noisy distributions and the items' points; a group's score
as the mean of its scored items' published (noisy) means; composites, grades and ranks from
those. A group score's deviation, interval and trimmed score need each evaluation's score,
which no count gives, and are not published; nor can low-quality evaluations be down-weighted
(the noisy counts do not tell flagged from unflagged).

Disclosure control comes first and decides, on the true counts, which cells are withheld;
withheld cells stay withheld. Which cells are withheld (and whether a group's score is) is
therefore not covered by ε: it is governed by the disclosure rules, as without noise. The noise
is drawn for the whole vector, withheld cells included, so its shape never depends on the data;
only the shown cells are kept.

Why the release is drawn once and stored: noise redrawn on every page view or export would let
anyone average the draws and recover the true counts (n draws shrink the noise by √n, and
every view would spend ε again). So the release is drawn once, when the campaign is published
(:func:`app.results.service.fix_private_release`, called by the publish transition), and
stored with the campaign (``Campaign.policy[PRIVATE_RELEASE_KEY]``: the results policy is locked
once published, so the release and the policy it was drawn under stay together, with no new
table). Every later page, export and API response is built from that stored release. Drawing
noise from a keyed hash instead would also fix it, but outside a maintained DP library's
sampler. A cell the stored release does not hold is withheld rather than shown exactly (a
change of the disclosure rules after publication cannot publish a true count). Before
publication the office's own results are the exact, disclosure-controlled ones.
"""

import importlib.metadata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

from app.ballots.models import STRAIGHT_LINING, TOO_FAST
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign
from app.campaigns.policy import ResultsPolicy
from app.i18n import N_, Locale, translations_for
from app.results import layout, scoring, statistics
from app.results.disclosure import Suppression
from app.results.schemas import CampaignResults, PrivacyInfo
from app.results.tables import CellKey, CountTables, answer_key, group_key
from app.results.tally import CampaignTally, exact
from app.surveys.schemas import SATISFIED_LEVEL_COUNT, Item, Questionnaire

MECHANISM = "discrete_laplace"
EVALUATION_CELLS = 3  # E, E[t], E[t,g]: one evaluation adds 1 to each
FLAGGED = "flagged"
QUALITY_KEYS: tuple[CellKey, ...] = (
    ("quality", STRAIGHT_LINING),
    ("quality", TOO_FAST),
    ("quality", FLAGGED),
)
WITHHELD_FROM_RELEASE = "release"  # a shown cell the stored release does not hold

MECHANISM_TEXT = N_(
    "Discrete Laplace noise of scale %(scale)s, drawn once at publication and kept, added to "
    "every published count, the counts of low-quality evaluations included; a noisy count below "
    "0 is shown as 0, and noisy counts need not add up. Means, standard deviations, intervals, "
    "satisfaction rates and distributions are computed from the noisy counts; a rater group's "
    "score is the mean of its scored questions' published means, without a standard deviation, "
    "interval or trimmed score."
)
DOWN_WEIGHT_TEXT = N_(
    "Low-quality evaluations count fully in the noisy figures: the noisy counts do not tell "
    "them apart, so they cannot be down-weighted."
)
UNIT_TEXT = N_(
    "One rater's whole ballot: whether one person rated or not, with every evaluation made "
    "with their code (up to %(targets)s departments, every question they were shown)."
)

# Noisy counts from true counts and the noise scale; OpenDP's sampler in production.
Sampler = Callable[[Sequence[int], float], list[int]]


class PrivateReleaseMissing(RuntimeError):
    """A published campaign with a private release has none stored: never show exact figures."""


@dataclass(frozen=True)
class Calibration:
    epsilon: float
    sensitivity: int  # L1, per ballot
    scale: float


@dataclass(frozen=True)
class PrivateRelease:
    """The noisy counts drawn at publication, for the cells shown then."""

    calibration: Calibration
    library: str
    counts: dict[CellKey, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "mechanism": MECHANISM,
            "library": self.library,
            "epsilon": self.calibration.epsilon,
            "sensitivity": self.calibration.sensitivity,
            "scale": self.calibration.scale,
            "counts": [[list(key), value] for key, value in self.counts.items()],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "PrivateRelease":
        return cls(
            calibration=Calibration(
                epsilon=float(data["epsilon"]),
                sensitivity=int(data["sensitivity"]),
                scale=float(data["scale"]),
            ),
            library=str(data["library"]),
            counts={tuple(key): int(value) for key, value in data["counts"]},
        )


# Calibration and sampling, with OpenDP


def library_name() -> str:
    return f"OpenDP {importlib.metadata.version('opendp')}"


def _laplace(scale: float) -> Any:
    """OpenDP's (discrete) Laplace mechanism on integer count vectors under the L1 metric."""
    import opendp.prelude as dp  # a heavy import, needed only when publishing

    dp.enable_features("contrib")
    space = dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64")
    return dp.m.make_laplace(*space, scale=scale)


@lru_cache
def calibrate(epsilon: float, sensitivity: int) -> Calibration:
    """The smallest noise scale for which OpenDP's privacy map gives ε at this sensitivity
    (a binary search over OpenDP's mechanism, so kept once found)."""
    import opendp.prelude as dp

    d_in = max(sensitivity, 1)  # a campaign without targets publishes nothing anyway
    scale = float(dp.binary_search_param(_laplace, d_in=d_in, d_out=epsilon))
    if not _laplace(scale).check(d_in, epsilon):
        raise ValueError(f"OpenDP found no scale giving ε = {epsilon} at sensitivity {d_in}")
    return Calibration(epsilon=epsilon, sensitivity=sensitivity, scale=scale)


def opendp_sampler(counts: Sequence[int], scale: float) -> list[int]:
    """Counts plus discrete Laplace noise of ``scale``, from OpenDP's cryptographic sampler."""
    return [int(value) for value in _laplace(scale)(list(counts))]


def sensitivity(campaign: Campaign, questionnaire: Questionnaire, policy: ResultsPolicy) -> int:
    """The most one ballot can move the released count vector, in L1 (see the module's doc)."""
    quality_cells = 0 if policy.quality.handling == "exclude" else len(QUALITY_KEYS)
    per_target = max(
        (
            EVALUATION_CELLS + len(questionnaire.items_for(group.key)) + quality_cells
            for group in campaign.rater_groups
        ),
        default=0,
    )
    return len(campaign.targets) * per_target


# Drawing and storing the release


def true_counts(tables: CountTables, counted: CampaignTally) -> dict[CellKey, int]:
    """The released count vector, before noise: every table cell, then the quality counts."""
    return {
        **tables.values,
        QUALITY_KEYS[0]: counted.flag_counts.get(STRAIGHT_LINING, 0),
        QUALITY_KEYS[1]: counted.flag_counts.get(TOO_FAST, 0),
        QUALITY_KEYS[2]: counted.flagged,
    }


def draw_release(
    campaign: Campaign,
    questionnaire: Questionnaire,
    policy: ResultsPolicy,
    counted: CampaignTally,
    tables: CountTables,
    suppression: Suppression,
    sampler: Sampler = opendp_sampler,
) -> PrivateRelease:
    """Noise on the whole count vector; the cells disclosure control shows, kept, at least 0."""
    calibration = calibrate(policy.privacy.epsilon, sensitivity(campaign, questionnaire, policy))
    values = true_counts(tables, counted)
    keys = list(values)
    noisy = sampler([values[key] for key in keys], calibration.scale)
    if len(noisy) != len(keys):
        raise ValueError(f"the sampler returned {len(noisy)} counts for {len(keys)}")
    return PrivateRelease(
        calibration=calibration,
        library=library_name(),
        counts={
            key: max(0, int(value))
            for key, value in zip(keys, noisy, strict=True)
            if key in QUALITY_KEYS or suppression.shows(key)
        },
    )


def stored_release(campaign: Campaign) -> PrivateRelease | None:
    data = (campaign.policy or {}).get(campaign_service.PRIVATE_RELEASE_KEY)
    return None if data is None else PrivateRelease.from_json(data)


def store_release(campaign: Campaign, release: PrivateRelease) -> None:
    campaign.policy = {
        **(campaign.policy or {}),
        campaign_service.PRIVATE_RELEASE_KEY: release.to_json(),
    }


# The published results from the stored release


def private_results(
    campaign: Campaign,
    questionnaire: Questionnaire,
    policy: ResultsPolicy,
    counted: CampaignTally,
    figures: layout.Cells,
    tables: CountTables,
    suppression: Suppression,
    locale: Locale,
) -> CampaignResults:
    """The published results of a campaign with a private release: every figure from the
    noisy counts stored at publication, withheld where ``suppression`` withholds."""
    release = stored_release(campaign)
    if release is None:
        raise PrivateReleaseMissing(f"campaign {campaign.slug} has no stored private release")
    counts = release.counts
    withheld = dict(suppression.withheld)
    for key in tables.values:
        if key not in counts and key not in withheld:
            withheld[key] = WITHHELD_FROM_RELEASE
    noisy_tables = CountTables(
        values={key: counts.get(key, 0) for key in tables.values}, relations=tables.relations
    )
    noisy_figures = {
        (target_id, group_id): _noisy_group(
            questionnaire, cell, lambda key: counts.get(key, 0), target_id, group_id
        )
        for (target_id, group_id), cell in figures.items()
    }
    noisy_flagged = counts.get(QUALITY_KEYS[2], 0)
    noisy_total = counts.get(("campaign",), 0)
    excluded = noisy_flagged if policy.quality.handling == "exclude" else 0
    noisy_counted = CampaignTally(
        cells=counted.cells,
        evaluations=noisy_total + excluded,  # stored = counted, plus the excluded flagged ones
        flagged=noisy_flagged,
        flag_counts={
            STRAIGHT_LINING: counts.get(QUALITY_KEYS[0], 0),
            TOO_FAST: counts.get(QUALITY_KEYS[1], 0),
        },
    )
    results = layout.lay_out(
        campaign,
        questionnaire,
        policy,
        noisy_counted,
        noisy_figures,
        noisy_tables,
        Suppression(withheld),
        locale,
    )
    results.privacy = privacy_info(campaign, policy, release, locale)
    return results


def privacy_info(
    campaign: Campaign, policy: ResultsPolicy, release: PrivateRelease, locale: Locale
) -> PrivacyInfo:
    translate = translations_for(locale).gettext
    mechanism = translate(MECHANISM_TEXT) % {"scale": _scale_text(release.calibration.scale)}
    if policy.quality.handling == "down_weight":
        mechanism = f"{mechanism} {translate(DOWN_WEIGHT_TEXT)}"
    return PrivacyInfo(
        mechanism=mechanism,
        epsilon=release.calibration.epsilon,
        unit=translate(UNIT_TEXT) % {"targets": len(campaign.targets)},
        sensitivity=release.calibration.sensitivity,
        library=release.library,
    )


def _scale_text(scale: float) -> str:
    return f"{statistics.half_up(exact(scale), 2):g}"


def _noisy_group(
    questionnaire: Questionnaire,
    figures: scoring.GroupFigures,
    count: Callable[[CellKey], int],
    target_id: int,
    group_id: int,
) -> scoring.GroupFigures:
    """A target × group's figures from the noisy counts.

    The number of scored evaluations and unanimity stay the true ones: they only decide, as
    disclosure control, whether the score is withheld, and are not published.
    """
    items = {item.id: item for item in questionnaire.items}
    noisy_items = [
        _noisy_item(questionnaire, items[figure.item], count, target_id, group_id)
        for figure in figures.items
    ]
    by_item = {figure.item: figure for figure in noisy_items}
    return scoring.GroupFigures(
        evaluations=count(group_key(target_id, group_id)),
        scored_evaluations=figures.scored_evaluations,
        score=scoring.Estimate(_mean_of_published_means(noisy_items, items), None, None),
        trimmed_score=None,
        unanimous=figures.unanimous,
        items=noisy_items,
        dimensions=[
            _noisy_dimension(
                questionnaire,
                dimension.dimension,
                [items[item] for item in dimension.items],
                by_item,
            )
            for dimension in figures.dimensions
        ],
    )


def _noisy_item(
    questionnaire: Questionnaire,
    item: Item,
    count: Callable[[CellKey], int],
    target_id: int,
    group_id: int,
) -> scoring.ItemFigures:
    distribution = {
        level.value: count(answer_key(target_id, group_id, item.id, level.value))
        for level in item.levels
    }
    not_applicable = count(answer_key(target_id, group_id, item.id, 0))
    by_points, by_satisfaction = _observations(questionnaire, item, distribution)
    return scoring.ItemFigures(
        item=item.id,
        respondents=sum(distribution.values()) + not_applicable,
        not_applicable=not_applicable,
        distribution=distribution,
        estimate=scoring.Estimate.of(by_points),
        satisfaction_rate=statistics.mean(by_satisfaction),
    )


def _noisy_dimension(
    questionnaire: Questionnaire,
    dimension: str,
    items: Sequence[Item],
    by_item: Mapping[str, scoring.ItemFigures],
) -> scoring.DimensionFigures:
    """The dimension's items pooled, as :mod:`app.results.scoring` pools them."""
    by_points: dict[tuple[Fraction, Fraction], int] = {}
    by_satisfaction: dict[tuple[Fraction, Fraction], int] = {}
    distribution: dict[int, int] = {}
    for item in items:
        item_distribution = by_item[item.id].distribution
        points, satisfaction = _observations(questionnaire, item, item_distribution)
        _add_into(by_points, points)
        _add_into(by_satisfaction, satisfaction)
        _add_into(distribution, item_distribution)
    return scoring.DimensionFigures(
        dimension=dimension,
        items=tuple(item.id for item in items),
        not_applicable=sum(by_item[item.id].not_applicable for item in items),
        distribution={level: distribution[level] for level in sorted(distribution, reverse=True)},
        estimate=scoring.Estimate.of(by_points),
        satisfaction_rate=statistics.mean(by_satisfaction),
    )


def _observations(
    questionnaire: Questionnaire, item: Item, distribution: Mapping[int, int]
) -> tuple[dict[tuple[Fraction, Fraction], int], dict[tuple[Fraction, Fraction], int]]:
    """Answers per level as points, and as satisfied (1) or not (0), each of weight 1."""
    points = {level: exact(value) for level, value in questionnaire.points_for(item).items()}
    satisfied = {level.value for level in item.levels[:SATISFIED_LEVEL_COUNT]}
    by_points: dict[tuple[Fraction, Fraction], int] = {}
    by_satisfaction: dict[tuple[Fraction, Fraction], int] = {}
    for level, answers in distribution.items():
        if answers:
            _add_into(by_points, {(points[level], Fraction(1)): answers})
            _add_into(by_satisfaction, {(Fraction(int(level in satisfied)), Fraction(1)): answers})
    return by_points, by_satisfaction


def _mean_of_published_means(
    noisy_items: Iterable[scoring.ItemFigures], items: Mapping[str, Item]
) -> Fraction | None:
    """A group's score: the mean of its scored items' means as published (rounded), so a
    reader can recompute it from the page."""
    means = [
        exact(statistics.half_up(figure.estimate.mean, layout.POINTS_DECIMALS))
        for figure in noisy_items
        if items[figure.item].scored and figure.estimate.mean is not None
    ]
    return sum(means, Fraction(0)) / len(means) if means else None


def _add_into(total: dict[Any, int], part: Mapping[Any, int]) -> None:
    for key, value in part.items():
        total[key] = total.get(key, 0) + value
