"""Files only their owner may read (codes, one-time passwords, staff passwords), written so
that no other local user can read them even for a moment, and no reader sees half a file.

:func:`create_private` makes an empty file with mode 0600 whatever the umask, failing if the
name exists; :func:`private_text` writes a text file through such a draft beside its target,
synced to disk and renamed into place only when complete. ``app.admission.code_files`` builds
its all-or-none batches of files on :func:`create_private` too.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

PRIVATE_MODE = 0o600  # read and write for the owner, nothing for anyone else
DRAFT_SUFFIX = ".partial"


def create_private(path: Path) -> None:
    """Create ``path`` empty, readable by its owner only; :class:`FileExistsError` if it
    exists (a file made by someone else is never reused, nor its mode trusted)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    os.fchmod(descriptor, PRIVATE_MODE)  # the umask may have taken bits away, never added
    os.close(descriptor)


@contextmanager
def private_text(target: Path) -> Iterator[TextIO]:
    """A UTF-8 text stream (newlines untranslated, for CSV) whose content becomes ``target``,
    mode 0600, when the block ends without an exception; ``target`` is replaced if it exists.
    On an exception the draft is removed and ``target`` is left as it was."""
    target.parent.mkdir(parents=True, exist_ok=True)
    draft = target.with_name(f".{target.name}.{os.getpid()}{DRAFT_SUFFIX}")
    draft.unlink(missing_ok=True)  # this process's own leftover
    create_private(draft)
    try:
        with draft.open("w", encoding="utf-8", newline="") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(draft, target)
    except BaseException:
        draft.unlink(missing_ok=True)
        raise
