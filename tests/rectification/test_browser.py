"""The 整改 loop in headless Chromium: the office makes the problem lists of a published
campaign and assigns a task; the department's liaison submits a plan, an evidence file and a
completion report; the office returns it once, then accepts the second; the public 整改公示
page says 已整改.

The published campaign is made with factories (``tests.rectification.helpers``); everything
after publication goes through the pages. The console is used in English (``?lang=en``); the
public page is read in Chinese. Screenshots: test-artifacts/screenshots/rectification-*.png.
"""

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy.orm import Session

from app.config import get_settings
from tests.browser import (
    ACTION_TIMEOUT_MS,
    LiveServer,
    launched_chromium,
    live_server,
    save_screenshot,
    watch_script_problems,
)
from tests.factories import STAFF_PASSWORD, make_staff
from tests.rectification.helpers import published_with_comments

pytestmark = pytest.mark.browser

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
TASK_TITLE = "缩短窗口排队时间"


@pytest.fixture
def browser() -> Iterator[Browser]:
    with launched_chromium() as launched:
        yield launched


def _context(browser: Browser) -> BrowserContext:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    return context


def _sign_in(page: Page, server: LiveServer, username: str) -> None:
    page.goto(server.url("/admin/login?lang=en"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/admin/login"))


def test_problem_list_task_plan_evidence_return_accept_public(browser: Browser) -> None:
    with live_server() as server, pytest.MonkeyPatch.context() as patch:
        patch.setattr(get_settings(), "public_base_url", server.base_url)  # origin checks
        with Session(server.engine, expire_on_commit=False) as session:
            built = published_with_comments(session)
            admin = make_staff(session, role="admin").username
            liaison = make_staff(session, role="liaison", department=built.north).username
            slug, north_code = built.slug, built.north.code
            session.commit()

        office = _context(browser).new_page()
        office_problems = watch_script_problems(office)
        _sign_in(office, server, admin)
        office.goto(server.url(f"/admin/rectification/{slug}"))
        office.get_by_role("button", name="Make the problem lists").click()
        section = office.locator(f"#department-{north_code}")
        expect(section).to_contain_text("末位")
        expect(section).to_contain_text("公开意见：窗口排队太久")
        save_screenshot(office, "rectification-problem-list")
        section.locator("summary").click()
        section.get_by_label("Task title").fill(TASK_TITLE)
        section.get_by_role("button", name="Assign the task").click()
        expect(office.locator("#task-status")).to_contain_text("Assigned")
        task_url = office.url

        desk = _context(browser).new_page()
        _sign_in(desk, server, liaison)
        desk.goto(server.url("/admin/my-rectification"))
        desk.get_by_role("link", name=TASK_TITLE).click()
        desk.get_by_label("Measures").fill("增设叫号机，高峰时段增开窗口")
        desk.get_by_label("Responsible post").fill("综合科科长")
        desk.get_by_role("button", name="Submit the plan").click()
        expect(desk.locator("#task-status")).to_contain_text("Plan submitted")
        expect(desk.locator("#evidence-rules")).to_contain_text("must not carry rater data")
        desk.get_by_label("Evidence file").set_input_files(
            {"name": "叫号机.png", "mimeType": "image/png", "buffer": PNG}
        )
        desk.get_by_role("button", name="Upload", exact=True).click()
        expect(desk.get_by_role("link", name="叫号机.png")).to_be_visible()
        desk.get_by_label("Completion report").fill("叫号机已启用")
        desk.get_by_role("button", name="Submit the report").click()
        expect(desk.locator("#task-status")).to_contain_text("Report submitted")
        save_screenshot(desk, "rectification-liaison-task")

        office.goto(task_url)
        office.get_by_label("Reason (required when returning the report)").fill(
            "请补充启用后的排队时长"
        )
        office.get_by_role("button", name="Return the report").click()
        expect(office.locator("#task-status")).to_contain_text("Returned")

        desk.reload()
        expect(desk.get_by_text("请补充启用后的排队时长")).to_be_visible()
        desk.get_by_label("Completion report").fill("高峰排队由40分钟降至15分钟")
        desk.get_by_role("button", name="Submit the report").click()
        expect(desk.locator("#task-status")).to_contain_text("Report submitted")

        office.goto(task_url)
        office.get_by_role("button", name="Accept the report").click()
        expect(office.locator("#task-status")).to_contain_text("Accepted")
        save_screenshot(office, "rectification-task-accepted")

        public = _context(browser).new_page()
        public.goto(server.url(f"/rectification/{slug}"))
        expect(public.locator("h1")).to_contain_text("整改公示")
        expect(public.locator("tr", has_text=TASK_TITLE)).to_contain_text("已整改")
        save_screenshot(public, "rectification-public")
        assert office_problems == []
