"""The rating steps' fixes in a real browser at a phone's width: the first unanswered question
is named, scrolled to and focused; a change from the review goes straight back to it; the
review lists what is not counted; the receipt's groups never break. Screenshots of each page
are saved under test-artifacts/screenshots/ for people to look at.
"""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect
from sqlalchemy.orm import Session

from tests.browser import (
    LiveServer,
    launched_chromium,
    live_server,
    save_screenshot,
    watch_script_problems,
)
from tests.factories import issue_code, make_campaign, make_department

pytestmark = pytest.mark.browser

SHORT_PHONE: ViewportSize = {
    "width": 360,
    "height": 420,
}  # CSS pixels: the second question is off screen


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
    context = browser.new_context(
        viewport=SHORT_PHONE, locale="zh-CN", is_mobile=True, has_touch=True
    )
    context.set_default_timeout(10_000)
    tab = context.new_page()
    problems = watch_script_problems(tab)
    yield tab
    context.close()
    assert problems == [], "the page's script failed"


def start(server: LiveServer, page: Page, *names: str) -> None:
    """A campaign of three departments, its code entered and the first two chosen."""
    with Session(server.engine, expire_on_commit=False) as session:
        departments = [make_department(session, name=name) for name in names]
        campaign = make_campaign(session, departments=departments)
        code = issue_code(session, campaign)
        session.commit()
    page.goto(server.url("/r"))
    page.locator("#code").fill(code)
    page.get_by_role("button", name="继续").click()
    expect(page.get_by_role("heading", name="您和哪些单位打过交道？")).to_be_visible()
    page.get_by_label(names[0], exact=True).check()
    page.get_by_label(names[1], exact=True).check()
    page.get_by_role("button", name="下一步", exact=True).click()


def answer(page: Page, item_id: str, label: str) -> None:
    page.locator(f"#q-{item_id}").get_by_label(label, exact=True).check()


class TestTheFirstUnansweredQuestion:
    def test_is_named_scrolled_to_and_focused(self, server: LiveServer, page: Page) -> None:
        start(server, page, "东区教育局", "东区卫健委", "东区民政局")
        answer(page, "courtesy", "满意")
        page.get_by_role("button", name="下一个单位").click()

        banner = page.locator("#form-error")
        expect(banner).to_contain_text("第 2 题还没有作答")
        expect(banner.get_by_role("link", name="2")).to_have_attribute("href", "#q-speed")
        focused_in = page.evaluate("document.activeElement.closest('fieldset')?.id")
        assert focused_in == "q-speed"
        box = page.locator("#q-speed").bounding_box()
        assert box is not None
        assert box["y"] >= 0  # on screen
        assert box["y"] + 40 <= SHORT_PHONE["height"]
        save_screenshot(page, "rate-missing-answer-360")


class TestChangingFromTheReview:
    def test_goes_straight_back_to_the_review(self, server: LiveServer, page: Page) -> None:
        start(server, page, "西区教育局", "西区卫健委", "西区民政局")
        answer(page, "courtesy", "满意")
        answer(page, "speed", "满意")
        page.get_by_role("button", name="下一个单位").click()
        answer(page, "courtesy", "不了解")
        answer(page, "speed", "不了解")
        page.get_by_role("button", name="核对我的评价").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("核对并提交")

        expect(page.locator(".review-target.not-known")).to_contain_text("不了解，不计入")
        expect(page.locator("#review-unrated")).to_contain_text("西区民政局")
        save_screenshot(page, "rate-review-360")

        page.get_by_role("button", name="修改对西区教育局的评价").click()
        answer(page, "speed", "不满意")
        page.get_by_role("button", name="保存并返回核对页").click()

        expect(page.get_by_role("heading", level=1)).to_have_text("核对并提交")
        expect(page.locator(".review-target").first).to_contain_text("不满意")
        page.get_by_role("button", name="匿名提交").click()

        expect(page.get_by_role("heading", level=1)).to_have_text("感谢您的参与")
        expect(page.get_by_text("评价了 1 个单位")).to_be_visible()
        save_screenshot(page, "rate-receipt-360")
        groups_broken = page.evaluate(
            """() => {
                const code = document.getElementById("receipt-code");
                const text = code.textContent;
                const node = code.firstChild;
                let broken = 0;
                // Each group of four: all its characters on one line.
                for (let start = 0; start < text.length; start += 5) {
                    const tops = new Set();
                    for (let index = start; index < start + 4; index++) {
                        let walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
                        let offset = index, current = walker.nextNode();
                        while (current && offset >= current.length) {
                            offset -= current.length;
                            current = walker.nextNode();
                        }
                        const range = document.createRange();
                        range.setStart(current, offset);
                        range.setEnd(current, offset + 1);
                        tops.add(Math.round(range.getBoundingClientRect().top));
                    }
                    if (tops.size > 1) broken++;
                }
                return [broken, code.getClientRects().length, node !== null];
            }"""
        )
        assert groups_broken[0] == 0
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360
