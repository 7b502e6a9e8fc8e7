"""The rating page (``/r``) and its script in a real browser, over real HTTP.

One Chromium and one server per module; every test opens its own browser context (no shared
cookies or history) at a phone's width, with the Chinese interface a rater's phone asks for.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Locator,
    Page,
    Request,
    ViewportSize,
    expect,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.admission import codes
from app.admission.models import CodeStatus
from app.ballots import answers as stored_answers
from app.ballots import service as ballot_service
from app.ballots.models import Evaluation
from app.ballots.schemas import BallotIn, EvaluationIn
from app.campaigns.models import Campaign, Target
from app.departments.models import Department
from tests.browser import SCREENSHOT_DIR, LiveServer, launched_chromium, live_server
from tests.factories import (
    HASHING_KEY,
    answers_for,
    ballot_count,
    code_status,
    issue_code,
    make_campaign,
    make_department,
    sealed_contents,
    small_questionnaire,
    tally,
)

pytestmark = pytest.mark.browser

MOBILE_WIDTH = 360  # CSS pixels, a small Android phone
MOBILE_VIEWPORT: ViewportSize = {"width": MOBILE_WIDTH, "height": 780}
ACTION_TIMEOUT_MS = 10_000

# What a rater reads (zh_CN catalog and questionnaire labels).
CHOOSE_HEADING = "您和哪些单位打过交道？"
CONTINUE = "继续"
NEXT = "下一步"
NEXT_DEPARTMENT = "下一个单位"
REVIEW_ANSWERS = "核对我的评价"
REVIEW_HEADING = "核对并提交"
SUBMIT = "匿名提交"
THANK_YOU = "感谢您的参与"
DONT_KNOW = "不了解"
SECOND_QUESTION_MISSING = "第 2 题还没有作答，请选择一项（可以选“不了解”）。"
CHOOSE_ONE_NOTE = "请选择一项（可以选“不了解”）。"
CODE_MISTYPED = "评议码有误：请对照评议卡逐个核对（评议码共 20 位字母和数字）。"
CODE_USED = "该评议码已经使用过。每个评议码只能使用一次。"


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
    """A fresh phone-sized tab; fails the test if the page's script throws or breaks the CSP."""
    context = browser.new_context(
        viewport=MOBILE_VIEWPORT,
        locale="zh-CN",
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    tab = context.new_page()
    script_problems: list[str] = []

    def note_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            script_problems.append(message.text)

    tab.on("pageerror", lambda error: script_problems.append(str(error)))
    tab.on("console", note_console)
    yield tab
    context.close()
    assert script_problems == [], "the page's script failed"


@pytest.fixture
def db(server: LiveServer) -> Iterator[Session]:
    """A session on the server's database; commit what the server must see."""
    with Session(server.engine, expire_on_commit=False) as session:
        yield session


# --- helpers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """One evaluation as the sealed ballot holds it, by department code."""

    department: str
    answers: dict[str, int | None]
    comment: str | None


def stored_evaluations(server: LiveServer, campaign: Campaign) -> list[Stored]:
    """The evaluations of the one ballot in the campaign's box, by department code, as sealed;
    checks that the tally then stores the same departments and answers as evaluations (the
    tally is rolled back afterwards)."""
    questionnaire = small_questionnaire()
    with Session(server.engine) as session:
        (ballot,) = sealed_contents(session, campaign)
        sealed = sorted(
            (
                Stored(
                    item.target, stored_answers.decode(questionnaire, item.answers), item.comment
                )
                for item in ballot.evaluations
            ),
            key=lambda stored: stored.department,
        )
        tally(session, session.get_one(Campaign, campaign.id))
        rows = session.execute(
            select(Department.code, Evaluation.answers)
            .join(Target, Evaluation.target_id == Target.id)
            .join(Department, Target.department_id == Department.id)
            .where(Evaluation.campaign_id == campaign.id)
            .order_by(Department.code)
        ).all()
        session.rollback()
    assert [
        (department, stored_answers.decode(questionnaire, encoded)) for department, encoded in rows
    ] == [(stored.department, stored.answers) for stored in sealed]
    return sealed


def enter_code(page: Page, server: LiveServer, code: str) -> None:
    page.goto(server.url("/r"))
    page.locator("#code").fill(code)
    page.get_by_role("button", name=CONTINUE).click()


def choose(page: Page, *department_names: str) -> None:
    expect(page.get_by_role("heading", name=CHOOSE_HEADING)).to_be_visible()
    for name in department_names:
        page.get_by_label(name, exact=True).check()
    page.get_by_role("button", name=NEXT, exact=True).click()


def question(page: Page, item_id: str) -> Locator:
    return page.locator(f"#q-{item_id}")


def answer(page: Page, item_id: str, label: str) -> None:
    question(page, item_id).get_by_label(label, exact=True).check()


def expect_answer(page: Page, item_id: str, label: str) -> None:
    expect(question(page, item_id).get_by_label(label, exact=True)).to_be_checked()


def expect_heading(page: Page, text: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(text)


def appears_in(code: str, text: str) -> bool:
    """Whether ``code`` is in ``text`` in any spelling: grouped or not, any case, encoded."""
    squashed = re.sub(r"[^0-9A-Z]", "", unquote(unquote(text)).upper())
    return codes.normalize(code) in squashed


def mistype(code: str) -> str:
    """``code`` with its first symbol replaced by another symbol of the alphabet."""
    replacement = next(symbol for symbol in codes.ALPHABET if symbol != code[0])
    return replacement + code[1:]


def use_up(session: Session, campaign: Campaign, code: str) -> None:
    """Spend ``code`` as an earlier rater would have, and commit."""
    target = campaign.targets[0].department.code
    ballot = BallotIn(
        code=code, evaluations=[EvaluationIn(target=target, answers=answers_for(campaign))]
    )
    ballot_service.submit_ballot(session, HASHING_KEY, ballot)
    session.commit()


def screenshot(page: Page, name: str) -> None:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOT_DIR / f"{name}.png", full_page=True)


def horizontal_overflow(page: Page) -> int:
    """CSS pixels the page is wider than the screen (a rater would have to scroll sideways)."""
    overflow: int = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return overflow


# --- tests ----------------------------------------------------------------------------------


class TestCodeFromQrFragment:
    def test_code_in_fragment_is_submitted_and_rater_lands_on_choose_step(
        self, page: Page, server: LiveServer, db: Session
    ) -> None:
        campaign = make_campaign(db)
        code = issue_code(db, campaign)
        db.commit()

        page.goto(server.url(f"/r#{code}"))

        expect(page.get_by_role("heading", name=CHOOSE_HEADING)).to_be_visible()
        assert urlsplit(page.url).fragment == ""
        assert "#" not in page.url
        assert not appears_in(code, page.url)

    def test_code_travels_only_in_a_post_body_never_in_a_url(
        self, page: Page, server: LiveServer, db: Session
    ) -> None:
        campaign = make_campaign(db)
        code = issue_code(db, campaign)
        db.commit()
        sent: list[Request] = []
        page.on("request", lambda request: sent.append(request))
        already_received = len(server.recorder.received)

        page.goto(server.url(f"/r#{code.replace('-', '').lower()}"))
        expect(page.get_by_role("heading", name=CHOOSE_HEADING)).to_be_visible()
        page.get_by_label(campaign.targets[0].department.name, exact=True).check()
        page.get_by_role("button", name=NEXT, exact=True).click()
        expect_heading(page, campaign.targets[0].department.name)

        carrying_code = [
            (request.method, urlsplit(request.url).path)
            for request in sent
            if appears_in(code, request.post_data or "")
        ]
        # This campaign has no credential keys: the script asks about the code, then falls
        # back to using it directly (tests/ballots/test_credential_browser.py has the rest).
        assert carrying_code == [("POST", "/api/v1/admission"), ("POST", "/r"), ("POST", "/r/rate")]
        for request in sent:
            assert not appears_in(code, request.url), request.url
            assert not appears_in(code, request.headers.get("referer", "")), request.url
        arrived = server.recorder.received[already_received:]
        assert ("POST", "/r") in [(received.method, received.path) for received in arrived]
        for received in arrived:
            assert not appears_in(code, received.target), received.target
            for name, value in received.headers:
                assert not appears_in(code, value), f"{received.target}: header {name}"

    def test_fragment_that_is_not_a_code_is_removed_and_nothing_is_submitted(
        self, page: Page, server: LiveServer
    ) -> None:
        """Also a fragment a messaging app mangled (a stray ``%``) must not break the script."""
        posts: list[Request] = []

        def note_post(request: Request) -> None:
            if request.method == "POST":
                posts.append(request)

        page.on("request", note_post)

        page.goto(server.url("/r#7K3M-Q9XA-2HNP%"))

        expect(page.get_by_role("heading", name="请输入评议码")).to_be_visible()
        expect(page).to_have_url(server.url("/r"))
        expect(page.locator("#code")).to_have_value("")
        assert posts == []


class TestFullRatingInTheBrowser:
    def test_rater_rates_two_chosen_departments_and_both_are_stored(
        self, page: Page, server: LiveServer, db: Session
    ) -> None:
        departments = [make_department(db) for _ in range(3)]
        campaign = make_campaign(db, departments=departments)
        code = issue_code(db, campaign, group="cadres")
        db.commit()
        first, _, third = departments

        enter_code(page, server, code)
        choose(page, first.name, third.name)

        expect_heading(page, first.name)
        expect(page.locator(".progress")).to_have_text("第 1 个单位，共 2 个")
        answer(page, "courtesy", "非常满意")
        answer(page, "speed", DONT_KNOW)
        answer(page, "guidance", "基本满意")
        page.get_by_role("button", name=NEXT_DEPARTMENT).click()

        expect_heading(page, third.name)
        answer(page, "courtesy", "不满意")
        answer(page, "speed", "满意")
        answer(page, "guidance", DONT_KNOW)
        page.locator("#comment").fill("窗口排队太久")
        page.get_by_role("button", name=REVIEW_ANSWERS).click()

        expect_heading(page, REVIEW_HEADING)
        reviewed = page.locator(".review-target")
        expect(reviewed).to_have_count(2)
        expect(reviewed.nth(0).get_by_role("heading")).to_have_text(first.name)
        expect(reviewed.nth(0).locator("dd:not(.comment)")).to_have_text(
            ["非常满意", DONT_KNOW, "基本满意"]
        )
        expect(reviewed.nth(1).get_by_role("heading")).to_have_text(third.name)
        expect(reviewed.nth(1).locator("dd:not(.comment)")).to_have_text(
            ["不满意", "满意", DONT_KNOW]
        )
        expect(reviewed.nth(1).locator("dd.comment")).to_have_text("窗口排队太久")
        page.get_by_role("button", name=SUBMIT).click()

        expect_heading(page, THANK_YOU)
        expect(page.get_by_role("status")).to_have_text("提交成功，您的评价已匿名记录。")
        with Session(server.engine) as fresh:
            assert ballot_count(fresh, campaign) == 1
            assert code_status(fresh, code) == CodeStatus.USED
        assert stored_evaluations(server, campaign) == [
            Stored(first.code, {"courtesy": 5, "speed": None, "guidance": 2}, None),
            Stored(third.code, {"courtesy": 2, "speed": 4, "guidance": None}, "窗口排队太久"),
        ]


class TestMissingAnswers:
    def test_next_with_unanswered_question_highlights_it_and_keeps_given_answers(
        self, page: Page, server: LiveServer, db: Session
    ) -> None:
        campaign = make_campaign(db)
        code = issue_code(db, campaign)
        db.commit()
        department = campaign.targets[0].department.name
        enter_code(page, server, code)
        choose(page, department)
        answer(page, "courtesy", "满意")
        page.locator("#comment").fill("态度不错")

        page.get_by_role("button", name=REVIEW_ANSWERS).click()

        expect(page.get_by_role("alert")).to_have_text(SECOND_QUESTION_MISSING)
        expect(page.get_by_role("alert").get_by_role("link", name="2")).to_have_attribute(
            "href", "#q-speed"
        )
        expect(question(page, "speed").locator("input").first).to_be_focused()
        expect_heading(page, department)
        expect(question(page, "speed")).to_have_class(re.compile(r"\bmissing\b"))
        expect(question(page, "speed").locator(".missing-note")).to_have_text(CHOOSE_ONE_NOTE)
        expect(question(page, "courtesy")).not_to_have_class(re.compile(r"\bmissing\b"))
        expect_answer(page, "courtesy", "满意")
        expect(question(page, "speed").locator("input:checked")).to_have_count(0)
        expect(page.locator("#comment")).to_have_value("态度不错")

        answer(page, "speed", DONT_KNOW)
        page.get_by_role("button", name=REVIEW_ANSWERS).click()
        expect_heading(page, REVIEW_HEADING)


class TestLanguageSwitch:
    def test_english_button_shows_the_same_step_in_english_with_answers_kept(
        self, page: Page, server: LiveServer, db: Session
    ) -> None:
        departments = [make_department(db) for _ in range(2)]
        departments[0].name_en = "Tax Bureau"
        campaign = make_campaign(db, departments=departments)
        code = issue_code(db, campaign)
        db.commit()
        enter_code(page, server, code)
        choose(page, departments[0].name, departments[1].name)
        answer(page, "courtesy", "非常满意")
        answer(page, "speed", DONT_KNOW)
        page.locator("#comment").fill("很好")

        page.get_by_role("button", name="English").click()

        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect_heading(page, "Tax Bureau")
        expect(page.locator(".progress")).to_have_text("Department 1 of 2")
        expect(question(page, "courtesy").locator(".question-text")).to_have_text("1. Courteous")
        expect_answer(page, "courtesy", "Very satisfied")
        expect_answer(page, "speed", "Don't know")
        expect(page.locator("#comment")).to_have_value("很好")
        expect(page.get_by_role("button", name="Next department")).to_be_visible()

        page.get_by_role("button", name="中文").click()

        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        expect_heading(page, departments[0].name)
        expect_answer(page, "courtesy", "非常满意")
        expect_answer(page, "speed", DONT_KNOW)

    def test_english_button_on_choose_step_keeps_ticked_departments(
        self, page: Page, server: LiveServer, db: Session
    ) -> None:
        campaign = make_campaign(db)
        code = issue_code(db, campaign)
        db.commit()
        department = campaign.targets[0].department.name
        enter_code(page, server, code)
        expect(page.get_by_role("heading", name=CHOOSE_HEADING)).to_be_visible()
        page.get_by_label(department, exact=True).check()

        page.get_by_role("button", name="English").click()

        expect(
            page.get_by_role("heading", name="Which departments have you dealt with?")
        ).to_be_visible()
        assert page.get_by_label(department, exact=True).is_checked()


class TestCodeScopedToOneDepartment:
    def test_scoped_code_skips_choose_step_and_rates_that_department(
        self, page: Page, server: LiveServer, db: Session
    ) -> None:
        campaign = make_campaign(db)
        department = campaign.targets[1].department
        code = issue_code(db, campaign, target=department.code)
        db.commit()

        enter_code(page, server, code)

        expect_heading(page, department.name)
        expect(page.get_by_role("heading", name=CHOOSE_HEADING)).to_have_count(0)
        expect(page.get_by_role("button", name="我不了解这个单位，跳过")).to_have_count(0)
        answer(page, "courtesy", "满意")
        answer(page, "speed", "基本满意")
        page.get_by_role("button", name=REVIEW_ANSWERS).click()
        page.get_by_role("button", name=SUBMIT).click()
        expect_heading(page, THANK_YOU)
        assert stored_evaluations(server, campaign) == [
            Stored(department.code, {"courtesy": 4, "speed": 3}, None)
        ]


class TestCodeErrorsInPlainWords:
    def test_mistyped_code_shows_typo_message_and_keeps_what_was_typed(
        self, page: Page, server: LiveServer, db: Session
    ) -> None:
        campaign = make_campaign(db)
        code = issue_code(db, campaign)
        db.commit()
        typo = mistype(code)

        enter_code(page, server, typo)

        expect(page.get_by_role("alert")).to_have_text(CODE_MISTYPED)
        expect(page.locator("#code")).to_have_value(typo)
        expect(page.locator("#code")).to_have_attribute("aria-invalid", "true")
        with Session(server.engine) as fresh:
            assert code_status(fresh, code) == CodeStatus.UNUSED

    def test_used_code_shows_already_used_message(
        self, page: Page, server: LiveServer, db: Session
    ) -> None:
        campaign = make_campaign(db)
        code = issue_code(db, campaign)
        use_up(db, campaign, code)

        enter_code(page, server, code)

        expect(page.get_by_role("alert")).to_have_text(CODE_USED)

    def test_used_code_from_qr_shows_message_once_without_the_fragment(
        self, page: Page, server: LiveServer, db: Session
    ) -> None:
        campaign = make_campaign(db)
        code = issue_code(db, campaign)
        use_up(db, campaign, code)
        posts: list[Request] = []

        def note_post(request: Request) -> None:
            if request.method == "POST":
                posts.append(request)

        page.on("request", note_post)

        page.goto(server.url(f"/r#{code}"))

        expect(page.get_by_role("alert")).to_have_text(CODE_USED)
        expect(page.locator("#code")).to_have_value(code)
        assert urlsplit(page.url).fragment == ""
        page.wait_for_load_state("load")
        assert [urlsplit(post.url).path for post in posts] == ["/api/v1/admission", "/r"]


class TestMobileScreens:
    def test_every_step_fits_a_360px_screen(
        self, page: Page, server: LiveServer, db: Session
    ) -> None:
        """Also saves a screenshot of each step under test-artifacts/screenshots/."""
        campaign = make_campaign(db)
        code = issue_code(db, campaign)
        db.commit()
        names = [target.department.name for target in campaign.targets]

        def capture(step: str) -> None:
            screenshot(page, f"rate-{step}")
            assert horizontal_overflow(page) <= 0, f"step {step} scrolls sideways"

        page.goto(server.url("/r"))
        capture("1-enter")
        page.locator("#code").fill(mistype(code))
        page.get_by_role("button", name=CONTINUE).click()
        expect(page.get_by_role("alert")).to_be_visible()
        capture("2-enter-error")
        page.locator("#code").fill(code)
        page.get_by_role("button", name=CONTINUE).click()
        expect(page.get_by_role("heading", name=CHOOSE_HEADING)).to_be_visible()
        capture("3-choose")
        choose(page, *names)
        expect_heading(page, names[0])
        capture("4-target")
        answer(page, "courtesy", "满意")
        page.get_by_role("button", name=NEXT_DEPARTMENT).click()
        expect(page.get_by_role("alert")).to_be_visible()
        capture("5-target-missing")
        answer(page, "speed", DONT_KNOW)
        page.get_by_role("button", name=NEXT_DEPARTMENT).click()
        expect_heading(page, names[1])
        answer(page, "courtesy", "非常满意")
        answer(page, "speed", "满意")
        page.locator("#comment").fill("办事很快，态度也好。")
        page.get_by_role("button", name=REVIEW_ANSWERS).click()
        expect_heading(page, REVIEW_HEADING)
        capture("6-review")
        page.get_by_role("button", name=SUBMIT).click()
        expect_heading(page, THANK_YOU)
        capture("7-receipt")

    def test_whole_typed_code_is_visible_in_the_code_field(
        self, page: Page, server: LiveServer
    ) -> None:
        """The error message asks raters to check each character; they must see them all."""
        page.goto(server.url("/r"))

        page.locator("#code").fill(codes.generate())

        hidden: int = page.locator("#code").evaluate(
            "field => field.scrollWidth - field.clientWidth"
        )
        assert hidden <= 0, f"{hidden} px of the code are scrolled out of the field"
