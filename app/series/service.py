"""Campaign series (e.g. annual): a department's trend, risers and fallers, item movement.

Campaigns sharing a ``series`` key form a series, ordered by their dates. Everything here is
read from each **published** campaign's own :class:`CampaignResults` (the figures its public
pages show) and nothing is recomputed: a figure withheld in a campaign stays ``None`` in every
trend, comparison and movement, and a campaign that is not published is not part of the series
as seen here. Differences are taken between published (rounded) figures, exactly as decimals,
so a reader can redo them from the two public pages.

``results_of`` gives a campaign's published results; public pages pass their cache
(:class:`app.public.service.ResultsCache`), everything else the results service.
"""

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.campaigns.models import Campaign, CampaignStatus
from app.departments.models import Department
from app.errors import NotFound
from app.i18n import current_locale
from app.results import service as results_service
from app.results.schemas import CampaignResults, TargetResult

ResultsOf = Callable[[Campaign], CampaignResults]
DEFAULT_MOVERS = 5  # risers and fallers shown each


def published_results(session: Session) -> ResultsOf:
    """Results straight from the results service, in the current language."""
    return lambda campaign: results_service.campaign_results(session, campaign, current_locale())


def _order(campaign: Campaign) -> tuple[dt.date, dt.datetime, int]:
    day = campaign.ends_on or campaign.starts_on or campaign.created_at.date()
    return (day, campaign.created_at, campaign.id)


def series_campaigns(session: Session, series: str) -> list[Campaign]:
    """The series' published campaigns, oldest first."""
    campaigns = session.scalars(
        select(Campaign).where(
            Campaign.series == series, Campaign.status == CampaignStatus.PUBLISHED
        )
    ).all()
    return sorted(campaigns, key=_order)


def series_keys(session: Session) -> list[str]:
    """Every series key that has a published campaign."""
    keys = session.scalars(
        select(Campaign.series)
        .where(Campaign.series.is_not(None), Campaign.status == CampaignStatus.PUBLISHED)
        .distinct()
    ).all()
    return sorted(key for key in keys if key is not None)


def campaign_label(campaign: Campaign) -> str:
    """How a campaign is named on a trend's axis: its year, or its title without dates."""
    day = campaign.ends_on or campaign.starts_on
    return str(day.year) if day is not None else campaign.title_for(current_locale())


def _target(results: CampaignResults, department_code: str) -> TargetResult | None:
    return next((target for target in results.targets if target.target == department_code), None)


# A department's trend


@dataclass(frozen=True)
class DimensionPoint:
    score: float | None
    satisfaction_rate: float | None


@dataclass(frozen=True)
class TrendPoint:
    campaign: str  # slug
    title: str
    label: str
    composite: float | None
    grade: str | None
    dimensions: dict[str, DimensionPoint]  # by dimension id; absent: not in that campaign


@dataclass(frozen=True)
class DepartmentTrend:
    series: str
    department_code: str
    dimensions: list[tuple[str, str]]  # (id, name), in first appearance
    points: list[TrendPoint]


def department_trend(
    session: Session, series: str, department_code: str, results_of: ResultsOf
) -> DepartmentTrend:
    """The department's published figures in every published campaign of the series that
    rated it, oldest first."""
    points: list[TrendPoint] = []
    dimension_names: dict[str, str] = {}
    for campaign in series_campaigns(session, series):
        if not any(target.department.code == department_code for target in campaign.targets):
            continue
        results = results_of(campaign)
        target = _target(results, department_code)
        if target is None:
            continue
        for dimension in target.dimensions:
            dimension_names.setdefault(dimension.dimension, dimension.name)
        points.append(
            TrendPoint(
                campaign=campaign.slug,
                title=results.title,
                label=campaign_label(campaign),
                composite=target.composite_score,
                grade=target.grade,
                dimensions={
                    dimension.dimension: DimensionPoint(
                        dimension.score, dimension.satisfaction_rate
                    )
                    for dimension in target.dimensions
                },
            )
        )
    return DepartmentTrend(
        series=series,
        department_code=department_code,
        dimensions=list(dimension_names.items()),
        points=points,
    )


# Risers and fallers between the last two campaigns


@dataclass(frozen=True)
class Movement:
    department_code: str
    name: str
    category: str
    before: float | None
    after: float | None

    @property
    def change(self) -> Decimal | None:
        """The difference of the two published composites, exact."""
        if self.before is None or self.after is None:
            return None
        return Decimal(repr(self.after)) - Decimal(repr(self.before))


@dataclass(frozen=True)
class SeriesComparison:
    series: str
    previous: Campaign
    latest: Campaign
    risers: list[Movement]  # largest rise first
    fallers: list[Movement]  # largest fall first
    movements: list[Movement]  # every department rated in both, by change (uncomparable last)


def risers_and_fallers(
    session: Session, series: str, results_of: ResultsOf, limit: int = DEFAULT_MOVERS
) -> SeriesComparison | None:
    """How each department's published composite moved between the series' last two
    published campaigns; ``None`` with fewer than two. A department whose composite is
    withheld in either campaign is listed without a change, never estimated."""
    campaigns = series_campaigns(session, series)
    if len(campaigns) < 2:
        return None
    previous, latest = campaigns[-2], campaigns[-1]
    before = {target.target: target for target in results_of(previous).targets}
    movements = [
        Movement(
            department_code=target.target,
            name=target.name,
            category=target.category,
            before=before[target.target].composite_score,
            after=target.composite_score,
        )
        for target in results_of(latest).targets
        if target.target in before
    ]
    comparable = [movement for movement in movements if movement.change is not None]
    ordered = sorted(comparable, key=lambda movement: movement.change or 0, reverse=True)
    risers = [movement for movement in ordered if (movement.change or 0) > 0][:limit]
    fallers = [movement for movement in reversed(ordered) if (movement.change or 0) < 0][:limit]
    return SeriesComparison(
        series=series,
        previous=previous,
        latest=latest,
        risers=risers,
        fallers=fallers,
        movements=ordered + [movement for movement in movements if movement.change is None],
    )


# Item movement, for rectification tasks


@dataclass(frozen=True)
class ItemFigures:
    """One item's published figures for one rater group; ``None`` where withheld."""

    rater_group: str
    mean_points: float | None
    satisfaction_rate: float | None


@dataclass(frozen=True)
class ItemMovement:
    item: str
    text: str
    before: list[ItemFigures]  # in ``after_campaign``; empty if it is not published
    after: list[ItemFigures] | None  # in the next published campaign; None: none yet


@dataclass(frozen=True)
class ItemMovementReport:
    campaign: str  # slug of ``after_campaign``
    next_campaign: str | None  # slug of the next published campaign of the series
    items: list[ItemMovement]


def _item_figures(target: TargetResult | None, item_id: str) -> list[ItemFigures]:
    if target is None:
        return []
    return [
        ItemFigures(group.rater_group, item.mean_points, item.satisfaction_rate)
        for group in target.groups
        for item in group.items
        if item.item == item_id
    ]


def item_movement(
    session: Session,
    series: str,
    department_id: int,
    item_ids: Iterable[str],
    after_campaign: Campaign,
    results_of: ResultsOf | None = None,
) -> ItemMovementReport:
    """How the named items moved for a department from ``after_campaign`` to the next
    published campaign of ``series`` (for a rectification task: the items it named).

    Per item and rater group, the published mean points and satisfaction rate in
    ``after_campaign`` (``before``; empty unless it is published) and in the next published
    campaign (``after``; ``None`` until there is one). A withheld figure is ``None``; an item
    a group was not asked is absent for that group. ``after_campaign`` must belong to the
    series. Call inside the request's or the command's session; nothing is written.
    """
    if after_campaign.series != series:
        raise NotFound(name=f"{series}/{after_campaign.slug}")
    department = session.get(Department, department_id)
    if department is None:
        raise NotFound(name=str(department_id))
    results_of = results_of or published_results(session)
    campaigns = series_campaigns(session, series)
    later = [campaign for campaign in campaigns if _order(campaign) > _order(after_campaign)]
    next_campaign = later[0] if later else None
    before_results = (
        results_of(after_campaign) if after_campaign.status == CampaignStatus.PUBLISHED else None
    )
    after_results = results_of(next_campaign) if next_campaign is not None else None
    before_target = None if before_results is None else _target(before_results, department.code)
    after_target = None if after_results is None else _target(after_results, department.code)
    texts: dict[str, str] = {}
    for results in (before_results, after_results):
        if results is not None:
            texts.update({item.id: item.text for item in results.items})
    return ItemMovementReport(
        campaign=after_campaign.slug,
        next_campaign=None if next_campaign is None else next_campaign.slug,
        items=[
            ItemMovement(
                item=item_id,
                text=texts.get(item_id, item_id),
                before=_item_figures(before_target, item_id),
                after=None if after_results is None else _item_figures(after_target, item_id),
            )
            for item_id in item_ids
        ],
    )


def published_series_of(campaigns: Sequence[Campaign]) -> list[str]:
    """The series keys among ``campaigns``, in order of first appearance."""
    return list(dict.fromkeys(campaign.series for campaign in campaigns if campaign.series))
