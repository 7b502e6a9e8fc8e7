"""The public results pages checked with axe-core in Chromium at a phone's width (360 px).

The campaign has a withheld department and a group withheld for another, so the withheld
marks, the ranking cards and the charts' placeholders are all audited. The pages carry no
script at all (axe itself needs JavaScript on to run). A screenshot of each page is kept for
people to look at.
"""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy.orm import Session

from app.campaigns.models import Campaign
from tests.browser import (
    LiveServer,
    launched_chromium,
    live_server,
    new_phone_context,
    save_screenshot,
)
from tests.factories import make_campaign, make_department
from tests.public.helpers import (
    GOOD_CADRES,
    GOOD_CITIZENS,
    POOR_CITIZENS,
    THRESHOLD,
    close_and_publish,
    rate,
)
from tests.test_accessibility import assert_no_serious_violations

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server() as running:
        yield running


@pytest.fixture(params=["zh-CN", "en"])
def language(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def page(browser: Browser, language: str) -> Iterator[Page]:
    context = new_phone_context(browser, locale=language)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def campaign(server: LiveServer) -> Campaign:
    """Published: one department fully shown, one without its cadres, one withheld."""
    with Session(server.engine, expire_on_commit=False) as session:
        shown, partly, withheld = (
            make_department(session, name=name, category="执法类")
            for name in ("甲局", "乙局", "丙局")
        )
        made = make_campaign(
            session,
            groups={"citizens": 3.0, "cadres": 1.0},
            departments=[shown, partly, withheld],
            threshold=THRESHOLD,
        )
        rate(session, made, shown, "citizens", GOOD_CITIZENS)
        rate(session, made, shown, "cadres", GOOD_CADRES)
        rate(session, made, partly, "citizens", POOR_CITIZENS)
        rate(session, made, partly, "cadres", GOOD_CADRES[:1])
        rate(session, made, withheld, "citizens", GOOD_CITIZENS[:1])
        close_and_publish(session, made)
        session.commit()
        return made


@pytest.mark.parametrize(
    "path",
    [
        "/results",
        "/results/{slug}",
        "/results/{slug}/departments/{code}",
        "/results/{slug}/methodology",
    ],
)
def test_public_page_has_no_serious_violations(
    page: Page, language: str, server: LiveServer, campaign: Campaign, path: str
) -> None:
    partly = campaign.targets[1].department
    address = path.format(slug=campaign.slug, code=partly.code)

    response = page.goto(server.url(address))

    assert response is not None
    assert response.status == 200
    assert page.locator("script").count() == 0
    save_screenshot(page, f"public{address.replace('/', '-')}-{language}")
    assert_no_serious_violations(page, address)
