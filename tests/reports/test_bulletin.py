"""The PDF bulletin (通报), read back through its text layer as a reader's PDF viewer would.

The campaign is the one of ``tests.reports.test_xlsx``: some figures of each kind withheld.
"""

import datetime as dt
import io
from pathlib import Path

import pypdfium2 as pdfium  # type: ignore[import-untyped]
import pytest
from sqlalchemy.orm import Session

from app import i18n
from app.campaigns.policy import BulletinSettings
from app.i18n import gettext
from app.public.views import decimal_text
from app.reports import bulletin, fonts
from app.results import service as results_service
from app.results.schemas import CampaignResults, PrivacyInfo, TargetDimension, TargetResult
from tests.reports.test_xlsx import FIRST, SECOND, THIRD, rated_campaign

pytestmark = pytest.mark.usefixtures("cjk_font")


def flat(text: str) -> str:
    """Text without any white space, so lines wrapped in the PDF still match."""
    return "".join(text.split())


def page_texts(data: bytes) -> list[str]:
    """The text layer of each page (lines separated by CR LF), as in ``pdf_reading``, without
    rendering the pages."""
    document = pdfium.PdfDocument(data)
    try:
        texts = []
        for page in document:
            text_page = page.get_textpage()
            texts.append(text_page.get_text_range())
            text_page.close()
            page.close()
        return texts
    finally:
        document.close()


def render(results: CampaignResults, context: bulletin.BulletinContext) -> tuple[int, str]:
    """The page count, and the text of every page."""
    stream = io.BytesIO()
    page_count = bulletin.render_bulletin(results, context, stream)
    pages = page_texts(stream.getvalue())
    assert len(pages) == page_count
    return page_count, "\n".join(pages)


@pytest.fixture
def rendered(session: Session) -> tuple[CampaignResults, bulletin.BulletinContext, int, str]:
    campaign = rated_campaign(session)
    results = results_service.campaign_results(session, campaign, "zh_CN")
    context = bulletin.bulletin_context(campaign, results)
    page_count, text = render(results, context)
    return results, context, page_count, text


Rendered = tuple[CampaignResults, bulletin.BulletinContext, int, str]


class TestContent:
    def test_title_departments_and_composite_scores_are_in_the_text(
        self, rendered: Rendered
    ) -> None:
        results, _, page_count, text = rendered

        assert page_count > 0
        assert results.title in text
        assert gettext(bulletin.BULLETIN_TITLE) in text
        for name in (FIRST, SECOND, THIRD):
            assert name in text
        shown = [target for target in results.targets if target.composite_score is not None]
        assert len(shown) == 2
        for target in shown:
            assert decimal_text(target.composite_score or 0, 2) in text
            assert target.grade is not None
            assert target.grade in text

    def test_ranking_lists_each_category_by_rank(self, rendered: Rendered) -> None:
        results, _, _, text = rendered
        ranks = {target.name: target.rank for target in results.targets}

        assert ranks[SECOND] == 1
        assert ranks[FIRST] == 2
        for category in ("窗口类", "执法类"):
            assert gettext(bulletin.RANKING_HEADING) % {"category": category} in text
        window = text.index(gettext(bulletin.RANKING_HEADING) % {"category": "窗口类"})
        assert text.index(SECOND, window) < text.index(FIRST, window)

    def test_summary_names_last_place_and_the_ranked_count(self, rendered: Rendered) -> None:
        results, _, _, text = rendered
        (bottom,) = [target for target in results.targets if target.bottom]

        assert flat(gettext(bulletin.RANKED) % {"ranked": 2, "departments": 3}) in flat(text)
        line = gettext(bulletin.LAST_PLACE) % {
            "category": bottom.category,
            "departments": bottom.name,
        }
        assert flat(line) in flat(text)

    def test_a_chart_per_dimension_with_its_scores(self, rendered: Rendered) -> None:
        results, _, _, text = rendered

        for dimension in results.dimensions:
            assert gettext(bulletin.CHART_TITLE) % {"dimension": dimension.name} in text
        for target in results.targets:
            for dimension in target.dimensions:
                if dimension.score is not None:
                    assert decimal_text(dimension.score, 2) in text

    def test_methodology_and_the_list_of_withheld_figures(self, rendered: Rendered) -> None:
        results, context, _, text = rendered

        assert gettext(bulletin.METHODOLOGY_HEADING) in text
        for section in context.methodology:
            assert flat(section.heading) in flat(text)
            for paragraph in section.paragraphs:
                assert flat(paragraph) in flat(text)
        assert gettext(bulletin.WITHHELD_HEADING) in text
        assert results.withheld_figures
        for line in results.withheld_figures:
            assert flat(line) in flat(text)

    def test_evaluation_period_when_the_campaign_has_dates(self, session: Session) -> None:
        campaign = rated_campaign(session)
        results = results_service.campaign_results(session, campaign, "zh_CN")
        context = bulletin.BulletinContext(dates="2026-03-01 – 2026-03-31", methodology=[])

        _, text = render(results, context)

        assert flat(gettext(bulletin.PERIOD) % {"dates": context.dates}) in flat(text)

    def test_a_tallied_campaign_is_marked_internal_and_a_published_one_not(
        self, rendered: Rendered
    ) -> None:
        results, context, _, text = rendered
        assert results.status == "tallied"
        assert flat(gettext(bulletin.NOT_YET_PUBLISHED)) in flat(text)

        _, published = render(results.model_copy(update={"status": "published"}), context)

        assert flat(gettext(bulletin.NOT_YET_PUBLISHED)) not in flat(published)


class TestWithheld:
    def test_withheld_cells_are_marked_with_a_footnote_and_charts_say_not_published(
        self, rendered: Rendered
    ) -> None:
        _, _, _, text = rendered
        lines = text.splitlines()

        (third_row,) = [
            line for line in lines if line.startswith(bulletin.WITHHELD_MARK + " " + THIRD)
        ]
        # rank, composite, grade and evaluations of the department nobody rated: all marked
        assert third_row.split() == [bulletin.WITHHELD_MARK, THIRD] + [bulletin.WITHHELD_MARK] * 3
        assert flat(gettext(bulletin.FOOTNOTE) % {"mark": bulletin.WITHHELD_MARK}) in flat(text)
        assert f"{bulletin.WITHHELD_MARK} {gettext(bulletin.NOT_PUBLISHED)}" in text

    def test_no_missing_figure_is_printed_as_none(self, rendered: Rendered) -> None:
        results, _, _, text = rendered
        (third,) = [target for target in results.targets if target.name == THIRD]

        assert third.composite_score is None
        assert third.evaluations is None
        assert "None" not in text

    def test_withheld_quality_counts_are_said_in_the_methodology(self, rendered: Rendered) -> None:
        results, context, _, text = rendered
        # Nothing was flagged: a count of 0 is below the threshold of 3, so it is withheld.
        assert results.quality is not None
        assert results.quality.flagged is None
        sentence = gettext(
            "How many evaluations were flagged is not published, to protect raters' anonymity."
        )

        (quality,) = [section for section in context.methodology if section.anchor == "quality"]
        assert sentence in quality.paragraphs
        assert flat(sentence) in flat(text)

    def test_a_quality_count_withheld_beside_shown_ones_reads_not_published(
        self, session: Session
    ) -> None:
        campaign = rated_campaign(session)
        results = results_service.campaign_results(session, campaign, "zh_CN")
        assert results.quality is not None
        quality = results.quality.model_copy(
            update={"flagged": 5, "straight_lining": None, "too_fast": 5}
        )
        partly = results.model_copy(update={"quality": quality})
        context = bulletin.bulletin_context(campaign, partly)

        _, text = render(partly, context)

        (quality_section,) = [
            section for section in context.methodology if section.anchor == "quality"
        ]
        (counts,) = [
            paragraph
            for paragraph in quality_section.paragraphs
            if gettext(bulletin.NOT_PUBLISHED) in paragraph
        ]
        assert flat(counts) in flat(text)
        assert "None" not in text

    def test_nothing_withheld_says_so(self, rendered: Rendered) -> None:
        results, context, _, _ = rendered

        _, text = render(results.model_copy(update={"withheld_figures": []}), context)

        assert flat(gettext(bulletin.NOTHING_WITHHELD)) in flat(text)


class TestPrivacy:
    def test_a_private_release_is_stated_in_the_summary_and_the_methodology(
        self, session: Session
    ) -> None:
        campaign = rated_campaign(session)
        results = results_service.campaign_results(session, campaign, "zh_CN").model_copy(
            update={
                "privacy": PrivacyInfo(
                    mechanism="Laplace",
                    epsilon=1.5,
                    unit="one rater's ballot",
                    sensitivity=1.0,
                    library="OpenDP",
                )
            }
        )

        _, text = render(results, bulletin.bulletin_context(campaign, results))

        assert flat(gettext(bulletin.PRIVACY_NOTE) % {"epsilon": 1.5}) in flat(text)
        assert gettext("Differential privacy") in text
        assert "OpenDP" in text


class TestLayout:
    def test_many_departments_run_over_several_pages(self, rendered: Rendered) -> None:
        results, context, page_count, _ = rendered
        template = results.targets[0]
        targets = [
            template.model_copy(
                update={
                    "target": f"D{index:04d}",
                    "name": f"第{index}号测试单位",
                    "composite_score": 60 + index / 4,
                    "dimensions": [
                        TargetDimension(
                            dimension=dimension.dimension,
                            name=dimension.name,
                            score=None if index % 7 == 0 else 50 + index / 3,
                            withheld=["score"] if index % 7 == 0 else [],
                        )
                        for dimension in template.dimensions
                    ],
                }
            )
            for index in range(1, 121)
        ]

        many_pages, text = render(results.model_copy(update={"targets": targets}), context)

        assert many_pages > page_count
        for target in targets:
            assert target.name in text
        assert decimal_text(targets[-1].composite_score or 0, 2) in text

    def test_long_names_are_cut_in_charts_but_whole_in_tables(self, rendered: Rendered) -> None:
        results, context, _, _ = rendered
        long_name = "某某市某某区人民政府政务服务管理办公室行政审批服务中心"
        targets: list[TargetResult] = [
            results.targets[0].model_copy(update={"name": long_name}),
            *results.targets[1:],
        ]

        _, text = render(results.model_copy(update={"targets": targets}), context)

        assert long_name in flat(text)
        assert bulletin.ELLIPSIS in text

    def test_english_with_locale_en(self, session: Session) -> None:
        i18n.set_locale("en")
        campaign = rated_campaign(session)
        results = results_service.campaign_results(session, campaign, "en")

        _, text = render(results, bulletin.bulletin_context(campaign, results))

        assert "Results bulletin" in text
        assert "Figures not published" in text
        assert "“—”: not published, to protect raters' anonymity." in text


class TestMissingFont:
    def test_no_font_raises_before_writing(
        self, rendered: Rendered, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        results, context, _, _ = rendered

        def no_font() -> fonts.CjkFont:
            raise fonts.PdfFontMissing()

        monkeypatch.setattr(fonts, "find_cjk_font", no_font)
        stream = io.BytesIO()

        with pytest.raises(fonts.PdfFontMissing):
            bulletin.render_bulletin(results, context, stream)
        assert stream.getvalue() == b""


class TestLastPlaceAndWording:
    def test_last_place_is_one_line_per_category(self, session: Session) -> None:
        campaign = rated_campaign(session)
        results = results_service.campaign_results(session, campaign, "zh_CN")
        categories = {target.category for target in results.targets}
        assert len(categories) >= 2
        seen: set[str] = set()
        targets = []
        for target in results.targets:  # the first department of each category is its last
            targets.append(target.model_copy(update={"bottom": target.category not in seen}))
            seen.add(target.category)
        results = results.model_copy(update={"targets": targets})

        _, text = render(results, bulletin.BulletinContext(dates="", methodology=[]))

        for category in categories:
            (last,) = [t for t in targets if t.bottom and t.category == category]
            line = gettext(bulletin.LAST_PLACE) % {"category": category, "departments": last.name}
            assert flat(line) in flat(text)
        assert "本类别末位" not in text

    def test_chinese_bulletin_says_danwei_not_bumen(self, rendered: Rendered) -> None:
        _, _, _, text = rendered

        assert "部门" not in text
        assert "单位" in text


class TestOfficialDocumentLayout:
    def test_issuing_office_number_date_and_copies_are_printed(self, session: Session) -> None:
        campaign = rated_campaign(session)
        results = results_service.campaign_results(session, campaign, "zh_CN")
        document = BulletinSettings(
            issuing_office="某区机关作风效能评议办公室",
            document_number="某评办〔2026〕3号",
            issued_on=dt.date(2026, 4, 8),
            copy_to=["区委办公室", "区政府办公室"],
        )
        context = bulletin.BulletinContext(dates="", methodology=[], document=document)

        _, text = render(results, context)

        flat_text = flat(text)
        assert flat_text.index("某区机关作风效能评议办公室") < flat_text.index(flat(results.title))
        assert "某评办〔2026〕3号" in flat_text
        assert "2026年4月8日" in flat_text
        assert (
            flat(gettext(bulletin.COPY_TO) % {"offices": "区委办公室，区政府办公室"}) in flat_text
        )

    def test_settings_come_from_the_campaigns_results_policy(self, session: Session) -> None:
        campaign = rated_campaign(session)
        campaign.policy = {
            **(campaign.policy or {}),
            "bulletin": {"issuing_office": "评议办", "issued_on": "2026-04-08"},
        }
        results = results_service.campaign_results(session, campaign, "zh_CN")

        context = bulletin.bulletin_context(campaign, results)

        assert context.document.issuing_office == "评议办"
        assert context.document.issued_on == dt.date(2026, 4, 8)
        assert context.document.copy_to == []

    def test_without_settings_no_masthead_is_printed(self, rendered: Rendered) -> None:
        _, _, _, text = rendered

        assert flat(gettext(bulletin.COPY_TO) % {"offices": ""}) not in flat(text)
