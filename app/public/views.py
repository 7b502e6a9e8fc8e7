"""What the public results pages show, built from one published :class:`CampaignResults`.

Every figure comes from the results service under disclosure control; nothing is computed
here except presentation (ordering, formatting, links). A withheld figure is a
:class:`Figure` without text and with a short, generic reason: the mark does not say which
rule withheld it, because "fewer than k" against "withheld so that another figure cannot be
worked out" would itself narrow down the hidden count.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import quote

from markupsafe import Markup

from app.campaigns.models import Campaign
from app.campaigns.policy import ResultsPolicy
from app.grouping import by_category
from app.i18n import N_, current_locale, gettext
from app.reports.charts import Bar, horizontal_bar_chart
from app.results.schemas import (
    CampaignResults,
    GroupResult,
    ItemInfo,
    RaterGroupInfo,
    TargetResult,
)

DEFAULT_POINTS_MAXIMUM = 100.0
NOT_PUBLISHED = N_("not published")
PROTECTED = N_("to protect raters' anonymity")
NO_GROUP_SHOWN = N_("no rater group's score can be shown")
NO_COMPOSITE = N_("no composite score")
NOT_RANKED = N_("not ranked")


@dataclass(frozen=True)
class Figure:
    """A figure as shown: its text, or ``None`` when it is not published, and why."""

    text: str | None
    reason: str = ""


@dataclass(frozen=True)
class CampaignLink:
    title: str
    dates: str
    href: str


@dataclass(frozen=True)
class RankingRow:
    rank: Figure
    bottom: bool
    name: str
    href: str
    composite: Figure
    composite_note: str
    grade: Figure
    evaluations: Figure


@dataclass(frozen=True)
class CategoryRanking:
    category: str
    rows: list[RankingRow]
    chart: Markup


@dataclass(frozen=True)
class Links:
    """The addresses every page of one campaign links to, in the reader's language."""

    ranking: str
    methodology: str
    index: str  # every published campaign


@dataclass(frozen=True)
class RankingView:
    title: str
    path: str
    links: Links
    categories: list[CategoryRanking]
    evaluations: Figure


@dataclass(frozen=True)
class DimensionRow:
    name: str
    score: Figure
    satisfaction: Figure


@dataclass(frozen=True)
class ItemRow:
    text: str
    scored: bool
    satisfaction: Figure
    mean: Figure


@dataclass(frozen=True)
class GroupSection:
    name: str
    weight: str
    withheld: Figure | None  # set when the whole group is not published
    evaluations: Figure
    score: Figure
    trimmed_score: Figure | None  # only when the campaign publishes a trimmed score
    items: list[ItemRow]


@dataclass(frozen=True)
class DepartmentView:
    campaign_title: str
    path: str
    links: Links
    name: str
    category: str
    composite: Figure
    composite_note: str
    grade: Figure
    rank: Figure
    bottom: bool
    evaluations: Figure
    dimension_chart: Markup | None
    dimensions: list[DimensionRow]
    groups: list[GroupSection]
    comments: list[str]
    comment_minimum: int


# Addresses


def campaign_path(slug: str) -> str:
    return f"/results/{quote(slug, safe='')}"


def campaign_links(campaign: Campaign) -> Links:
    base = campaign_path(campaign.slug)
    return Links(
        ranking=with_locale(base),
        methodology=with_locale(f"{base}/methodology"),
        index=with_locale("/results"),
    )


def department_path(slug: str, code: str) -> str:
    return f"{campaign_path(slug)}/departments/{quote(code, safe='')}"


def with_locale(path: str) -> str:
    """Links carry the language: public pages set no cookie to remember it."""
    return f"{path}?lang={current_locale()}"


# The list of published campaigns


def campaign_list(campaigns: Iterable[Campaign]) -> list[CampaignLink]:
    locale = current_locale()
    return [
        CampaignLink(
            title=campaign.title_for(locale),
            dates=_dates(campaign),
            href=campaign_links(campaign).ranking,
        )
        for campaign in campaigns
    ]


def _dates(campaign: Campaign) -> str:
    dates = [day.isoformat() for day in (campaign.starts_on, campaign.ends_on) if day]
    return " – ".join(dates)


# The ranking


def ranking(campaign: Campaign, results: CampaignResults) -> RankingView:
    links = campaign_links(campaign)
    maximum = points_maximum(results)
    categories: list[CategoryRanking] = []
    for category, targets in by_category(results.targets, lambda target: target.category).items():
        ordered = sorted(targets, key=_rank_order)
        rows = [
            RankingRow(
                rank=_rank(target, tied=_tied(target, ordered)),
                bottom=target.bottom,
                name=target.name,
                href=with_locale(department_path(campaign.slug, target.target)),
                composite=_composite(target),
                composite_note=_composite_note(results, target),
                grade=_grade(target),
                evaluations=_count(target.evaluations),
            )
            for target in ordered
        ]
        chart = horizontal_bar_chart(
            gettext("Composite score · %(category)s") % {"category": category},
            [
                Bar(target.name, target.composite_score, note=_composite_note(results, target))
                for target in ordered
            ],
            maximum=maximum,
            withheld_label=gettext(NOT_PUBLISHED),
        )
        categories.append(CategoryRanking(category=category, rows=rows, chart=chart))
    return RankingView(
        title=results.title,
        path=campaign_path(campaign.slug),
        links=links,
        categories=categories,
        evaluations=_count(results.evaluations),
    )


def _rank_order(target: TargetResult) -> tuple[bool, int]:
    """Ranked first, by rank; then the unranked. ``sorted`` keeps campaign order in ties."""
    return (target.rank is None, target.rank or 0)


# One department


def department(
    campaign: Campaign,
    results: CampaignResults,
    department_code: str,
    policy: ResultsPolicy,
    comments: list[str],
) -> DepartmentView:
    """The page of one of the campaign's targets (the caller has checked that it is one)."""
    target = next(target for target in results.targets if target.target == department_code)
    links = campaign_links(campaign)
    group_info = {group.key: group for group in results.rater_groups}
    items = {item.id: item for item in results.items}
    dimension_chart = (
        horizontal_bar_chart(
            gettext("Score by dimension"),
            [Bar(dimension.name, dimension.score) for dimension in target.dimensions],
            maximum=points_maximum(results),
            withheld_label=gettext(NOT_PUBLISHED),
        )
        if target.dimensions
        else None
    )
    groups = [
        _group_section(group, group_info[group.rater_group], items, trimmed=results.trim_share > 0)
        for group in target.groups
    ]
    return DepartmentView(
        campaign_title=results.title,
        path=department_path(campaign.slug, target.target),
        links=links,
        name=target.name,
        category=target.category,
        composite=_composite(target),
        composite_note=_composite_note(results, target),
        grade=_grade(target),
        rank=_rank_in_category(target, tied=_tied(target, results.targets)),
        bottom=target.bottom,
        evaluations=_count(target.evaluations),
        dimension_chart=dimension_chart,
        dimensions=[
            DimensionRow(
                name=dimension.name,
                score=_points(dimension.score),
                satisfaction=_percent(dimension.satisfaction_rate),
            )
            for dimension in target.dimensions
        ],
        groups=groups,
        comments=comments,
        comment_minimum=policy.comments.min_respondents,
    )


def _group_section(
    group: GroupResult, info: RaterGroupInfo, items: dict[str, ItemInfo], *, trimmed: bool
) -> GroupSection:
    withheld = group.evaluations is None and group.score is None
    return GroupSection(
        name=info.name,
        weight=setting_text(info.weight),
        withheld=Figure(None, gettext(PROTECTED)) if withheld else None,
        evaluations=_count(group.evaluations),
        score=_points(group.score),
        trimmed_score=_points(group.trimmed_score) if trimmed else None,
        items=[
            ItemRow(
                text=items[item.item].text,
                scored=items[item.item].scored,
                satisfaction=_percent(item.satisfaction_rate),
                mean=_points(item.mean_points),
            )
            for item in group.items
        ],
    )


# Shared figures


def _tied(target: TargetResult, targets: list[TargetResult]) -> bool:
    """Whether another target of the same category shares the target's rank."""
    return target.rank is not None and any(
        other.rank == target.rank and other.category == target.category
        for other in targets
        if other is not target
    )


def _rank(target: TargetResult, *, tied: bool) -> Figure:
    if target.rank is None:
        return Figure(gettext(NOT_RANKED))  # not a withheld figure: there is nothing to rank
    if tied:
        return Figure(gettext("%(rank)s (tied)") % {"rank": target.rank})
    return Figure(str(target.rank))


def _rank_in_category(target: TargetResult, *, tied: bool) -> Figure:
    if target.rank is None:
        return Figure(gettext(NOT_RANKED))
    message = (
        N_("%(rank)s of %(count)s in %(category)s, tied")
        if tied
        else N_("%(rank)s of %(count)s in %(category)s")
    )
    return Figure(
        gettext(message)
        % {
            "rank": target.rank,
            "count": target.ranked_in_category,
            "category": target.category,
        }
    )


def _composite(target: TargetResult) -> Figure:
    if target.composite_score is None:
        return Figure(None, gettext(NO_GROUP_SHOWN))
    return _points(target.composite_score)


def _grade(target: TargetResult) -> Figure:
    if target.grade is None:
        return Figure(None, gettext(NO_COMPOSITE))
    return Figure(target.grade)


def _composite_note(results: CampaignResults, target: TargetResult) -> str:
    """Names the groups a shown composite rests on, when some group's score is withheld."""
    if target.composite_score is None or len(target.composite_groups) == len(results.rater_groups):
        return ""
    names = {group.key: group.name for group in results.rater_groups}
    return gettext("From %(groups)s only") % {
        "groups": join_names(names.get(key, key) for key in target.composite_groups)
    }


def _count(value: int | None) -> Figure:
    return Figure(None, gettext(PROTECTED)) if value is None else Figure(str(value))


def _points(value: float | None) -> Figure:
    if value is None:
        return Figure(None, gettext(PROTECTED))
    return Figure(decimal_text(value, 2))


def _percent(rate: float | None) -> Figure:
    if rate is None:
        return Figure(None, gettext(PROTECTED))
    return Figure(decimal_text(Decimal(repr(rate)) * 100, 2) + "%")


def decimal_text(value: float | Decimal, decimals: int) -> str:
    """Rounded half up (四舍五入) from the value as written, like the bulletins."""
    exact = value if isinstance(value, Decimal) else Decimal(repr(value))
    rounded = exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return f"{abs(rounded) if rounded == 0 else rounded:f}"


def setting_text(value: float) -> str:
    """A setting as the office wrote it: 0.5, 85, 0.25 (no trailing zeros)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def join_names(names: Iterable[str]) -> str:
    return ("、" if current_locale() == "zh_CN" else ", ").join(names)


def points_maximum(results: CampaignResults) -> float:
    """The most points a scored answer can earn: the right end of every chart."""
    highest = [
        max(points.values())
        for item in results.items
        if item.scored
        # an item with points of its own has them under its id, the others under their scale
        and (points := results.points.get(item.id) or results.points.get(item.scale))
    ]
    top = max(highest, default=DEFAULT_POINTS_MAXIMUM)
    return top if top > 0 else DEFAULT_POINTS_MAXIMUM
