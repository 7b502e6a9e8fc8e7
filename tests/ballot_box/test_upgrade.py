"""Upgrading a deployment while a campaign is open: it keeps working, its stored evaluations
stay as they are, and the box applies from the day it is given a tally key."""

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.orm import Session

from app.ballot_box import service as box_service
from app.ballot_box import shares
from app.ballots.models import Evaluation, Receipt
from app.ballots.schemas import BallotIn, EvaluationIn
from app.ballots.service import submit_ballot
from app.campaigns import lifecycle
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus
from app.public import methodology
from app.results import service as results_service
from tests.conftest import PostgresDatabases, migrate, new_sqlite_engine
from tests.factories import HASHING_KEY, answers_for, issue_code, make_campaign

BEFORE_THE_BOX = "0004"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def old_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A database migrated only as far as the release before the ballot box."""
    if request.param == "sqlite":
        engine = new_sqlite_engine()
    else:
        databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
        engine = databases.create()
    migrate(engine, BEFORE_THE_BOX)
    yield engine
    engine.dispose()


# Columns later releases add to tables the previous release's rows go in: today's models write
# them, so they exist while the old rows are made and are dropped before migrating.
LATER_COLUMNS = [
    ("campaigns", "seal_pending", "BOOLEAN NOT NULL DEFAULT false"),
    ("code_batches", "ready", "BOOLEAN NOT NULL DEFAULT true"),
    ("campaigns", "series", "VARCHAR(64)"),
    ("departments", "category_en", "VARCHAR(50)"),
]


@contextmanager
def rows_of_the_previous_release(engine: Engine) -> Iterator[Session]:
    """A session that writes the previous release's rows with today's models."""
    with engine.begin() as connection:
        for table, column, definition in LATER_COLUMNS:
            connection.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {definition}"))
    with Session(engine) as session:
        yield session
        session.commit()
    with engine.begin() as connection:
        for table, column, _ in LATER_COLUMNS:
            connection.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))


def store_as_before(session: Session, campaign: Campaign, answers: str, comment: str) -> None:
    """What the previous release stored for one ballot: evaluations and a receipt hash."""
    for target in campaign.targets:
        session.execute(
            insert(Evaluation).values(
                id=uuid.uuid4(),
                campaign_id=campaign.id,
                target_id=target.id,
                rater_group_id=campaign.rater_groups[0].id,
                answers=answers,
                comment=comment,
                quality_flags=0,
            )
        )
    session.execute(
        insert(Receipt).values(receipt_hash=uuid.uuid4().bytes * 2, campaign_id=campaign.id)
    )


def rate(session: Session, campaign: Campaign, level: int) -> None:
    code = issue_code(session, campaign)
    evaluations = [
        EvaluationIn(target=target.department.code, answers=answers_for(campaign, level=level))
        for target in campaign.targets
    ]
    submit_ballot(session, HASHING_KEY, BallotIn(code=code, evaluations=evaluations))


class TestUpgradeWithAnOpenCampaign:
    def test_the_open_campaign_keeps_working_and_the_box_applies_from_its_key(
        self, old_engine: Engine
    ) -> None:
        with rows_of_the_previous_release(old_engine) as session:
            running = make_campaign(session, sealed_box=False, threshold=3)
            finished = make_campaign(session, sealed_box=False, status=CampaignStatus.CLOSED)
            store_as_before(session, running, "11-", "升级前的意见")
            store_as_before(session, finished, "33-", "已结束")
            running_slug, finished_slug = running.slug, finished.slug

        migrate(old_engine)

        with Session(old_engine) as session:
            running = campaign_service.get_campaign(session, running_slug)
            finished = campaign_service.get_campaign(session, finished_slug)
            assert running.status == CampaignStatus.OPEN
            assert finished.status == CampaignStatus.TALLIED  # closed ones count as tallied
            rate(session, running, level=2)  # still stored as evaluations, as before
            made = box_service.create_tally_key(session, running, count=3, threshold=2)
            assert made.key.applied_on == dt.date.today()
            rate(session, running, level=5)  # sealed from now on
            assert box_service.ballots_in_box(session, running) == 1
            session.commit()

        with Session(old_engine) as session:
            running = campaign_service.get_campaign(session, running_slug)
            lifecycle.close_campaign(session, running, actor="test")
            entered = [shares.parse_share(share.dump()) for share in made.share_files[:2]]
            lifecycle.tally_campaign(session, running, entered, actor="test")
            session.commit()

        with Session(old_engine) as session:
            running = campaign_service.get_campaign(session, running_slug)
            answers = Counter(
                session.scalars(
                    select(Evaluation.answers).where(Evaluation.campaign_id == running.id)
                )
            )
            assert answers == Counter({"11-": 2, "22-": 2, "55-": 2})
            results = results_service.campaign_results(session, running, "en")
            view = methodology.methodology(running, results, campaign_service.policy_of(running))
            [section] = [s for s in view.sections if s.anchor == "ballot-box"]
            assert any(dt.date.today().isoformat() in text for text in section.paragraphs)
            finished_results = results_service.campaign_results(
                session, campaign_service.get_campaign(session, finished_slug), "en"
            )
            assert finished_results.ballot_box is not None
            assert not finished_results.ballot_box.sealed
