"""Throwaway databases with an open demo campaign, for the admission and signing benchmarks.

SQLite: a file in a new temporary directory. PostgreSQL: a database of its own created on the
server at PINGYI_TEST_POSTGRES_URL (as the tests do) and dropped afterwards. Either is
migrated with Alembic, gets the demo departments and an open campaign (``demo-2026``, rater
groups citizens, enterprises, cadres), with its credential keys when asked for.
"""

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.ballot_box import service as box_service
from app.campaigns import lifecycle
from app.campaigns import service as campaign_service
from app.config import PROJECT_ROOT
from app.credentials import keys as credential_keys
from app.db import build_engine, committing
from app.demo import service as demo_service
from app.departments import service as department_service
from app.surveys import service as survey_service

POSTGRES_URL = os.environ.get(
    "PINGYI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SECRET = b"pingyi-bench-secret"
# Opening a campaign makes its credential keys under the settings' secret: let that be the
# bench's (as in the subprocesses), not a development secret under the project's var/.
os.environ["PINGYI_SECRET_KEY"] = SECRET.decode()
ENGINES = ("sqlite", "postgres")


@dataclass(frozen=True)
class BenchDatabase:
    name: str  # "sqlite" or "postgres"
    url: str  # with any password, for a subprocess's PINGYI_DATABASE_URL
    engine: Engine
    campaign_slug: str


def migrate(engine: Engine) -> None:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["configure_logging"] = False
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def postgres_available() -> str | None:
    """None when the server answers, else why not."""
    admin = create_engine(make_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as error:  # any failure to connect means "no server"
        return f"{type(error).__name__}: {error}".splitlines()[0]
    finally:
        admin.dispose()
    return None


@contextmanager
def bench_database(name: str, *, with_keys: bool = False) -> Iterator[BenchDatabase]:
    """A migrated database with the open demo campaign; removed when the block ends."""
    if name == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix="pingyi-bench-"))
        url = f"sqlite:///{directory / 'bench.db'}"
        engine = build_engine(url)
        try:
            yield _prepared(name, url, engine, with_keys)
        finally:
            engine.dispose()
            shutil.rmtree(directory, ignore_errors=True)
        return
    if name != "postgres":
        raise ValueError(f"unknown engine {name!r}; expected one of {ENGINES}")
    server = make_url(POSTGRES_URL)
    database = f"pingyi_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    url = server.set(database=database).render_as_string(hide_password=False)
    engine = build_engine(url)
    try:
        yield _prepared(name, url, engine, with_keys)
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def _prepared(name: str, url: str, engine: Engine, with_keys: bool) -> BenchDatabase:
    migrate(engine)
    spec = demo_service.demo_spec()
    with Session(engine, expire_on_commit=False) as session, committing(session):
        department_service.import_csv(
            session, (demo_service.DEMO_DIR / "departments.csv").read_bytes()
        )
        questionnaire = survey_service.find_template(PROJECT_ROOT / "surveys", spec.questionnaire)
        campaign = campaign_service.create_campaign(
            session, spec, questionnaire, default_threshold=5
        )
        # A campaign opens only with a tally key; its shares are not needed here.
        box_service.create_tally_key(session, campaign, count=3, threshold=2)
        lifecycle.open_campaign(session, campaign, actor="bench")
        if with_keys:
            credential_keys.open_campaign_keys(session, campaign, SECRET)
    return BenchDatabase(name=name, url=url, engine=engine, campaign_slug=spec.slug)


def subprocess_environment(database: BenchDatabase, var_dir: Path) -> dict[str, str]:
    """Environment for a ``pingyi`` subprocess on this database, with the bench's secret."""
    environment = dict(os.environ)
    environment.update(
        PINGYI_DATABASE_URL=database.url,
        PINGYI_SECRET_KEY=SECRET.decode(),
        PINGYI_VAR_DIR=str(var_dir),
    )
    environment.pop("PINGYI_ROLE", None)
    return environment
