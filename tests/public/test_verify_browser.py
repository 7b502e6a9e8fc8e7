"""The verification page ``/verify/{slug}`` on a phone: the receipt check comes first, the
tracker from the QR code's fragment fills the field (and reaches the server only in the check),
the answer appears in place without a reload, and the key table scrolls sideways instead of
squeezing its columns."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Request, expect
from sqlalchemy.orm import Session

from app.campaigns.models import Campaign, CampaignStatus
from tests.browser import (
    LiveServer,
    launched_chromium,
    live_server,
    new_phone_context,
    save_screenshot,
    watch_script_problems,
)
from tests.credentials.test_verify_pages import THRESHOLD, add_ballots, add_keys
from tests.factories import make_campaign

pytestmark = pytest.mark.browser


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
    tab = context.new_page()
    problems = watch_script_problems(tab)
    yield tab
    context.close()
    assert problems == [], "the page's script failed"


def closed_campaign(server: LiveServer) -> tuple[Campaign, list[str]]:
    with Session(server.engine, expire_on_commit=False) as session:
        campaign = make_campaign(session, threshold=THRESHOLD)
        add_keys(session, campaign)
        trackers = add_ballots(session, campaign, 0, THRESHOLD + 1)
        campaign.status = CampaignStatus.CLOSED
        session.commit()
    return campaign, trackers


class TestTheReceiptCheckOnAPhone:
    def test_the_tracker_from_the_link_is_checked_in_place_first_on_the_page(
        self, server: LiveServer, page: Page
    ) -> None:
        campaign, trackers = closed_campaign(server)
        sent: list[Request] = []
        page.on("request", lambda request: sent.append(request))

        page.goto(server.url(f"/verify/{campaign.slug}#{trackers[1]}"))

        field = page.get_by_label("您的回执码", exact=True)
        expect(field).to_have_value(trackers[1])
        assert trackers[1] not in page.url  # out of the address bar and history
        check = page.locator("#receipts").bounding_box()
        keys = page.locator("#keys").bounding_box()
        assert check is not None
        assert keys is not None
        assert check["y"] < keys["y"]  # the check comes before the key table
        assert check["y"] < 780  # on the first screen
        assert not any(trackers[1] in (request.post_data or "") for request in sent)

        page.evaluate("window.notReloaded = true")
        page.locator("#receipts form").get_by_role("button", name="核验").click()

        expect(page.locator("#check-result")).to_contain_text("该回执码在列表中")
        assert page.evaluate("window.notReloaded === true")  # answered without a reload
        posted = [request for request in sent if request.method == "POST"]
        assert len(posted) == 1
        save_screenshot(page, "verify-checked-360")

    def test_the_key_table_scrolls_instead_of_squeezing_its_columns(
        self, server: LiveServer, page: Page
    ) -> None:
        campaign, _trackers = closed_campaign(server)

        page.goto(server.url(f"/verify/{campaign.slug}"))

        narrowest = page.evaluate(
            """() => Math.min(...[...document.querySelectorAll('.key-table th, .key-table td')]
                .map((cell) => cell.getBoundingClientRect().width))"""
        )
        assert narrowest > 60  # CSS pixels: several characters, not one per line
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        font = page.locator(".key-table code.fingerprint").first.evaluate(
            "(code) => getComputedStyle(code).fontFamily"
        )
        assert "monospace" in font
