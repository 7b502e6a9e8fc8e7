"""Test databases, sessions and the HTTP client.

Migrations run once per test session on each engine (so they are tested too). Each test gets
a session inside a transaction that is rolled back; requests through the client commit to a
savepoint inside it, so a refused request is rolled back exactly as in production.

PostgreSQL tests use PINGYI_TEST_POSTGRES_URL; each run creates and drops its own databases.
Without a server they are skipped, except under CI=true, where that is a failure.
"""

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

_test_var_dir = Path(tempfile.mkdtemp(prefix="pingyi-test-"))
os.environ["PINGYI_VAR_DIR"] = str(_test_var_dir)
os.environ["PINGYI_DATABASE_URL"] = f"sqlite:///{_test_var_dir / 'app.db'}"
os.environ["PINGYI_SECRET_KEY"] = "test-secret-key"
os.environ["PINGYI_HIGH_WATER_SECONDS"] = "0"  # no background recording in tests
os.environ.pop("PINGYI_ENV", None)
os.environ.pop("PINGYI_DISCLOSURE_THRESHOLD", None)

import httpx  # noqa: E402
import pytest  # noqa: E402
from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import Engine, create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app import i18n  # noqa: E402
from app.config import PROJECT_ROOT  # noqa: E402
from app.db import build_engine, committing, get_session  # noqa: E402
from app.deps import code_hashing_key  # noqa: E402
from app.main import create_app  # noqa: E402
from tests.factories import HASHING_KEY  # noqa: E402

POSTGRES_URL = os.environ.get(
    "PINGYI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI") == "true"


def migrate(engine: Engine, revision: str = "head") -> None:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["configure_logging"] = False
    with engine.connect() as connection:  # the migration begins and commits its transaction
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def new_sqlite_engine() -> Engine:
    path = Path(tempfile.mkdtemp(prefix="pingyi-db-", dir=_test_var_dir)) / "test.db"
    return build_engine(f"sqlite:///{path}")


class PostgresDatabases:
    """Creates throwaway databases on the test server and drops them afterwards."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def available(self) -> str | None:
        try:
            with self.admin.connect() as connection:
                connection.execute(text("select 1"))
        except Exception as error:  # any failure to connect means "no server"
            return f"{type(error).__name__}: {error}".splitlines()[0]
        return None

    def create(self) -> Engine:
        name = f"pingyi_test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return build_engine(self.url.set(database=name).render_as_string(hide_password=False))

    def drop_all(self) -> None:
        with self.admin.connect() as connection:
            for name in self.created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(POSTGRES_URL)
    problem = databases.available()
    if problem is not None:
        message = f"no PostgreSQL server at {POSTGRES_URL} ({problem})"
        if IN_CI:
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def sqlite_engine() -> Iterator[Engine]:
    engine = new_sqlite_engine()
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_engine(postgres_databases: PostgresDatabases) -> Iterator[Engine]:
    engine = postgres_databases.create()
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_engine(request: pytest.FixtureRequest) -> Engine:
    """Run the test once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_engine" if request.param == "sqlite" else "postgres_engine"
    engine: Engine = request.getfixturevalue(fixture)
    return engine


def _session_in_rolled_back_transaction(engine: Engine) -> Iterator[Session]:
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            session.close()
            transaction.rollback()


@pytest.fixture
def session(sqlite_engine: Engine) -> Iterator[Session]:
    yield from _session_in_rolled_back_transaction(sqlite_engine)


@pytest.fixture
def any_session(any_engine: Engine) -> Iterator[Session]:
    """A session on each engine in turn (see ``any_engine``)."""
    yield from _session_in_rolled_back_transaction(any_engine)


def make_client(session: Session) -> TestClient:
    app = create_app()

    def request_session() -> Iterator[Session]:
        session.commit()  # what the test set up is committed; the request starts afresh
        with committing(session):
            yield session

    app.dependency_overrides[get_session] = request_session
    app.dependency_overrides[code_hashing_key] = lambda: HASHING_KEY
    return TestClient(app, raise_server_exceptions=True)


SERVER_ERROR_MARKER = "server_error"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{SERVER_ERROR_MARKER}: the test expects a 5xx answer from the ``client`` fixture",
    )


def fail_on_server_errors(client: TestClient, request: pytest.FixtureRequest) -> None:
    """Fail the test at any 5xx answer, unless it is marked ``server_error``.

    An exception raised in a route already fails the test (``raise_server_exceptions``);
    this catches a 5xx the app answers without one (an error handler's page, a 503), which
    a test that never looks at the status would otherwise pass over.
    """
    if request.node.get_closest_marker(SERVER_ERROR_MARKER) is not None:
        return

    def check(response: httpx.Response) -> None:
        if response.status_code >= 500:
            pytest.fail(
                f"{response.request.method} {response.request.url.path} answered "
                f"{response.status_code}; mark the test {SERVER_ERROR_MARKER} if it expects one"
            )

    client.event_hooks["response"].append(check)


@pytest.fixture
def client(session: Session, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    with make_client(session) as test_client:
        fail_on_server_errors(test_client, request)
        yield test_client


@pytest.fixture
def any_client(any_session: Session, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    with make_client(any_session) as test_client:
        fail_on_server_errors(test_client, request)
        yield test_client


@pytest.fixture(autouse=True)
def _reset_locale() -> None:
    """Services translate with the current locale; tests start in the default one."""
    i18n.set_locale(i18n.DEFAULT_LOCALE)


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """Argon2 with its cheapest parameters: the tests check behaviour, not hashing cost."""
    from argon2 import PasswordHasher, profiles

    from app.accounts import passwords

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
        yield


@pytest.fixture(autouse=True)
def _fresh_sign_in_failures() -> Iterator[None]:
    """Failed sign-ins are counted per name in process memory: each test starts with none."""
    from app.accounts import service as account_service
    from app.credentials import roster

    account_service.login_failures.clear()
    roster.login_failures.clear()
    yield
    account_service.login_failures.clear()
    roster.login_failures.clear()
