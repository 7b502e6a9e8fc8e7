"""Exactly once under concurrency: many simultaneous submissions with one code.

These run against committed data in a database of their own, with one connection per
thread, on SQLite and on PostgreSQL, because the guarantee lives in the database.
"""

import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.admission.models import CodeStatus
from app.ballots import service as ballot_service
from app.ballots.schemas import BallotIn, EvaluationIn
from app.campaigns.models import Campaign
from app.errors import PingyiError
from tests.conftest import PostgresDatabases, migrate, new_sqlite_engine
from tests.factories import (
    HASHING_KEY,
    answers_for,
    ballot_count,
    code_status,
    evaluation_count,
    issue_codes,
    make_campaign,
    tally,
)

ATTEMPTS = 24


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def committed_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated database whose data is really committed (no wrapping transaction)."""
    if request.param == "sqlite":
        engine = new_sqlite_engine()
    else:
        databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
        engine = databases.create()
    migrate(engine)
    yield engine
    engine.dispose()


def race(engine: Engine, ballots: list[BallotIn]) -> list[str]:
    """Submit every ballot at the same moment, each in its own transaction and connection."""
    factory = sessionmaker(bind=engine)
    barrier = threading.Barrier(len(ballots))
    outcomes: list[str] = [""] * len(ballots)

    def attempt(index: int) -> None:
        with factory() as session:
            barrier.wait()
            try:
                ballot_service.submit_ballot(session, HASHING_KEY, ballots[index])
                session.commit()
                outcomes[index] = "accepted"
            except PingyiError as error:
                session.rollback()
                outcomes[index] = error.code

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(ballots))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


class TestOneCodeManySubmissions:
    def test_exactly_one_of_many_concurrent_submissions_is_accepted(
        self, committed_engine: Engine
    ) -> None:
        with Session(committed_engine) as session:
            campaign = make_campaign(session)
            (code,) = issue_codes(session, campaign)
            targets = [t.department.code for t in campaign.targets]
            answers = answers_for(campaign)
            campaign_id = campaign.id
            session.commit()
        ballot = BallotIn(
            code=code, evaluations=[EvaluationIn(target=t, answers=answers) for t in targets]
        )

        outcomes = race(committed_engine, [ballot] * ATTEMPTS)

        assert Counter(outcomes) == {"accepted": 1, "code_used": ATTEMPTS - 1}
        with Session(committed_engine) as session:
            campaign = session.get_one(Campaign, campaign_id)
            assert ballot_count(session, campaign) == 1
            assert code_status(session, code) == CodeStatus.USED
            tally(session, campaign)
            assert evaluation_count(session, campaign) == len(targets)

    def test_different_codes_all_succeed_concurrently(self, committed_engine: Engine) -> None:
        with Session(committed_engine) as session:
            campaign = make_campaign(session)
            codes = issue_codes(session, campaign, count=ATTEMPTS)
            target = campaign.targets[0].department.code
            answers = answers_for(campaign)
            campaign_id = campaign.id
            session.commit()
        ballots = [
            BallotIn(code=code, evaluations=[EvaluationIn(target=target, answers=answers)])
            for code in codes
        ]

        outcomes = race(committed_engine, ballots)

        assert outcomes == ["accepted"] * ATTEMPTS
        with Session(committed_engine) as session:
            campaign = session.get_one(Campaign, campaign_id)
            assert ballot_count(session, campaign) == ATTEMPTS
            tally(session, campaign)
            assert evaluation_count(session, campaign) == ATTEMPTS
