"""The files that hold a new batch's only copy of its codes (a CSV file, a PDF of slips).

Each is written as a draft beside its target (``.NAME.PID.partial``, readable by its owner
only), synced to disk, and put in place only once every file of the batch is complete, by a
hard link that fails rather than replace a file made in the meantime. A process killed while
drawing leaves a draft, never a file under the name asked for, so the same command can run
again; drafts whose process is gone are removed when that name is next used.
"""

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

from app import private_files

DRAFT_SUFFIX = ".partial"


@dataclass(frozen=True)
class Draft:
    target: Path  # the name asked for
    path: Path  # where it is written meanwhile


def draft_path(target: Path, pid: int) -> Path:
    return target.with_name(f".{target.name}.{pid}{DRAFT_SUFFIX}")


def open_draft(target: Path) -> Draft:
    """Create ``target``'s (empty) draft, after removing any left by a process now gone.

    Raises :class:`FileExistsError` if ``target`` exists, :class:`OSError` if the directory
    cannot be made or written.
    """
    if target.exists():
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_drafts(target)
    path = draft_path(target, os.getpid())
    private_files.create_private(path)
    return Draft(target=target, path=path)


def remove_stale_drafts(target: Path) -> list[Path]:
    """Remove drafts of ``target`` whose process no longer runs; the paths removed.

    Such a draft holds codes of a batch that was never made ready, which admit no one.
    """
    removed = []
    for path in target.parent.glob(f".{target.name}.*{DRAFT_SUFFIX}"):
        pid_text = path.name[len(target.name) + 2 : -len(DRAFT_SUFFIX)]
        if pid_text.isdigit() and not _process_runs(int(pid_text)):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@contextmanager
def text_stream(draft: Draft) -> Iterator[TextIO]:
    """The draft as a UTF-8 text stream (for CSV), synced to disk when the block ends."""
    with draft.path.open("w", encoding="utf-8", newline="") as stream:
        yield stream
        stream.flush()
        os.fsync(stream.fileno())


@contextmanager
def binary_stream(draft: Draft) -> Iterator[BinaryIO]:
    """The draft as a binary stream (for a PDF), synced to disk when the block ends."""
    with draft.path.open("wb") as stream:
        yield stream
        stream.flush()
        os.fsync(stream.fileno())


def put_in_place(drafts: list[Draft]) -> None:
    """Give every draft its target's name, all or none; raises :class:`FileExistsError` if
    a target appeared meanwhile (nothing is replaced)."""
    placed: list[Path] = []
    try:
        for draft in drafts:
            os.link(draft.path, draft.target)
            placed.append(draft.target)
    except BaseException:
        for path in placed:
            path.unlink(missing_ok=True)
        raise
    for draft in drafts:
        draft.path.unlink(missing_ok=True)
    for directory in {draft.target.parent for draft in drafts}:
        _sync_directory(directory)


def discard(drafts: list[Draft]) -> None:
    for draft in drafts:
        draft.path.unlink(missing_ok=True)


def _process_runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it runs
        return True
    return True


def _sync_directory(directory: Path) -> None:
    """Make the new names durable (a rename or link is a change to the directory)."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
