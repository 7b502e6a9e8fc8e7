"""A consistent copy of a SQLite database while the service runs (``pingyi backup``).

SQLite's online backup API copies the pages of one read snapshot, so the copy is the
database as some committed transaction left it, with writers carrying on meanwhile (in WAL
mode a reader does not block them). The copy is written to a temporary file beside the
destination, switched to a single-file journal mode, checked, fsynced, and then linked into
place, which fails if the destination exists: a backup never overwrites anything.

PostgreSQL is not copied here: its backups are continuous archiving (base backups and the
archived write-ahead log), which restore to the last acknowledged ballot
(``docs/operations-backup.md``).
"""

import os
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from app.ops.high_water import fsync_directory

BUSY_TIMEOUT_SECONDS = 30


class BackupRefused(Exception):
    """The backup was not made; the message says why, naming the file."""


@dataclass(frozen=True)
class BackupMade:
    path: Path
    size: int  # bytes


def backup_sqlite(database: Path, out: Path) -> BackupMade:
    """Copy the SQLite database ``database`` to the new file ``out``."""
    if not database.is_file():
        raise BackupRefused(f"The database {database} does not exist")
    out = out.absolute()
    if out.exists() or out.is_symlink():
        raise BackupRefused(f"{out} already exists; a backup is written to a new file")
    if not out.parent.is_dir():
        raise BackupRefused(f"The directory {out.parent} does not exist")
    draft = out.with_name(f".{out.name}.{secrets.token_hex(8)}.partial")
    os.close(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        _copy(database, draft)
        descriptor = os.open(draft, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        try:
            os.link(draft, out)  # a rename that refuses to replace an existing file
        except FileExistsError:
            raise BackupRefused(
                f"{out} already exists; a backup is written to a new file"
            ) from None
    finally:
        for leftover in (draft, draft.with_name(draft.name + "-journal")):
            leftover.unlink(missing_ok=True)
    fsync_directory(out.parent)
    return BackupMade(out, out.stat().st_size)


def _copy(database: Path, draft: Path) -> None:
    source = sqlite3.connect(database, timeout=BUSY_TIMEOUT_SECONDS)
    try:
        target = sqlite3.connect(draft)
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            (verdict,) = target.execute("PRAGMA quick_check").fetchone()
            if verdict != "ok":
                raise BackupRefused(f"The copy of {database} fails SQLite's check: {verdict}")
        finally:
            target.close()
    finally:
        source.close()
