"""Console pages in Chromium: axe-core, signing in back to the page asked for, screenshots.

The main console pages (dashboard, campaign, code batches, results, audit trail, comments,
sign-in) must have no serious or critical axe violation, in Chinese, at an office
computer's width and at a phone's. Signing in from a link with a query (a questionnaire
preview) must land on that page with its query. Screenshots of each page at 1366 px and at
360 px are saved as test-artifacts/screenshots/console-page-*.png, for people to look at.
"""

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts import sessions
from app.accounts.models import StaffUser
from app.audit import service as audit_service
from app.campaigns.models import Campaign, CampaignStatus
from app.comments.models import CommentForReview, CommentStatus
from app.config import get_settings
from tests.browser import (
    ACTION_TIMEOUT_MS,
    PHONE_VIEWPORT,
    LiveServer,
    launched_chromium,
    live_server,
    save_screenshot,
    watch_script_problems,
)
from tests.factories import (
    STAFF_PASSWORD,
    issue_codes,
    make_campaign,
    make_department,
    make_staff,
    rated_campaign,
)
from tests.test_accessibility import assert_no_serious_violations

pytestmark = pytest.mark.browser

OFFICE_VIEWPORT: ViewportSize = {"width": 1366, "height": 800}  # CSS pixels
PREVIEW = "/admin/questionnaires/preview?ref=file:conduct-efficiency-annual.yaml&group=enterprises"
CITIZENS = [(5, 3, 1), (4, 2, 2), (2, 1, 5)]
ENTERPRISES = [(5, 3, 3), (4, 3, 3), (3, 2, 3)]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    """The app, its public address its own (so cookies are not marked Secure over HTTP)."""
    with live_server() as running, pytest.MonkeyPatch.context() as patch:
        patch.setattr(get_settings(), "public_base_url", running.base_url)
        yield running


@pytest.fixture(scope="module")
def console_data(server: LiveServer) -> dict[str, str]:
    """An administrator, an open campaign with code batches, a tallied one with comments."""
    with Session(server.engine, expire_on_commit=False) as session:
        admin = make_staff(session, username="pageadmin")
        departments = [
            make_department(session, name="区人力资源和社会保障局", category="社会服务类"),
            make_department(session, name="区市场监督管理局", category="执法监管类"),
        ]
        open_campaign = make_campaign(session, departments=departments, threshold=3)
        issue_codes(session, open_campaign, group="citizens", count=12)
        issue_codes(session, open_campaign, group="cadres", count=5)
        tallied = rated_campaign(
            session,
            [(0, "citizens", CITIZENS), (1, "enterprises", ENTERPRISES)],
            groups={"citizens": 1.0, "enterprises": 1.0},
            departments=departments,
            status=CampaignStatus.TALLIED,
        )
        _add_comments(session, tallied)
        audit_service.record(
            session,
            actor="someone",
            action="login_failed",
            object="user:someone",
            detail={"locked": False},
        )
        session.commit()
        return {"admin": admin.username, "open": open_campaign.slug, "tallied": tallied.slug}


def _add_comments(session: Session, campaign: Campaign) -> None:
    """Two approved comments, as the tally would copy them for a department with enough
    raters (the minimum lowered to this campaign's handful of raters)."""
    campaign.policy = {**(campaign.policy or {}), "comments": {"min_respondents": 1}}
    target = campaign.targets[0]
    for text, status in (
        ("窗口办事很快。", CommentStatus.APPROVED),
        ("希望延长办公时间。", CommentStatus.APPROVED),
    ):
        session.add(
            CommentForReview(campaign_id=campaign.id, target_id=target.id, text=text, status=status)
        )


def _context(browser: Browser, viewport: ViewportSize) -> BrowserContext:
    context = browser.new_context(viewport=viewport, locale="zh-CN")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    return context


def _give_session_cookie(context: BrowserContext, server: LiveServer, username: str) -> None:
    """Signed in as ``username`` without the form (the form itself is tested below)."""
    with Session(server.engine) as session:
        user = session.scalars(select(StaffUser).where(StaffUser.username == username)).one()
        staff_session = sessions.new_session(user.id, user.session_version)
    host = urlsplit(server.base_url).hostname or "127.0.0.1"
    value = sessions.encode(get_settings().secret_bytes(), staff_session)
    context.add_cookies(
        [{"name": sessions.COOKIE_NAME, "value": value, "domain": host, "path": "/admin"}]
    )


def sign_in(page: Page, server: LiveServer, username: str) -> None:
    page.locator("#username").fill(username)
    page.locator("#password").fill(STAFF_PASSWORD)
    with page.expect_navigation():
        page.locator("form.stacked").get_by_role("button").click()
    assert "/admin/login" not in page.url, "signing in failed"


@pytest.fixture(params=[OFFICE_VIEWPORT, PHONE_VIEWPORT], ids=["1366", "360"])
def admin_page(
    request: pytest.FixtureRequest,
    browser: Browser,
    server: LiveServer,
    console_data: dict[str, str],
) -> Iterator[tuple[Page, str]]:
    viewport: ViewportSize = request.param
    context = _context(browser, viewport)
    _give_session_cookie(context, server, console_data["admin"])
    tab = context.new_page()
    problems = watch_script_problems(tab)
    yield tab, str(viewport["width"])
    context.close()
    assert problems == [], "the page's script failed"


def console_pages(data: dict[str, str]) -> dict[str, str]:
    return {
        "dashboard": "/admin",
        "campaign": f"/admin/campaigns/{data['open']}",
        "codes": f"/admin/campaigns/{data['open']}/codes",
        "results": f"/admin/campaigns/{data['tallied']}/results",
        "results-not-yet": f"/admin/campaigns/{data['open']}/results",
        "audit": "/admin/audit",
        "comments": f"/admin/campaigns/{data['tallied']}/comments",
    }


PAGE_NAMES = ["dashboard", "campaign", "codes", "results", "results-not-yet", "audit", "comments"]


class TestConsolePagesAccessibility:
    @pytest.mark.parametrize("name", PAGE_NAMES)
    def test_console_page_has_no_serious_violations_and_is_photographed(
        self,
        admin_page: tuple[Page, str],
        server: LiveServer,
        console_data: dict[str, str],
        name: str,
    ) -> None:
        page, width = admin_page
        response = page.goto(server.url(console_pages(console_data)[name]))
        assert response is not None
        assert response.status == (409 if name == "results-not-yet" else 200)
        expect(page.locator("h1")).to_be_visible()
        expect(page.locator("nav[aria-label] a").first).to_be_visible()

        save_screenshot(page, f"console-page-{name}-{width}")
        assert_no_serious_violations(page, f"{name} at {width} px")

    def test_sign_in_page_has_no_serious_violations(
        self, browser: Browser, server: LiveServer
    ) -> None:
        for viewport in (OFFICE_VIEWPORT, PHONE_VIEWPORT):
            context = _context(browser, viewport)
            page = context.new_page()
            page.goto(server.url("/admin/login"))
            expect(page.locator(".sign-in-card #username")).to_be_visible()
            card = page.locator(".sign-in-card").bounding_box()
            assert card is not None
            assert card["width"] <= 480  # compact (22rem), not a page-wide panel
            left = card["x"]
            right = viewport["width"] - card["x"] - card["width"]
            assert abs(left - right) <= 24  # centred
            save_screenshot(page, f"console-page-login-{viewport['width']}")
            assert_no_serious_violations(page, f"sign-in at {viewport['width']} px")
            context.close()


class TestTablesOnAPhone:
    def test_code_batch_headers_stay_on_one_line(
        self, browser: Browser, server: LiveServer, console_data: dict[str, str]
    ) -> None:
        context = _context(browser, PHONE_VIEWPORT)
        _give_session_cookie(context, server, console_data["admin"])
        page = context.new_page()
        page.goto(server.url(f"/admin/campaigns/{console_data['open']}/codes"))

        heights = page.locator("table.data thead th").evaluate_all(
            "cells => cells.map(cell => cell.getBoundingClientRect().height)"
        )
        line = page.locator("table.data thead th").first.evaluate(
            "cell => parseFloat(getComputedStyle(cell).lineHeight) || 24"
        )
        assert max(heights) < 2 * line + 16  # one line of text plus padding
        page_width = page.evaluate("document.documentElement.scrollWidth")
        assert page_width <= PHONE_VIEWPORT["width"] + 1  # the table scrolls, not the page
        context.close()


class TestSignInKeepsTheQuery:
    def test_signing_in_from_a_preview_link_lands_on_the_preview_with_its_query(
        self, browser: Browser, server: LiveServer, console_data: dict[str, str]
    ) -> None:
        context = _context(browser, OFFICE_VIEWPORT)
        page = context.new_page()
        page.goto(server.url(PREVIEW))
        expect(page.locator("#username")).to_be_visible()
        assert urlsplit(page.url).path == "/admin/login"

        sign_in(page, server, console_data["admin"])
        page.wait_for_url("**/admin/questionnaires/preview?**")

        landed = urlsplit(page.url)
        assert (landed.path, landed.query) == (
            "/admin/questionnaires/preview",
            "ref=file:conduct-efficiency-annual.yaml&group=enterprises",
        )
        context.close()
