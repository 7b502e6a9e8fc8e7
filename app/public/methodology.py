"""The methodology page: how this campaign's published figures were made, in plain words.

Each section is built from the campaign's own settings as published in
:class:`CampaignResults` (points, weights, threshold, grades …) and its results policy, so the
page states what was actually done, not the defaults.
"""

from dataclasses import dataclass, field

from app.campaigns.models import Campaign
from app.campaigns.policy import ResultsPolicy
from app.i18n import N_, current_locale, gettext
from app.public.views import (
    NOT_PUBLISHED,
    Links,
    campaign_links,
    campaign_path,
    decimal_text,
    join_names,
    setting_text,
)
from app.results.schemas import (
    BallotBoxInfo,
    CampaignResults,
    PrivacyInfo,
    QualitySummary,
    RaterGroupInfo,
)
from app.surveys.schemas import NOT_APPLICABLE_LABEL, SCALES, ScaleLevel

SCALE_NAMES = {"five_level": N_("Five-level answers"), "three_level": N_("Three-level answers")}
LEVELS: dict[str, tuple[ScaleLevel, ...]] = {str(name): levels for name, levels in SCALES.items()}
QUALITY_HANDLING = {
    "keep": N_("Flagged evaluations were kept and count like any other."),
    "down_weight": N_(
        "Flagged evaluations count with weight %(weight)s instead of 1 in every mean, rate and "
        "score; counts stay whole numbers of evaluations."
    ),
    "exclude": N_("Flagged evaluations were left out of every figure and every count."),
}


@dataclass(frozen=True)
class Table:
    caption: str
    headers: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Section:
    anchor: str
    heading: str
    paragraphs: list[str]
    tables: list[Table] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MethodologyView:
    title: str
    path: str
    links: Links
    sections: list[Section]
    withheld_figures: list[str]


def methodology(
    campaign: Campaign, results: CampaignResults, policy: ResultsPolicy
) -> MethodologyView:
    sections = [
        _points_section(results),
        _scores_section(results),
        _weights_section(results.rater_groups),
        _disclosure_section(results),
        _grades_section(results),
        _ranking_section(),
        _quality_section(results.quality, policy),
        _comments_section(policy),
    ]
    if results.ballot_box is not None:
        sections.append(_ballot_box_section(results.ballot_box))
    if results.privacy is not None:
        sections.append(_privacy_section(results.privacy))
    if policy.inspection.weight > 0:
        sections.append(_inspection_section(policy))
    return MethodologyView(
        title=results.title,
        path=f"{campaign_path(campaign.slug)}/methodology",
        links=campaign_links(campaign),
        sections=sections,
        withheld_figures=results.withheld_figures,
    )


def _points_section(results: CampaignResults) -> Section:
    locale = current_locale()
    items = {item.id: item for item in results.items}
    tables: list[Table] = []
    for key, points in results.points.items():  # per scale, or per item with its own points
        if key in LEVELS:
            caption, levels = gettext(SCALE_NAMES.get(key, key)), LEVELS[key]
        elif key in items:
            item = items[key]
            caption = gettext("Question “%(question)s”") % {"question": item.text}
            levels = LEVELS[item.scale]
        else:
            continue
        rows = [
            [level.label.get(locale), setting_text(points[level.value])]
            for level in levels
            if level.value in points
        ]
        rows.append([NOT_APPLICABLE_LABEL.get(locale), gettext("not counted")])
        tables.append(
            Table(caption=caption, headers=[gettext("Answer"), gettext("Points")], rows=rows)
        )
    return Section(
        anchor="points",
        heading=gettext("Points for each answer"),
        paragraphs=[
            gettext("Each answer earns the points below."),
            gettext(
                "“Don't know” earns no points and never counts: it is left out of every mean, "
                "rate and score, so it neither raises nor lowers a department's result."
            ),
            gettext(
                "The satisfaction rate of a question is the share of its answers in the top "
                "two levels, “don't know” left out."
            ),
        ],
        tables=tables,
    )


def _scores_section(results: CampaignResults) -> Section:
    paragraphs = [
        gettext(
            "An evaluation's score is the mean of the points of the scored questions its rater "
            "answered."
        ),
        gettext(
            "A rater group's score is the mean of its evaluations' scores, so that every rater "
            "counts once, however many questions they answered."
        ),
        gettext(
            "A dimension's score is the mean of the points of all answers to its scored "
            "questions; for a department, the rater groups' dimension scores are weighted like "
            "the composite score."
        ),
    ]
    if results.trim_share > 0:
        paragraphs.append(
            gettext(
                "The trimmed score of a rater group leaves out its highest %(share)s and its "
                "lowest %(share)s of evaluation scores and takes the mean of the rest, so that "
                "a few extreme ratings move it less. It is published beside the score."
            )
            % {"share": _percent_setting(results.trim_share)}
        )
    paragraphs.append(
        gettext(
            "Every figure is computed exactly from the evaluations, never from rounded figures "
            "(a department's composite and dimension scores from the rater groups' exact "
            "figures), and rounded half up once for publication: points to two decimals, rates "
            "to four (shown as percentages with two decimals). Grades and ranks are decided on "
            "the published figure, so a score of 85.00 is never graded below 85, and two "
            "departments that publish the same composite share a rank."
        )
    )
    return Section(
        anchor="scores", heading=gettext("How scores are computed"), paragraphs=paragraphs
    )


def _weights_section(groups: list[RaterGroupInfo]) -> Section:
    total = sum(group.weight for group in groups)
    paragraphs = [
        gettext(
            "A department's composite score is the weighted mean of its rater groups' scores, "
            "with the weights below."
        ),
        gettext(
            "When a rater group's figures for a department are not published, its score is "
            "left out of that department's composite and the weights of the groups shown are "
            "scaled up to make a whole again. Including it would let anyone work the hidden "
            "score out from the composite and the other scores. The ranking names the groups "
            "a composite rests on when some are left out."
        ),
    ]
    paragraphs += _renormalisation_example(groups)
    return Section(
        anchor="weights",
        heading=gettext("Weights of the rater groups"),
        paragraphs=paragraphs,
        tables=[
            Table(
                caption=gettext("Rater groups and their weights in composite scores"),
                headers=[gettext("Rater group"), gettext("Weight"), gettext("Share")],
                rows=[
                    [group.name, setting_text(group.weight), _share(group.weight, total)]
                    for group in groups
                ],
            )
        ]
        if total > 0
        else [],
    )


def _renormalisation_example(groups: list[RaterGroupInfo]) -> list[str]:
    """What the composite weighs when the last group's figures are not published."""
    if len(groups) < 2:
        return []
    shown, left_out = groups[:-1], groups[-1]
    shown_total = sum(group.weight for group in shown)
    if shown_total <= 0:
        return []
    if len(shown) == 1:
        return [
            gettext(
                "For example, where the figures of %(left_out)s are not published, the "
                "composite is the score of %(group)s alone."
            )
            % {"left_out": left_out.name, "group": shown[0].name}
        ]
    return [
        gettext(
            "For example, where the figures of %(left_out)s are not published, the composite "
            "weighs %(shares)s."
        )
        % {
            "left_out": left_out.name,
            "shares": join_names(
                f"{group.name} {_share(group.weight, shown_total)}" for group in shown
            ),
        }
    ]


def _share(weight: float, total: float) -> str:
    return _percent_setting(weight / total)


def _percent_setting(fraction: float) -> str:
    """A share as a percentage to one decimal, without a trailing ".0": 75%, 66.7%."""
    return setting_text(float(decimal_text(fraction * 100, 1))) + "%"


def _disclosure_section(results: CampaignResults) -> Section:
    threshold = results.disclosure_threshold
    return Section(
        anchor="withheld",
        heading=gettext("What is not published, and why"),
        paragraphs=[
            gettext(
                "No figure is published that would let anyone work out how a single rater "
                "answered. This campaign's disclosure threshold is %(threshold)s."
            )
            % {"threshold": threshold},
            gettext(
                "Figures that are not published are marked so on every page and listed at the "
                "end of this page. The rules:"
            ),
        ],
        bullets=[
            gettext(
                "A count of evaluations below %(threshold)s is not published, whether of the "
                "campaign, of a department or of one rater group for a department; with a rater "
                "group's count go all of that group's figures for the department."
            )
            % {"threshold": threshold},
            gettext(
                "A question's figures, its “don't know” count included, are not published when "
                "it has fewer than %(threshold)s answers other than “don't know”."
            )
            % {"threshold": threshold},
            gettext(
                "When every answer to a question falls in one level, its figures, its “don't "
                "know” count included, are published only from %(double)s answers on (twice the "
                "threshold): otherwise everyone would know how each of those raters answered."
            )
            % {"double": 2 * threshold},
            gettext(
                "When every evaluation of a rater group for a department has the same score, "
                "that group's figures for the department, its count included, are published "
                "only from %(double)s evaluations on."
            )
            % {"double": 2 * threshold},
            gettext(
                "Counts of evaluations flagged as low quality follow the same rules as any "
                "other count."
            ),
            gettext(
                "A total is not published when it would leave fewer than %(threshold)s (but "
                "more than none) beside one of its published parts, so the rest cannot be "
                "worked out by subtraction."
            )
            % {"threshold": threshold},
            gettext(
                "When a figure is withheld, enough related figures and totals are withheld too "
                "that it cannot be worked out from what is published. This is checked by "
                "solving, for each hidden count, the equations and inequalities anyone could set "
                "up from everything published about the campaign (every table, the number of "
                "ballots on the verification page, the low-quality counts, which departments "
                "have published comments) and what the evaluation office sees besides (codes "
                "used per rater group): the range they can narrow it down to must stay at least "
                "%(width)s wide."
            )
            % {"width": setting_text(results.protection_width)},
            gettext(
                "A figure that is withheld looks the same whichever rule withheld it, and so "
                "does everything that would give it back: a mean of means, a rate times a count, "
                "a total minus its parts, a composite and its weights."
            ),
            gettext(
                "The same figures are withheld in every table, page and download of the "
                "campaign, and there is no way to filter or combine results differently."
            ),
        ],
    )


def _grades_section(results: CampaignResults) -> Section:
    bands = sorted(results.grades, key=lambda band: band.minimum, reverse=True)
    rows: list[list[str]] = []
    for index, band in enumerate(bands):
        minimum = setting_text(band.minimum)
        if index == 0:
            limits = gettext("%(minimum)s or more") % {"minimum": minimum}
        else:
            limits = gettext("from %(minimum)s to under %(next)s") % {
                "minimum": minimum,
                "next": setting_text(bands[index - 1].minimum),
            }
        rows.append([band.name, limits])
    return Section(
        anchor="grades",
        heading=gettext("Grades"),
        paragraphs=[
            gettext(
                "A department's grade follows from its composite score. A department whose "
                "composite score is not published gets no grade."
            )
        ],
        tables=[
            Table(
                caption=gettext("Grades by composite score"),
                headers=[gettext("Grade"), gettext("Composite score")],
                rows=rows,
            )
        ]
        if rows
        else [],
    )


def _ranking_section() -> Section:
    return Section(
        anchor="ranking",
        heading=gettext("Ranking"),
        paragraphs=[
            gettext(
                "Departments are ranked within their category by composite score, the highest "
                "first. Departments with the same published composite score share a rank, and "
                "the ranks after them are skipped accordingly (1, 2, 2, 4)."
            ),
            gettext(
                "The department ranked last in its category is marked “last place”, when at "
                "least two departments of the category are ranked and they do not all share "
                "one rank. A department whose composite score is not published is not ranked."
            ),
        ],
    )


def _quality_section(quality: QualitySummary | None, policy: ResultsPolicy) -> Section:
    rules = policy.quality
    paragraphs = [
        gettext(
            "An evaluation is flagged as low quality when it gives the same answer to every "
            "question (at least %(items)s questions answered), or when the form was sent back "
            "implausibly fast (less than %(seconds)s seconds per answered question). Only the "
            "flag is stored, never a time."
        )
        % {
            "items": rules.straight_line_min_items,
            "seconds": setting_text(rules.min_seconds_per_item),
        }
    ]
    if quality is not None and quality.flagged is None:
        paragraphs.append(
            gettext(
                "How many evaluations were flagged is not published, to protect raters' anonymity."
            )
        )
    elif quality is not None:
        counted = (
            N_(
                "In this campaign %(flagged)s evaluations were flagged: %(straight)s for the "
                "same answer throughout and %(fast)s for speed (one evaluation can have both "
                "flags)."
            )
            if quality.evaluations is None
            else N_(
                "In this campaign %(flagged)s of %(evaluations)s evaluations were flagged: "
                "%(straight)s for the same answer throughout and %(fast)s for speed (one "
                "evaluation can have both flags)."
            )
        )
        paragraphs.append(
            gettext(counted)
            % {
                "flagged": _count_text(quality.flagged),
                "evaluations": quality.evaluations,
                "straight": _count_text(quality.straight_lining),
                "fast": _count_text(quality.too_fast),
            }
        )
    if quality is not None:
        handling = QUALITY_HANDLING.get(quality.handling)
        if handling is not None:
            weight = quality.down_weight if quality.down_weight is not None else 0.0
            paragraphs.append(gettext(handling) % {"weight": setting_text(weight)})
    return Section(
        anchor="quality", heading=gettext("Low-quality evaluations"), paragraphs=paragraphs
    )


def _count_text(count: int | None) -> str:
    """A count in a sentence, or the one general word for a count not published."""
    return gettext(NOT_PUBLISHED) if count is None else str(count)


def _comments_section(policy: ResultsPolicy) -> Section:
    return Section(
        anchor="comments",
        heading=gettext("Comments"),
        paragraphs=[
            gettext("Raters' written comments are published only:"),
        ],
        bullets=[
            gettext("after the campaign has closed;"),
            gettext("for departments with at least %(minimum)s respondents;")
            % {"minimum": policy.comments.min_respondents},
            gettext(
                "with mobile phone numbers, ID-card numbers, e-mail addresses and listed names "
                "removed;"
            ),
            gettext("in random order and without dates;"),
            gettext("once the evaluation office has approved each one."),
        ],
    )


def _ballot_box_section(box: BallotBoxInfo) -> Section:
    if not box.sealed:
        paragraphs = [
            gettext(
                "This campaign was opened before the sealed ballot box existed: its ballots were "
                "stored as evaluations when they were submitted."
            )
        ]
    else:
        paragraphs = [
            gettext(
                "Every ballot was encrypted when it was submitted and stored only as a "
                "ciphertext, so no one could read a rating before the tally: not the evaluation "
                "office, and not the database's administrator."
            ),
            gettext(
                "The key that opens the ballots was split among %(trustees)s trustees; "
                "%(threshold)s of them together opened the box after the campaign closed. The "
                "evaluations were then stored in random order, all at once, and the comments "
                "copied without any link to their ballots."
            )
            % {"trustees": box.trustees, "threshold": box.threshold},
        ]
        if box.sealed_from is not None:
            paragraphs.append(
                gettext(
                    "This campaign was already open when the ballot box was introduced: ballots "
                    "submitted from %(day)s on were sealed; earlier ones were stored as "
                    "evaluations directly."
                )
                % {"day": box.sealed_from.isoformat()}
            )
    return Section(
        anchor="ballot-box", heading=gettext("How ballots were kept"), paragraphs=paragraphs
    )


def _privacy_section(privacy: PrivacyInfo) -> Section:
    return Section(
        anchor="privacy",
        heading=gettext("Differential privacy"),
        paragraphs=[
            gettext(
                "Before publication, calibrated random noise was added to the published counts "
                "and means, so that the release as a whole reveals little about any one rater, "
                "whatever else someone knows. Means were computed from the noisy figures."
            ),
            gettext(
                "The privacy budget ε measures the protection: the smaller it is, the stronger "
                "the protection and the larger the noise."
            ),
        ],
        tables=[
            Table(
                caption=gettext("How the noise was added"),
                headers=[gettext("Setting"), gettext("Value")],
                rows=[
                    [gettext("Method"), privacy.mechanism],
                    [gettext("Privacy budget ε"), setting_text(privacy.epsilon)],
                    [gettext("What is protected"), privacy.unit],
                    [gettext("Sensitivity"), setting_text(privacy.sensitivity)],
                    [gettext("Library"), privacy.library],
                ],
            )
        ],
    )


def _inspection_section(policy: ResultsPolicy) -> Section:
    """Mystery inspections (暗访) as a scored channel (app.inspections.channel)."""
    setting = policy.inspection
    weight = setting_text(setting.weight)
    rating_weight = setting_text(1 - setting.weight)
    source = (
        gettext(
            "The inspection score is 100 minus %(deduction)s points for every problem found by "
            "mystery inspection at the department within the campaign's dates, never below 0."
        )
        % {"deduction": setting_text(setting.deduction_per_finding)}
        if setting.source == "findings"
        else gettext(
            "The inspection score (0 to 100) is entered by the evaluation office from its "
            "mystery inspections; a department without one has no overall score."
        )
    )
    return Section(
        anchor="inspections",
        heading=gettext("Mystery inspections in the overall score"),
        paragraphs=[
            gettext(
                "Besides the ratings, mystery inspections (posing as an applicant, phone checks "
                "and site visits) count towards each department's overall score: overall score "
                "= %(rating)s × published composite score + %(weight)s × inspection score, "
                "rounded half up to two decimals. The overall grade and rank follow the same "
                "grade bands and ranking rules as the composite score."
            )
            % {"rating": rating_weight, "weight": weight},
            source,
            gettext(
                "A department whose composite score is not published has no overall score, "
                "since it would reveal the composite. The inspection score is not a count of "
                "raters, so the disclosure rules for counts do not apply to it; the composite "
                "score, grade and rank above are the ratings' own."
            ),
        ],
    )
