"""A word longer than the screen breaks instead of widening the page, at a phone's 360 px.

An approved comment of 2,000 characters without a space, a department name, a category and
an item text each without a space: the public department and ranking pages and the rating
steps that show them stay as wide as the screen.
"""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session

from app.campaigns import lifecycle
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign
from app.campaigns.policy import CommentPolicy, ResultsPolicy
from app.comments import service as comments_service
from app.comments.models import CommentStatus
from app.departments.models import CATEGORY_MAX_LENGTH, NAME_MAX_LENGTH
from tests.browser import (
    PHONE_VIEWPORT,
    LiveServer,
    launched_chromium,
    live_server,
    new_phone_context,
    save_screenshot,
)
from tests.factories import issue_code, make_campaign, make_department, small_questionnaire, tally
from tests.public.helpers import GOOD_CADRES, GOOD_CITIZENS, THRESHOLD, rate

pytestmark = pytest.mark.browser

COMMENT = "W" * 2000
NAME = "N" * NAME_MAX_LENGTH
CATEGORY = "C" * CATEGORY_MAX_LENGTH
ITEM_TEXT = "Q" * 500
WIDTH = PHONE_VIEWPORT["width"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server() as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = new_phone_context(browser)
    yield context.new_page()
    context.close()


def long_word_campaign(session: Session, *, publish: bool) -> Campaign:
    """A department with a long name and category, rated on an item with a long text, one
    rater leaving a 2,000-character comment; published with the comment approved, or open."""
    questionnaire = small_questionnaire(
        items=[
            {
                "id": "courtesy",
                "dimension": "attitude",
                "scale": "five_level",
                "text": {"zh": ITEM_TEXT, "en": ITEM_TEXT},
            },
            {
                "id": "speed",
                "dimension": "efficiency",
                "scale": "five_level",
                "text": {"zh": "办事快捷", "en": "Quick"},
            },
            {
                "id": "guidance",
                "dimension": "efficiency",
                "scale": "three_level",
                "groups": ["cadres"],
                "text": {"zh": "指导基层", "en": "Guides grassroots units"},
            },
        ],
        comment={"prompt": {"zh": "意见建议", "en": "Comments"}, "max_length": 2000},
    )
    department = make_department(session, name=NAME, category=CATEGORY)
    other = make_department(session, name="市住建局", category=CATEGORY)
    campaign = make_campaign(
        session,
        questionnaire=questionnaire,
        groups={"citizens": 3.0, "cadres": 1.0},
        departments=[department, other],
        threshold=THRESHOLD,
    )
    if not publish:
        return campaign
    campaign_service.set_policy(
        session, campaign, ResultsPolicy(comments=CommentPolicy(min_respondents=THRESHOLD))
    )
    rate(session, campaign, department, "citizens", GOOD_CITIZENS, comments=[COMMENT])
    rate(session, campaign, department, "cadres", GOOD_CADRES)
    rate(session, campaign, other, "citizens", GOOD_CITIZENS)
    tally(session, campaign)  # closes the campaign; the tally copies the comments
    for entry in comments_service.queue(session, campaign):
        for comment in entry.comments:
            comments_service.set_status(session, campaign, comment.id, CommentStatus.APPROVED)
    lifecycle.publish_campaign(session, campaign, actor="test")
    return campaign


def page_width(page: Page) -> int:
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width


@pytest.fixture(scope="module")
def published(server: LiveServer) -> Campaign:
    with Session(server.engine, expire_on_commit=False) as session:
        campaign = long_word_campaign(session, publish=True)
        session.commit()
        return campaign


class TestPublicPages:
    def test_department_page_with_a_2000_character_comment_fits_the_screen(
        self, page: Page, server: LiveServer, published: Campaign
    ) -> None:
        code = published.targets[0].department.code

        page.goto(server.url(f"/results/{published.slug}/departments/{code}"))

        expect(page.locator(".public-comments li")).to_have_text(COMMENT)
        save_screenshot(page, "public-long-words-department")
        assert page_width(page) <= WIDTH

    def test_ranking_page_with_a_long_department_name_fits_the_screen(
        self, page: Page, server: LiveServer, published: Campaign
    ) -> None:
        page.goto(server.url(f"/results/{published.slug}"))

        expect(page.get_by_role("link", name=NAME, exact=True)).to_be_visible()
        assert page_width(page) <= WIDTH


class TestRatingPages:
    def test_choose_and_rating_steps_with_long_texts_fit_the_screen(
        self, page: Page, server: LiveServer
    ) -> None:
        with Session(server.engine, expire_on_commit=False) as session:
            campaign = long_word_campaign(session, publish=False)
            code = issue_code(session, campaign)
            session.commit()

        page.goto(server.url(f"/r#{code}"))
        department = page.get_by_label(NAME, exact=True)
        expect(department).to_be_visible()
        assert page_width(page) <= WIDTH, "the choose step scrolls sideways"

        department.check()
        page.get_by_role("button", name="下一步", exact=True).click()
        expect(page.get_by_text(ITEM_TEXT)).to_be_visible()
        assert page_width(page) <= WIDTH, "the rating step scrolls sideways"
