"""Engine, declarative base and the session rules (one commit per request or CLI command)."""

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Enum, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from app.config import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_SECONDS = 30


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def string_enum(enum_class: type[enum.StrEnum], name: str, length: int) -> Enum:
    """A string column restricted to an enum's values by a CHECK constraint.

    Not a native PostgreSQL enum, so adding a value is a plain constraint change.
    """
    return Enum(
        enum_class,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [member.value for member in members],
        name=name,
    )


def build_engine(database_url: str, *, pool_size: int = 10) -> Engine:
    """Create an engine with the settings every Pingyi process needs.

    ``hide_parameters`` keeps bound values (code hashes, answers) out of exception
    messages, which end up in logs next to a timestamp.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            hide_parameters=True,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(
        url,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
    )


def _configure_sqlite(engine: Engine) -> None:
    """Take transaction control from pysqlite and set durable, concurrent pragmas.

    pysqlite's own BEGIN handling defers the BEGIN to the first write, silently, and
    SAVEPOINTs misbehave under it; SQLAlchemy's documented recipe is to emit BEGIN
    ourselves. Writers that begin with their write (the ballot path does) then wait on the
    busy timeout instead of failing to upgrade a read lock; writers that must read first ask
    for ``execution_options={"sqlite_begin": "IMMEDIATE"}``.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA secure_delete=ON")  # deleted codes and comments are zeroed
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")


@lru_cache
def get_engine() -> Engine:
    settings = get_settings()
    return build_engine(settings.database_url, pool_size=settings.database_pool_size)


@lru_cache
def get_session_factory() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@contextmanager
def committing(session: Session) -> Iterator[Session]:
    """Commit once when the block ends, or roll back on any exception."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


@contextmanager
def session_scope() -> Iterator[Session]:
    """One unit of work on a new session: see :func:`committing`."""
    with get_session_factory()() as session, committing(session):
        yield session


def get_session() -> Iterator[Session]:
    """Request-scoped session under the same rule as :func:`session_scope`.

    Routes depend on it with ``scope="function"`` so the commit happens before the
    response is sent: a 201 is never sent for a ballot that did not commit.
    """
    with session_scope() as session:
        yield session
