"""Year over year: trends, risers and fallers and item movement, from published figures only."""

from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from app.i18n import current_locale
from app.results import service as results_service
from app.results.schemas import CampaignResults, TargetResult
from app.series import service as series_service
from tests.factories import make_campaign
from tests.series.helpers import SERIES, TwoYears


@pytest.fixture
def years(session: Session) -> TwoYears:
    return TwoYears(session)


def published(session: Session, campaign: object) -> CampaignResults:
    return results_service.campaign_results(session, campaign, current_locale())  # type: ignore[arg-type]


def target(results: CampaignResults, code: str) -> TargetResult:
    return next(target for target in results.targets if target.target == code)


class TestDepartmentTrend:
    def test_every_figure_is_the_published_one_of_its_campaign(
        self, session: Session, years: TwoYears
    ) -> None:
        results = [published(session, years.first.campaign), published(session, years.second)]
        results_of = series_service.published_results(session)

        for department in (years.east, years.west, years.north, years.centre):
            trend = series_service.department_trend(session, SERIES, department.code, results_of)

            assert [point.campaign for point in trend.points] == [
                years.first.campaign.slug,
                years.second.slug,
            ]
            assert [point.label for point in trend.points] == ["2025", "2026"]
            for point, campaign_results in zip(trend.points, results, strict=True):
                shown = target(campaign_results, department.code)
                assert point.composite == shown.composite_score
                assert point.grade == shown.grade
                assert {
                    dimension.dimension: (dimension.score, dimension.satisfaction_rate)
                    for dimension in shown.dimensions
                } == {
                    key: (figure.score, figure.satisfaction_rate)
                    for key, figure in point.dimensions.items()
                }

    def test_a_withheld_figure_stays_withheld(self, session: Session, years: TwoYears) -> None:
        second = target(published(session, years.second), years.centre.code)
        assert second.composite_score is None  # under the threshold in 2026

        trend = series_service.department_trend(
            session, SERIES, years.centre.code, series_service.published_results(session)
        )

        assert trend.points[0].composite is not None
        assert trend.points[1].composite is None
        assert all(
            figure.score is None and figure.satisfaction_rate is None
            for figure in trend.points[1].dimensions.values()
        )

    def test_unpublished_campaigns_are_not_part_of_the_series(
        self, session: Session, years: TwoYears
    ) -> None:
        draft = make_campaign(session, departments=[years.east], threshold=3)
        draft.series = SERIES

        assert series_service.series_campaigns(session, SERIES) == [
            years.first.campaign,
            years.second,
        ]


class TestRisersAndFallers:
    def test_movements_between_the_last_two_campaigns(
        self, session: Session, years: TwoYears
    ) -> None:
        before = published(session, years.first.campaign)
        after = published(session, years.second)

        comparison = series_service.risers_and_fallers(
            session, SERIES, series_service.published_results(session)
        )

        assert comparison is not None
        assert comparison.previous == years.first.campaign
        assert comparison.latest == years.second
        assert [movement.department_code for movement in comparison.risers] == [years.north.code]
        assert [movement.department_code for movement in comparison.fallers] == [years.east.code]
        for movement in comparison.movements:
            old = target(before, movement.department_code).composite_score
            new = target(after, movement.department_code).composite_score
            assert (movement.before, movement.after) == (old, new)
            if old is None or new is None:
                assert movement.change is None
            else:
                assert movement.change == Decimal(repr(new)) - Decimal(repr(old))
        west = next(m for m in comparison.movements if m.department_code == years.west.code)
        assert west.change == 0
        centre = next(m for m in comparison.movements if m.department_code == years.centre.code)
        assert centre.change is None  # withheld in 2026: not compared, not estimated
        assert comparison.movements[-1] is centre

    def test_one_published_campaign_has_nothing_to_compare(self, session: Session) -> None:
        assert (
            series_service.risers_and_fallers(
                session, "nothing", series_service.published_results(session)
            )
            is None
        )


class TestItemMovement:
    def test_items_in_the_campaign_and_the_next(self, session: Session, years: TwoYears) -> None:
        before = target(published(session, years.first.campaign), years.north.code)
        after = target(published(session, years.second), years.north.code)

        report = series_service.item_movement(
            session, SERIES, years.north.id, ["courtesy", "guidance"], years.first.campaign
        )

        assert report.campaign == years.first.campaign.slug
        assert report.next_campaign == years.second.slug
        for movement in report.items:
            for figures, shown in ((movement.before, before), (movement.after, after)):
                assert figures is not None
                assert [
                    (figure.rater_group, figure.mean_points, figure.satisfaction_rate)
                    for figure in figures
                ] == [
                    (group.rater_group, item.mean_points, item.satisfaction_rate)
                    for group in shown.groups
                    for item in group.items
                    if item.item == movement.item
                ]
        guidance = report.items[1]
        assert [figure.rater_group for figure in guidance.before] == ["cadres"]

    def test_no_next_campaign_yet(self, session: Session, years: TwoYears) -> None:
        report = series_service.item_movement(
            session, SERIES, years.north.id, ["courtesy"], years.second
        )

        assert report.next_campaign is None
        assert report.items[0].after is None
        assert report.items[0].before  # the campaign's own published figures

    def test_withheld_items_stay_withheld(self, session: Session, years: TwoYears) -> None:
        report = series_service.item_movement(
            session, SERIES, years.centre.id, ["courtesy"], years.first.campaign
        )

        after = report.items[0].after
        assert after is not None
        assert all(f.mean_points is None and f.satisfaction_rate is None for f in after)
