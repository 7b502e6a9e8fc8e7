"""Roster sign-in in a real browser, 360 px wide, with JavaScript and without: a cadre opens
the link the office sent (the number in the fragment), signs in with the one-time password,
rates and reaches a receipt; the receipt's copy button copies the tracker."""

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.ballots import receipts
from app.campaigns.models import Campaign
from app.credentials import keys as credential_keys
from app.credentials import roster
from app.credentials.models import RosterMember
from tests.ballots.test_credential_browser import (
    SERVER_SECRET,
    Tab,
    opened_tab,
    receipt_is_stored,
    stored_credentials,
)
from tests.browser import LiveServer, launched_chromium, live_server, save_screenshot
from tests.factories import make_campaign

pytestmark = pytest.mark.browser

PHONE = "13800138000"
SIGN_IN = "登录并开始评议"
CHOOSE_HEADING = "您和哪些单位打过交道？"
NEXT = "下一步"
REVIEW_ANSWERS = "核对我的评价"
SUBMIT = "匿名提交"
THANK_YOU = "感谢您的参与"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server() as running:
        yield running


@pytest.fixture
def db(server: LiveServer) -> Iterator[Session]:
    with Session(server.engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture(autouse=True)
def _fresh_login_failures() -> Iterator[None]:
    roster.login_failures.clear()
    yield
    roster.login_failures.clear()


def roster_campaign(db: Session, identifier: str = PHONE) -> tuple[Campaign, str]:
    """An open campaign with keys and one cadre on its roster; the cadre's password."""
    campaign = make_campaign(db)
    credential_keys.open_campaign_keys(db, campaign, SERVER_SECRET)
    (entry,) = roster.import_roster(
        db, campaign, "cadres", [roster.RosterLine(1, identifier)], SERVER_SECRET
    )
    db.commit()
    return campaign, entry.password


def member_served(server: LiveServer) -> bool:
    with Session(server.engine) as session:
        return bool(session.scalars(select(RosterMember.credential_issued)).all()[-1])


def rate_one_department(page: Page, campaign: Campaign) -> str:
    """From the choose step: rate the first department as a cadre, submit; the receipt."""
    expect(page.get_by_role("heading", name=CHOOSE_HEADING)).to_be_visible()
    page.get_by_label(campaign.targets[0].department.name, exact=True).check()
    page.get_by_role("button", name=NEXT, exact=True).click()
    expect(page.locator(".progress-department")).to_have_text("第 1/1 个单位")
    for item in ("courtesy", "speed", "guidance"):
        page.locator(f"#q-{item}").get_by_label("满意", exact=True).check()
    page.get_by_role("button", name=REVIEW_ANSWERS).click()
    page.get_by_role("button", name=SUBMIT).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(THANK_YOU)
    return page.locator("#receipt-code").inner_text()


class TestRosterSignInWithJavaScript:
    def test_a_cadre_signs_in_from_the_link_gets_a_credential_and_a_receipt(
        self, browser: Browser, server: LiveServer, db: Session
    ) -> None:
        campaign, password = roster_campaign(db, "138-0013-8001")
        with opened_tab(browser) as tab:
            page = tab.page
            page.goto(server.url(f"/r/roster/{campaign.slug}#id=13800138001"))

            expect(page.locator("#identifier")).to_have_value("13800138001")
            assert urlsplit(page.url).fragment == ""  # the number left the address bar
            page.locator("#password").fill(password.lower().replace("-", " "))
            page.get_by_role("button", name=SIGN_IN).click()

            expect(page.get_by_role("heading", name=CHOOSE_HEADING)).to_be_visible()
            expect(page.locator('input[type="hidden"][name="credential"]')).to_have_count(1)
            assert member_served(server)  # the credential was issued
            assert len(stored_credentials(page)) == 1
            save_screenshot(page, "roster-js-choose")
            tracker = rate_one_department(page, campaign)
            save_screenshot(page, "roster-js-receipt")

            assert receipt_is_stored(server, campaign, tracker)
            assert stored_credentials(page) == {}  # forgotten once spent
            assert_number_never_in_a_url(tab, "13800138001")

    def test_a_wrong_password_is_said_in_place(
        self, browser: Browser, server: LiveServer, db: Session
    ) -> None:
        campaign, _ = roster_campaign(db, "13800138002")
        with opened_tab(browser) as tab:
            tab.page.goto(server.url(f"/r/roster/{campaign.slug}#id=13800138002"))
            tab.page.locator("#password").fill("AAAAA-AAAAA")
            tab.page.get_by_role("button", name=SIGN_IN).click()

            expect(tab.page.locator("#credential-status")).to_contain_text("号码或一次性密码不正确")
            assert not member_served(server)


class TestRosterSignInWithoutJavaScript:
    def test_a_cadre_signs_in_rates_and_reaches_a_receipt(
        self, browser: Browser, server: LiveServer, db: Session
    ) -> None:
        campaign, password = roster_campaign(db, "13800138003")
        with opened_tab(browser, java_script_enabled=False) as tab:
            page = tab.page
            page.goto(server.url(f"/r/roster/{campaign.slug}"))
            page.locator("#identifier").fill("１３８ ００１３ ８００３")
            page.locator("#password").fill(password)
            page.get_by_role("button", name=SIGN_IN).click()

            expect(page.locator("#form-notice")).to_contain_text("未使用匿名凭证")
            assert not member_served(server)
            tracker = rate_one_department(page, campaign)
            save_screenshot(page, "roster-nojs-receipt")

            assert member_served(server)
            assert receipt_is_stored(server, campaign, tracker)
            expect(page.locator("#receipt-qr")).to_be_visible()
            expect(page.locator("#receipt-copy")).to_be_hidden()  # no script: select it instead
            assert_number_never_in_a_url(tab, "13800138003")


class TestCopyingTheReceipt:
    def test_the_copy_button_copies_the_tracker(
        self, browser: Browser, server: LiveServer, db: Session
    ) -> None:
        campaign, password = roster_campaign(db, "13800138004")
        with opened_tab(browser, permissions=["clipboard-read", "clipboard-write"]) as tab:
            page = tab.page
            page.goto(server.url(f"/r/roster/{campaign.slug}#id=13800138004"))
            page.locator("#password").fill(password)
            page.get_by_role("button", name=SIGN_IN).click()
            tracker = rate_one_department(page, campaign)

            page.get_by_role("button", name="复制回执").click()

            expect(page.get_by_role("button", name="已复制")).to_be_visible()
            assert page.evaluate("navigator.clipboard.readText()") == tracker
            assert receipts.receipt_bytes(tracker)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360  # the grouped tracker and the QR code fit a small phone
            lines = page.evaluate(
                """() => {
                    const code = document.getElementById("receipt-code");
                    const range = document.createRange();
                    range.selectNodeContents(code);
                    return [...range.getClientRects()].length;
                }"""
            )
            assert lines > 1  # wrapped on a small phone, and only after dashes:
            assert all(len(part) == 4 for part in tracker.split("-"))


def assert_number_never_in_a_url(tab: Tab, number: str) -> None:
    for request in tab.sent:
        parts = urlsplit(request.url)
        assert number not in parts.path + parts.query
