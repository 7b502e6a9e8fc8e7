"""Rater pages checked with axe-core in Chromium at a phone's width (360 px).

Every step a rater sees must have no serious or critical axe violation. Playwright's
``page.evaluate`` is not subject to the page's Content-Security-Policy, so axe is injected
with the strict CSP in force (no ``bypass_csp``): the pages are checked as raters get them.

Besides axe-core's default rules, WCAG 2.2's minimum target size is checked. Steps are
reached through the form controls' names and values, not their wording, as the Chinese
catalog is still being filled in. The office console's sign-in page is audited too,
for the record only: its findings are written to test-artifacts/accessibility/.
"""

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import Browser, Page, Response, expect
from sqlalchemy.orm import Session

from app.admission import codes
from app.campaigns.models import Campaign
from app.config import PROJECT_ROOT
from tests.browser import (
    LiveServer,
    launched_chromium,
    live_server,
    new_phone_context,
    watch_script_problems,
)
from tests.factories import issue_code, make_campaign, make_department

pytestmark = pytest.mark.browser

BLOCKING_IMPACTS = frozenset({"serious", "critical"})
# axe-core's default rules, plus WCAG 2.2's minimum target size (off by default), which
# matters most on a phone.
AXE_OPTIONS = {"resultTypes": ["violations"], "rules": {"target-size": {"enabled": True}}}
REPORT_DIR = PROJECT_ROOT / "test-artifacts" / "accessibility"

Violation = dict[str, Any]  # one entry of axe-core's ``violations``


# --- fixtures -------------------------------------------------------------------------------


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
    """A fresh phone-sized tab in Chinese; fails the test if the page's script breaks."""
    context = new_phone_context(browser, locale="zh-CN")
    tab = context.new_page()
    script_problems = watch_script_problems(tab)
    yield tab
    context.close()
    assert script_problems == [], "the page's script failed"


@pytest.fixture
def db(server: LiveServer) -> Iterator[Session]:
    """A session on the server's database; commit what the server must see."""
    with Session(server.engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def campaign(db: Session) -> Campaign:
    """An open campaign rating two departments, committed."""
    made = make_campaign(db, departments=[make_department(db), make_department(db)])
    db.commit()
    return made


@pytest.fixture
def code(db: Session, campaign: Campaign) -> str:
    """An unused code for ``campaign``, for the citizens group, committed."""
    issued = issue_code(db, campaign, group="citizens")
    db.commit()
    return issued


# --- helpers --------------------------------------------------------------------------------


def axe_violations(page: Page) -> list[Violation]:
    violations: list[Violation] = Axe().run(page, options=AXE_OPTIONS).response["violations"]
    return violations


def describe(violations: list[Violation]) -> str:
    lines = []
    for violation in violations:
        targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"])
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return "\n".join(lines)


def assert_no_serious_violations(page: Page, what: str) -> None:
    blocking = [
        violation for violation in axe_violations(page) if violation["impact"] in BLOCKING_IMPACTS
    ]
    assert not blocking, f"{what} has serious or critical axe violations:\n{describe(blocking)}"


def enter_code(page: Page, server: LiveServer, code: str) -> None:
    page.goto(server.url("/r"))
    page.locator("#code").fill(code)
    page.locator("#code-form").get_by_role("button").click()


def press(page: Page, action: str) -> None:
    """Click the rating form's button for ``action`` (next, back, skip, submit …)."""
    page.locator(f'button[name="action"][value="{action}"]').click()


def answer_every_question(page: Page, level: int) -> None:
    questions = page.locator("fieldset.question")
    for index in range(questions.count()):
        questions.nth(index).locator(f'input[type="radio"][value="{level}"]').check()


def is_rating_post(response: Response) -> bool:
    return response.request.method == "POST" and urlsplit(response.url).path == "/r/rate"


def mistype(code: str) -> str:
    """``code`` with its first symbol replaced by another symbol of the alphabet."""
    replacement = next(symbol for symbol in codes.ALPHABET if symbol != code[0])
    return replacement + code[1:]


def open_rating_step(page: Page, server: LiveServer, code: str, campaign: Campaign) -> None:
    """Enter ``code``, choose the first department and land on its questions."""
    department = campaign.targets[0].department
    enter_code(page, server, code)
    page.get_by_label(department.name, exact=True).check()
    press(page, "next")
    expect(page.get_by_role("heading", level=1)).to_have_text(department.name)


# --- tests ----------------------------------------------------------------------------------


class TestCodeEntryPage:
    def test_code_entry_page_in_chinese_has_no_serious_violations(
        self, page: Page, server: LiveServer
    ) -> None:
        page.goto(server.url("/r"))
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")

        assert_no_serious_violations(page, "/r in Chinese")

    def test_code_entry_page_in_english_has_no_serious_violations(
        self, page: Page, server: LiveServer
    ) -> None:
        page.goto(server.url("/r?lang=en"))
        expect(page.locator("html")).to_have_attribute("lang", "en")

        assert_no_serious_violations(page, "/r in English")

    def test_mistyped_code_error_has_no_serious_violations(
        self, page: Page, server: LiveServer, code: str
    ) -> None:
        enter_code(page, server, mistype(code))
        expect(page.get_by_role("alert")).to_be_visible()
        expect(page.locator("#code")).to_have_attribute("aria-invalid", "true")

        assert_no_serious_violations(page, "/r with a mistyped code")


class TestRatingSteps:
    def test_choose_departments_step_has_no_serious_violations(
        self, page: Page, server: LiveServer, campaign: Campaign, code: str
    ) -> None:
        enter_code(page, server, code)
        expect(page.locator('input[type="checkbox"][name="target"]')).to_have_count(2)

        assert_no_serious_violations(page, "the choose-departments step")

    def test_rating_step_has_no_serious_violations(
        self, page: Page, server: LiveServer, campaign: Campaign, code: str
    ) -> None:
        open_rating_step(page, server, code, campaign)

        assert_no_serious_violations(page, "a rating step")

    def test_rating_step_showing_missing_answers_has_no_serious_violations(
        self, page: Page, server: LiveServer, campaign: Campaign, code: str
    ) -> None:
        open_rating_step(page, server, code, campaign)
        page.locator("fieldset.question").first.locator('input[type="radio"]').first.check()
        press(page, "next")
        expect(page.get_by_role("alert")).to_be_visible()
        expect(page.locator("fieldset.question.missing").first).to_be_visible()

        assert_no_serious_violations(page, "a rating step with missing answers")

    def test_review_step_has_no_serious_violations(
        self, page: Page, server: LiveServer, campaign: Campaign, code: str
    ) -> None:
        open_rating_step(page, server, code, campaign)
        answer_every_question(page, level=4)
        press(page, "next")
        expect(page.locator(".review-target")).to_have_count(1)

        assert_no_serious_violations(page, "the review step")

    def test_receipt_page_has_no_serious_violations(
        self, page: Page, server: LiveServer, campaign: Campaign, code: str
    ) -> None:
        open_rating_step(page, server, code, campaign)
        answer_every_question(page, level=4)
        press(page, "next")
        with page.expect_response(is_rating_post) as submitted:
            press(page, "submit")
        assert submitted.value.status == 201
        expect(page.get_by_role("status")).to_be_visible()

        assert_no_serious_violations(page, "the receipt page")


class TestConsoleSignInPageAudit:
    def test_console_sign_in_page_findings_are_written_out_without_failing(
        self, page: Page, server: LiveServer
    ) -> None:
        """A record, not a gate: the console is not a rater page."""
        page.goto(server.url("/admin/login"))
        expect(page.locator("#username")).to_be_visible()

        violations = axe_violations(page)

        REPORT_DIR.mkdir(parents=True, exist_ok=True)
        report = describe(violations) or "no violations"
        (REPORT_DIR / "console-login.txt").write_text(report + "\n", encoding="utf-8")
        print(f"axe on /admin/login at 360 px: {report}")
