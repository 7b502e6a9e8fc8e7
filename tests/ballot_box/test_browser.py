"""The sealed ballot box end to end in a real browser, on a 360 px phone, with and without
JavaScript: a rater rates, keeps the receipt the page shows (the ballot's tracker), and after
the office has closed the campaign and two of three trustees have opened the box, finds that
tracker on the public verification page and checks it with the form.

The office's steps go through ``app.campaigns.lifecycle`` on the server's database (the
console's tally page is tested on its own). What the rater reads is taken from the Chinese
catalog, so the test follows the wording wherever the catalog changes it. Screenshots are
saved as test-artifacts/screenshots/ballot-box-*.png.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.ballot_box import opening
from app.ballot_box import service as box_service
from app.ballot_box.models import SealedBallot
from app.ballots import receipts
from app.ballots import service as ballot_service
from app.ballots.schemas import BallotIn, EvaluationIn
from app.campaigns import lifecycle
from app.campaigns.models import Campaign, CampaignStatus
from app.credentials import verify_pages
from app.i18n import translations_for
from tests.browser import (
    LiveServer,
    launched_chromium,
    live_server,
    new_phone_context,
    save_screenshot,
    watch_script_problems,
)
from tests.factories import (
    HASHING_KEY,
    answers_for,
    ballot_count,
    evaluation_count,
    issue_code,
    make_campaign,
    make_department,
    trustee_shares,
)

pytestmark = pytest.mark.browser

OFFICE = "office"  # the actor of the lifecycle steps in the audit trail
TRACKER_SHOWN = re.compile(r"[0-9a-f]{4}(?:-[0-9a-f]{4}){15}")  # 64 hex digits in groups of 4
TRACKER_LISTED = re.compile(r"[0-9a-f]{64}")  # a line of receipts.txt
_zh = translations_for("zh_CN")


def zh(message: str, **values: object) -> str:
    """What the Chinese interface shows for ``message`` (the English text until translated)."""
    text = _zh.gettext(message)
    return text % values if values else text


def zh_plural(singular: str, plural: str, count: int) -> str:
    return _zh.ngettext(singular, plural, count) % {"num": count}


# The rating steps (zh_CN catalog).
CONTINUE = zh("Continue")
NEXT = zh("Next")
NEXT_DEPARTMENT = zh("Next department")
REVIEW_ANSWERS = zh("Review my answers")
SUBMIT = zh("Submit anonymously")
THANK_YOU = zh("Thank you")
CHOOSE_HEADING = zh("Which departments have you dealt with?")


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server() as running:
        yield running


@dataclass(frozen=True)
class Office:
    """An open campaign with a sealed box (2-of-3 tally key) and three departments."""

    campaign: Campaign
    department_names: list[str]


@pytest.fixture
def office(server: LiveServer) -> Office:
    """Made as a draft with its tally key, then opened as the office opens it (which also
    makes the credential keys), committed for the server to see."""
    with Session(server.engine, expire_on_commit=False) as session:
        departments = [make_department(session) for _ in range(3)]
        campaign = make_campaign(session, departments=departments, status=CampaignStatus.DRAFT)
        lifecycle.open_campaign(session, campaign, actor=OFFICE)
        session.commit()
    return Office(campaign=campaign, department_names=[d.name for d in departments])


@contextmanager
def phone(browser: Browser, **options: Any) -> Iterator[Page]:
    """A fresh 360 px phone with one tab; fails the test on a script error or CSP refusal."""
    context: BrowserContext = new_phone_context(browser, **options)
    page = context.new_page()
    problems = watch_script_problems(page)
    try:
        yield page
    finally:
        context.close()
    assert problems == [], "the page's script failed"


# --- the rater's steps ----------------------------------------------------------------------


def rate_two_departments(page: Page, office: Office) -> str:
    """From the choose step: rate the first and the third department, submit, and copy the
    receipt from the receipt page as a person would (its visible text)."""
    first, _, third = office.department_names
    expect(page.get_by_role("heading", name=CHOOSE_HEADING)).to_be_visible()
    page.get_by_label(first, exact=True).check()
    page.get_by_label(third, exact=True).check()
    page.get_by_role("button", name=NEXT, exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(first)
    page.locator("#q-courtesy").get_by_label("非常满意", exact=True).check()
    page.locator("#q-speed").get_by_label("不了解", exact=True).check()
    page.get_by_role("button", name=NEXT_DEPARTMENT).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(third)
    page.locator("#q-courtesy").get_by_label("不满意", exact=True).check()
    page.locator("#q-speed").get_by_label("满意", exact=True).check()
    page.locator("#comment").fill("窗口排队太久")
    page.get_by_role("button", name=REVIEW_ANSWERS).click()
    page.get_by_role("button", name=SUBMIT).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(THANK_YOU)
    shown = page.locator("#receipt-code")
    expect(shown).to_be_visible()
    receipt = shown.inner_text().strip()
    assert TRACKER_SHOWN.fullmatch(receipt), f"the receipt shown is not a tracker: {receipt!r}"
    verify_path = f"/verify/{office.campaign.slug}"
    verify_link = page.locator(".receipt").get_by_role("link", name=verify_path, exact=True)
    expect(verify_link).to_have_attribute("href", verify_path)
    return receipt


def check_receipt(page: Page, receipt: str) -> None:
    """Type the receipt into the verification page's form and send it."""
    page.get_by_label(zh("Your receipt"), exact=True).fill(receipt)
    page.locator("#receipts form").get_by_role("button", name=zh("Check")).click()


def horizontal_overflow(page: Page) -> int:
    """CSS pixels the page is wider than the screen (a rater would have to scroll sideways)."""
    overflow: int = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return overflow


# --- the office's steps ---------------------------------------------------------------------


def another_rater(server: LiveServer, campaign: Campaign) -> str:
    """A second ballot, submitted directly, so the rater's tracker is one of several; its
    tracker as shown."""
    with Session(server.engine) as session:
        fresh = session.get_one(Campaign, campaign.id)
        code = issue_code(session, fresh, group="cadres")
        evaluations = [
            EvaluationIn(
                target=target.department.code, answers=answers_for(fresh, "cadres", level=3)
            )
            for target in fresh.targets[:2]
        ]
        ballot = BallotIn(code=code, evaluations=evaluations)
        receipt = ballot_service.submit_ballot(session, HASHING_KEY, ballot).receipt
        session.commit()
    return receipt


def close(server: LiveServer, campaign: Campaign) -> None:
    with Session(server.engine) as session:
        lifecycle.close_campaign(session, session.get_one(Campaign, campaign.id), actor=OFFICE)
        session.commit()


def tally_with_two_of_three(server: LiveServer, campaign: Campaign) -> None:
    """The first and the third trustee enter their shares; the second stays at home."""
    first, _, third = trustee_shares(campaign)
    with Session(server.engine) as session:
        fresh = session.get_one(Campaign, campaign.id)
        lifecycle.tally_campaign(session, fresh, [first, third], actor=OFFICE)
        session.commit()


# --- the journey ----------------------------------------------------------------------------


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_rater_finds_their_tracker_counted_after_the_trustees_open_the_box(
    browser: Browser, server: LiveServer, office: Office, javascript: bool
) -> None:
    campaign = office.campaign
    mode = "js" if javascript else "nojs"
    with Session(server.engine) as session:
        code = issue_code(session, session.get_one(Campaign, campaign.id))
        session.commit()

    with phone(browser, java_script_enabled=javascript) as page:
        # The rater rates: from the QR code's address with the script (which swaps the code
        # for an anonymous credential), by typing the code without it.
        if javascript:
            page.goto(server.url(f"/r#{code}"))
            expect(page.locator('input[type="hidden"][name="credential"]')).to_have_count(1)
        else:
            page.goto(server.url("/r"))
            page.locator("#code").fill(code)
            page.locator("#code-form").get_by_role("button", name=CONTINUE).click()
            expect(page.locator('input[name="code"]')).to_have_count(1)
        receipt = rate_two_departments(page, office)
        save_screenshot(page, f"ballot-box-receipt-{mode}")
        assert horizontal_overflow(page) <= 0, "the receipt page scrolls sideways"

        other = another_rater(server, campaign)

        # Before the tally: the box holds exactly the two ballots, and nothing is readable.
        with Session(server.engine) as session:
            fresh = session.get_one(Campaign, campaign.id)
            assert evaluation_count(session, fresh) == 0
            assert ballot_count(session, fresh) == 2
            assert box_service.trackers(session, fresh) == sorted(
                receipts.receipt_hash(shown) for shown in (receipt, other)
            )

        # Closed, not yet tallied: the tracker is listed, and the check says it is in the box,
        # not that it was counted.
        close(server, campaign)
        page.goto(server.url(f"/verify/{campaign.slug}"))
        expect(page.locator("#box")).to_contain_text(zh("The trustees have not opened it yet."))
        check_receipt(page, receipt)
        expect(page.locator("#receipts").get_by_role("status")).to_have_text(
            zh(verify_pages.RECEIPT_IN_BOX)
        )

        tally_with_two_of_three(server, campaign)
        with Session(server.engine) as session:
            fresh = session.get_one(Campaign, campaign.id)
            assert fresh.status == CampaignStatus.TALLIED
            assert evaluation_count(session, fresh) == 4  # two departments on each ballot
            key = box_service.tally_key_of(session, fresh)
            assert key is not None
            fingerprint = verify_pages.grouped_hex(bytes(key.fingerprint))

        # After the tally the rater opens the verification page on the phone.
        page.goto(server.url(f"/verify/{campaign.slug}"))
        tally_key = page.locator("#tally-key")
        expect(tally_key).to_contain_text(zh("Tally key fingerprint (SHA-256):"))
        expect(tally_key.locator("code.fingerprint")).to_have_text(fingerprint)
        # Two ballots, below the disclosure threshold: neither their number nor the list of
        # trackers (whose length is that number) is published; the check still answers.
        box = page.locator("#box")
        expect(box).to_contain_text(
            zh(
                "The number of ballots is not published: it is small enough that it, or the "
                "list of trackers, could help single out raters."
            )
        )
        expect(box).to_contain_text(zh("The trustees have opened the box and counted it."))
        expect(page.locator(".rejected-ballots")).to_have_count(0)
        expect(page.locator(".receipt-hashes li")).to_have_count(0)

        check_receipt(page, receipt)
        answer = page.locator("#receipts").get_by_role("status")
        expect(answer).to_have_text(zh(verify_pages.RECEIPT_COUNTED))
        expect(answer).to_have_class(re.compile(r"\bsuccess\b"))
        expect(page.get_by_label(zh("Your receipt"), exact=True)).not_to_have_attribute(
            "aria-invalid", "true"
        )
        save_screenshot(page, f"ballot-box-verify-{mode}")
        assert horizontal_overflow(page) <= 0, "the verification page scrolls sideways"

        # The downloadable list is not published either, for so few ballots.
        response = page.context.request.get(server.url(f"/verify/{campaign.slug}/receipts.txt"))
        assert response.status == 404


def test_a_ballot_the_tally_could_not_open_is_listed_but_not_called_counted(
    browser: Browser, server: LiveServer, office: Office
) -> None:
    """A ciphertext altered in the database after it was sealed: its tracker stays in the
    list, the tally rejects it, and checking that tracker says so, with the reason."""
    campaign = office.campaign
    # Enough ballots for their number and trackers to be published (the threshold, 5).
    kept = [another_rater(server, campaign) for _ in range(campaign.disclosure_threshold - 1)]
    altered = another_rater(server, campaign)
    with Session(server.engine) as session:
        tracker = receipts.receipt_hash(altered)
        ciphertext = session.scalars(
            select(SealedBallot.ciphertext).where(SealedBallot.tracker == tracker)
        ).one()
        assert ciphertext is not None
        tampered = bytes(ciphertext[:-1]) + bytes([ciphertext[-1] ^ 1])
        session.execute(
            update(SealedBallot).where(SealedBallot.tracker == tracker).values(ciphertext=tampered)
        )
        session.commit()
    close(server, campaign)
    tally_with_two_of_three(server, campaign)

    with phone(browser, java_script_enabled=False) as page:
        page.goto(server.url(f"/verify/{campaign.slug}"))
        box = page.locator("#box")
        expect(box).to_contain_text(
            zh_plural(
                "%(num)s ballot was opened and counted.",
                "%(num)s ballots were opened and counted.",
                len(kept),
            )
        )
        reason = zh(opening.REJECTION_MESSAGES[opening.ALTERED])
        expect(box.locator(".rejected-ballots li")).to_have_text([f"{altered}: {reason}"])
        expect(page.locator(".receipt-hashes li")).to_have_count(len(kept) + 1)
        # The downloadable list: sorted lower-case hex, one tracker a line, no dashes.
        response = page.context.request.get(server.url(f"/verify/{campaign.slug}/receipts.txt"))
        assert response.ok
        lines = response.text().splitlines()
        assert all(TRACKER_LISTED.fullmatch(line) for line in lines), lines
        assert lines == sorted(lines)
        assert sorted(lines) == sorted(shown.replace("-", "") for shown in [*kept, altered])

        check_receipt(page, altered)
        answer = page.locator("#receipts").get_by_role("status")
        expect(answer).to_have_text(zh(verify_pages.RECEIPT_REJECTED, reason=reason))
        expect(answer).to_have_class(re.compile(r"\berror\b"))

        check_receipt(page, kept[0])
        expect(answer).to_have_text(zh(verify_pages.RECEIPT_COUNTED))
