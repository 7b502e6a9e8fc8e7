"""Sealing: rewrite a campaign's rating and admission rows so their storage shows no order.

docs/privacy.md, "Rules for stored data" 6. While a campaign runs, the database itself records
when each row was written, even though no column does: PostgreSQL puts new rows at the end
of the heap (``ctid``) and stamps each with the id of the transaction that wrote it
(``xmin``, increasing); an SQLite rowid counts up, and the write-ahead log holds the pages of
each transaction in commit order. Anyone with a dump could line up "this voucher was
exchanged" with "these evaluations arrived" by those traces.

Sealing removes them for one campaign, in two steps:

1. :func:`rewrite_in_random_order`, in the caller's transaction: copy out the campaign's
   evaluations, its spent set (rows of the campaign's keys), its receipts, the admission
   code rows of its batches and its roster members; delete them; insert them back in a random
   order (``secrets.SystemRandom``), one statement per table. Every value survives
   unchanged. On PostgreSQL every rewritten row now carries the seal transaction's ``xmin``.
2. :func:`reset_physical_order`, after that transaction has committed, on a connection of
   its own, because neither database vacuums inside a transaction:

   - PostgreSQL: ``VACUUM FULL`` of each rewritten table rewrites its heap and indexes, so
     the dead row versions (with their old ``xmin`` and old positions) are gone and ``ctid``
     order is the random order of step 1.
   - SQLite: ``PRAGMA wal_checkpoint(TRUNCATE)`` empties the write-ahead log, which held the
     pages of every ballot transaction in commit order; ``VACUUM`` rebuilds the file, which
     repacks the pages, drops the freelist and renumbers the rowids of tables without an
     integer primary key; a second checkpoint empties the log again. The rating tables are
     ``WITHOUT ROWID``: their rows are kept in the order of their random keys, so they showed
     no order to SQL before, and after ``VACUUM`` their pages are laid out in that random key
     order too. ``secure_delete`` (set on every connection) has zeroed what was deleted.
     ``roster_members`` keeps its integer ids: they count the roster's import, not issuance.

   A vacuum must keep the old row versions that a transaction begun before the seal could
   still read, so on PostgreSQL it first waits (up to half a minute) for such transactions
   to end; on SQLite, a reader holding the write-ahead log delays its truncation likewise.

:func:`seal` does both. Given an engine it runs its own transaction; given a session (a
request's, or the CLI's) it rewrites in that session and vacuums when the session commits,
so a refused request seals nothing.

Step 1 sets ``campaigns.seal_pending`` in its transaction; step 2 clears it, on its own
connection, once its vacuum has run and found no older transaction in its way (on SQLite
before its last checkpoint, so the log is left empty). A seal interrupted between the two
(the process killed during ``VACUUM FULL``, a vacuum that failed) thus stays visible
(``pingyi campaign list`` says "seal incomplete") until ``pingyi campaign seal`` runs again.

Sealing an open campaign, on demand, is allowed. It protects every row written so far: the
order of the issuances and ballots before the seal is gone. It does not protect what comes
after: later ballots and issuances are written the ordinary way, after the sealed rows and
with their own transaction ids, so their order is visible until the next seal (closing the
campaign seals it again). Nor does it help against anyone who watches the database while
ratings arrive, or who kept a copy (a backup, PostgreSQL's archived write-ahead log) from
before the seal.

While the rewrite runs, writes to these five tables wait (on PostgreSQL a table lock taken
first, in the order the ballot path writes them; on SQLite the write lock), and ``VACUUM
FULL`` holds an exclusive lock for the seconds it takes, so ratings pause briefly.
"""

import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    Update,
    delete,
    event,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.sql.elements import ColumnElement

from app.admission.models import AdmissionCode, CodeBatch
from app.ballot_box.models import SealedBallot
from app.ballots.models import Evaluation, Receipt
from app.campaigns.models import Campaign
from app.credentials.models import CredentialKey, RosterMember, SpentCredential
from app.db import Base, committing

log = logging.getLogger("pingyi.sealing")
_shuffler = secrets.SystemRandom()

# The tables a seal rewrites, in the order the issuance and ballot paths write to them (a code
# or roster member, then the spent set, the ballot box; an unsealed campaign's evaluations and
# receipt). PostgreSQL's table
# locks are taken in this order, so a seal and a ballot never wait on each other in a cycle.
SEALED_TABLES: tuple[Table, ...] = tuple(
    Base.metadata.tables[model.__tablename__]
    for model in (AdmissionCode, RosterMember, SpentCredential, SealedBallot, Evaluation, Receipt)
)
SEALED_TABLE_NAMES: tuple[str, ...] = tuple(table.name for table in SEALED_TABLES)
SETTLE_WAIT_SECONDS = 30.0  # how long a vacuum waits for transactions older than the seal
SETTLE_POLL_SECONDS = 0.1

# Sessions (or standbys, or prepared transactions) whose snapshot may predate the seal. A
# vacuum must keep every row version such a snapshot could read: the old, ordered ones. A
# transaction that holds a transaction id holds the vacuum back in *every* database of the
# server (seen on PostgreSQL 15), so those count wherever they run.
OLDER_SNAPSHOTS = text(
    """
    SELECT count(*) FROM (
        SELECT backend_xmin AS horizon FROM pg_stat_activity
        WHERE pid <> pg_backend_pid()
          AND (datname = current_database() OR datname IS NULL)
        UNION ALL SELECT backend_xid FROM pg_stat_activity
        WHERE pid <> pg_backend_pid()
        UNION ALL SELECT transaction FROM pg_prepared_xacts
        UNION ALL SELECT xmin FROM pg_replication_slots
    ) AS horizons
    WHERE horizon IS NOT NULL AND age(horizon) >= age(CAST(:seal_xid AS xid))
    """
)


@dataclass(frozen=True)
class Seal:
    """What a seal rewrote. The counts are for tests and the operator's logs: the API and the
    CLI do not show them (the number of used codes may be below the disclosure threshold)."""

    campaign_slug: str
    rewritten: dict[str, int]  # rows rewritten, by table name
    transaction_id: int | None  # PostgreSQL: the rewriting transaction's id (xid8)


def seal(bind: Engine | Session, campaign: Campaign) -> Seal:
    """Seal ``campaign``: rewrite its rows in random order, then vacuum (see the module).

    With an engine, the rewrite commits in a transaction of its own and the vacuum follows at
    once. With a session, the rewrite joins the session's transaction and the vacuum runs on
    a separate connection right after that transaction commits (nothing happens if it rolls
    back). On SQLite the session should be a write transaction (``BEGIN IMMEDIATE``, as the
    console's ``WriteSession`` is).
    """
    if isinstance(bind, Session):
        sealed = rewrite_in_random_order(bind, campaign)
        _vacuum_after_commit(bind, campaign.slug, sealed.transaction_id)
        return sealed
    with Session(bind, expire_on_commit=False) as session, committing(session):
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        sealed = rewrite_in_random_order(session, campaign)
    reset_physical_order(bind, after_transaction=sealed.transaction_id, completes=[campaign.slug])
    return sealed


def rewrite_in_random_order(session: Session, campaign: Campaign) -> Seal:
    """Delete the campaign's rows of :data:`SEALED_TABLES` and insert them back shuffled.

    In the caller's transaction; the caller commits, then calls :func:`reset_physical_order`.
    """
    session.flush()
    transaction_id = _lock_tables(session)
    session.execute(  # cleared once the vacuum has run (reset_physical_order)
        update(Campaign).where(Campaign.id == campaign.id).values(seal_pending=True)
    )
    if campaign in session:
        session.expire(campaign, ["seal_pending"])
    rewritten: dict[str, int] = {}
    for table, belongs in _campaign_rows(campaign.id):
        rows = [dict(row._mapping) for row in session.execute(select(table).where(belongs))]
        rewritten[table.name] = len(rows)
        if not rows:
            continue
        session.execute(delete(table).where(belongs))
        _shuffler.shuffle(rows)
        session.execute(insert(table), rows)
    return Seal(campaign_slug=campaign.slug, rewritten=rewritten, transaction_id=transaction_id)


def reset_physical_order(
    engine: Engine,
    tables: Sequence[str] = SEALED_TABLE_NAMES,
    *,
    after_transaction: int | None = None,
    wait_seconds: float = SETTLE_WAIT_SECONDS,
    completes: Sequence[str] = (),
) -> bool:
    """Vacuum ``tables`` (see the module) on a connection of its own, outside any transaction.

    A vacuum keeps the old row versions that a transaction begun before the seal could
    still read. On PostgreSQL, given the seal's ``after_transaction``, it first waits (up to
    ``wait_seconds``) until every other session of the database has a snapshot taken after
    the seal committed; on SQLite it retries emptying the write-ahead log while a reader
    holds it. Returns False when that wait ran out (the vacuum ran anyway, but may have kept
    some old versions: seal again when the service is quiet).

    Unless it returns False, the seals of the campaigns ``completes`` names (by slug) are
    recorded as complete (``seal_pending`` cleared).
    """
    unknown = set(tables) - set(SEALED_TABLE_NAMES)
    if unknown:  # the names go into SQL text below: only our own table names may
        raise ValueError(f"not a sealed table: {sorted(unknown)}")
    deadline = time.monotonic() + wait_seconds
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            settled = after_transaction is None or _wait_for_snapshots_after(
                connection, after_transaction, deadline
            )
            for table in tables:
                connection.exec_driver_sql(f'VACUUM FULL "{table}"')
            if settled and completes:
                connection.execute(_seals_completed(completes))
        return settled
    if engine.dialect.name == "sqlite":
        # The raw connection: SQLAlchemy's begin hook (app.db) would wrap VACUUM in a BEGIN.
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            emptied = _checkpoint(cursor, deadline)
            cursor.execute("VACUUM")
            if emptied and completes:  # before the checkpoint that empties the log again
                slots = ", ".join("?" for _ in completes)
                cursor.execute(
                    f"UPDATE {Campaign.__tablename__} SET seal_pending = 0 "  # noqa: S608
                    f"WHERE slug IN ({slots})",
                    list(completes),
                )
            emptied = _checkpoint(cursor, deadline) and emptied
            cursor.close()
        finally:
            raw.close()
        return emptied
    raise ValueError(f"sealing does not know the {engine.dialect.name} database")


def _campaign_rows(campaign_id: int) -> list[tuple[Table, ColumnElement[bool]]]:
    batches = select(CodeBatch.id).where(CodeBatch.campaign_id == campaign_id)
    keys = select(CredentialKey.id).where(CredentialKey.campaign_id == campaign_id)
    conditions: dict[str, ColumnElement[bool]] = {
        AdmissionCode.__tablename__: AdmissionCode.batch_id.in_(batches),
        RosterMember.__tablename__: RosterMember.campaign_id == campaign_id,
        SpentCredential.__tablename__: SpentCredential.key_id.in_(keys),
        SealedBallot.__tablename__: SealedBallot.campaign_id == campaign_id,
        Evaluation.__tablename__: Evaluation.campaign_id == campaign_id,
        Receipt.__tablename__: Receipt.campaign_id == campaign_id,
    }
    return [(table, conditions[table.name]) for table in SEALED_TABLES]


def _lock_tables(session: Session) -> int | None:
    """On PostgreSQL, make writers to the sealed tables wait until the seal commits, and
    return the seal transaction's id.

    SHARE ROW EXCLUSIVE lets readers through and stops writers before they read: a ballot's
    conditional UPDATE of a code that is being rewritten then runs after the commit and finds
    the new row, instead of finding its row deleted and reporting the code used.
    """
    if session.get_bind().dialect.name != "postgresql":
        return None  # SQLite: the seal's write transaction already excludes every other writer
    connection = session.connection()
    names = ", ".join(f'"{table.name}"' for table in SEALED_TABLES)
    connection.exec_driver_sql(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE")
    return int(connection.exec_driver_sql("SELECT pg_current_xact_id()::text").scalar_one())


def _wait_for_snapshots_after(connection: Connection, transaction_id: int, deadline: float) -> bool:
    """Wait until no other session of this database (or a standby feeding back, or a prepared
    transaction) can still see the rows as they were before ``transaction_id`` committed."""
    seal_xid = str(transaction_id % 2**32)  # backend_xmin is a 32-bit xid: compare by age
    while True:
        older = connection.execute(OLDER_SNAPSHOTS, {"seal_xid": seal_xid}).scalar_one()
        if not older:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(SETTLE_POLL_SECONDS)


def _checkpoint(cursor: Any, deadline: float) -> bool:
    """Copy the write-ahead log into the database and truncate it, retrying while a reader
    holds it; False if one still did at ``deadline``."""
    while True:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        busy, _log_frames, _checkpointed_frames = cursor.fetchone()
        if not busy:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(SETTLE_POLL_SECONDS)


_PENDING_SEALS = "pingyi.pending_seals"  # session.info key: seals awaiting their vacuum


def _vacuum_after_commit(session: Session, campaign_slug: str, transaction_id: int | None) -> None:
    """Run :func:`reset_physical_order` once the session's outermost transaction has committed.

    Savepoints come and go inside it (releasing one fires ``after_commit`` too): a vacuum
    started then would run beside the still-open transaction and wait on its locks. So the
    seal is noted on the session, and acted on when the outermost transaction ends: one
    vacuum after a commit, however many seals it held (the newest seal's transaction id
    covers the others'); none after a rollback.
    """
    pending = session.info.get(_PENDING_SEALS)
    if pending is None:
        pending = session.info[_PENDING_SEALS] = {"seals": [], "committed": False}
        event.listen(session, "after_commit", _note_commit)
        event.listen(session, "after_rollback", _note_rollback)
        event.listen(session, "after_transaction_end", _vacuum_when_outermost_ends)
    pending["seals"].append((campaign_slug, transaction_id))


def _note_commit(session: Session) -> None:
    if _PENDING_SEALS in session.info:
        session.info[_PENDING_SEALS]["committed"] = True


def _note_rollback(session: Session) -> None:
    if _PENDING_SEALS in session.info:
        session.info[_PENDING_SEALS]["committed"] = False


def _vacuum_when_outermost_ends(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:  # a savepoint or a subtransaction ended
        return
    pending = session.info.get(_PENDING_SEALS)
    if not pending or not pending["seals"]:
        return
    seals, pending["seals"] = pending["seals"], []
    committed, pending["committed"] = pending["committed"], False
    if not committed:
        return
    slugs = sorted({slug for slug, _ in seals})
    ids = [xid for _, xid in seals if xid is not None]
    _vacuum_committed(session, slugs, max(ids) if ids else None)


def _seals_completed(slugs: Sequence[str]) -> Update:
    return update(Campaign).where(Campaign.slug.in_(list(slugs))).values(seal_pending=False)


def _vacuum_committed(session: Session, slugs: list[str], transaction_id: int | None) -> None:
    campaign_slug = ", ".join(slugs)
    bind = session.get_bind()
    if isinstance(bind, Connection):
        # The session joined a transaction its caller owns (tests do this): that transaction
        # is still open, and a vacuum would wait on it forever.
        log.info("seal of %s: vacuum left to the owner of the transaction", campaign_slug)
        return
    try:
        settled = reset_physical_order(bind, after_transaction=transaction_id, completes=slugs)
    except Exception:
        log.exception(
            "seal of %s: rows rewritten, but the vacuum failed; run `pingyi campaign seal %s` "
            "again",
            campaign_slug,
            campaign_slug,
        )
        return
    if not settled:
        log.warning(
            "seal of %s: older transactions were still running, so the vacuum may have kept "
            "old row versions; run `pingyi campaign seal %s` again when it is quiet",
            campaign_slug,
            campaign_slug,
        )
