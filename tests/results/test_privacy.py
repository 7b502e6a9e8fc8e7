"""The differentially private release (policy ``privacy``): noise on every shown count, figures
recomputed from the noisy counts, one release per publication, and what the methodology says.

The campaign: the questionnaire of :mod:`tests.results.helpers` (courtesy five-level
100/80/60/40/20, speed three-level 100/70/30, overall five-level and not scored), two
departments, citizens (weight 3) and enterprises (weight 1), threshold 3. East's enterprises
are only two, so their figures are withheld (and with them, by the remainder rule, east's total).
"""

import html
import importlib.metadata
import math
from collections.abc import Iterator, Sequence
from fractions import Fraction

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.ballots.models import STRAIGHT_LINING, TOO_FAST, Evaluation
from app.ballots.schemas import BallotIn, EvaluationIn
from app.ballots.service import submit_ballot
from app.campaigns import lifecycle
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus
from app.campaigns.policy import (
    CommentPolicy,
    PrivacyRelease,
    QualityPolicy,
    ResultsPolicy,
)
from app.results import disclosure, privacy
from app.results import service as results_service
from app.results.schemas import CampaignResults
from app.results.statistics import half_up
from tests import factories
from tests.factories import HASHING_KEY, issue_codes, make_campaign, make_department, tally
from tests.public.helpers import Published, close_and_publish
from tests.results.helpers import rating_questionnaire

THRESHOLD = 3
WEIGHTS = {"citizens": 3.0, "enterprises": 1.0}
POINTS = {
    "courtesy": {5: 100, 4: 80, 3: 60, 2: 40, 1: 20},
    "speed": {3: 100, 2: 70, 1: 30},
    "overall": {5: 100, 4: 80, 3: 60, 2: 40, 1: 20},
}
SATISFIED = {"courtesy": {5, 4}, "speed": {3, 2}, "overall": {5, 4}}
SCORED = ("courtesy", "speed")
DIMENSIONS = {"attitude": ("courtesy",), "efficiency": ("speed",)}  # scored items only
# 2 targets × (E, E[t], E[t,g] + 3 items + 3 low-quality counts)
SENSITIVITY = 18
NOT_FROM_COUNTS = {"score_standard_deviation", "score_ci_low", "score_ci_high", "trimmed_score"}

# (courtesy, speed, overall); None is 不了解. Nothing is unanimous.
CITIZENS_EAST = [(5, 3, 4), (4, 2, 4), (2, 1, 5), (3, 3, None), (4, None, 3), (5, 2, 2)]
ENTERPRISES_EAST = [(4, 3, 3), (3, 2, 3)]
CITIZENS_WEST = [(5, 3, 5), (4, 3, 4), (3, 2, 3), (2, 1, 4), (4, 2, None)]
ENTERPRISES_WEST = [(5, 3, 4), (4, 2, 3), (2, 2, 5), (3, 1, 4)]


def rated_campaign(session: Session, status: CampaignStatus = CampaignStatus.OPEN) -> Campaign:
    """East and west rated as above; still open unless ``status`` says otherwise."""
    return factories.rated_campaign(
        session,
        [
            (0, "citizens", CITIZENS_EAST),
            (0, "enterprises", ENTERPRISES_EAST),
            (1, "citizens", CITIZENS_WEST),
            (1, "enterprises", ENTERPRISES_WEST),
        ],
        groups=WEIGHTS,
        threshold=THRESHOLD,
        status=status,
    )


def tallied_campaign(
    session: Session, *, enabled: bool = True, epsilon: float = 1.0, handling: str = "keep"
) -> Campaign:
    """The rated campaign, closed and its ballot box counted, with this release policy."""
    campaign = rated_campaign(session, CampaignStatus.TALLIED)
    campaign_service.set_policy(
        session,
        campaign,
        ResultsPolicy(
            privacy=PrivacyRelease(enabled=enabled, epsilon=epsilon),
            quality=QualityPolicy(handling=handling),  # type: ignore[arg-type]
        ),
    )
    return campaign


def publish(session: Session, campaign: Campaign) -> None:
    lifecycle.publish_campaign(session, campaign, actor="test")


def results_of(session: Session, campaign: Campaign, locale: str = "en") -> CampaignResults:
    return results_service.campaign_results(session, campaign, locale)  # type: ignore[arg-type]


def shifted(by: int) -> privacy.Sampler:
    """Noise that adds ``by`` to every count: known, and never clamped."""
    return lambda counts, scale: [count + by for count in counts]


def shown_counts(results: CampaignResults) -> dict[tuple[object, ...], int]:
    """Every count the results show, by where it is shown."""
    counts: dict[tuple[object, ...], int] = {}

    def put(key: tuple[object, ...], value: int | None) -> None:
        if value is not None:
            counts[key] = value

    put(("campaign",), results.evaluations)
    for target in results.targets:
        put(("target", target.target), target.evaluations)
        for group in target.groups:
            where = (target.target, group.rater_group)
            put(("group", *where), group.evaluations)
            for item in group.items:
                put(("respondents", *where, item.item), item.respondents)
                put(("not_applicable", *where, item.item), item.not_applicable)
                for level, answers in (item.distribution or {}).items():
                    put(("level", *where, item.item, level), answers)
    assert results.quality is not None
    put(("straight_lining",), results.quality.straight_lining)
    put(("too_fast",), results.quality.too_fast)
    put(("flagged",), results.quality.flagged)
    put(("stored",), results.quality.evaluations)
    return counts


def null_paths(value: object, path: tuple[object, ...] = ()) -> Iterator[tuple[object, ...]]:
    """Where ``value`` (a dumped model) holds null."""
    if value is None:
        yield path
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from null_paths(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from null_paths(inner, (*path, index))


def exact_mean(pairs: Sequence[tuple[Fraction, int]]) -> Fraction | None:
    total = sum(count for _, count in pairs)
    if not total:
        return None
    return sum((value * count for value, count in pairs), Fraction(0)) / total


class TestWithoutPrivacy:
    def test_a_campaign_without_a_private_release_publishes_the_exact_figures(
        self, session: Session
    ) -> None:
        campaign = tallied_campaign(session, enabled=False)
        before = results_of(session, campaign)

        publish(session, campaign)
        after = results_of(session, campaign)

        assert after.privacy is None
        assert campaign_service.PRIVATE_RELEASE_KEY not in campaign.policy
        assert after.model_dump(exclude={"status"}) == before.model_dump(exclude={"status"})

    def test_before_publication_the_office_sees_the_exact_figures(self, session: Session) -> None:
        campaign = tallied_campaign(session, enabled=True)
        private = results_of(session, campaign)
        campaign_service.set_policy(session, campaign, ResultsPolicy())

        plain = results_of(session, campaign)

        assert private.privacy is None
        assert private == plain
        assert campaign_service.PRIVATE_RELEASE_KEY not in campaign.policy


class TestNoisyFigures:
    """With noise of +7 on every count, injected, so each figure can be checked."""

    @pytest.fixture
    def exact_and_noisy(self, session: Session) -> tuple[CampaignResults, CampaignResults]:
        campaign = tallied_campaign(session)
        exact = results_of(session, campaign)  # tallied: the office's exact figures
        results_service.fix_private_release(session, campaign, sampler=shifted(7))
        publish(session, campaign)  # keeps the release already drawn
        return exact, results_of(session, campaign)

    def test_every_shown_count_is_its_true_count_plus_the_noise(
        self, exact_and_noisy: tuple[CampaignResults, CampaignResults]
    ) -> None:
        exact, noisy = exact_and_noisy

        exact_counts = shown_counts(exact)
        noisy_counts = shown_counts(noisy)

        assert noisy_counts.keys() == exact_counts.keys()
        assert len(noisy_counts) > 40
        assert {
            key: value - exact_counts[key] for key, value in noisy_counts.items()
        } == dict.fromkeys(exact_counts, 7)

    def test_withheld_figures_stay_withheld(
        self, exact_and_noisy: tuple[CampaignResults, CampaignResults]
    ) -> None:
        exact, noisy = exact_and_noisy

        exact_nulls = set(null_paths(exact.model_dump(exclude={"privacy"})))
        noisy_nulls = set(null_paths(noisy.model_dump(exclude={"privacy"})))

        assert any(path[-1] == "evaluations" for path in exact_nulls)  # something is withheld
        assert exact_nulls <= noisy_nulls
        assert {path[-1] for path in noisy_nulls - exact_nulls} <= NOT_FROM_COUNTS
        assert noisy.withheld_figures == exact.withheld_figures
        for exact_target, noisy_target in zip(exact.targets, noisy.targets, strict=True):
            assert noisy_target.withheld == exact_target.withheld
            for exact_group, noisy_group in zip(
                exact_target.groups, noisy_target.groups, strict=True
            ):
                assert set(noisy_group.withheld) - set(exact_group.withheld) <= NOT_FROM_COUNTS
                assert exact_group.withheld == [
                    name for name in noisy_group.withheld if name in exact_group.withheld
                ]

    def test_means_rates_and_scores_are_computed_from_the_noisy_counts(
        self, exact_and_noisy: tuple[CampaignResults, CampaignResults]
    ) -> None:
        exact, noisy = exact_and_noisy
        checked_items = 0
        for exact_target, target in zip(exact.targets, noisy.targets, strict=True):
            shown_scores: list[tuple[Fraction, Fraction]] = []
            for exact_group, group in zip(exact_target.groups, target.groups, strict=True):
                item_means: dict[str, Fraction] = {}
                for item in group.items:
                    if item.distribution is None:
                        assert item.mean_points is None
                        continue
                    points = [
                        (Fraction(POINTS[item.item][level]), count)
                        for level, count in item.distribution.items()
                    ]
                    satisfied = [
                        (Fraction(int(level in SATISFIED[item.item])), count)
                        for level, count in item.distribution.items()
                    ]
                    mean = exact_mean(points)
                    assert mean is not None
                    assert item.mean_points == half_up(mean, 2)
                    rate_ = exact_mean(satisfied)
                    assert rate_ is not None
                    assert item.satisfaction_rate == half_up(rate_, 4)
                    answers = sum(item.distribution.values())
                    deviation = math.sqrt(
                        sum(count * float(value - mean) ** 2 for value, count in points)
                        / (answers - 1)
                    )
                    assert item.standard_deviation == pytest.approx(deviation, abs=0.006)
                    item_means[item.item] = Fraction(str(item.mean_points))
                    checked_items += 1
                for dimension in group.dimensions:
                    if dimension.mean_points is None:
                        continue
                    pooled = [
                        (Fraction(POINTS[item.item][level]), count)
                        for item in group.items
                        if item.item in DIMENSIONS[dimension.dimension]
                        for level, count in (item.distribution or {}).items()
                    ]
                    pooled_mean = exact_mean(pooled)
                    assert pooled_mean is not None
                    assert dimension.mean_points == half_up(pooled_mean, 2)
                if group.score is None:
                    assert exact_group.score is None
                    continue
                score = sum(item_means[item] for item in SCORED) / len(SCORED)
                assert group.score == half_up(score, 2)
                assert group.score != exact_group.score
                shown_scores.append(
                    (Fraction(str(WEIGHTS[group.rater_group])), Fraction(str(group.score)))
                )
            if target.composite_score is not None:
                total = sum(weight for weight, _ in shown_scores)
                composite = sum(weight * score for weight, score in shown_scores) / total
                assert target.composite_score == half_up(composite, 2)
        assert checked_items >= 6

    def test_group_spreads_and_trimmed_scores_are_not_published(
        self, exact_and_noisy: tuple[CampaignResults, CampaignResults]
    ) -> None:
        _, noisy = exact_and_noisy

        shown = [group for target in noisy.targets for group in target.groups if group.score]

        assert shown
        for group in shown:
            assert group.score_standard_deviation is None
            assert group.score_ci_low is None
            assert group.trimmed_score is None
            assert {"score_standard_deviation", "score_ci_low", "score_ci_high"} <= set(
                group.withheld
            )


def discrete_laplace(rng: np.random.Generator, scale: float, size: int) -> list[int]:
    """P(k) ∝ exp(−|k| / scale): the difference of two geometric counts of failures."""
    ratio = math.exp(-1 / scale)
    first = rng.geometric(1 - ratio, size) - 1
    second = rng.geometric(1 - ratio, size) - 1
    return [int(value) for value in first - second]


def expected_absolute_deviation(true_count: int, scale: float) -> float:
    """E |max(0, c + X) − c| for X discrete Laplace of ``scale``: clamping at 0 included."""
    ratio = math.exp(-1 / scale)
    mass = (1 - ratio) / (1 + ratio)
    above = sum(mass * ratio ** abs(k) * abs(k) for k in range(-true_count, 2000))
    below = true_count * ratio ** (true_count + 1) / (1 + ratio)  # P(X < −c) × c
    return above + below


class TestNoiseScale:
    def test_the_scale_is_calibrated_by_opendp_from_epsilon_and_sensitivity(self) -> None:
        for epsilon, sensitivity in [(1.0, 18), (0.5, 36), (4.5, 18)]:
            calibration = privacy.calibrate(epsilon, sensitivity)

            assert calibration.scale == pytest.approx(sensitivity / epsilon)
            assert calibration.scale >= sensitivity / epsilon

    def test_shown_counts_carry_noise_of_the_calibrated_scale(self, session: Session) -> None:
        campaign = tallied_campaign(session, epsilon=4.5)  # scale 18 / 4.5 = 4
        questionnaire = campaign_service.questionnaire_of(campaign)
        policy = campaign_service.policy_of(campaign)
        counted = results_service.campaign_tally(session, campaign, questionnaire)
        figures = results_service.score_cells(campaign, questionnaire, policy, counted)
        tables = results_service.count_tables(campaign, questionnaire, figures)
        suppression = disclosure.plan_suppression(tables, threshold=THRESHOLD, width=THRESHOLD)
        truth = privacy.true_counts(tables, counted)
        rng = np.random.default_rng(20261126)
        scales: list[float] = []

        def sampler(counts: Sequence[int], scale: float) -> list[int]:
            scales.append(scale)
            noise = discrete_laplace(rng, scale, len(counts))
            return [count + delta for count, delta in zip(counts, noise, strict=True)]

        expected_by_count = {
            count: expected_absolute_deviation(count, 4.0) for count in set(truth.values())
        }
        deviations: list[int] = []
        expected: list[float] = []
        for _ in range(400):
            release = privacy.draw_release(
                campaign, questionnaire, policy, counted, tables, suppression, sampler
            )
            assert set(release.counts) == {
                key for key in truth if key in privacy.QUALITY_KEYS or suppression.shows(key)
            }
            for key, value in release.counts.items():
                assert value >= 0
                deviations.append(abs(value - truth[key]))
                expected.append(expected_by_count[truth[key]])

        assert len(scales) == 400
        assert scales == [pytest.approx(4.0)] * 400
        assert suppression.withheld  # withheld cells were drawn for, but not kept
        assert sum(deviations) / len(deviations) == pytest.approx(
            sum(expected) / len(expected), rel=0.04
        )

    def test_opendp_draws_discrete_laplace_noise_of_the_scale(self) -> None:
        scale = 4.0
        ratio = math.exp(-1 / scale)
        draws = 20_000

        noise = privacy.opendp_sampler([0] * draws, scale)

        mean_absolute = sum(abs(value) for value in noise) / draws
        variance = sum(value * value for value in noise) / draws
        assert all(isinstance(value, int) for value in noise)
        assert mean_absolute == pytest.approx(2 * ratio / (1 - ratio**2), rel=0.04)
        assert variance == pytest.approx(2 * ratio / (1 - ratio) ** 2, rel=0.08)
        assert abs(sum(noise) / draws) < 5 * math.sqrt(variance / draws)


class TestReleaseIsFixed:
    def test_publication_draws_the_release_and_every_view_shows_the_same(
        self, session: Session
    ) -> None:
        campaign = tallied_campaign(session)
        exact = results_of(session, campaign)

        publish(session, campaign)
        first = results_of(session, campaign)
        session.expire_all()
        second = results_of(session, campaign_service.get_campaign(session, campaign.slug))

        assert campaign_service.PRIVATE_RELEASE_KEY in campaign.policy
        assert first == second
        assert shown_counts(first) != shown_counts(exact)  # 18 / 1: the noise is wide

    def test_two_page_views_are_identical(self, client: TestClient, session: Session) -> None:
        campaign = tallied_campaign(session)
        publish(session, campaign)

        first = client.get(f"/results/{campaign.slug}?lang=en")
        second = client.get(f"/results/{campaign.slug}?lang=en")

        assert first.status_code == 200
        assert first.text == second.text

    def test_a_stored_release_is_never_drawn_again(self, session: Session) -> None:
        campaign = tallied_campaign(session)
        publish(session, campaign)
        stored = campaign.policy[campaign_service.PRIVATE_RELEASE_KEY]

        results_service.fix_private_release(session, campaign, sampler=shifted(100))

        assert campaign.policy[campaign_service.PRIVATE_RELEASE_KEY] == stored
        assert campaign_service.policy_of(campaign).privacy.enabled

    def test_a_published_campaign_without_its_release_shows_no_figures(
        self, session: Session
    ) -> None:
        campaign = tallied_campaign(session)
        publish(session, campaign)
        campaign.policy = {
            key: value
            for key, value in campaign.policy.items()
            if key != campaign_service.PRIVATE_RELEASE_KEY
        }

        with pytest.raises(privacy.PrivateReleaseMissing):
            results_of(session, campaign)

    def test_a_shown_count_missing_from_the_release_is_withheld(self, session: Session) -> None:
        campaign = tallied_campaign(session)
        results_service.fix_private_release(session, campaign, sampler=shifted(7))
        publish(session, campaign)
        release = privacy.stored_release(campaign)
        assert release is not None
        west = campaign.targets[1]
        citizens = campaign.rater_groups[0]
        missing = ("group", west.id, citizens.id)
        assert missing in release.counts
        counts = {key: value for key, value in release.counts.items() if key != missing}
        privacy.store_release(
            campaign,
            privacy.PrivateRelease(release.calibration, release.library, counts),
        )

        results = results_of(session, campaign)

        target = next(t for t in results.targets if t.target == west.department.code)
        group = next(g for g in target.groups if g.rater_group == "citizens")
        assert group.evaluations is None
        assert group.score is None
        assert all(item.mean_points is None for item in group.items)


class TestSensitivity:
    @pytest.mark.parametrize(
        ("questionnaire_groups", "departments", "handling", "expected"),
        [
            # every group sees 3 items: 2 × (3 + 3 + 3)
            (("rating", {"citizens": 1.0, "enterprises": 1.0}), 2, "keep", 18),
            # flagged evaluations enter only the 3 low-quality counts: 2 × (3 + 3)
            (("rating", {"citizens": 1.0, "enterprises": 1.0}), 2, "exclude", 12),
            # citizens see 2 items: 3 × (3 + 2 + 3)
            (("small", {"citizens": 1.0}), 3, "down_weight", 24),
            # cadres see 3: the larger ballot counts, 3 × (3 + 3 + 3)
            (("small", {"citizens": 1.0, "cadres": 1.0}), 3, "keep", 27),
        ],
    )
    def test_hand_worked_sensitivity(
        self,
        session: Session,
        questionnaire_groups: tuple[str, dict[str, float]],
        departments: int,
        handling: str,
        expected: int,
    ) -> None:
        which, groups = questionnaire_groups
        campaign = make_campaign(
            session,
            questionnaire=rating_questionnaire() if which == "rating" else None,
            groups=groups,
            departments=[make_department(session) for _ in range(departments)],
        )
        questionnaire = campaign_service.questionnaire_of(campaign)
        policy = ResultsPolicy(quality=QualityPolicy(handling=handling))  # type: ignore[arg-type]

        assert privacy.sensitivity(campaign, questionnaire, policy) == expected

    def test_one_flagged_ballot_rating_every_department_moves_the_counts_by_the_sensitivity(
        self, session: Session
    ) -> None:
        campaign = rated_campaign(session)
        questionnaire = campaign_service.questionnaire_of(campaign)
        policy = ResultsPolicy()
        code = issue_codes(session, campaign, group="citizens", count=1)[0]
        answers: dict[str, int | None] = {"courtesy": 1, "speed": 1, "overall": 1}
        submit_ballot(
            session,
            HASHING_KEY,
            BallotIn(
                code=code,
                evaluations=[
                    EvaluationIn(target=target.department.code, answers=answers)
                    for target in campaign.targets
                ],
            ),
        )
        tally(session, campaign)
        added = session.scalars(
            select(Evaluation).where(
                Evaluation.campaign_id == campaign.id, Evaluation.answers == "111"
            )
        ).all()
        assert len(added) == 2
        for evaluation in added:
            evaluation.quality_flags = STRAIGHT_LINING | TOO_FAST
        session.flush()
        after = self._true_counts(session, campaign)

        for evaluation in added:  # the same campaign without that one ballot
            session.delete(evaluation)
        session.flush()
        before = self._true_counts(session, campaign)

        assert before.keys() == after.keys()
        distance = sum(abs(after[key] - before[key]) for key in before)
        assert distance == privacy.sensitivity(campaign, questionnaire, policy) == SENSITIVITY

    @staticmethod
    def _true_counts(session: Session, campaign: Campaign) -> dict[tuple[object, ...], int]:
        questionnaire = campaign_service.questionnaire_of(campaign)
        policy = ResultsPolicy()
        counted = results_service.campaign_tally(session, campaign, questionnaire)
        figures = results_service.score_cells(campaign, questionnaire, policy, counted)
        tables = results_service.count_tables(campaign, questionnaire, figures)
        return privacy.true_counts(tables, counted)


class TestPrivacyInfo:
    def test_the_release_states_mechanism_budget_unit_sensitivity_and_library(
        self, session: Session
    ) -> None:
        campaign = tallied_campaign(session, epsilon=1.0)
        publish(session, campaign)

        info = results_of(session, campaign).privacy

        assert info is not None
        assert info.mechanism.startswith("Discrete Laplace noise of scale 18, drawn once")
        assert "mean of its scored questions' published means" in info.mechanism
        assert info.epsilon == 1.0
        assert info.unit.startswith("One rater's whole ballot")
        assert "up to 2 departments" in info.unit
        assert info.sensitivity == SENSITIVITY
        assert info.library == f"OpenDP {importlib.metadata.version('opendp')}"

    def test_down_weighting_is_said_not_to_apply(self, session: Session) -> None:
        campaign = tallied_campaign(session, handling="down_weight")
        publish(session, campaign)

        info = results_of(session, campaign).privacy

        assert info is not None
        assert info.mechanism.endswith("so they cannot be down-weighted.")


class TestMethodologyPage:
    def test_the_methodology_page_states_the_budget_and_the_mechanism(
        self, client: TestClient, session: Session
    ) -> None:
        published = Published(session, publish=False)
        campaign_service.set_policy(
            session,
            published.campaign,
            ResultsPolicy(
                comments=CommentPolicy(min_respondents=THRESHOLD),
                privacy=PrivacyRelease(enabled=True, epsilon=0.5),
            ),
        )
        close_and_publish(session, published.campaign)

        response = client.get(f"/results/{published.slug}/methodology?lang=en")

        assert response.status_code == 200
        text = " ".join(html.unescape(response.text).split())
        assert "Differential privacy" in text
        assert "Privacy budget ε" in text
        assert "0.5" in text
        # 4 departments × (3 + 3 cadre items + 3) = 36, over ε = 0.5
        assert "Discrete Laplace noise of scale 72, drawn once at publication" in text
        assert "One rater's whole ballot" in text
        assert "OpenDP" in text
