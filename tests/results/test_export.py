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
    GroupResult,
    ItemInfo,
    ItemResult,
    RaterGroupInfo,
    TargetResult,
)
from app.surveys.schemas import ScaleName
from tests.factories import make_campaign, tally
from tests.results.helpers import rate, rating_questionnaire

UTF8_BOM = b"\xef\xbb\xbf"
FIXED_HEADER = [
    "行类型",
    "单位代码",
    "单位名称",
    "类别",
    "评议主体",
    "题目编号",
    "题目",
    "评价份数",
    "不了解",
    "得分",
    "满意度",
]
WITHHELD_HEADER = "已隐藏（人数不足）"
ITEM_WITHHELD_IN_WITHHELD_CELL = "参评人数; 不了解; 平均分; 满意度; 各等级人数"

# Column positions in every row.
ROW_TYPE, CODE, NAME, CATEGORY, GROUP, ITEM_ID, ITEM_TEXT = range(7)
COUNT, DONT_KNOW, SCORE, RATE = range(7, 11)


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
            "satisfaction_rate",
            "distribution",
        ],
    )


def sample_results(guidance_scale: ScaleName = "three_level") -> CampaignResults:
    """Two targets: D0001 with citizens shown and cadres withheld; D0002 withheld throughout.

    Citizens see courtesy and speed; cadres also see guidance.
    """
    item_ids = {"citizens": ["courtesy", "speed"], "cadres": ["courtesy", "speed", "guidance"]}
    citizens_shown = GroupResult(
        rater_group="citizens",
        evaluations=6,
        score=86.5,
        withheld=[],
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
            withheld=["evaluations", "score"],
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
                composite_score=86.5,
                composite_groups=["citizens"],
                withheld=[],
                groups=[citizens_shown, withheld_group("cadres")],
            ),
            TargetResult(
                target="D0002",
                name="市住建局",
                category="综合类",
                composite_score=None,
                composite_groups=[],
                withheld=["composite_score"],
                groups=[withheld_group("citizens"), withheld_group("cadres")],
            ),
        ],
    )


def csv_text(results: CampaignResults) -> str:
    stream = io.StringIO(newline="")
    export.write_csv(results, stream)
    return stream.getvalue()


def csv_rows(results: CampaignResults) -> list[list[str]]:
    text = csv_text(results)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def row_for(
    rows: list[list[str]], row_type: str, code: str, group: str = "", item: str = ""
) -> list[str]:
    (row,) = [
        row
        for row in rows
        if (row[ROW_TYPE], row[CODE], row[GROUP], row[ITEM_ID]) == (row_type, code, group, item)
    ]
    return row


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
        header = csv_rows(sample_results())[0]

        assert header == [
            *FIXED_HEADER,
            "5级",
            "4级",
            "3级",
            "2级",
            "1级",
            WITHHELD_HEADER,
        ]

    def test_level_columns_carry_the_scale_labels_when_every_item_shares_one_scale(self) -> None:
        header = csv_rows(sample_results(guidance_scale="five_level"))[0]

        assert header == [
            *FIXED_HEADER,
            "非常满意",
            "满意",
            "基本满意",
            "不满意",
            "非常不满意",
            WITHHELD_HEADER,
        ]

    def test_headers_follow_the_current_locale(self) -> None:
        i18n.set_locale("en")

        header = csv_rows(sample_results())[0]

        assert header[:3] == ["row type", "department code", "department"]
        assert header[-1] == "withheld"


class TestCsvRows:
    def test_one_composite_row_per_target_then_one_per_group_and_per_group_item(self) -> None:
        rows = csv_rows(sample_results())[1:]

        keys = [(row[ROW_TYPE], row[CODE], row[GROUP], row[ITEM_ID]) for row in rows]
        expected_per_target = [
            ("综合", "", ""),
            ("评议主体", "群众", ""),
            ("题目", "群众", "courtesy"),
            ("题目", "群众", "speed"),
            ("评议主体", "基层干部", ""),
            ("题目", "基层干部", "courtesy"),
            ("题目", "基层干部", "speed"),
            ("题目", "基层干部", "guidance"),
        ]
        assert keys == [
            (row_type, code, group, item)
            for code in ("D0001", "D0002")
            for row_type, group, item in expected_per_target
        ]
        header_length = len(csv_rows(sample_results())[0])
        assert all(len(row) == header_length for row in rows)

    def test_rows_name_the_department_its_category_and_the_item_text(self) -> None:
        rows = csv_rows(sample_results())

        row = row_for(rows, "题目", "D0001", "群众", "courtesy")

        assert row[NAME] == "市政务服务中心"
        assert row[CATEGORY] == "窗口类"
        assert row[ITEM_TEXT] == "态度热情"

    def test_shown_figures_are_written_in_their_columns(self) -> None:
        rows = csv_rows(sample_results())

        composite = row_for(rows, "综合", "D0001")
        assert composite[SCORE] == "86.5"
        assert composite[-1] == ""
        group = row_for(rows, "评议主体", "D0001", "群众")
        assert (group[COUNT], group[SCORE], group[-1]) == ("6", "86.5", "")
        item = row_for(rows, "题目", "D0001", "群众", "courtesy")
        assert item[COUNT : RATE + 1] == ["6", "1", "77.5", "0.6667"]
        assert item[RATE + 1 : -1] == ["3", "1", "1", "0", "0"]  # levels 5 to 1
        assert item[-1] == ""

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

        assert guidance[RATE + 1 : -1] == ["", "", "3", "1", "1"]  # levels 5 to 1

    def test_withheld_figures_are_blank_and_named_in_the_last_column(self) -> None:
        rows = csv_rows(sample_results())

        composite = row_for(rows, "综合", "D0002")
        assert composite[SCORE] == ""
        assert composite[-1] == "综合得分"
        group = row_for(rows, "评议主体", "D0001", "基层干部")
        assert (group[COUNT], group[SCORE]) == ("", "")
        assert group[-1] == "评价份数; 得分"
        item = row_for(rows, "题目", "D0001", "基层干部", "guidance")
        assert item[COUNT:-1] == [""] * (len(item) - COUNT - 1)
        assert item[-1] == ITEM_WITHHELD_IN_WITHHELD_CELL

    def test_item_with_too_few_answers_keeps_its_counts_and_blanks_the_rest(self) -> None:
        rows = csv_rows(sample_results())

        speed = row_for(rows, "题目", "D0001", "群众", "speed")

        assert speed[COUNT : DONT_KNOW + 1] == ["6", "4"]
        assert speed[SCORE:-1] == [""] * (len(speed) - SCORE - 1)
        assert speed[-1] == "平均分; 满意度; 各等级人数"


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
    def test_withheld_column_names_only_figures_the_file_has_columns_for(
        self, session: Session
    ) -> None:
        campaign = make_campaign(session, questionnaire=rating_questionnaire(), threshold=3)
        rate(session, campaign, "citizens", [(5, 3, 4), (4, 2, 4), (2, 1, 3)])
        rate(session, campaign, "cadres", [(3, 2, 1)])  # below the threshold: withheld
        tally(session, campaign)
        results = results_service.campaign_results(session, campaign, "zh_CN")
        code = campaign.targets[0].department.code

        rows = csv_rows(results)

        composite = row_for(rows, "综合", code)
        # 4 evaluations of which citizens' 3 are shown would give the cadre away.
        assert composite[COUNT] == ""
        assert composite[SCORE] == "70.0"  # citizens only: (100 + 75 + 35) / 3
        assert composite[-1] == "评价份数"
        cadres = row_for(rows, "评议主体", code, "基层干部")
        assert cadres[-1] == "评价份数; 得分"  # not its spread, which has no column
        item = row_for(rows, "题目", code, "基层干部", "courtesy")
        assert item[-1] == ITEM_WITHHELD_IN_WITHHELD_CELL
