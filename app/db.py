"""Engine, declarative base and the session rules (one commit per request or CLI command)."""

import asyncio
import enum
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from anyio import CancelScope, to_thread
from sqlalchemy import Engine, Enum, MetaData, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from app import sqlite_writer
from app.config import get_settings
from app.sqlite_writer import SQLITE_BUSY_TIMEOUT_SECONDS

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


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
        pool_options: dict[str, Any] = {}
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            pool_options = {"pool_size": pool_size, "max_overflow": pool_size}
        engine = create_engine(
            url,
            hide_parameters=True,
            connect_args={
                "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
                "check_same_thread": False,
                "factory": sqlite_writer.QueuedWriterConnection,
            },
            **pool_options,
        )
        _configure_sqlite(engine)
        return engine
    engine = create_engine(
        url,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,  # so at most pool_capacity(pool_size) connections
    )
    _ping_idle_connections(engine)
    return engine


PING_AFTER_IDLE_SECONDS = 0.5


def _ping_idle_connections(engine: Engine) -> None:
    """Ping a pooled connection before use only if it sat idle for a while.

    A connection checked in moments ago, under load, needs no round trip to prove it alive:
    a PostgreSQL restart takes longer than :data:`PING_AFTER_IDLE_SECONDS`, so a connection
    that lived through one was idle for at least that long and is pinged (and replaced, the
    pool retrying the checkout, if dead), as ``pool_pre_ping`` would have. A connection that
    dies between its last use and a ping-free checkout fails that one request (500, nothing
    stored), and the disconnect invalidates the whole pool, so the next request reconnects.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is not None and time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise exc.DisconnectionError() from error
        if not alive:
            raise exc.DisconnectionError()


def pool_capacity(pool_size: int) -> int:
    """How many connections an engine of :func:`build_engine` opens at most."""
    return 2 * pool_size


def _configure_sqlite(engine: Engine) -> None:
    """Take transaction control from pysqlite and set durable, concurrent pragmas.

    pysqlite's own BEGIN handling defers the BEGIN to the first write, silently, and
    SAVEPOINTs misbehave under it; SQLAlchemy's documented recipe is to emit BEGIN
    ourselves. Writers that begin with their write (the ballot path does) then wait for the
    write lock instead of failing to upgrade a read lock; writers that must read first ask
    for ``execution_options={"sqlite_begin": "IMMEDIATE"}``. Writers wait for their turn in
    a :class:`app.sqlite_writer.WriterQueue` rather than in SQLite's busy handler.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        database = engine.url.database
        if database and database != ":memory:":
            dbapi_connection.writer_queue = sqlite_writer.writer_queue(database)
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

    sqlite_writer.queue_writers(engine)


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


async def get_session() -> AsyncIterator[Session]:
    """Request-scoped session under the same rule as :func:`session_scope`.

    Routes depend on it with ``scope="function"`` so the commit happens before the
    response is sent: a 201 is never sent for a ballot that did not commit.

    An async dependency, so that FastAPI opens the session on the event loop (that is no
    I/O: the session connects on first use) and does not send it to a worker thread and
    back; the commit or rollback and the close, which are I/O, share one trip to a thread,
    shielded from cancellation so the connection always goes back to the pool. A route that
    committed already (:func:`run_committed`) leaves nothing to do but close, on the loop.
    """
    async with _session_slots():
        session = get_session_factory()()
        try:
            yield session
        except GeneratorExit:  # closed unfinished: awaiting is not allowed here
            _finish(session, commit=False)
            raise
        except BaseException:
            with CancelScope(shield=True):
                await to_thread.run_sync(lambda: _finish(session, commit=False))
            raise
        if not session.in_transaction():  # committed already (run_committed): no I/O left
            session.close()
            return
        with CancelScope(shield=True):
            await to_thread.run_sync(lambda: _finish(session, commit=True))


_P = ParamSpec("_P")
_T = TypeVar("_T")


async def run_committed(
    session: Session,
    function: Callable[Concatenate[Session, _P], _T],
    *args: _P.args,
    **kwargs: _P.kwargs,
) -> _T:
    """``function(session, ...)`` and the request session's commit (or rollback) in one trip
    to a worker thread, for a route whose whole unit of work is one blocking call.

    Same rule as :func:`get_session` (one commit, before the response is sent), one thread
    hop fewer, and the transaction ends as soon as its work does: on SQLite the writer's turn
    (``app.sqlite_writer``) is not held while the event loop serves other requests between
    the call and a commit in a later hop. :func:`get_session` then finds nothing to commit.
    """

    def call() -> _T:
        with committing(session):
            return function(session, *args, **kwargs)

    return await to_thread.run_sync(call)


_slots_by_loop: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = (
    weakref.WeakKeyDictionary()
)


def _session_slots() -> asyncio.Semaphore:
    """At most as many request sessions at once as the pool has connections.

    Without this bound a busy worker deadlocks: every worker thread waits for a pooled
    connection while the requests holding the connections wait for a worker thread to
    commit in, until the pool's timeout fails them all. Requests beyond the bound wait here,
    on the event loop, holding nothing. One semaphore per event loop (a worker has one). The
    bound also stays below the worker-thread limit, or a pool larger than the thread pool
    would bring the deadlock back.
    """
    loop = asyncio.get_running_loop()
    slots = _slots_by_loop.get(loop)
    if slots is None:
        threads = int(to_thread.current_default_thread_limiter().total_tokens)
        connections = pool_capacity(get_settings().database_pool_size)
        slots = asyncio.Semaphore(max(1, min(connections, threads - 1)))
        _slots_by_loop[loop] = slots
    return slots


def _finish(session: Session, *, commit: bool) -> None:
    """Commit, or roll back, then close; a commit that fails is rolled back."""
    with session:
        try:
            if commit:
                session.commit()
                return
        except BaseException:
            session.rollback()
            raise
        session.rollback()


def begin_writing(session: Session) -> None:
    """Begin the session's transaction with the write lock on SQLite, if none has begun.

    Issuing and spending a credential read (the code, the keys) before they write; a SQLite
    transaction that began with a read cannot take the write lock once another writer has
    committed, and fails instead of waiting. PostgreSQL ignores the option.
    """
    if not session.in_transaction():
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
