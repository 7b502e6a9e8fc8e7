"""Free disk space where Pingyi writes: ``var_dir`` and, on SQLite, the database's directory.

A full disk turns every ballot into an error; readiness says so first, so a load balancer
sends raters elsewhere and the operator is told before the database is.
"""

import shutil
from pathlib import Path

from sqlalchemy.engine import URL, make_url

MEBIBYTE = 1024 * 1024


def watched_paths(var_dir: Path, database_url: str | URL) -> list[Path]:
    """The directories whose disks must keep free space."""
    paths = [var_dir]
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        paths.append(Path(url.database).parent)
    return paths


def free_bytes(path: Path) -> int:
    """Free space on the disk holding ``path`` (or its nearest existing parent)."""
    existing = path.resolve()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return shutil.disk_usage(existing).free


def short_of_space(var_dir: Path, database_url: str | URL, min_free_mb: int) -> list[Path]:
    """The watched directories with less than ``min_free_mb`` MiB free (none: empty)."""
    minimum = min_free_mb * MEBIBYTE
    return [path for path in watched_paths(var_dir, database_url) if free_bytes(path) < minimum]
