"""What a public department page shows of its series: a line chart and a table per campaign.

Every figure is a published one, taken from :func:`app.series.service.department_trend`; a
withheld figure is shown as withheld (the same generic mark as the rest of the page), never
filled in.
"""

from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup
from sqlalchemy.orm import Session

from app.campaigns.models import Campaign
from app.i18n import N_, gettext
from app.inspections import channel as inspection_channel
from app.inspections.channel import ChannelResults
from app.public import views as public_views
from app.public.views import Figure
from app.results.schemas import CampaignResults
from app.series import service as series_service
from app.series.chart import Line, line_chart
from app.series.service import DepartmentTrend, ResultsOf

NOT_IN_CAMPAIGN = N_("not asked in this campaign")
NO_INSPECTION_SCORE = N_("no inspection score entered")


@dataclass(frozen=True)
class TrendDimension:
    name: str
    score: Figure
    satisfaction: Figure


@dataclass(frozen=True)
class TrendRow:
    label: str
    title: str
    href: str
    current: bool
    composite: Figure
    grade: Figure
    dimensions: list[TrendDimension]


@dataclass(frozen=True)
class TrendView:
    series: str
    dimension_names: list[str]
    chart: Markup
    rate_chart: Markup | None
    rows: list[TrendRow]


def _points(value: float | None) -> Figure:
    if value is None:
        return Figure(None, gettext(public_views.PROTECTED))
    return Figure(public_views.decimal_text(value, 2))


def _percent(rate: float | None) -> Figure:
    if rate is None:
        return Figure(None, gettext(public_views.PROTECTED))
    return Figure(public_views.decimal_text(Decimal(repr(rate)) * 100, 2) + "%")


def trend_view(trend: DepartmentTrend, current_slug: str, maximum: float) -> TrendView | None:
    """The trend section, or ``None`` when the series has fewer than two published
    campaigns that rated the department (nothing to compare)."""
    if len(trend.points) < 2:
        return None
    labels = [point.label for point in trend.points]
    withheld = gettext(public_views.NOT_PUBLISHED)
    score_lines = [Line(gettext("Composite score"), [point.composite for point in trend.points])]
    rate_lines: list[Line] = []
    for dimension_id, name in trend.dimensions:
        figures = [point.dimensions.get(dimension_id) for point in trend.points]
        score_lines.append(Line(name, [None if f is None else f.score for f in figures]))
        rate_lines.append(
            Line(
                name,
                [
                    None if f is None or f.satisfaction_rate is None else f.satisfaction_rate * 100
                    for f in figures
                ],
            )
        )
    chart = line_chart(
        gettext("Scores across the series"),
        labels,
        score_lines,
        maximum=maximum,
        withheld_label=withheld,
    )
    rate_chart = (
        line_chart(
            gettext("Satisfaction rates across the series"),
            labels,
            rate_lines,
            maximum=100.0,
            withheld_label=withheld,
            unit="%",
        )
        if rate_lines
        else None
    )
    rows = []
    for point in trend.points:
        dimensions = []
        for dimension_id, name in trend.dimensions:
            figure = point.dimensions.get(dimension_id)
            if figure is None:  # the dimension was not part of that campaign's questionnaire
                absent = Figure(gettext(NOT_IN_CAMPAIGN))
                dimensions.append(TrendDimension(name=name, score=absent, satisfaction=absent))
                continue
            dimensions.append(
                TrendDimension(
                    name=name,
                    score=_points(figure.score),
                    satisfaction=_percent(figure.satisfaction_rate),
                )
            )
        rows.append(
            TrendRow(
                label=point.label,
                title=point.title,
                href=public_views.with_locale(
                    public_views.department_path(point.campaign, trend.department_code)
                ),
                current=point.campaign == current_slug,
                composite=_points(point.composite),
                grade=Figure(point.grade)
                if point.grade is not None
                else Figure(None, gettext(public_views.NO_COMPOSITE)),
                dimensions=dimensions,
            )
        )
    return TrendView(
        series=trend.series,
        dimension_names=[name for _, name in trend.dimensions],
        chart=chart,
        rate_chart=rate_chart,
        rows=rows,
    )


@dataclass(frozen=True)
class OverallView:
    """The department's overall score with the inspection channel (暗访)."""

    rating_weight: str
    inspection_weight: str
    rating_composite: Figure
    inspection_score: Figure
    overall: Figure
    grade: Figure
    rank: Figure


def overall_view(channel: ChannelResults, department_code: str) -> OverallView | None:
    score = channel.for_department(department_code)
    if score is None:
        return None
    not_entered = Figure(None, gettext(NO_INSPECTION_SCORE))
    return OverallView(
        rating_weight=public_views.setting_text(1 - channel.weight),
        inspection_weight=public_views.setting_text(channel.weight),
        rating_composite=_points(score.rating_composite),
        inspection_score=not_entered
        if score.inspection_score is None
        else Figure(public_views.decimal_text(score.inspection_score, 2)),
        overall=not_entered
        if score.rating_composite is not None and score.inspection_score is None
        else _points(score.overall),  # a withheld composite withholds the overall score
        grade=Figure(score.grade)
        if score.grade is not None
        else Figure(None, gettext(public_views.NO_COMPOSITE)),
        rank=Figure(
            gettext("%(rank)s of %(count)s in %(category)s")
            % {"rank": score.rank, "count": score.ranked_in_category, "category": score.category}
        )
        if score.rank is not None
        else Figure(gettext(public_views.NOT_RANKED)),
    )


def department_extras(
    session: Session,
    campaign: Campaign,
    results: CampaignResults,
    department_code: str,
    results_of: ResultsOf,
) -> dict[str, object]:
    """What a public department page adds: its trend across the campaign's series and its
    overall score with inspections, each ``None`` when the campaign has none."""
    trend = (
        trend_view(
            series_service.department_trend(session, campaign.series, department_code, results_of),
            campaign.slug,
            public_views.points_maximum(results),
        )
        if campaign.series
        else None
    )
    channel = inspection_channel.channel_results(session, campaign, results)
    return {
        "trend": trend,
        "overall": None if channel is None else overall_view(channel, department_code),
    }
