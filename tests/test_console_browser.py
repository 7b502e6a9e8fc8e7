"""The evaluation office's whole journey in headless Chromium, clicked as people would.

An administrator signs in, creates a campaign from a shipped questionnaire template, makes
its tally key (three trustees, any two of whom open the ballot box) and downloads each
trustee's share file, then opens the campaign, issues codes and downloads them as a PDF of
slips and as CSV. The QR codes printed on the slips are read back from the PDF, and three
raters open them on their own phones (fresh browser contexts, 360 px wide) and rate one
department; their ballots go sealed into the box. The administrator watches turnout pass the
disclosure threshold and closes the campaign, which leaves the box sealed. Two trustees then
sign in with their own accounts in their own browsers and enter their shares, the first as
the downloaded file, the second as its typed words; the second opens the box and the ballots
are counted. The administrator reads the results, reviews comments and publishes.

Only the departments and the staff accounts (the administrator and two trustees) are made in
the database; everything else goes through the pages. The console is used in English
(``?lang=en``, remembered in its cookie) so that the test can read its wording while the
Chinese catalog is being filled in; raters keep a Chinese phone and are steered by form
controls' names and values instead.
Screenshots of the main console pages are saved as test-artifacts/screenshots/console-*.png.
"""

import csv
import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote_plus, urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Download,
    Locator,
    Page,
    Request,
    Response,
    ViewportSize,
    expect,
)
from sqlalchemy.orm import Session

from app.config import get_settings
from app.departments.models import Department
from app.reports import fonts
from tests.browser import (
    ACTION_TIMEOUT_MS,
    LiveServer,
    code_appears_in,
    launched_chromium,
    live_server,
    new_phone_context,
    save_screenshot,
    watch_script_problems,
)
from tests.conftest import IN_CI
from tests.factories import STAFF_PASSWORD, make_department, make_staff
from tests.reports.pdf_reading import read_pdf

pytestmark = pytest.mark.browser

DESKTOP_VIEWPORT: ViewportSize = {"width": 1280, "height": 900}  # CSS pixels, an office computer
TEMPLATE = "file:conduct-efficiency-annual.yaml"
SLUG = "2026-conduct"
TITLE_ZH = "2026年度机关作风效能评议"
TITLE_EN = "2026 conduct and efficiency evaluation"
DISCLOSURE_THRESHOLD = 3
CODES_ISSUED = 5
RATER_LEVELS = [3, 2, 2]  # what each rater answers to every item; 100, 70 and 70 points
EXPECTED_SCORE = "80.00"  # (100 + 70 + 70) / 3, the rated department's citizens and composite
TRUSTEES = 3
TALLY_THRESHOLD = 2
OPENING_TRUSTEES = (1, 3)  # any two of the three open the box: the first and the last here
# The first rater's comment. Its department has 3 raters, fewer than the 10 the default
# policy wants before comments are kept: it is dropped unread when the box is opened.
RATER_COMMENT = "窗口办事快，态度好。"


@dataclass(frozen=True)
class Departments:
    rated: Department  # a target every rater chooses
    unrated: Department  # a target nobody chooses
    left_out: Department  # not a target of the campaign


@dataclass(frozen=True)
class RaterPost:
    """A POST the rater's browser sent, with every header (cookies included)."""

    path: str
    request_headers: dict[str, str]
    response_headers: dict[str, str]


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cjk_font() -> fonts.CjkFont:
    """Slips are a PDF with Chinese text; without a font for it the journey cannot be made."""
    try:
        return fonts.find_cjk_font()
    except fonts.PdfFontMissing as error:
        if IN_CI:
            pytest.fail(f"CI=true but {error}")
        pytest.skip(str(error))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    """The app, with slips' QR codes pointing at it rather than the configured public site."""
    with live_server() as running, pytest.MonkeyPatch.context() as patch:
        patch.setattr(get_settings(), "public_base_url", running.base_url)
        yield running


@pytest.fixture
def departments(server: LiveServer) -> Departments:
    with Session(server.engine, expire_on_commit=False) as session:
        made = Departments(
            rated=make_department(session, name="区税务局", category="经济管理类"),
            unrated=make_department(session, name="区市场监管局", category="经济管理类"),
            left_out=make_department(session, name="区人社局", category="社会服务类"),
        )
        made.rated.name_en = "District Tax Bureau"
        made.unrated.name_en = "District Market Regulation"
        made.left_out.name_en = "District Human Resources"
        session.commit()
    return made


@pytest.fixture
def admin_username(server: LiveServer) -> str:
    with Session(server.engine) as session:
        username = make_staff(session, role="admin").username
        session.commit()
    return username


@pytest.fixture
def trustee_usernames(server: LiveServer) -> list[str]:
    """Two trustees' accounts, one for each share that will open the box."""
    with Session(server.engine) as session:
        usernames = [make_staff(session, role="trustee").username for _ in OPENING_TRUSTEES]
        session.commit()
    return usernames


def new_desktop_context(browser: Browser) -> BrowserContext:
    context = browser.new_context(viewport=DESKTOP_VIEWPORT, locale="zh-CN")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    return context


@pytest.fixture
def admin_context(browser: Browser) -> Iterator[BrowserContext]:
    context = new_desktop_context(browser)
    yield context
    context.close()


# --- the administrator's steps --------------------------------------------------------------


def sign_in(page: Page, server: LiveServer, username: str, *, screenshot: bool = True) -> None:
    page.goto(server.url("/admin/login?lang=en"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    if screenshot:
        save_screenshot(page, "console-login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")


def create_campaign(page: Page, departments: Departments) -> None:
    page.get_by_role("link", name="New campaign").click()
    page.locator(f'input[name="template"][value="{TEMPLATE}"]').check()
    page.get_by_role("button", name="Continue").click()

    expect(page.locator('input[name="template"]')).to_have_value(TEMPLATE)
    page.get_by_label("Slug", exact=True).fill(SLUG)
    page.get_by_label("Title in Chinese").fill(TITLE_ZH)
    page.get_by_label("Title in English").fill(TITLE_EN)
    page.get_by_label("Citizens", exact=True).check()
    page.get_by_label("Weight of Citizens").fill("60")
    for department in (departments.rated, departments.unrated):
        assert department.name_en is not None
        page.get_by_label(department.name_en).check()
    page.get_by_label("Disclosure threshold").fill(str(DISCLOSURE_THRESHOLD))
    save_screenshot(page, "console-campaign-form")
    page.get_by_role("button", name="Create the draft campaign").click()

    expect(page).to_have_url(re.compile(rf"/admin/campaigns/{SLUG}$"))
    expect(page.locator("h1 .status")).to_have_text("Draft")


def move_campaign(
    page: Page, link: str, heading: str, button: str, status: str, *, promise: str = ""
) -> None:
    """Take a lifecycle step from the campaign's page through its confirmation page, which
    says ``promise`` (when given) about what will happen."""
    page.get_by_role("link", name=link).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    if promise:
        expect(page.locator(".confirm")).to_contain_text(promise)
    page.get_by_role("button", name=button).click()
    expect(page).to_have_url(re.compile(rf"/admin/campaigns/{SLUG}$"))
    expect(page.locator("h1 .status")).to_have_text(status)


def make_tally_key(page: Page) -> str:
    """Make the campaign's tally key from its page; returns the fingerprint it shows (hex)."""
    expect(page.get_by_text("No tally key yet")).to_be_visible()
    page.get_by_role("link", name="Make the tally key…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Tally key and trustees")
    page.get_by_label("Number of trustees").fill(str(TRUSTEES))
    page.get_by_label("Threshold").fill(str(TALLY_THRESHOLD))
    page.get_by_role("button", name="Make the tally key").click()

    expect(page.get_by_role("status")).to_contain_text("The tally key was made")
    expect(page.locator("tr[id^='trustee-']")).to_have_count(TRUSTEES)
    fingerprint = re.sub(r"[^0-9a-f]", "", page.locator("#fingerprint").inner_text().lower())
    assert len(fingerprint) == 64, fingerprint
    save_screenshot(page, "console-trustees")
    return fingerprint


def share_button(page: Page, trustee: int) -> Locator:
    return page.locator(f"#trustee-{trustee}").get_by_role("button", name="Download the share file")


def download_shares(page: Page, fingerprint: str) -> dict[int, tuple[str, str]]:
    """Download each trustee's share file once; then try the first again, and be refused.

    Returns each trustee's (file name, file text)."""
    shares: dict[int, tuple[str, str]] = {}
    for trustee in range(1, TRUSTEES + 1):
        with page.expect_download() as started:
            share_button(page, trustee).click()
        downloaded = started.value
        text = Path(downloaded.path()).read_text("utf-8")
        shares[trustee] = (downloaded.suggested_filename, text)
        assert downloaded.suggested_filename == f"{SLUG}-trustee-{trustee}-of-{TRUSTEES}.json"
        share = json.loads(text)
        assert (share["campaign"], share["trustee"]) == (SLUG, trustee), share
        assert (share["count"], share["threshold"]) == (TRUSTEES, TALLY_THRESHOLD), share
        assert share["fingerprint"] == fingerprint
        assert len(share["words"].split()) == 33
    assert len({json.loads(text)["words"] for _, text in shares.values()}) == TRUSTEES

    # The page still shows the first share's button: a second download is refused.
    with page.expect_response(re.compile(r"/trustees/1/download/json$")) as answered:
        share_button(page, 1).click()
    assert answered.value.status == 409
    expect(page.get_by_role("alert")).to_contain_text("has already been downloaded")
    expect(share_button(page, 1)).to_have_count(0)
    expect(
        page.locator("#trustee-1").get_by_role("button", name="Download the printable page (PDF)")
    ).to_be_visible()
    return shares


def issue_codes(page: Page) -> None:
    page.get_by_role("link", name="Codes", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Admission codes")
    page.get_by_label("Rater group").select_option("citizens")
    page.get_by_label("Number of codes").fill(str(CODES_ISSUED))
    page.get_by_role("button", name="Issue codes").click()
    expect(page.get_by_role("status")).to_contain_text("was issued")
    save_screenshot(page, "console-codes")


def download(page: Page, button: str) -> tuple[Download, bytes]:
    with page.expect_download() as started:
        page.get_by_role("button", name=button).click()
    downloaded = started.value
    return downloaded, Path(downloaded.path()).read_bytes()


def back_to_campaign(page: Page) -> None:
    """Follow the campaign's title link at the top of a campaign section's page."""
    page.get_by_role("link", name=TITLE_EN, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/admin/campaigns/{SLUG}$"))


def cells(page: Page, table: str, row_header: str) -> Locator:
    """The data cells of the row headed ``row_header`` in the table captioned ``table``."""
    row = (
        page.get_by_role("table", name=table)
        .get_by_role("row")
        .filter(has=page.get_by_role("rowheader", name=row_header, exact=True))
    )
    return row.get_by_role("cell")


def expect_turnout_shown(page: Page) -> None:
    """Three of five citizens' codes used: shown, with the total."""
    table = "Codes by rater group"
    expect(cells(page, table, "Citizens")).to_have_text([str(CODES_ISSUED), "3", "60.0%"])
    expect(cells(page, table, "Total")).to_have_text([str(CODES_ISSUED), "3", "60.0%"])


@contextmanager
def trustee_at_the_box(
    browser: Browser, server: LiveServer, username: str, requests: list[Request]
) -> Iterator[Page]:
    """A trustee in their own browser, signed in, on the campaign's "Open the ballot box"
    page, reached from the overview; their browser's requests are added to ``requests``."""
    context = new_desktop_context(browser)
    context.on("request", lambda request: requests.append(request))
    page = context.new_page()
    script_problems = watch_script_problems(page)
    try:
        sign_in(page, server, username, screenshot=False)
        page.get_by_role("link", name=TITLE_EN, exact=True).click()
        expect(page.locator("h1 .status")).to_have_text("Closed")
        expect(page.get_by_role("link", name="Make the tally key…")).to_have_count(0)
        page.get_by_role("link", name="Open the ballot box…").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Open the ballot box")
        expect(page.locator("#ballots-in-box")).to_have_text(str(len(RATER_LEVELS)))
        yield page
    finally:
        context.close()
    assert script_problems == [], "a trustee's console page's script failed"


def upload_share(page: Page, file_name: str, text: str) -> None:
    page.get_by_label("Share file", exact=True).set_input_files(
        {"name": file_name, "mimeType": "application/json", "buffer": text.encode("utf-8")}
    )
    page.get_by_role("button", name="Enter my share").click()


def type_share(page: Page, words: str) -> None:
    page.get_by_label("Or the share's 33 words").fill(words)
    page.get_by_role("button", name="Enter my share").click()


def expect_tallied(page: Page) -> None:
    """The campaign's page after the box was opened: every ballot in it counted."""
    expect(page).to_have_url(re.compile(rf"/admin/campaigns/{SLUG}(#tally)?$"))
    expect(page.locator("h1 .status")).to_have_text("Tallied")
    ballots = len(RATER_LEVELS)
    expect(page.locator("#tally-counts")).to_have_text(
        f"The ballot box was opened by its trustees: {ballots} of the {ballots} ballots in it "
        "were counted."
    )
    expect(page.locator("#rejected-ballots")).to_have_count(0)


def expect_results(page: Page, departments: Departments) -> None:
    """A figure for the rated department, withheld marks elsewhere, and SVG charts."""
    rated, unrated = departments.rated, departments.unrated
    assert rated.name_en is not None
    assert unrated.name_en is not None
    assert departments.left_out.name_en is not None
    expect(page.get_by_role("heading", level=1)).to_have_text("Results")

    composite = "Composite score by department"
    expect(cells(page, composite, rated.name_en)).to_have_text(
        [rated.code, rated.category, EXPECTED_SCORE, "Citizens"]
    )
    expect(cells(page, composite, unrated.name_en).nth(2).locator(".withheld")).to_be_visible()
    by_group = cells(page, "Evaluations and score by department and rater group", rated.name_en)
    expect(by_group.nth(0)).to_have_text("3")  # citizens' evaluations
    expect(by_group.nth(1)).to_have_text(EXPECTED_SCORE)  # citizens' score
    expect(page.get_by_text(departments.left_out.name_en)).to_have_count(0)

    chart = page.get_by_role("img", name=composite)
    expect(chart).to_be_visible()
    assert chart.evaluate("element => element.localName") == "svg"
    expect(chart.locator("desc")).to_contain_text(EXPECTED_SCORE)
    expect(page.locator("figure svg")).to_have_count(2)  # composite, then one per group


# --- a rater's phone ------------------------------------------------------------------------


def press(page: Page, action: str) -> None:
    """Click the rating form's button for ``action`` (next, back, skip, submit …)."""
    page.locator(f'button[name="action"][value="{action}"]').click()


def horizontal_overflow(page: Page) -> int:
    """CSS pixels the page is wider than the screen (a rater would have to scroll sideways)."""
    overflow: int = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return overflow


def is_rating_post(response: Response) -> bool:
    return response.request.method == "POST" and urlsplit(response.url).path == "/r/rate"


def rate_on_a_phone(
    browser: Browser, slip_url: str, department: Department, level: int, comment: str = ""
) -> list[RaterPost]:
    """Open the slip's address on a fresh phone, rate ``department`` and submit.

    Answers ``level`` to every item, and writes ``comment`` if given. Returns the POSTs the
    phone sent, read before its context closes, and checks that the phone is left holding no
    cookie.
    """
    context = new_phone_context(browser, locale="zh-CN")
    page = context.new_page()
    script_problems = watch_script_problems(page)
    sent: list[Request] = []
    page.on("request", lambda request: sent.append(request))
    try:
        page.goto(slip_url)
        expect(page.locator('input[type="checkbox"][name="target"]')).to_have_count(2)
        page.get_by_label(department.name, exact=True).check()
        press(page, "next")
        expect(page.get_by_role("heading", level=1)).to_have_text(department.name)
        assert horizontal_overflow(page) <= 0, "the rating step scrolls sideways"
        questions = page.locator("fieldset.question")
        for index in range(questions.count()):
            questions.nth(index).locator(f'input[type="radio"][value="{level}"]').check()
        if comment:
            page.locator('textarea[name="comment"]').fill(comment)
        press(page, "next")
        expect(page.locator(".review-target")).to_have_count(1)
        if comment:
            expect(page.locator(".review-target .comment")).to_have_text(comment)
        with page.expect_response(is_rating_post) as submitted:
            press(page, "submit")
        assert submitted.value.status == 201, "the ballot was not accepted"
        expect(page.get_by_role("status")).to_be_visible()

        posts = []
        for request in sent:
            if request.method != "POST":
                continue
            response = request.response()
            assert response is not None, request.url
            posts.append(
                RaterPost(
                    path=urlsplit(request.url).path,
                    request_headers=request.all_headers(),
                    response_headers=response.all_headers(),
                )
            )
        assert context.cookies() == [], "the rating pages left a cookie on the phone"
    finally:
        context.close()
    assert script_problems == [], "the rating page's script failed"
    return posts


# --- the journey ----------------------------------------------------------------------------


def share_words(share_text: str) -> str:
    words: str = json.loads(share_text)["words"]
    return words


def words_appear_in(words: str, text: str) -> bool:
    """Whether a share's words, or any three of them in a row, are in ``text`` (decoded)."""
    squashed = " ".join(re.split(r"[^a-z]+", unquote_plus(unquote_plus(text)).lower()))
    listed = words.split()
    return any(" ".join(listed[i : i + 3]) in squashed for i in range(len(listed) - 2))


class TestOfficeJourney:
    def test_office_runs_a_campaign_from_template_to_results_with_raters_on_their_phones(
        self,
        cjk_font: fonts.CjkFont,
        browser: Browser,
        server: LiveServer,
        departments: Departments,
        admin_username: str,
        trustee_usernames: list[str],
        admin_context: BrowserContext,
    ) -> None:
        admin_requests: list[Request] = []
        admin_context.on("request", lambda request: admin_requests.append(request))
        page = admin_context.new_page()
        script_problems = watch_script_problems(page)

        # Sign in and create the campaign from the template.
        sign_in(page, server, admin_username)
        create_campaign(page, departments)

        # Make the tally key; download each trustee's share file, once only.
        fingerprint = make_tally_key(page)
        shares = download_shares(page, fingerprint)

        # Open the campaign: its ballots will be sealed with the key.
        back_to_campaign(page)
        expect(page.locator("h1 .status")).to_have_text("Draft")
        move_campaign(
            page,
            "Open the campaign…",
            "Open the campaign?",
            "Yes, open the campaign",
            "Open",
            promise="Each ballot is sealed with the campaign's tally key",
        )
        save_screenshot(page, "console-campaign-detail")

        # Issue codes for citizens; download the slips and the CSV, each once.
        issue_codes(page)
        pdf, pdf_bytes = download(page, "Download slips (PDF)")
        csv_file, csv_bytes = download(page, "Download CSV")
        assert pdf.suggested_filename.endswith(".pdf")
        assert csv_file.suggested_filename.endswith(".csv")
        page.reload()
        expect(page.get_by_role("button", name=re.compile("^Download"))).to_have_count(0)

        rows = list(csv.DictReader(io.StringIO(csv_bytes.decode("utf-8"))))
        issued_codes = [row["code"] for row in rows]
        assert len(set(issued_codes)) == CODES_ISSUED
        assert {(row["campaign"], row["rater_group"], row["target"]) for row in rows} == {
            (SLUG, "citizens", "")
        }

        # Read the first page of slips as a phone's camera would.
        slip_urls = read_pdf(pdf_bytes)[0].qr_texts
        assert len(set(slip_urls)) >= len(RATER_LEVELS), slip_urls
        for slip_url in slip_urls:
            assert slip_url.startswith(server.url("/r#")), slip_url
            assert urlsplit(slip_url).fragment in issued_codes, slip_url

        # Three raters, three slips, three phones; turnout is withheld until the third.
        rater_posts: list[RaterPost] = []
        for number, (slip_url, level) in enumerate(zip(slip_urls, RATER_LEVELS, strict=False), 1):
            comment = RATER_COMMENT if number == 1 else ""
            rater_posts += rate_on_a_phone(browser, slip_url, departments.rated, level, comment)
            if number == len(RATER_LEVELS) - 1:
                back_to_campaign(page)
                page.get_by_role("link", name="Turnout", exact=True).click()
                used = cells(page, "Codes by rater group", "Citizens").nth(1)
                expect(used.locator(".withheld")).to_be_visible()

        page.reload()
        expect_turnout_shown(page)
        save_screenshot(page, "console-turnout")

        # Close the campaign: the ballot box stays sealed, so there are no results yet.
        back_to_campaign(page)
        move_campaign(
            page,
            "Close the campaign…",
            "Close the campaign?",
            "Yes, close the campaign",
            "Closed",
            promise="The ballot box stays sealed until the trustees open it with their shares",
        )
        with page.expect_response(re.compile(rf"/campaigns/{SLUG}/results$")) as answered:
            page.get_by_role("link", name="Results", exact=True).click()
        assert answered.value.status == 409, "results were shown before the box was opened"
        expect(page.get_by_role("status")).to_contain_text("There are no results yet")
        page.go_back()
        expect(page.locator("h1 .status")).to_have_text("Closed")

        # Two trustees, each in their own browser, enter their shares: the first uploads the
        # file and it is held; the second types the words and opens the box.
        trustee_requests: list[Request] = []
        first, second = OPENING_TRUSTEES
        with trustee_at_the_box(browser, server, trustee_usernames[0], trustee_requests) as box:
            upload_share(box, *shares[first])
            expect(box.get_by_role("status")).to_contain_text(
                f"The share of trustee {first} was entered and is held"
            )
            held = cells(box, "Trustees' shares entered so far", f"Trustee {first} of {TRUSTEES}")
            expect(held).to_contain_text(trustee_usernames[0])
            expect(box.get_by_text("1 more share(s) needed")).to_be_visible()
            save_screenshot(box, "console-tally")
        with trustee_at_the_box(browser, server, trustee_usernames[1], trustee_requests) as box:
            expect(box.locator("#entered-shares tbody tr")).to_have_count(1)
            type_share(box, share_words(shares[second][1]))
            expect_tallied(box)

        # The office sees the count, reads the results, reviews comments and publishes.
        page.reload()
        expect_tallied(page)
        page.get_by_role("link", name="Results", exact=True).click()
        expect_results(page, departments)
        save_screenshot(page, "console-results")

        back_to_campaign(page)
        page.get_by_role("link", name="Comments", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Comments")
        expect(page.get_by_role("link", name="Pending (0)")).to_be_visible()
        expect(page.get_by_text("No comments here.")).to_be_visible()
        expect(page.get_by_text(RATER_COMMENT)).to_have_count(0)  # too few raters: dropped

        back_to_campaign(page)
        move_campaign(
            page,
            "Publish the results…",
            "Publish the results?",
            "Yes, publish the results",
            "Published",
            promise="only a counted campaign can be published",
        )
        expect(page.locator("#tally-counts")).to_be_visible()

        # The raters' requests carried no cookie and got none. (Playwright's
        # ``request.headers`` leaves cookies out; ``all_headers()`` has them, as the admin's
        # sign-in shows.)
        sign_in_post = next(request for request in admin_requests if request.method == "POST")
        assert "cookie" in sign_in_post.all_headers()
        # With JavaScript the slip's code is exchanged for a blind-signed credential first.
        assert [post.path for post in rater_posts] == [
            "/api/v1/admission",
            "/api/v1/credentials",
            "/r",
            "/r/rate",
            "/r/rate",
            "/r/rate",
        ] * 3
        for post in rater_posts:
            assert "cookie" not in post.request_headers, post.path
            assert "set-cookie" not in post.response_headers, post.path
        for received in server.recorder.received:
            if received.path == "/r" or received.path.startswith("/r/"):
                header_names = [name for name, _ in received.headers]
                assert "cookie" not in header_names, received.target

        # No code was ever in an address: not one the admin's browser asked for, and not
        # one that reached the server from anyone. Nor was any share's words.
        assert admin_requests
        assert trustee_requests
        for request in admin_requests:
            for code in issued_codes:
                assert not code_appears_in(code, request.url), request.url
        for received in server.recorder.received:
            for code in issued_codes:
                assert not code_appears_in(code, received.target), received.target
        all_words = [share_words(text) for _, text in shares.values()]
        for request in admin_requests + trustee_requests:
            for words in all_words:
                assert not words_appear_in(words, request.url), request.url
        for received in server.recorder.received:
            for words in all_words:
                assert not words_appear_in(words, received.target), received.target
        assert script_problems == [], "a console page's script failed"
