"""SQLite's writers, taking turns: a queue per database file that a connection joins before its
first write and leaves when its transaction ends (see :class:`WriterQueue` for why).

``app.db`` builds SQLite engines with :class:`QueuedWriterConnection` and calls
:func:`queue_writers`; nothing else needs this module.
"""

import fcntl
import os
import re
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

FILE_LOCK_POLL_SECONDS = 0.001
SQLITE_BUSY_TIMEOUT_SECONDS = 30


# Statements that take SQLite's write lock. (Pingyi writes no WITH ... INSERT; a read with
# a WITH must not hold up the writers for the rest of its transaction.)
WRITE_STATEMENT = re.compile(
    r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|VACUUM|REINDEX|ANALYZE"
    r"|BEGIN\s+(IMMEDIATE|EXCLUSIVE))\b",
    re.IGNORECASE,
)


class WriterQueue:
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


_writer_queues: dict[str, WriterQueue] = {}
_writer_queues_lock = threading.Lock()


def writer_queue(database: str) -> WriterQueue:
    path = str(Path(database).resolve()) + "-writers.lock"
    with _writer_queues_lock:
        return _writer_queues.setdefault(path, WriterQueue(path))


class QueuedWriterConnection(sqlite3.Connection):
    """A pysqlite connection that takes its turn in its database's :class:`WriterQueue`
    before its first write and gives it up when its transaction ends."""

    writer_queue: WriterQueue | None = None
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


def queue_writers(engine: Engine) -> None:
    """Make ``engine``'s connections take their turn before a write and give it up after."""

    @event.listens_for(engine, "before_cursor_execute")
    def _before_execute(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if WRITE_STATEMENT.match(statement):
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
        if isinstance(dbapi_connection, QueuedWriterConnection) and not (
            dbapi_connection.in_transaction
        ):
            dbapi_connection.end_writer_turn()
