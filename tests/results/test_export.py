"""Writing results to CSV (for Excel, in Chinese by default) and to JSON."""

import csv
import io
from pathlib import Path

from sqlalchemy.orm import Session

from app import i18n
from app.results import export
from app.results import service as results_service
from app.results.schemas import (
    CampaignResults,
    DimensionInfo,
    DimensionResult,
    GroupResult,
    ItemInfo,
    ItemResult,
    RaterGroupInfo,
    TargetDimension,
    TargetResult,
)
from app.surveys.schemas import ScaleName
from tests.factories import make_campaign, make_department, tally
from tests.results.helpers import rate, rating_questionnaire

UTF8_BOM = b"\xef\xbb\xbf"
# The columns before the answers per level ...
FIXED_HEADER = [
    "行类型",
    "单位代码",
    "单位名称",
    "类别",
    "评议主体",
    "维度",
    "题目编号",
    "题目",
    "评价份数",
    "参评人数",
    "作答数",
    "不了解",
    "平均分",
    "得分",
    "标准差",
    "95% 置信区间下限",
    "95% 置信区间上限",
    "满意度",
]
# ... and after them: the departments' figures, then each dimension's department figures.
TARGET_HEADER = ["综合得分", "等次", "类别内排名", "类别内参评单位数", "末位", "计入的评议主体"]
WITHHELD_HEADER = "不予公布"
ITEM_WITHHELD_IN_WITHHELD_CELL = (
    "参评人数; 不了解; 平均分; 标准差; 95% 置信区间下限; 95% 置信区间上限; 满意度; 各等级人数"
)
GROUP_WITHHELD_IN_WITHHELD_CELL = "评价份数; 得分; 标准差; 95% 置信区间下限; 95% 置信区间上限"
FIVE_LEVELS = ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
NUMBERED_LEVELS = ["5级", "4级", "3级", "2级", "1级"]

Row = dict[str, str]  # a row by its header


def shown_item(item: str, distribution: dict[int, int], not_applicable: int = 0) -> ItemResult:
    return ItemResult(
        item=item,
        respondents=sum(distribution.values()) + not_applicable,
        not_applicable=not_applicable,
        mean_points=77.5,
        satisfaction_rate=0.6667,
        distribution=distribution,
        withheld=[],
    )


def withheld_item(item: str) -> ItemResult:
    return ItemResult(
        item=item,
        respondents=None,
        not_applicable=None,
        mean_points=None,
        satisfaction_rate=None,
        distribution=None,
        withheld=[
            "respondents",
            "not_applicable",
            "mean_points",
            "standard_deviation",
            "ci_low",
            "ci_high",
            "satisfaction_rate",
            "distribution",
        ],
    )


def sample_results(guidance_scale: ScaleName = "three_level") -> CampaignResults:
    """Two targets: D0001 with citizens shown and cadres withheld; D0002 withheld throughout.

    Citizens see courtesy and speed; cadres also see guidance. D0001's citizens have their
    attitude dimension (courtesy) shown.
    """
    item_ids = {"citizens": ["courtesy", "speed"], "cadres": ["courtesy", "speed", "guidance"]}
    citizens_shown = GroupResult(
        rater_group="citizens",
        evaluations=6,
        score=86.5,
        score_standard_deviation=9.5,
        score_ci_low=76.53,
        score_ci_high=96.47,
        withheld=[],
        dimensions=[
            DimensionResult(
                dimension="attitude",
                name="服务态度",
                answers=5,
                not_applicable=1,
                mean_points=77.5,
                standard_deviation=12.5,
                ci_low=61.98,
                ci_high=93.02,
                satisfaction_rate=0.6667,
                distribution={5: 3, 4: 1, 3: 1, 2: 0, 1: 0},
                withheld=[],
            )
        ],
        items=[
            shown_item("courtesy", {5: 3, 4: 1, 3: 1, 2: 0, 1: 0}, not_applicable=1),
            ItemResult(
                item="speed",
                respondents=6,
                not_applicable=4,
                mean_points=None,
                satisfaction_rate=None,
                distribution=None,
                withheld=["mean_points", "satisfaction_rate", "distribution"],
            ),
        ],
    )

    def withheld_group(key: str) -> GroupResult:
        return GroupResult(
            rater_group=key,
            evaluations=None,
            score=None,
            withheld=[
                "evaluations",
                "score",
                "score_standard_deviation",
                "score_ci_low",
                "score_ci_high",
            ],
            items=[withheld_item(item) for item in item_ids[key]],
        )

    return CampaignResults(
        campaign="spring-2025",
        title="2025年春季评议",
        status="closed",
        disclosure_threshold=5,
        rater_groups=[
            RaterGroupInfo(key="citizens", name="群众", weight=3.0),
            RaterGroupInfo(key="cadres", name="基层干部", weight=1.0),
        ],
        dimensions=[DimensionInfo(id="attitude", name="服务态度")],
        items=[
            ItemInfo(
                id="courtesy",
                dimension="attitude",
                text="态度热情",
                scale="five_level",
                scored=True,
            ),
            ItemInfo(
                id="speed", dimension="efficiency", text="办事快捷", scale="five_level", scored=True
            ),
            ItemInfo(
                id="guidance",
                dimension="efficiency",
                text="指导基层",
                scale=guidance_scale,
                scored=False,
            ),
        ],
        targets=[
            TargetResult(
                target="D0001",
                name="市政务服务中心",
                category="窗口类",
                evaluations=6,
                composite_score=86.5,
                composite_groups=["citizens"],
                grade="满意",
                rank=1,
                ranked_in_category=1,
                dimensions=[
                    TargetDimension(
                        dimension="attitude",
                        name="服务态度",
                        score=77.5,
                        satisfaction_rate=0.6667,
                        withheld=[],
                    )
                ],
                withheld=[],
                groups=[citizens_shown, withheld_group("cadres")],
            ),
            TargetResult(
                target="D0002",
                name="市住建局",
                category="综合类",
                evaluations=None,
                composite_score=None,
                composite_groups=[],
                ranked_in_category=0,
                dimensions=[
                    TargetDimension(
                        dimension="attitude",
                        name="服务态度",
                        score=None,
                        satisfaction_rate=None,
                        withheld=["score", "satisfaction_rate"],
                    )
                ],
                withheld=["evaluations", "composite_score", "grade", "rank"],
                groups=[withheld_group("citizens"), withheld_group("cadres")],
            ),
        ],
    )


def csv_text(results: CampaignResults) -> str:
    stream = io.StringIO(newline="")
    export.write_csv(results, stream)
    return stream.getvalue()


def csv_lines(results: CampaignResults) -> list[list[str]]:
    text = csv_text(results)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def csv_header(results: CampaignResults) -> list[str]:
    return csv_lines(results)[0]


def csv_rows(results: CampaignResults) -> list[Row]:
    """The rows after the header, each by its header (the Chinese one by default)."""
    header, *lines = csv_lines(results)
    return [dict(zip(header, line, strict=True)) for line in lines]


def row_for(
    rows: list[Row],
    row_type: str,
    code: str,
    group: str = "",
    item: str = "",
    *,
    dimension: str = "",
) -> Row:
    (row,) = [
        row
        for row in rows
        if (row["行类型"], row["单位代码"], row["评议主体"], row["维度"], row["题目编号"])
        == (row_type, code, group, dimension, item)
    ]
    return row


def figures(row: Row, first: str, last: str) -> list[str]:
    """The cells from column ``first`` to column ``last``, both included."""
    names = list(row)
    return [row[name] for name in names[names.index(first) : names.index(last) + 1]]


def filled(row: Row, first: str = "评价份数", last: str = "") -> dict[str, str]:
    """The cells that are not empty from column ``first`` to ``last`` (or the last figure's)."""
    names = list(row)
    end = names.index(last) + 1 if last else -1
    return {name: row[name] for name in names[names.index(first) : end] if row[name]}


class TestCsvEncoding:
    def test_file_starts_with_one_utf8_byte_order_mark(self, tmp_path: Path) -> None:
        path = tmp_path / "results.csv"
        with path.open("w", encoding="utf-8", newline="") as stream:
            export.write_csv(sample_results(), stream)

        content = path.read_bytes()

        assert content.startswith(UTF8_BOM)
        assert not content[len(UTF8_BOM) :].startswith(UTF8_BOM)
        assert content.decode("utf-8-sig").startswith("行类型,")


class TestCsvHeader:
    def test_headers_are_chinese_by_default_with_numbered_levels_for_mixed_scales(self) -> None:
        header = csv_header(sample_results())

        assert header == [
            *FIXED_HEADER,
            *NUMBERED_LEVELS,
            *TARGET_HEADER,
            "服务态度 · 得分",
            "服务态度 · 满意度",
            WITHHELD_HEADER,
        ]

    def test_level_columns_carry_the_scale_labels_when_every_item_shares_one_scale(self) -> None:
        header = csv_header(sample_results(guidance_scale="five_level"))

        assert header == [
            *FIXED_HEADER,
            *FIVE_LEVELS,
            *TARGET_HEADER,
            "服务态度 · 得分",
            "服务态度 · 满意度",
            WITHHELD_HEADER,
        ]

    def test_a_trimmed_score_column_only_when_the_campaign_trims(self) -> None:
        trimmed = sample_results().model_copy(update={"trim_share": 0.1})

        header = csv_header(trimmed)

        assert "去极值得分" not in csv_header(sample_results())
        assert header[header.index("去极值得分") - 1] == "95% 置信区间上限"

    def test_headers_follow_the_current_locale(self) -> None:
        i18n.set_locale("en")

        header = csv_header(sample_results())

        assert header[:3] == ["row type", "department code", "department"]
        assert "rank in category" in header
        assert header[-1] == "withheld"


class TestCsvRows:
    def test_one_composite_row_per_target_then_per_group_its_dimensions_and_items(self) -> None:
        lines = csv_lines(sample_results())
        rows = csv_rows(sample_results())

        keys = [
            (row["行类型"], row["单位代码"], row["评议主体"], row["维度"], row["题目编号"])
            for row in rows
        ]
        assert keys == [
            ("综合", "D0001", "", "", ""),
            ("评议主体", "D0001", "群众", "", ""),
            ("维度", "D0001", "群众", "服务态度", ""),
            ("题目", "D0001", "群众", "", "courtesy"),
            ("题目", "D0001", "群众", "", "speed"),
            ("评议主体", "D0001", "基层干部", "", ""),
            ("题目", "D0001", "基层干部", "", "courtesy"),
            ("题目", "D0001", "基层干部", "", "speed"),
            ("题目", "D0001", "基层干部", "", "guidance"),
            ("综合", "D0002", "", "", ""),
            ("评议主体", "D0002", "群众", "", ""),
            ("题目", "D0002", "群众", "", "courtesy"),
            ("题目", "D0002", "群众", "", "speed"),
            ("评议主体", "D0002", "基层干部", "", ""),
            ("题目", "D0002", "基层干部", "", "courtesy"),
            ("题目", "D0002", "基层干部", "", "speed"),
            ("题目", "D0002", "基层干部", "", "guidance"),
        ]
        header_length = len(lines[0])
        assert all(len(line) == header_length for line in lines[1:])

    def test_rows_name_the_department_its_category_and_the_item_text(self) -> None:
        rows = csv_rows(sample_results())

        row = row_for(rows, "题目", "D0001", "群众", "courtesy")

        assert row["单位名称"] == "市政务服务中心"
        assert row["类别"] == "窗口类"
        assert row["题目"] == "态度热情"
        dimension = row_for(rows, "维度", "D0001", "群众", dimension="服务态度")
        assert (dimension["题目编号"], dimension["题目"]) == ("", "")

    def test_shown_figures_are_written_in_their_columns(self) -> None:
        rows = csv_rows(sample_results())

        composite = row_for(rows, "综合", "D0001")
        assert composite["评价份数"] == "6"
        assert figures(composite, "综合得分", "计入的评议主体") == [
            "86.5",
            "满意",
            "1",
            "1",
            "",
            "群众",
        ]
        assert (composite["服务态度 · 得分"], composite["服务态度 · 满意度"]) == ("77.5", "0.6667")
        assert composite[WITHHELD_HEADER] == ""
        group = row_for(rows, "评议主体", "D0001", "群众")
        assert group["评价份数"] == "6"
        assert figures(group, "得分", "95% 置信区间上限") == ["86.5", "9.5", "76.53", "96.47"]
        assert group[WITHHELD_HEADER] == ""
        dimension = row_for(rows, "维度", "D0001", "群众", dimension="服务态度")
        assert figures(dimension, "作答数", "平均分") == ["5", "1", "77.5"]
        assert figures(dimension, "标准差", "1级") == [
            *["12.5", "61.98", "93.02", "0.6667"],
            *["3", "1", "1", "0", "0"],  # levels 5 to 1
        ]
        assert dimension[WITHHELD_HEADER] == ""
        item = row_for(rows, "题目", "D0001", "群众", "courtesy")
        assert figures(item, "参评人数", "平均分") == ["6", "", "1", "77.5"]  # no 作答数 here
        assert item["满意度"] == "0.6667"
        assert figures(item, "5级", "1级") == ["3", "1", "1", "0", "0"]
        assert item[WITHHELD_HEADER] == ""

    def test_the_composite_row_marks_the_last_place_of_its_category(self) -> None:
        results = sample_results()
        results.targets[0] = results.targets[0].model_copy(
            update={"rank": 2, "ranked_in_category": 2, "bottom": True}
        )

        composite = row_for(csv_rows(results), "综合", "D0001")

        assert figures(composite, "类别内排名", "末位") == ["2", "2", "末位"]

    def test_three_level_distribution_goes_under_its_level_numbers(self) -> None:
        results = sample_results()
        cadres = results.targets[0].groups[1]
        results.targets[0].groups[1] = cadres.model_copy(
            update={
                "evaluations": 5,
                "score": 80.0,
                "withheld": [],
                "items": [*cadres.items[:2], shown_item("guidance", {3: 3, 2: 1, 1: 1})],
            }
        )

        guidance = row_for(csv_rows(results), "题目", "D0001", "基层干部", "guidance")

        assert figures(guidance, "5级", "1级") == ["", "", "3", "1", "1"]  # levels 5 to 1

    def test_withheld_figures_are_blank_and_named_in_the_last_column(self) -> None:
        rows = csv_rows(sample_results())

        composite = row_for(rows, "综合", "D0002")
        assert filled(composite) == {"类别内参评单位数": "0"}  # the category's, not withheld
        assert composite[WITHHELD_HEADER] == (
            "评价份数; 综合得分; 等次; 类别内排名; 末位; 服务态度 · 得分; 服务态度 · 满意度"
        )
        group = row_for(rows, "评议主体", "D0001", "基层干部")
        assert filled(group) == {}
        assert group[WITHHELD_HEADER] == GROUP_WITHHELD_IN_WITHHELD_CELL
        item = row_for(rows, "题目", "D0001", "基层干部", "guidance")
        assert filled(item) == {}
        assert item[WITHHELD_HEADER] == ITEM_WITHHELD_IN_WITHHELD_CELL

    def test_item_with_too_few_answers_keeps_its_counts_and_blanks_the_rest(self) -> None:
        rows = csv_rows(sample_results())

        speed = row_for(rows, "题目", "D0001", "群众", "speed")

        assert filled(speed) == {"参评人数": "6", "不了解": "4"}
        assert speed[WITHHELD_HEADER] == "平均分; 满意度; 各等级人数"


class TestJsonExport:
    def test_json_round_trips_to_the_same_results(self) -> None:
        results = sample_results()
        stream = io.StringIO()

        export.write_json(results, stream)

        assert CampaignResults.model_validate_json(stream.getvalue()) == results

    def test_json_of_a_campaigns_computed_results_round_trips(self, session: Session) -> None:
        campaign = make_campaign(session, questionnaire=rating_questionnaire(), threshold=3)
        rate(session, campaign, "citizens", [(5, 3, 4), (4, None, 4), (2, 1, None)])
        rate(session, campaign, "cadres", [(3, 2, 1)])  # below the threshold: withheld
        tally(session, campaign)
        results = results_service.campaign_results(session, campaign, "zh_CN")
        stream = io.StringIO()

        export.write_json(results, stream)

        assert CampaignResults.model_validate_json(stream.getvalue()) == results


class TestCsvOfComputedResults:
    def test_withheld_column_names_every_withheld_figure_by_its_column(
        self, session: Session
    ) -> None:
        campaign = make_campaign(
            session,
            questionnaire=rating_questionnaire(),
            departments=[make_department(session), make_department(session)],
            threshold=3,
        )
        rate(session, campaign, "citizens", [(5, 3, 4), (4, 2, 4), (2, 1, 3), (4, 3, 2)])
        rate(session, campaign, "citizens", [(4, 3, 4), (3, 2, 5), (5, 1, 3)], 1)
        rate(session, campaign, "cadres", [(3, 2, 1)])  # below the threshold: withheld
        tally(session, campaign)
        results = results_service.campaign_results(session, campaign, "zh_CN")
        code = campaign.targets[0].department.code

        rows = csv_rows(results)

        composite = row_for(rows, code=code, row_type="综合")
        # 5 evaluations of which citizens' 4 are shown would give the cadre away.
        assert composite["评价份数"] == ""
        assert composite["综合得分"] == "75.0"  # citizens only: courtesy 75, speed 75
        assert composite[WITHHELD_HEADER] == "评价份数"
        cadres = row_for(rows, "评议主体", code, "基层干部")
        assert cadres[WITHHELD_HEADER] == GROUP_WITHHELD_IN_WITHHELD_CELL
        attitude = row_for(rows, "维度", code, "基层干部", dimension="服务态度")
        assert attitude[WITHHELD_HEADER] == (
            "作答数; 不了解; 平均分; 标准差; 95% 置信区间下限; 95% 置信区间上限; 满意度; 各等级人数"
        )
        item = row_for(rows, "题目", code, "基层干部", "courtesy")
        assert item[WITHHELD_HEADER] == ITEM_WITHHELD_IN_WITHHELD_CELL
        text = csv_text(results)
        assert "None" not in text
        assert "null" not in text
