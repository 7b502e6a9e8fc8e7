"""The demo's sample comments: enough to try comment review and the public comments."""

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from app.campaigns import service as campaign_service
from app.comments import service as comment_service
from app.comments.models import CommentStatus
from app.config import PROJECT_ROOT
from app.demo import service as demo_service
from tests.factories import HASHING_KEY

PERSONAL_DATA_MARKS = ("先生", "女士", "师傅", "小姐", "@", "身份证号")  # digits: below


class TestSampleCommentsFile:
    def test_a_few_departments_have_realistic_comments_without_personal_data(self) -> None:
        comments = demo_service.sample_comments()

        assert len(comments) >= 2
        for texts in comments.values():
            assert len(texts) >= 10
            assert len(set(texts)) == len(texts)
            for text in texts:
                assert not any(mark in text for mark in PERSONAL_DATA_MARKS), text
                assert not any(character.isdigit() for character in text), text


@pytest.mark.slow
class TestLoadedDemo:
    def test_last_years_campaign_publishes_approved_comments(
        self, session: Session, tmp_path: Path
    ) -> None:
        demo_service.load_demo(
            session,
            PROJECT_ROOT / "surveys",
            HASHING_KEY,
            tmp_path / "codes.csv",
            5,
            tmp_path / "trustees",
        )
        past = campaign_service.get_campaign(
            session, demo_service.demo_spec("campaign-2025.yaml").slug
        )
        sample = demo_service.sample_comments()

        counts = comment_service.status_counts(session, past)
        assert counts[CommentStatus.APPROVED] >= 2 * 10
        assert counts[CommentStatus.REJECTED] == len(sample)
        for target in past.targets:
            published = comment_service.published_comments(session, past, target)
            if target.department.code in sample:
                assert len(published) == len(sample[target.department.code]) - 1
                assert set(published) <= set(sample[target.department.code])
            else:
                assert published == []
