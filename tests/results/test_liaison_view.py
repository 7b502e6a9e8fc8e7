"""A liaison's own results: at least the public view of their department, summary first."""

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.comments.models import CommentForReview, CommentStatus
from tests.results.test_pages import departments, rated_campaign, sign_in_as


class TestLiaisonSeesThePublicView:
    def test_rank_grade_last_place_and_approved_comments_in_folded_sections(
        self, client: TestClient, session: Session
    ) -> None:
        mine, theirs = departments(session)
        published = rated_campaign(session, (mine, theirs))
        target = next(t for t in published.targets if t.department_id == mine.id)
        other = next(t for t in published.targets if t.department_id == theirs.id)
        # As if the tally had copied them: comments only of departments with enough raters.
        published.policy = {**(published.policy or {}), "comments": {"min_respondents": 1}}
        for text, status, on in (
            ("窗口办事很快。", CommentStatus.APPROVED, target),
            ("还在审核的意见。", CommentStatus.PENDING, target),
            ("别的单位的意见。", CommentStatus.APPROVED, other),
        ):
            session.add(
                CommentForReview(
                    campaign_id=published.id, target_id=on.id, text=text, status=status
                )
            )
        session.flush()
        sign_in_as(client, session, "liaison", department=mine)

        page = client.get("/admin/my-results").text

        summary = page.split(f'id="summary-{published.slug}"')[1].split("</dl>")[0]
        for label in ("Composite score", "Grade", "Rank", "Evaluations", "Comments"):
            assert label in summary
        assert "last place" in summary  # 70.00 below the other's 85.00 in their category
        assert page.index('id="summary-') < page.index('<details class="result-section"')
        assert page.count('<details class="result-section"') == 4
        assert "窗口办事很快。" in page
        assert "还在审核的意见。" not in page
        assert "别的单位的意见。" not in page
        assert f'href="/results/{published.slug}/departments/{mine.code}' in page
