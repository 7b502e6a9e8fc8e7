"""The credential path of the rating page in a real browser, over real HTTP.

A rater opens ``/r#CODE``; the page's script exchanges the code for a blind-signed credential
(``POST /api/v1/admission``, ``POST /api/v1/credentials``), keeps it in ``localStorage``, and
rates with it. One Chromium and one server per module; every test has its own browser context.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, Route, expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.admission.models import CodeStatus
from app.ballot_box import service as box_service
from app.ballots import receipts
from app.campaigns.models import Campaign
from app.credentials import keys as credential_keys
from app.credentials.models import CredentialKey, SpentCredential
from tests.ballots.test_browser import horizontal_overflow
from tests.browser import (
    LiveServer,
    code_appears_in,
    launched_chromium,
    live_server,
    new_phone_context,
    save_screenshot,
    watch_script_problems,
)
from tests.factories import ballot_count, code_status, issue_code, make_campaign
from tests.test_accessibility import assert_no_serious_violations

pytestmark = pytest.mark.browser

SERVER_SECRET = b"test-secret-key"  # PINGYI_SECRET_KEY in tests/conftest.py
STORAGE_PREFIX = "pingyi:credentials:"  # app/static/js/rate.js

# What a rater reads (zh_CN catalog).
CHOOSE_HEADING = "您和哪些单位打过交道？"
CONTINUE = "继续"
NEXT = "下一步"
REVIEW_ANSWERS = "核对我的评价"
SUBMIT = "匿名提交"
THANK_YOU = "感谢您的参与"


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server() as running:
        yield running


@dataclass
class Tab:
    """Phone-sized tabs in one browser context, with every request they sent."""

    context: BrowserContext
    page: Page
    sent: list[Request] = field(default_factory=list)
    problems: list[list[str]] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        page.on("request", lambda request: self.sent.append(request))
        self.problems.append(watch_script_problems(page))
        return page

    def new_page(self) -> Page:
        """Another tab in the same context (same localStorage), watched the same way."""
        self.page = self.watch(self.context.new_page())
        return self.page


@contextmanager
def opened_tab(browser: Browser, **options: Any) -> Iterator[Tab]:
    """A fresh context (no cookies, no storage) with one tab; fails on script errors."""
    context = new_phone_context(browser, **options)
    tab = Tab(context=context, page=context.new_page())
    tab.watch(tab.page)
    try:
        yield tab
    finally:
        context.close()
    assert [problem for page in tab.problems for problem in page] == [], "a script failed"


@pytest.fixture
def tab(browser: Browser) -> Iterator[Tab]:
    with opened_tab(browser) as opened:
        yield opened


@pytest.fixture
def db(server: LiveServer) -> Iterator[Session]:
    with Session(server.engine, expire_on_commit=False) as session:
        yield session


def open_campaign(db: Session) -> Campaign:
    """An open campaign with its credential keys, committed for the server to see."""
    campaign = make_campaign(db)
    credential_keys.open_campaign_keys(db, campaign, SERVER_SECRET)
    db.commit()
    return campaign


# --- helpers --------------------------------------------------------------------------------


def expect_choose_step(page: Page) -> None:
    expect(page.get_by_role("heading", name=CHOOSE_HEADING)).to_be_visible()


def rate_first_department(page: Page, campaign: Campaign) -> str:
    """From the choose step: rate the first department, submit, return the receipt shown."""
    page.get_by_label(campaign.targets[0].department.name, exact=True).check()
    page.get_by_role("button", name=NEXT, exact=True).click()
    for item in ("courtesy", "speed"):
        page.locator(f"#q-{item}").get_by_label("满意", exact=True).check()
    page.get_by_role("button", name=REVIEW_ANSWERS).click()
    page.get_by_role("button", name=SUBMIT).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(THANK_YOU)
    return page.locator("#receipt-code").inner_text()


def stored_credentials(page: Page) -> dict[str, str]:
    stored: dict[str, str] = page.evaluate(
        """(prefix) => Object.fromEntries(
            Object.keys(localStorage).filter((key) => key.startsWith(prefix))
              .map((key) => [key, localStorage.getItem(key)]))""",
        STORAGE_PREFIX,
    )
    return stored


def spent_count_for(server: LiveServer, campaign: Campaign) -> int:
    with Session(server.engine) as session:
        count = session.scalar(
            select(func.count())
            .select_from(SpentCredential)
            .join(CredentialKey, CredentialKey.id == SpentCredential.key_id)
            .where(CredentialKey.campaign_id == campaign.id)
        )
    return count or 0


def receipt_is_stored(server: LiveServer, campaign: Campaign, receipt: str) -> bool:
    """Whether the receipt shown is the tracker of a ballot in the campaign's box."""
    with Session(server.engine) as session:
        stored = box_service.trackers(session, campaign)
    return receipts.receipt_hash(receipt) in set(stored)


def path_of(request: Request) -> str:
    return urlsplit(request.url).path


# --- tests ----------------------------------------------------------------------------------


class TestCredentialFromAVoucher:
    def test_rater_gets_a_credential_and_submits_without_cookie_or_code_in_any_url(
        self, tab: Tab, server: LiveServer, db: Session
    ) -> None:
        campaign = open_campaign(db)
        code = issue_code(db, campaign)
        db.commit()
        # A staff cookie in the same browser must never reach a rating request.
        host = urlsplit(server.base_url).hostname or "127.0.0.1"
        tab.context.add_cookies(
            [{"name": "pingyi_staff", "value": "x", "domain": host, "path": "/admin"}]
        )
        already_received = len(server.recorder.received)

        tab.page.goto(server.url(f"/r#{code}"))
        expect_choose_step(tab.page)
        hidden = tab.page.locator('input[type="hidden"][name="credential"]')
        expect(hidden).to_have_count(1)
        expect(tab.page.locator('input[name="code"]')).to_have_count(0)
        assert len(stored_credentials(tab.page)) == 1
        receipt = rate_first_department(tab.page, campaign)

        submissions = [
            request
            for request in tab.sent
            if request.method == "POST" and "action=submit" in (request.post_data or "")
        ]
        assert len(submissions) == 1
        (submission,) = submissions
        assert path_of(submission) == "/r/rate"
        assert "credential=" in (submission.post_data or "")
        assert "cookie" not in submission.all_headers()
        arrived = server.recorder.received[already_received:]
        ballots = [r for r in arrived if r.method == "POST" and r.path == "/r/rate"]
        assert ballots
        for received in ballots:
            assert "cookie" not in [name.lower() for name, _ in received.headers]

        for request in tab.sent:
            assert not code_appears_in(code, request.url), request.url
        carrying_code = [
            (request.method, path_of(request))
            for request in tab.sent
            if code_appears_in(code, request.post_data or "")
        ]
        assert carrying_code == [("POST", "/api/v1/admission"), ("POST", "/api/v1/credentials")]

        with Session(server.engine) as fresh:
            assert code_status(fresh, code) == CodeStatus.USED
            assert ballot_count(fresh, campaign) == 1
        assert spent_count_for(server, campaign) == 1
        assert receipt_is_stored(server, campaign, receipt)
        assert stored_credentials(tab.page) == {}

    def test_dropped_issuance_response_is_fetched_again_for_the_same_blinded_message(
        self, tab: Tab, server: LiveServer, db: Session
    ) -> None:
        campaign = open_campaign(db)
        code = issue_code(db, campaign)
        db.commit()
        bodies: list[str] = []

        def drop_first_response(route: Route) -> None:
            bodies.append(route.request.post_data or "")
            if len(bodies) == 1:
                route.fetch()  # the server signs and marks the voucher...
                route.abort("connectionreset")  # ...but the answer never arrives
            else:
                route.continue_()

        tab.page.route("**/api/v1/credentials", drop_first_response)

        tab.page.goto(server.url(f"/r#{code}"))

        expect_choose_step(tab.page)
        assert len(bodies) == 2
        assert bodies[0] == bodies[1]
        rate_first_department(tab.page, campaign)
        with Session(server.engine) as fresh:
            assert ballot_count(fresh, campaign) == 1


class TestCredentialKeptInTheBrowser:
    def test_closed_tab_is_recovered_from_the_stored_credential(
        self, tab: Tab, server: LiveServer, db: Session
    ) -> None:
        campaign = open_campaign(db)
        code = issue_code(db, campaign)
        db.commit()
        tab.page.goto(server.url(f"/r#{code}"))
        expect_choose_step(tab.page)
        tab.page.close()

        page = tab.new_page()
        page.goto(server.url("/r"))

        saved = page.locator("#saved-credentials")
        expect(saved).to_be_visible()
        expect(saved.locator(".saved-campaign")).to_have_text(["测试评议"])
        saved.get_by_role("button").click()
        expect_choose_step(page)
        receipt = rate_first_department(page, campaign)
        assert receipt_is_stored(server, campaign, receipt)
        assert stored_credentials(page) == {}

        page.goto(server.url("/r"))
        expect(page.locator("#code")).to_be_visible()
        expect(page.locator("#saved-credentials")).to_be_hidden()

    def test_saved_text_pasted_later_in_another_browser_rates(
        self, tab: Tab, browser: Browser, server: LiveServer, db: Session
    ) -> None:
        campaign = open_campaign(db)
        code = issue_code(db, campaign)
        db.commit()
        tab.page.goto(server.url(f"/r#{code}"))
        expect_choose_step(tab.page)
        tab.page.locator("#save-credential summary").click()
        text = tab.page.locator("#credential-text").input_value()
        download = tab.page.locator("#credential-download")
        expect(download).to_be_visible()
        assert (download.get_attribute("href") or "").startswith("blob:")
        with tab.page.expect_download() as downloading:
            download.click()
        saved_file = downloading.value.path().read_text().strip()
        assert saved_file == text

        with opened_tab(browser) as later:
            later.page.goto(server.url("/r"))
            later.page.locator("#credential-paste summary").click()
            later.page.locator("#credential").fill(text)
            later.page.locator("#credential-form").get_by_role("button").click()
            expect_choose_step(later.page)
            receipt = rate_first_department(later.page, campaign)
            assert receipt_is_stored(server, campaign, receipt)
        with Session(server.engine) as fresh:
            assert ballot_count(fresh, campaign) == 1

        # The first browser still offers it; the server now refuses it as spent, and the
        # page forgets it.
        tab.page.goto(server.url("/r"))
        tab.page.locator("#saved-credentials").get_by_role("button").click()
        expect(tab.page.locator("#credential-error")).to_be_visible()
        assert stored_credentials(tab.page) == {}


class TestFallbacks:
    def test_without_webcrypto_the_code_is_used_directly_with_a_notice(
        self, browser: Browser, server: LiveServer, db: Session
    ) -> None:
        campaign = open_campaign(db)
        code = issue_code(db, campaign)
        db.commit()
        with opened_tab(browser) as tab:
            tab.context.add_init_script(
                "Object.defineProperty(Crypto.prototype, 'subtle', {get: () => undefined});"
            )
            tab.page.goto(server.url(f"/r#{code}"))

            expect_choose_step(tab.page)
            expect(tab.page.locator("#form-notice")).to_be_visible()
            expect(tab.page.locator('input[name="code"]')).to_have_count(1)
            rate_first_department(tab.page, campaign)
        assert spent_count_for(server, campaign) == 0

    def test_without_javascript_the_code_path_still_works(
        self, browser: Browser, server: LiveServer, db: Session
    ) -> None:
        campaign = open_campaign(db)
        code = issue_code(db, campaign)
        db.commit()
        with opened_tab(browser, java_script_enabled=False) as tab:
            tab.page.goto(server.url("/r"))
            tab.page.locator("#code").fill(code)
            tab.page.locator("#code-form").get_by_role("button", name=CONTINUE).click()

            expect_choose_step(tab.page)
            expect(tab.page.locator('input[name="code"]')).to_have_count(1)
            receipt = rate_first_department(tab.page, campaign)
            assert receipt_is_stored(server, campaign, receipt)
        with Session(server.engine) as fresh:
            assert code_status(fresh, code) == CodeStatus.USED
        assert spent_count_for(server, campaign) == 0


class TestCredentialPagesForEveryone:
    def test_credential_steps_fit_a_phone_and_have_no_serious_axe_violations(
        self, tab: Tab, server: LiveServer, db: Session
    ) -> None:
        """Also saves screenshots under test-artifacts/screenshots/ for people to look at."""
        campaign = open_campaign(db)
        code = issue_code(db, campaign)
        db.commit()

        def check(name: str) -> None:
            save_screenshot(tab.page, f"credential-{name}")
            assert horizontal_overflow(tab.page) <= 0, f"{name} scrolls sideways"
            assert_no_serious_violations(tab.page, name)

        tab.page.goto(server.url(f"/r#{code}"))
        expect_choose_step(tab.page)
        tab.page.locator("#save-credential summary").click()
        expect(tab.page.locator("#credential-download")).to_be_visible()
        check("1-choose-with-save")

        tab.page.goto(server.url("/r"))
        expect(tab.page.locator("#saved-credentials")).to_be_visible()
        tab.page.locator("#credential-paste summary").click()
        check("2-enter-with-saved")

        tab.page.locator("#saved-credentials").get_by_role("button").click()
        expect_choose_step(tab.page)
        rate_first_department(tab.page, campaign)
        check("3-receipt")
