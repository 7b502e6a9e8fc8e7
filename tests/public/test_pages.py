"""The public results pages: published campaigns only, no cookie, Chinese first, escaped text.

The campaigns are built in :mod:`tests.public.helpers`; the main one withholds nothing, so its
ranks are known: east and west tie first in 执法类, north is third and last, the service
centre is alone in 综合类.
"""

import html
import logging
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.campaigns import lifecycle
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus
from app.campaigns.policy import CommentPolicy, ResultsPolicy
from app.comments import service as comments_service
from app.comments.models import CommentStatus
from app.departments import service as department_service
from app.departments.models import Department
from app.i18n import Locale
from app.results import service as results_service
from app.results.schemas import CampaignResults
from tests.factories import make_campaign, make_department, tally
from tests.public.helpers import (
    GOOD_CITIZENS,
    THRESHOLD,
    Published,
    close_and_publish,
    rate,
)


class TableRows(HTMLParser):
    """The text of every cell of every table row, per row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table_rows(page: str) -> list[list[str]]:
    parser = TableRows()
    parser.feed(page)
    return parser.rows


@pytest.fixture
def published(session: Session) -> Published:
    return Published(session)


def department_url(published: Published, department: Department) -> str:
    return f"/results/{published.slug}/departments/{department.code}"


class TestOnlyPublishedCampaignsAreShown:
    @pytest.mark.parametrize(
        "status",
        [CampaignStatus.DRAFT, CampaignStatus.OPEN, CampaignStatus.CLOSED, CampaignStatus.TALLIED],
    )
    def test_unpublished_campaign_answers_like_an_unknown_one(
        self, client: TestClient, session: Session, status: CampaignStatus
    ) -> None:
        department = make_department(session)
        campaign = make_campaign(session, departments=[department], status=status, slug="hidden")
        paths = [
            "/results/{slug}",
            "/results/{slug}/methodology",
            f"/results/{{slug}}/departments/{department.code}",
        ]

        for path in paths:
            response = client.get(path.format(slug=campaign.slug))
            unknown = client.get(path.format(slug="never-existed"))
            assert response.status_code == unknown.status_code == 404
            assert response.text.replace("hidden", "?") == unknown.text.replace(
                "never-existed", "?"
            )
        listing = client.get("/results")
        assert "hidden" not in listing.text
        assert campaign.title_zh not in listing.text

    def test_unknown_slug_and_department_are_not_found(
        self, client: TestClient, published: Published
    ) -> None:
        assert client.get("/results/no-such-campaign").status_code == 404
        assert client.get("/results/no-such-campaign/methodology").status_code == 404
        assert client.get(f"/results/{published.slug}/departments/NOPE").status_code == 404

    def test_listing_links_to_published_campaigns(
        self, client: TestClient, published: Published
    ) -> None:
        response = client.get("/results")

        assert response.status_code == 200
        assert f'href="/results/{published.slug}?lang=zh_CN"' in response.text
        assert "测试评议" in response.text


class TestRanking:
    def test_departments_are_listed_in_rank_order_with_ties(
        self, client: TestClient, published: Published
    ) -> None:
        response = client.get(f"/results/{published.slug}?lang=en")

        assert response.status_code == 200
        rows = [row for row in table_rows(response.text) if len(row) == 5]
        body = [row for row in rows if row[0] != "Rank"]
        assert [(row[0], row[1]) for row in body] == [
            ("1 (tied)", "东城区税务局"),
            ("1 (tied)", "西城区市场监管局"),
            ("3", "北城区城管局 last place"),
            ("1", "政务服务中心"),
        ]
        assert body[0][2] == body[1][2]  # the tie: equal composite scores
        assert float(body[2][2]) < float(body[0][2])

    def test_each_category_has_an_svg_chart_and_links(
        self, client: TestClient, published: Published
    ) -> None:
        text = client.get(f"/results/{published.slug}").text

        assert text.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 2
        assert f'href="{department_url(published, published.north)}?lang=zh_CN"' in text
        assert f'href="/results/{published.slug}/methodology?lang=zh_CN"' in text
        assert "<script" not in text

    def test_withheld_figures_are_marked_with_a_reason(
        self, client: TestClient, session: Session
    ) -> None:
        rated = [make_department(session, category="执法类") for _ in range(3)]
        lonely = make_department(session, name="孤单单位", category="执法类")
        campaign = make_campaign(
            session,
            groups={"citizens": 1.0},
            departments=[*rated, lonely],
            threshold=THRESHOLD,
        )
        for department in rated:
            rate(session, campaign, department, "citizens", GOOD_CITIZENS)
        rate(session, campaign, lonely, "citizens", GOOD_CITIZENS[:1])
        close_and_publish(session, campaign)

        response = client.get(f"/results/{campaign.slug}?lang=en")

        lonely_row = next(row for row in table_rows(response.text) if "孤单单位" in row[1])
        assert lonely_row[0] == "not ranked"
        assert lonely_row[3] == "not published no composite score"
        assert lonely_row[2] == "not published no rater group's score can be shown"
        assert lonely_row[4] == "not published to protect raters' anonymity"
        assert 'class="row withheld"' in response.text  # the chart's placeholder bar


class TestDepartmentPage:
    def test_shows_scores_by_dimension_and_rater_group(
        self, client: TestClient, published: Published
    ) -> None:
        response = client.get(department_url(published, published.north) + "?lang=en")

        assert response.status_code == 200
        text = response.text
        assert "<h1>北城区城管局</h1>" in text
        assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart"' in text
        rows = table_rows(text)
        dimensions = {row[0]: row[1:] for row in rows if row[0] in ("Attitude", "Efficiency")}
        assert set(dimensions) == {"Attitude", "Efficiency"}
        assert all(float(score) > 0 and rate.endswith("%") for score, rate in dimensions.values())
        assert ["Courteous", "0.00%", "53.33"] in rows  # levels 3, 2, 3: none in the top two
        assert "3 of 3 in 执法类" in text
        assert "last place" in text
        assert "Citizens" in text
        assert "Cadres" in text

    def test_shows_only_approved_comments_without_dates_or_ids(
        self, client: TestClient, session: Session
    ) -> None:
        published = Published(session, publish=False)
        campaign = published.campaign
        tally(session, campaign)  # closes the campaign; the tally copies the comments
        decisions = {
            "窗口排队太久": CommentStatus.APPROVED,
            "态度冷淡": CommentStatus.REJECTED,
            "希望改进": CommentStatus.PENDING,
        }
        for entry in comments_service.queue(session, campaign):
            for comment in entry.comments:
                comments_service.set_status(session, campaign, comment.id, decisions[comment.text])
        comment_ids = [
            str(comment.id)
            for entry in comments_service.queue(session, campaign)
            for comment in entry.comments
        ]
        lifecycle.publish_campaign(session, campaign, actor="test")

        text = client.get(department_url(published, published.north)).text

        assert "窗口排队太久" in text
        assert "态度冷淡" not in text
        assert "希望改进" not in text
        assert not any(comment_id in text for comment_id in comment_ids)

    def test_department_without_comments_says_so(
        self, client: TestClient, published: Published
    ) -> None:
        text = client.get(department_url(published, published.east) + "?lang=en").text

        assert "No comments are published for this department." in text


class TestMethodology:
    def test_states_threshold_weights_points_and_grades(
        self, client: TestClient, published: Published
    ) -> None:
        response = client.get(f"/results/{published.slug}/methodology?lang=en")

        assert response.status_code == 200
        text = html.unescape(response.text)
        assert "This campaign's disclosure threshold is 3." in text
        assert "from 6 answers on" in text  # unanimity: twice the threshold
        rows = table_rows(text)
        assert ["Citizens", "3", "75%"] in rows
        assert ["Cadres", "1", "25%"] in rows
        assert ["Very satisfied", "100"] in rows
        assert ["Don't know", "not counted"] in rows
        assert (
            "where the figures of Cadres are not published, the composite is the score of "
            "Citizens alone" in text
        )
        assert "at least 3 respondents" in text
        assert 'id="withheld-figures"' in text


class TestPublicPagesAreAnonymousAndBilingual:
    def test_no_page_sets_a_cookie(self, client: TestClient, published: Published) -> None:
        paths = [
            "/results",
            f"/results/{published.slug}",
            f"/results/{published.slug}?lang=en",
            department_url(published, published.east),
            f"/results/{published.slug}/methodology",
            "/results/unknown",
        ]

        for path in paths:
            response = client.get(path)
            assert "set-cookie" not in response.headers, path
        assert not client.cookies

    def test_public_pages_are_logged_like_other_pages(
        self, client: TestClient, published: Published, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.INFO, logger="pingyi.requests"):
            client.get(f"/results/{published.slug}")

        requests = [record for record in caplog.records if record.name == "pingyi.requests"]
        assert [record.getMessage().split()[:3] for record in requests] == [
            ["GET", "/results/{slug}", "200"]  # the route, as every logged path is
        ]

    def test_chinese_by_default_english_on_request(
        self, client: TestClient, published: Published
    ) -> None:
        chinese = client.get(department_url(published, published.east)).text
        english = client.get(department_url(published, published.east) + "?lang=en").text

        assert '<html lang="zh-CN">' in chinese
        assert "测试评议" in chinese
        assert "服务态度" in chinese
        assert '<html lang="en">' in english
        assert "Test evaluation" in english
        assert "Attitude" in english
        assert "服务态度" not in english
        assert f'href="{department_url(published, published.east)}?lang=zh_CN"' in english

    def test_html_in_names_and_comments_is_escaped(
        self, client: TestClient, session: Session
    ) -> None:
        hostile = make_department(session, name='<script>alert("x")</script>局', category="执法类")
        others = [make_department(session, category="执法类") for _ in range(2)]
        campaign = make_campaign(
            session, groups={"citizens": 1.0}, departments=[hostile, *others], threshold=THRESHOLD
        )
        campaign_service.set_policy(
            session, campaign, ResultsPolicy(comments=CommentPolicy(min_respondents=THRESHOLD))
        )
        rate(
            session,
            campaign,
            hostile,
            "citizens",
            GOOD_CITIZENS,
            comments=['<img src=x onerror="alert(1)">'],
        )
        for department in others:
            rate(session, campaign, department, "citizens", GOOD_CITIZENS)
        tally(session, campaign)  # closes the campaign; the tally copies the comments
        for entry in comments_service.queue(session, campaign):
            for comment in entry.comments:
                comments_service.set_status(session, campaign, comment.id, CommentStatus.APPROVED)
        lifecycle.publish_campaign(session, campaign, actor="test")

        pages = [
            client.get(f"/results/{campaign.slug}").text,
            client.get(f"/results/{campaign.slug}/departments/{hostile.code}").text,
        ]

        for text in pages:
            assert "<script>" not in text
            assert "&lt;script&gt;" in text
        assert "<img src=x" not in pages[1]
        assert "&lt;img src=x" in pages[1]


class TestResultsAreComputedOncePerCampaignAndLanguage:
    def test_repeated_views_reuse_the_results_until_a_name_changes(
        self, client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        published = Published(session)
        computed: list[str] = []
        compute = results_service.campaign_results

        def counting(session: Session, campaign: Campaign, locale: Locale) -> CampaignResults:
            computed.append(locale)
            return compute(session, campaign, locale)

        monkeypatch.setattr(results_service, "campaign_results", counting)

        client.get(f"/results/{published.slug}")
        client.get(f"/results/{published.slug}/methodology")
        client.get(department_url(published, published.east))
        client.get(f"/results/{published.slug}?lang=en")
        assert computed == ["zh_CN", "en"]

        department_service.update_department(
            session, published.east.code, name="东城区税务分局", category="执法类"
        )
        text = client.get(f"/results/{published.slug}").text
        assert computed == ["zh_CN", "en", "zh_CN"]
        assert "东城区税务分局" in text


class TestTheStartPage:
    def test_links_the_published_results(self, client: TestClient) -> None:
        page = client.get("/").text

        assert '<a class="button" href="/results?lang=zh_CN" id="home-results">' in page


class TestTheVerificationPageOrder:
    def test_the_receipt_check_comes_before_the_keys_and_the_trackers(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        campaign.status = CampaignStatus.CLOSED

        page = client.get(f"/verify/{campaign.slug}").text

        assert page.index('id="receipts"') < page.index('id="keys"')
        assert page.index('id="check-result"') < page.index("<form")
        assert '<script src="/static/js/verify.js" type="module"></script>' in page
