"""The comment review queue in the office console, through HTTP.

Pages are read in English (the language cookie), so the assertions do not depend on the
Chinese catalog.
"""

import re
import uuid
from html import unescape

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry
from app.ballot_box.models import SealedBallot
from app.ballots.models import Evaluation
from app.ballots.schemas import BallotIn, EvaluationIn
from app.ballots.service import submit_ballot
from app.campaigns import lifecycle
from app.campaigns.models import Campaign
from app.comments.models import CommentForReview, CommentStatus
from app.comments.scrub import PLACEHOLDER
from app.middleware.locale import LANGUAGE_COOKIE
from tests.console import csrf_token, post_form, sign_in
from tests.factories import (
    HASHING_KEY,
    answers_for,
    issue_codes,
    make_campaign,
    make_department,
    make_staff,
    tally,
)

MINIMUM = 10  # the default policy's minimum number of raters
SECRET_WORDS = "小王很耐心"


def signed_in(client: TestClient, session: Session, role: str = "admin") -> None:
    department = make_department(session) if role == "liaison" else None
    user = make_staff(session, role=role, department=department)
    assert sign_in(client, user.username).status_code == 303
    client.cookies.set(LANGUAGE_COOKIE, "en")


def text_of(response: httpx.Response) -> str:
    """The page's text without tags, whitespace collapsed."""
    without_tags = re.sub(r"<[^>]+>", " ", response.text)
    return " ".join(unescape(without_tags).split())


def audit_entries(session: Session, action: str) -> list[AuditEntry]:
    session.expire_all()
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def comment_rows(session: Session, campaign: Campaign) -> list[CommentForReview]:
    session.expire_all()
    return list(
        session.scalars(select(CommentForReview).where(CommentForReview.campaign_id == campaign.id))
    )


def rated(
    session: Session, comments: dict[str, list[str | None]], *, slug: str = "rated"
) -> Campaign:
    """An open campaign whose departments (by name) were rated by one citizen's sealed ballot
    per entry, with that comment (None: no comment)."""
    departments = [make_department(session, name=name) for name in comments]
    campaign = make_campaign(session, slug=slug, departments=departments)
    for department, texts in zip(departments, comments.values(), strict=True):
        codes = issue_codes(session, campaign, count=len(texts)) if texts else []
        for code, text in zip(codes, texts, strict=True):
            evaluation = EvaluationIn(
                target=department.code, answers=answers_for(campaign), comment=text
            )
            submit_ballot(session, HASHING_KEY, BallotIn(code=code, evaluations=[evaluation]))
    return campaign


def closed(session: Session, comments: dict[str, list[str | None]]) -> Campaign:
    """Closed and its ballot box counted by the trustees, which makes the copies."""
    campaign = rated(session, comments)
    tally(session, campaign)
    return campaign


def one_comment(session: Session, text: str = SECRET_WORDS) -> tuple[Campaign, CommentForReview]:
    campaign = closed(session, {"发改局": [text, *[None] * (MINIMUM - 1)]})
    [comment] = comment_rows(session, campaign)
    return campaign, comment


QUEUE = "/admin/campaigns/rated/comments"


class TestTheTallyCopiesComments:
    def test_closing_in_the_console_copies_nothing_and_the_tally_copies_scrubbed_comments(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = rated(
            session,
            {
                "发改局": ["电话13812345678", *["很好"] * (MINIMUM - 1)],
                "商务局": ["太少了"] * (MINIMUM - 1),
            },
        )
        signed_in(client, session)

        response = post_form(
            client, "/admin/campaigns/rated/close", token_from="/admin/campaigns/rated/close"
        )

        assert response.status_code == 303
        assert comment_rows(session, campaign) == []  # the ballots are still sealed

        tally(session, campaign)

        texts = sorted(comment.text for comment in comment_rows(session, campaign))
        assert texts == sorted([f"电话{PLACEHOLDER}", *["很好"] * (MINIMUM - 1)])
        raw = session.scalars(
            select(Evaluation.comment).where(Evaluation.campaign_id == campaign.id)
        ).all()
        assert len(raw) == 2 * MINIMUM - 1
        assert set(raw) == {None}
        sealed = session.scalars(
            select(SealedBallot.ciphertext).where(SealedBallot.campaign_id == campaign.id)
        ).all()
        assert len(sealed) == 2 * MINIMUM - 1
        assert set(sealed) == {None}


class TestQueue:
    def test_comments_by_department_with_the_rules(
        self, client: TestClient, session: Session
    ) -> None:
        closed(
            session,
            {"发改局": ["窗口人少", *[None] * (MINIMUM - 1)], "商务局": ["态度好"] * MINIMUM},
        )
        signed_in(client, session)

        page = client.get(QUEUE)

        assert page.status_code == 200
        text = text_of(page)
        assert text.index("发改局") < text.index("窗口人少") < text.index("商务局")
        assert text.count("态度好") == MINIMUM
        assert "Pending (11)" in text
        assert "at least 10 raters" in text
        assert f"replaced by {PLACEHOLDER}" in text
        assert "shuffled and carry no date" in text
        assert "Only comments approved here are published" in text
        assert "scrubbed in memory when the box is opened" in text

    def test_status_filter(self, client: TestClient, session: Session) -> None:
        campaign = closed(session, {"发改局": ["甲", "乙", *[None] * (MINIMUM - 2)]})
        first = next(c for c in comment_rows(session, campaign) if c.text == "甲")
        first.status = CommentStatus.APPROVED
        session.flush()
        signed_in(client, session)

        approved = text_of(client.get(f"{QUEUE}?status=approved"))
        pending = text_of(client.get(QUEUE))
        everything = text_of(client.get(f"{QUEUE}?status=all"))

        assert ("甲" in approved, "乙" in approved) == (True, False)
        assert ("甲" in pending, "乙" in pending) == (False, True)
        assert ("甲" in everything, "乙" in everything) == (True, True)
        assert "Approved (1)" in everything
        assert "Pending (1)" in everything

    def test_before_close_there_is_nothing_to_review(
        self, client: TestClient, session: Session
    ) -> None:
        rated(session, {"发改局": ["还在评议中"] * MINIMUM})
        signed_in(client, session)

        page = client.get(QUEUE)

        assert page.status_code == 200
        assert "copied here for review when the trustees open the ballot box" in text_of(page)
        assert "还在评议中" not in page.text

    def test_the_campaign_page_links_to_the_queue(
        self, client: TestClient, session: Session
    ) -> None:
        rated(session, {"发改局": []})
        signed_in(client, session, "auditor")

        page = client.get("/admin/campaigns/rated")

        assert f'href="{QUEUE}"' in page.text


class TestReviewSteps:
    @pytest.mark.parametrize(
        ("step", "before", "after", "action"),
        [
            ("approve", CommentStatus.PENDING, CommentStatus.APPROVED, "comment_approve"),
            ("reject", CommentStatus.PENDING, CommentStatus.REJECTED, "comment_reject"),
            ("pending", CommentStatus.APPROVED, CommentStatus.PENDING, "comment_reopen"),
        ],
    )
    def test_step_is_taken_and_audited_without_the_text(
        self,
        client: TestClient,
        session: Session,
        step: str,
        before: CommentStatus,
        after: CommentStatus,
        action: str,
    ) -> None:
        campaign, comment = one_comment(session)
        comment.status = before
        session.flush()
        signed_in(client, session)
        shown = "all"

        response = post_form(
            client, f"{QUEUE}/{comment.id}/{step}", {"shown": shown}, token_from=QUEUE
        )

        assert response.status_code == 303
        assert response.headers["location"] == f"{QUEUE}?status={shown}"
        [stored] = comment_rows(session, campaign)
        assert stored.status == after
        [entry] = audit_entries(session, action)
        assert entry.object == f"comment:{comment.id}"
        assert entry.detail == {"campaign": "rated", "from": before.value, "to": after.value}
        assert SECRET_WORDS not in str(entry.detail)

    def test_queue_offers_the_buttons_that_apply(
        self, client: TestClient, session: Session
    ) -> None:
        _, comment = one_comment(session)
        signed_in(client, session)

        page = client.get(QUEUE).text

        assert f'action="{QUEUE}/{comment.id}/approve"' in page
        assert f'action="{QUEUE}/{comment.id}/reject"' in page
        assert f'action="{QUEUE}/{comment.id}/pending"' not in page
        assert f'href="{QUEUE}/{comment.id}/edit?status=pending"' in page

    def test_after_publication_only_rejecting(self, client: TestClient, session: Session) -> None:
        campaign, comment = one_comment(session)
        lifecycle.publish_campaign(session, campaign, actor="test")
        signed_in(client, session)

        page = client.get(QUEUE).text
        refused = post_form(client, f"{QUEUE}/{comment.id}/approve", token_from=QUEUE)

        assert f'action="{QUEUE}/{comment.id}/approve"' not in page
        assert f'action="{QUEUE}/{comment.id}/reject"' in page
        assert refused.status_code == 409
        assert "can still be rejected" in text_of(refused)
        assert comment_rows(session, campaign)[0].status == CommentStatus.PENDING
        assert audit_entries(session, "comment_approve") == []

    def test_unknown_comment_is_404(self, client: TestClient, session: Session) -> None:
        one_comment(session)
        signed_in(client, session)

        response = post_form(client, f"{QUEUE}/{uuid.uuid4()}/approve", token_from=QUEUE)

        assert response.status_code == 404

    def test_a_post_without_a_valid_token_is_refused(
        self, client: TestClient, session: Session
    ) -> None:
        campaign, comment = one_comment(session)
        signed_in(client, session)
        client.get(QUEUE)

        missing = client.post(f"{QUEUE}/{comment.id}/approve", follow_redirects=False)
        forged = client.post(
            f"{QUEUE}/{comment.id}/approve", data={"csrftoken": "forged"}, follow_redirects=False
        )

        assert (missing.status_code, forged.status_code) == (403, 403)
        assert comment_rows(session, campaign)[0].status == CommentStatus.PENDING


class TestEditing:
    def test_hiding_a_part_is_saved_and_audited_without_the_text(
        self, client: TestClient, session: Session
    ) -> None:
        campaign, comment = one_comment(session, "窗口的小王很耐心")
        signed_in(client, session)
        form = client.get(f"{QUEUE}/{comment.id}/edit")
        assert form.status_code == 200
        assert "窗口的小王很耐心</textarea>" in form.text

        response = post_form(
            client,
            f"{QUEUE}/{comment.id}/edit",
            {"text": f"窗口的{PLACEHOLDER}很耐心", "shown": "pending"},
            token_from=f"{QUEUE}/{comment.id}/edit",
        )

        assert response.status_code == 303
        assert response.headers["location"] == f"{QUEUE}?status=pending"
        assert comment_rows(session, campaign)[0].text == f"窗口的{PLACEHOLDER}很耐心"
        [entry] = audit_entries(session, "comment_edit")
        assert entry.object == f"comment:{comment.id}"
        assert entry.detail == {"campaign": "rated"}

    def test_rewording_is_refused_in_place(self, client: TestClient, session: Session) -> None:
        campaign, comment = one_comment(session, "窗口的小王很耐心")
        signed_in(client, session)

        response = post_form(
            client,
            f"{QUEUE}/{comment.id}/edit",
            {"text": "窗口的小王很不耐心"},
            token_from=f"{QUEUE}/{comment.id}/edit",
        )

        assert response.status_code == 422
        assert "may only hide parts" in text_of(response)
        assert "窗口的小王很不耐心</textarea>" in response.text  # what was typed is kept
        assert comment_rows(session, campaign)[0].text == "窗口的小王很耐心"
        assert audit_entries(session, "comment_edit") == []


class TestRoles:
    def test_an_auditor_reads_the_queue_without_buttons(
        self, client: TestClient, session: Session
    ) -> None:
        one_comment(session)
        signed_in(client, session, "auditor")

        page = client.get(QUEUE)

        assert page.status_code == 200
        assert SECRET_WORDS in page.text
        assert "/approve" not in page.text
        assert "/edit" not in page.text

    @pytest.mark.parametrize("step", ["approve", "reject", "pending", "edit"])
    def test_an_auditor_may_not_change_anything(
        self, client: TestClient, session: Session, step: str
    ) -> None:
        campaign, comment = one_comment(session)
        signed_in(client, session, "auditor")
        token = csrf_token(client, QUEUE)

        response = client.post(
            f"{QUEUE}/{comment.id}/{step}",
            data={"csrftoken": token, "text": PLACEHOLDER},
            follow_redirects=False,
        )

        assert response.status_code == 403
        [stored] = comment_rows(session, campaign)
        assert (stored.status, stored.text) == (CommentStatus.PENDING, SECRET_WORDS)
        assert client.get(f"{QUEUE}/{comment.id}/edit").status_code == 403

    def test_a_liaison_may_not_see_the_queue(self, client: TestClient, session: Session) -> None:
        _, comment = one_comment(session)
        signed_in(client, session, "liaison")
        token = csrf_token(client, "/admin")  # the sign-out form on their front page

        page = client.get(QUEUE)
        approve = client.post(
            f"{QUEUE}/{comment.id}/approve", data={"csrftoken": token}, follow_redirects=False
        )

        assert page.status_code == 403
        assert SECRET_WORDS not in page.text
        assert approve.status_code == 403
