"""Department figures computed exactly, rounded once, graded and ranked as published.

One campaign, worked out by hand: disclosure threshold k = 3 (so 2k = 6), citizens weighing
249 and enterprises 1, so a composite is (249 × citizens + enterprises) / 250 and a rounding
of a citizens' figure by up to 0.005 moves the department's figure by nearly as much. The
questionnaire is :func:`tests.results.helpers.rating_questionnaire`: courtesy (five-level,
100/80/60/40/20 points, dimension 服务态度), speed (three-level, 100/70/30, dimension 办事效率)
and overall (not scored). Answers are written (courtesy, speed, overall); an evaluation's
score is the mean of its two scored items. Satisfied: courtesy 5 or 4, speed 3 or 2.

窗口类 (a tie after rounding):

- A 区政务服务中心. Citizens, ten: nine (3, 3) score (60 + 100) / 2 = 80, one (5, 2) scores
  (100 + 70) / 2 = 85: 805 / 10 = 80.5. Enterprises, ten: five (5, 3) = 100, three (4, 3) = 90,
  two (5, 2) = 85: 940 / 10 = 94. Composite (249 × 80.5 + 94) / 250 = 20138.5 / 250 = 80.554,
  published 80.55.
- B 区不动产登记中心. Citizens as A's: 80.5. Enterprises, five: (4, 2) = 75, (5, 2) = 85,
  three (5, 3) = 100: 460 / 5 = 92. Composite 20136.5 / 250 = 80.546, published 80.55.
  A and B publish the same composite, so they share rank 1 (ranked on the exact composites,
  A would be 1st and B 2nd).
- C 区医保服务中心. Citizens, seven: (2, 3) = 70, (3, 2) = 65, (3, 3) = 80, (4, 1) = 55,
  (5, 1) = 65, (5, 2) = 85, (5, 3) = 100: 520 / 7 = 74.2857…, shown 74.29. Enterprises, three:
  (1, 2) = 45, (2, 1) = 35, (5, 1) = 65: 145 / 3 = 48.333…, shown 48.33.
  Composite exact: (249 × 520/7 + 145/3) / 250 = 389455 / 5250 = 74.18190…, published 74.18;
  from the shown group scores it would be (249 × 74.29 + 48.33) / 250 = 18546.54 / 250 =
  74.18616 → 74.19. Rank 3 of 3: the ranks skip 2 after the tie; C is last (末位).

  Its 服务态度 (courtesy): citizens 40 + 60 + 60 + 80 + 100 + 100 + 100 = 540 / 7 =
  77.142857…, shown 77.14, satisfied 4 / 7 = 0.571428…, shown 0.5714; enterprises
  20 + 40 + 100 = 160 / 3 = 53.333…, shown 53.33, satisfied 1 / 3, shown 0.3333.
  Department score exact: (249 × 540/7 + 160/3) / 250 = 404500 / 5250 = 77.047619… → 77.05;
  from the shown figures (249 × 77.14 + 53.33) / 250 = 19261.19 / 250 = 77.04476 → 77.04.
  Department rate exact: (249 × 4/7 + 1/3) / 250 = 2995 / 5250 = 0.5704761… → 0.5705; from
  the shown figures (249 × 0.5714 + 0.3333) / 250 = 142.6119 / 250 = 0.5704476 → 0.5704.
  Its 办事效率 (speed): citizens 100 + 70 + 100 + 30 + 30 + 70 + 100 = 500 / 7, satisfied
  5 / 7; enterprises 70 + 30 + 30 = 130 / 3, satisfied 1 / 3. Score (249 × 500/7 + 130/3) / 250
  = 374410 / 5250 = 71.3161… → 71.32; rate (249 × 5/7 + 1/3) / 250 = 3742 / 5250 =
  0.712761… → 0.7128 (here the shown figures happen to give the same).

执法类 (a band edge, and a unanimous group):

- D 区市场监管局. Citizens, seven: (5, 3) = 100 twice, (4, 3) = 90, (5, 2) = 85, (4, 2) = 75,
  (3, 3) = 80, (3, 2) = 65: 595 / 7 = 85. Enterprises, five: four (5, 2) = 85 and (3, 3) = 80:
  420 / 5 = 84. Composite (249 × 85 + 84) / 250 = 21249 / 250 = 84.996, published 85.0, so
  满意 (≥ 85): graded on the exact composite it would be 比较满意. Rank 1.
- E 区城管局. Citizens, five: (5, 1) three times and (3, 2) twice, answers that differ but all
  score (100 + 30) / 2 = (60 + 70) / 2 = 65. Every item has two levels or more, so no item is
  unanimous; but the scores all agree and 5 < 2k = 6, so the group is withheld whole: its
  count, score, every item and every 不了解 count, exactly as a group below the threshold.
  Its count would follow from the department's count minus the enterprises', so that goes too.
  Enterprises, three: (4, 3) = 90, (3, 2) = 65, (5, 2) = 85: 240 / 3 = 80. Composite over the
  shown group alone, the weights renormalised: 1 × 80 / 1 = 80.0, 比较满意 (with the withheld
  citizens it would be (249 × 65 + 80) / 250 = 65.06). Rank 2.
- F 区生态环境局. Citizens, two: below the threshold, withheld. Enterprises, three:
  (3, 3) = 80, (4, 2) = 75, (2, 2) = 55: 210 / 3 = 70. Composite 70.0, 基本满意, rank 3, 末位.
"""

import csv
import io
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from openpyxl import load_workbook  # type: ignore[import-untyped]
from sqlalchemy.orm import Session

from app.campaigns.models import Campaign
from app.i18n import gettext, translations_for
from app.reports import xlsx
from app.results import export, layout
from app.results import service as results_service
from app.results.schemas import CampaignResults, GroupResult, TargetResult
from tests.factories import make_campaign, make_department, tally
from tests.results.helpers import Level, rate, rating_questionnaire
from tests.results.test_service import (
    ITEM_FIGURES,
    SCORE_FIGURES,
    group_result,
    item_result,
    lines_about,
)

THRESHOLD = 3
CITIZENS_WEIGHT = 249.0
ENTERPRISES_WEIGHT = 1.0

Answers = list[tuple[Level, Level, Level]]

# Nine score 80, one 85: 80.5. The overall answers vary (not scored).
CITIZENS_80_5: Answers = [
    (3, 3, 3),
    (3, 3, 4),
    (3, 3, 3),
    (3, 3, 2),
    (3, 3, 3),
    (3, 3, 4),
    (3, 3, 3),
    (3, 3, 5),
    (3, 3, 3),
    (5, 2, 5),
]

# Per department: name, category, the citizens' answers, the enterprises' answers.
DEPARTMENTS: list[tuple[str, str, Answers, Answers]] = [
    (
        "区政务服务中心",  # A
        "窗口类",
        CITIZENS_80_5,
        [
            (5, 3, 5),
            (5, 3, 4),
            (5, 3, 5),
            (5, 3, 4),
            (5, 3, 5),
            (4, 3, 4),
            (4, 3, 4),
            (4, 3, 3),
            (5, 2, 5),
            (5, 2, 4),
        ],  # 100 × 5, 90 × 3, 85 × 2: 94
    ),
    (
        "区不动产登记中心",  # B
        "窗口类",
        CITIZENS_80_5,
        [(4, 2, 3), (5, 2, 4), (5, 3, 5), (5, 3, 5), (5, 3, 4)],  # 75, 85, 100 × 3: 92
    ),
    (
        "区医保服务中心",  # C
        "窗口类",
        [(2, 3, 2), (3, 2, 3), (3, 3, 3), (4, 1, 3), (5, 1, 4), (5, 2, 4), (5, 3, 5)],
        [(1, 2, 1), (2, 1, 2), (5, 1, 4)],  # 45, 35, 65
    ),
    (
        "区市场监管局",  # D
        "执法类",
        [(5, 3, 5), (5, 3, 4), (4, 3, 4), (5, 2, 5), (4, 2, 4), (3, 3, 3), (3, 2, 3)],
        [(5, 2, 5), (5, 2, 4), (5, 2, 5), (5, 2, 4), (3, 3, 3)],  # 85 × 4, 80: 84
    ),
    (
        "区城管局",  # E
        "执法类",
        [(5, 1, 4), (3, 2, 4), (5, 1, 2), (3, 2, 5), (5, 1, 1)],  # 65 each
        [(4, 3, 4), (3, 2, 3), (5, 2, 5)],  # 90, 65, 85: 80
    ),
    (
        "区生态环境局",  # F
        "执法类",
        [(5, 3, 5), (4, 2, 4)],  # two: below the threshold
        [(3, 3, 3), (4, 2, 4), (2, 2, 2)],  # 80, 75, 55: 70
    ),
]
A, B, C, D, E, F = range(len(DEPARTMENTS))

# Per department: composite, grade, rank, ranked in category, 末位, groups in the composite.
EXPECTED_RANKING = {
    A: (80.55, "比较满意", 1, 3, False, ["citizens", "enterprises"]),
    B: (80.55, "比较满意", 1, 3, False, ["citizens", "enterprises"]),
    C: (74.18, "基本满意", 3, 3, True, ["citizens", "enterprises"]),
    D: (85.0, "满意", 1, 3, False, ["citizens", "enterprises"]),
    E: (80.0, "比较满意", 2, 3, False, ["enterprises"]),
    F: (70.0, "基本满意", 3, 3, True, ["enterprises"]),
}


def rate_campaign(session: Session) -> Campaign:
    departments = [
        make_department(session, name=name, category=category)
        for name, category, _, _ in DEPARTMENTS
    ]
    campaign = make_campaign(
        session,
        questionnaire=rating_questionnaire(),
        groups={"citizens": CITIZENS_WEIGHT, "enterprises": ENTERPRISES_WEIGHT},
        departments=departments,
        threshold=THRESHOLD,
    )
    for index, (_, _, citizens, enterprises) in enumerate(DEPARTMENTS):
        rate(session, campaign, "citizens", citizens, target_index=index)
        rate(session, campaign, "enterprises", enterprises, target_index=index)
    tally(session, campaign)
    return campaign


def results_of(session: Session) -> tuple[Campaign, CampaignResults]:
    campaign = rate_campaign(session)
    return campaign, results_service.campaign_results(session, campaign, "zh_CN")


def department(results: CampaignResults, campaign: Campaign, index: int) -> TargetResult:
    code = campaign.targets[index].department.code
    return next(target for target in results.targets if target.target == code)


def half_up(value: Decimal, decimals: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def from_shown(citizens: float, enterprises: float, decimals: int) -> Decimal:
    """What weighting the groups' shown (rounded) figures would give: the wrong way."""
    weighted = Decimal(249) * Decimal(str(citizens)) + Decimal(str(enterprises))
    return half_up(weighted / Decimal(250), decimals)


def said(line: str, **names: str) -> str:
    """A line of ``withheld_figures`` as the Chinese results say it."""
    translate = translations_for("zh_CN").gettext
    return translate(line) % {**names, "reason": translate(layout.WITHHELD_REASON)}


def assert_withheld_whole(group: GroupResult) -> None:
    assert group.evaluations is None
    assert group.score is None
    assert group.withheld == ["evaluations", *SCORE_FIGURES]
    assert [item.item for item in group.items] == ["courtesy", "speed", "overall"]
    for item in group.items:
        assert item.respondents is None
        assert item.not_applicable is None
        assert item.mean_points is None
        assert item.satisfaction_rate is None
        assert item.distribution is None
        assert item.withheld == ITEM_FIGURES
    for dimension in group.dimensions:
        assert dimension.mean_points is None
        assert dimension.satisfaction_rate is None
        assert "mean_points" in dimension.withheld


class TestTieAfterRounding:
    def test_composites_that_round_alike_share_the_rank_and_the_next_is_third(
        self, any_session: Session
    ) -> None:
        campaign, results = results_of(any_session)
        first, second, third = (department(results, campaign, index) for index in (A, B, C))

        assert group_result(first, "citizens").score == 80.5  # (9 × 80 + 85) / 10
        assert group_result(first, "enterprises").score == 94.0  # (5 × 100 + 3 × 90 + 2 × 85) / 10
        assert group_result(second, "citizens").score == 80.5
        assert group_result(second, "enterprises").score == 92.0  # (75 + 85 + 3 × 100) / 5
        # 80.554 and 80.546, both published 80.55: one rank, as a reader sees one figure.
        assert (first.composite_score, first.grade, first.rank) == (80.55, "比较满意", 1)
        assert (second.composite_score, second.grade, second.rank) == (80.55, "比较满意", 1)
        assert (first.bottom, second.bottom) == (False, False)
        assert (third.composite_score, third.rank, third.ranked_in_category) == (74.18, 3, 3)
        assert third.bottom


class TestBandEdge:
    def test_composite_published_at_the_band_minimum_gets_that_band(
        self, any_session: Session
    ) -> None:
        campaign, results = results_of(any_session)
        edge = department(results, campaign, D)
        citizens, enterprises = (group_result(edge, key) for key in ("citizens", "enterprises"))

        assert (citizens.evaluations, citizens.score) == (7, 85.0)  # 595 / 7, not all alike
        assert citizens.score_standard_deviation not in (None, 0.0)
        assert (enterprises.evaluations, enterprises.score) == (5, 84.0)  # (4 × 85 + 80) / 5
        # (249 × 85 + 84) / 250 = 84.996: published 85.0, and so 满意 (≥ 85), not 比较满意.
        assert edge.composite_score == 85.0
        assert edge.grade == "满意"
        assert (edge.rank, edge.ranked_in_category, edge.bottom) == (1, 3, False)
        assert edge.withheld == []


class TestExactDepartmentFigures:
    def test_composite_and_dimension_figures_weigh_the_groups_exact_figures(
        self, any_session: Session
    ) -> None:
        campaign, results = results_of(any_session)
        target = department(results, campaign, C)
        citizens, enterprises = (group_result(target, key) for key in ("citizens", "enterprises"))

        # The groups' shown figures.
        assert (citizens.score, enterprises.score) == (74.29, 48.33)  # 520/7, 145/3
        courtesy = item_result(citizens, "courtesy")
        assert (courtesy.mean_points, courtesy.satisfaction_rate) == (77.14, 0.5714)  # 540/7, 4/7
        courtesy = item_result(enterprises, "courtesy")
        assert (courtesy.mean_points, courtesy.satisfaction_rate) == (53.33, 0.3333)  # 160/3, 1/3
        attitude = {group.rater_group: group.dimensions[0] for group in (citizens, enterprises)}
        assert attitude["citizens"].mean_points == 77.14
        assert attitude["enterprises"].satisfaction_rate == 0.3333

        # The department's, from the exact ones (see the module's docstring).
        assert target.composite_score == 74.18  # 389455 / 5250 = 74.1819…
        assert [(d.dimension, d.score, d.satisfaction_rate) for d in target.dimensions] == [
            ("attitude", 77.05, 0.5705),  # 404500 / 5250 = 77.0476…; 2995 / 5250 = 0.57047…
            ("efficiency", 71.32, 0.7128),  # 374410 / 5250 = 71.3161…; 3742 / 5250 = 0.71276…
        ]
        assert target.withheld == []

        # The case tells the two ways apart: from the shown figures the last digit differs.
        assert from_shown(74.29, 48.33, 2) == Decimal("74.19")  # 18546.54 / 250 = 74.18616
        assert from_shown(77.14, 53.33, 2) == Decimal("77.04")  # 19261.19 / 250 = 77.04476
        assert from_shown(0.5714, 0.3333, 4) == Decimal("0.5704")  # 142.6119 / 250 = 0.57044…


class TestUnanimousGroup:
    def test_group_scoring_alike_below_2k_is_withheld_whole_and_left_out_of_the_composite(
        self, any_session: Session
    ) -> None:
        campaign, results = results_of(any_session)
        alike = department(results, campaign, E)
        small = department(results, campaign, F)

        # What makes the case: every item of E's citizens has two levels or more (none would
        # be withheld as unanimous), but every evaluation scores 65, and 5 < 2k.
        answers = DEPARTMENTS[E][2]
        for position in range(3):
            assert len({answer[position] for answer in answers}) >= 2
        points: dict[tuple[Level, Level], float] = {(5, 1): (100 + 30) / 2, (3, 2): (60 + 70) / 2}
        assert {points[(courtesy, speed)] for courtesy, speed, _ in answers} == {65}

        citizens = group_result(alike, "citizens")
        assert_withheld_whole(citizens)
        # Exactly as the two citizens of F, below the threshold:
        assert citizens == group_result(small, "citizens")
        # and the same lines in plain words.
        assert lines_about(results, alike.name) == [
            line.replace(small.name, alike.name) for line in lines_about(results, small.name)
        ]
        # Nothing else of a department is withheld; with the department's and the campaign's
        # counts goes the quality-flag count (0 flagged, below k).
        citizens_name = results.rater_groups[0].name
        assert results.withheld_figures == [
            said(layout.LINE_GROUP, target=alike.name, group=citizens_name),
            said(layout.LINE_TARGET_EVALUATIONS, target=alike.name),
            said(layout.LINE_GROUP, target=small.name, group=citizens_name),
            said(layout.LINE_TARGET_EVALUATIONS, target=small.name),
            said(layout.LINE_CAMPAIGN),
            said(layout.LINE_QUALITY),
        ]
        # The department's count minus the enterprises' would give the citizens' count back.
        assert alike.evaluations is None

        enterprises = group_result(alike, "enterprises")
        assert (enterprises.evaluations, enterprises.score) == (3, 80.0)  # (90 + 65 + 85) / 3
        # The composite over the shown group alone, its weight of 1 renormalised.
        assert alike.composite_groups == ["enterprises"]
        assert alike.composite_score == 80.0
        assert (alike.grade, alike.rank) == ("比较满意", 2)
        assert alike.withheld == ["evaluations"]
        for dimension in alike.dimensions:  # the enterprises' alone too
            assert dimension.withheld == []
        assert [(d.score, d.satisfaction_rate) for d in alike.dimensions] == [
            (80.0, 0.6667),  # courtesy 80, 60, 100: 240 / 3; 2 of 3 at level 4 or 5
            (80.0, 1.0),  # speed 100, 70, 70: 240 / 3; levels 3, 2, 2 all satisfied
        ]

        assert (small.composite_score, small.grade, small.rank) == (70.0, "基本满意", 3)
        assert small.composite_groups == ["enterprises"]
        assert small.bottom


class TestEveryDepartment:
    def test_composites_grades_and_ranks(self, any_session: Session) -> None:
        campaign, results = results_of(any_session)

        assert {
            index: (
                target.composite_score,
                target.grade,
                target.rank,
                target.ranked_in_category,
                target.bottom,
                target.composite_groups,
            )
            for index in range(len(DEPARTMENTS))
            for target in [department(results, campaign, index)]
        } == EXPECTED_RANKING


def csv_rows(results: CampaignResults) -> dict[str, dict[str, str]]:
    """The CSV's composite rows by department code."""
    text = "".join(export.csv_lines(results)).removeprefix("\ufeff")
    header, *lines = csv.reader(io.StringIO(text, newline=""))
    rows = [dict(zip(header, line, strict=True)) for line in lines]
    composite = gettext(export.ROW_COMPOSITE)
    return {
        row[gettext("department code")]: row
        for row in rows
        if row[gettext("row type")] == composite
    }


def xlsx_sheet(results: CampaignResults, title: str) -> list[dict[str, Any]]:
    stream = io.BytesIO()
    xlsx.write_xlsx(results, stream)
    workbook = load_workbook(io.BytesIO(stream.getvalue()))
    header, *rows = workbook[gettext(title)].iter_rows(values_only=True)
    return [dict(zip(header, row, strict=True)) for row in rows]


class TestFormats:
    def test_csv_and_xlsx_carry_the_same_composite_grade_and_rank(self, session: Session) -> None:
        campaign, results = results_of(session)
        codes = {index: campaign.targets[index].department.code for index in EXPECTED_RANKING}
        by_csv = csv_rows(results)
        by_xlsx = {
            row[gettext("department code")]: row for row in xlsx_sheet(results, xlsx.SHEET_RANKING)
        }
        composite, grade, rank, ranked, last = (
            gettext("composite score"),
            gettext("grade"),
            gettext("rank in category"),
            gettext("departments ranked in category"),
            gettext("last place"),
        )

        for index, (score, band, place, count, bottom, _) in EXPECTED_RANKING.items():
            row = by_csv[codes[index]]
            assert float(row[composite]) == score
            assert (row[grade], row[rank], row[ranked]) == (band, str(place), str(count))
            assert row[last] == (last if bottom else "")
            sheet_row = by_xlsx[codes[index]]
            assert sheet_row[composite] == score
            assert (sheet_row[grade], sheet_row[rank], sheet_row[ranked]) == (band, place, count)
            assert sheet_row[last] == (last if bottom else None)
        # E's count, withheld with its unanimous citizens, is empty in both.
        assert by_csv[codes[E]][gettext("evaluations")] == ""
        assert by_xlsx[codes[E]][gettext("evaluations")] is None

    def test_csv_and_xlsx_carry_the_exact_dimension_figures(self, session: Session) -> None:
        campaign, results = results_of(session)
        code = campaign.targets[C].department.code
        names = {dimension.id: dimension.name for dimension in results.dimensions}
        score, rate_column = gettext("score"), gettext("satisfaction rate")
        row = csv_rows(results)[code]
        composite = gettext(xlsx.COMPOSITE_ROW)
        sheet = {
            row[gettext("dimension")]: row
            for row in xlsx_sheet(results, xlsx.SHEET_DIMENSIONS)
            if row[gettext("department code")] == code and row[gettext("rater group")] == composite
        }

        for dimension, expected in [("attitude", (77.05, 0.5705)), ("efficiency", (71.32, 0.7128))]:
            name = names[dimension]
            assert (
                float(row[f"{name} · {score}"]),
                float(row[f"{name} · {rate_column}"]),
            ) == expected
            assert (sheet[name][score], sheet[name][rate_column]) == expected
