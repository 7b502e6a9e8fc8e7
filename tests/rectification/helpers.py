"""A published campaign with a poor department, its comments approved, for 整改 tests.

Built on :class:`tests.public.helpers.Published` (threshold 3): east, west and the service
centre rate well; north rates poorly, is last in 执法类 (末位) and has three comments, approved
here before publication.
"""

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.campaigns import lifecycle
from app.comments import service as comments_service
from app.comments.models import CommentForReview, CommentStatus
from tests.factories import tally
from tests.public.helpers import Published


def published_with_comments(session: Session) -> Published:
    built = Published(session, publish=False)
    tally(session, built.campaign)
    for comment_id in session.scalars(
        select(CommentForReview.id).where(CommentForReview.campaign_id == built.campaign.id)
    ):
        comments_service.set_status(session, built.campaign, comment_id, CommentStatus.APPROVED)
    lifecycle.publish_campaign(session, built.campaign, actor="test")
    return built
