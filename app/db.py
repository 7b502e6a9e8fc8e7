"""Engine, declarative base and the session rules (one commit per request or CLI command)."""

import asyncio
import enum
import fcntl
import os
import re
import sqlite3
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from anyio import CancelScope, to_thread
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

FILE_LOCK_POLL_SECONDS = 0.001
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
                "factory": _QueuedWriterConnection,
            },
            **pool_options,
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(
        url,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,  # so at most pool_capacity(pool_size) connections
        pool_pre_ping=True,
    )


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
    a :class:`_WriterQueue` rather than in SQLite's busy handler.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        database = engine.url.database
        if database and database != ":memory:":
            dbapi_connection.writer_queue = _writer_queue(database)
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

    @event.listens_for(engine, "before_cursor_execute")
    def _before_execute(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if _WRITE_STATEMENT.match(statement):
            connection.connection.dbapi_connection.take_writer_turn()

    @event.listens_for(engine, "after_cursor_execute")
    def _after_execute(connection: Any, *_args: Any) -> None:
        dbapi_connection = connection.connection.dbapi_connection
        if not dbapi_connection.in_transaction:  # a write outside a transaction (VACUUM)
            dbapi_connection.end_writer_turn()

    @event.listens_for(engine, "handle_error")
    def _on_error(context: Any) -> None:
        """A write that failed outside a transaction gives up its turn (inside one, the
        rollback that follows does)."""
        try:
            dbapi_connection = context.connection.connection.dbapi_connection
        except Exception:  # no connection, or one already closed: nothing is held on it
            return
        if isinstance(dbapi_connection, _QueuedWriterConnection) and not (
            dbapi_connection.in_transaction
        ):
            dbapi_connection.end_writer_turn()


# Statements that take SQLite's write lock. (Pingyi writes no WITH ... INSERT; a read with
# a WITH must not hold up the writers for the rest of its transaction.)
_WRITE_STATEMENT = re.compile(
    r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|VACUUM|REINDEX|ANALYZE"
    r"|BEGIN\s+(IMMEDIATE|EXCLUSIVE))\b",
    re.IGNORECASE,
)


class _WriterQueue:
    """The writers of one SQLite database, in this process and others, taking turns.

    SQLite lets one writer in at a time and makes the others retry after sleeps that grow
    to 100 ms, so under load an unlucky writer loses round after round: at 300 ballots/s,
    seconds of latency for a few. Here a writer instead waits, before its first write, on a
    lock that wakes it as soon as the writer ahead is done: a ``threading.Lock`` among the
    threads of a process (with SQLite's timeout), then ``flock`` on a file beside the
    database among processes. SQLite's own locking still decides; this only queues the
    writers that come through :func:`build_engine`.
    """

    def __init__(self, path: str) -> None:
        self.threads = threading.Lock()
        self.path = path
        self.descriptor: int | None = None

    def acquire(self) -> None:
        if not self.threads.acquire(timeout=SQLITE_BUSY_TIMEOUT_SECONDS):
            raise sqlite3.OperationalError("database is locked")
        try:
            if self.descriptor is None:
                self.descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._lock_file(self.descriptor, time.monotonic() + SQLITE_BUSY_TIMEOUT_SECONDS)
        except BaseException:
            self.threads.release()
            raise

    @staticmethod
    def _lock_file(descriptor: int, deadline: float) -> None:
        """``flock`` with a deadline: another process (a stopped CLI command, say) must not
        hang a request forever; past the deadline it fails as SQLite's own timeout would."""
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise sqlite3.OperationalError("database is locked") from None
                time.sleep(FILE_LOCK_POLL_SECONDS)

    def release(self) -> None:
        if self.descriptor is not None:
            fcntl.flock(self.descriptor, fcntl.LOCK_UN)
        self.threads.release()


_writer_queues: dict[str, _WriterQueue] = {}
_writer_queues_lock = threading.Lock()


def _writer_queue(database: str) -> _WriterQueue:
    path = str(Path(database).resolve()) + "-writers.lock"
    with _writer_queues_lock:
        return _writer_queues.setdefault(path, _WriterQueue(path))


class _QueuedWriterConnection(sqlite3.Connection):
    """A pysqlite connection that takes its turn in its database's :class:`_WriterQueue`
    before its first write and gives it up when its transaction ends."""

    writer_queue: _WriterQueue | None = None
    holds_writer_turn = False

    def take_writer_turn(self) -> None:
        if self.writer_queue is not None and not self.holds_writer_turn:
            self.writer_queue.acquire()
            self.holds_writer_turn = True

    def end_writer_turn(self) -> None:
        if self.holds_writer_turn and self.writer_queue is not None:
            self.holds_writer_turn = False
            self.writer_queue.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.end_writer_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.end_writer_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.end_writer_turn()


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
    shielded from cancellation so the connection always goes back to the pool.
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
        with CancelScope(shield=True):
            await to_thread.run_sync(lambda: _finish(session, commit=True))


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
