"""What copies of a database's storage hold, as bytes, for the tests that look there for
plaintext or for order (privacy rule 6): the copies an administrator can take.

- PostgreSQL, read through the server itself (``pg_read_binary_file``: a superuser, or the
  ``pg_read_server_files`` role), so it works wherever the server runs: every file of the
  test database's directory and of the rest of the data directory (not other databases',
  not ``pg_wal``) after a ``CHECKPOINT``; every file in ``pg_wal``; an archive of the
  write-ahead log's pages since a given moment, as continuous archiving would keep them;
  and the output of ``pg_dump``.
- SQLite: the database file and its write-ahead log.
- :class:`Haystack`: where many byte strings occur in many such files, in one pass.

A copy that cannot be taken (no ``pg_dump`` of the server's version, no right to read the
server's files) skips the test with the reason, and fails it under ``CI=true``.
"""

import glob
import os
import re
import shutil
import struct
import subprocess
import uuid
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from tests.conftest import IN_CI

PREFIX_BYTES = 8  # every needle is at least this long: found by its first 8 bytes
CHUNK_WORDS = 1 << 21  # words of 8 bytes compared per step (bounds the memory used)
_TABLE_MASK = (1 << 22) - 1


def cannot_copy(message: str) -> NoReturn:
    """Skip with the reason, or fail under CI, where every copy must be checked."""
    if IN_CI:
        pytest.fail(f"CI=true but {message}")
    pytest.skip(message)


# --- finding byte strings ----------------------------------------------------------------------


class Haystack:
    """Labelled byte strings (files, pages, frames), searchable for many needles at once."""

    def __init__(self, chunks: Iterable[tuple[Any, bytes]]) -> None:
        self.labels: list[Any] = []
        self.starts: list[int] = []
        pieces: list[bytes] = []
        position = 0
        for label, chunk in chunks:
            self.labels.append(label)
            self.starts.append(position)
            pieces.append(chunk)
            position += len(chunk) + PREFIX_BYTES
        # Separators of zeros keep a needle from being found across two chunks.
        self.data = (b"\x00" * PREFIX_BYTES).join(pieces)
        self._found: dict[bytes, list[int]] = {}

    def __len__(self) -> int:
        return len(self.data)

    def positions(self, needles: Iterable[bytes]) -> dict[bytes, list[int]]:
        """Every position in :attr:`data` where each needle starts, in order. Needles
        searched for before are not searched for again: ask for all at once, then by part."""
        wanted = list(needles)
        self._found |= find_all(self.data, [n for n in wanted if n not in self._found])
        return {needle: self._found[needle] for needle in wanted}

    def label_at(self, position: int) -> Any:
        return self.labels[bisect_right(self.starts, position) - 1]

    def offset_in_chunk(self, position: int) -> int:
        return position - self.starts[bisect_right(self.starts, position) - 1]

    def context(self, position: int, length: int, margin: int = 24) -> bytes:
        return self.data[max(0, position - margin) : position + length + margin]


def find_all(data: bytes, needles: Iterable[bytes]) -> dict[bytes, list[int]]:
    """Where each needle (at least 8 bytes) occurs in ``data``: every 8-byte word at every
    offset is looked up among the needles' first words (numpy), then checked in full."""
    by_prefix: dict[int, list[bytes]] = defaultdict(list)
    found: dict[bytes, list[int]] = {}
    for needle in needles:
        if len(needle) < PREFIX_BYTES:
            raise ValueError(f"needle shorter than {PREFIX_BYTES} bytes: {needle!r}")
        if needle not in found:
            found[needle] = []
            by_prefix[int.from_bytes(needle[:PREFIX_BYTES], "little")].append(needle)
    if not found or len(data) < PREFIX_BYTES:
        return found
    keys = np.array(sorted(by_prefix), dtype=np.uint64)
    # A table of the keys' low bits passes few words but the keys: those few are looked up.
    table = np.zeros(_TABLE_MASK + 1, dtype=bool)
    table[keys & np.uint64(_TABLE_MASK)] = True
    buffer = np.frombuffer(data, dtype=np.uint8)
    for shift in range(PREFIX_BYTES):
        total = (len(data) - shift) // PREFIX_BYTES
        for first in range(0, total, CHUNK_WORDS):
            count = min(CHUNK_WORDS, total - first)
            start = shift + first * PREFIX_BYTES
            words = buffer[start : start + count * PREFIX_BYTES].view("<u8")
            passed = np.flatnonzero(table[words & np.uint64(_TABLE_MASK)])
            if not len(passed):
                continue
            candidates = words[passed]
            index = np.minimum(np.searchsorted(keys, candidates), len(keys) - 1)
            for hit in passed[keys[index] == candidates].tolist():
                position = start + hit * PREFIX_BYTES
                for needle in by_prefix[int(words[hit])]:
                    if data.startswith(needle, position):
                        found[needle].append(position)
    for positions in found.values():
        positions.sort()
    return found


# --- PostgreSQL -------------------------------------------------------------------------------

_READ_FILE = text(
    "SELECT pg_read_binary_file(:path, 0, (pg_stat_file(:path, true)).size + :slack, true)"
)
_SLACK = 1 << 20  # a file may grow while it is read; a read stops at its end
_LIST_DIRECTORY = text(
    "SELECT name, (pg_stat_file(:path || '/' || name, true)).isdir "
    "FROM pg_ls_dir(:path, true, false) AS name ORDER BY name"
)


class ServerFiles:
    """The server's data directory: read here when this machine sees the same cluster's
    directory (much faster), else through the server (``pg_read_binary_file``)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        try:
            connection.execute(text("SELECT pg_ls_dir('.')")).all()
            connection.execute(text("SELECT pg_read_binary_file('PG_VERSION')")).scalar_one()
        except DBAPIError as error:
            connection.rollback()
            cannot_copy(f"cannot read the server's files ({str(error.orig).splitlines()[0]})")
        self.local = self._local_directory()

    def _local_directory(self) -> Path | None:
        directory = Path(str(self.connection.scalar(text("SHOW data_directory"))))
        try:
            control = (directory / "global" / "pg_control").read_bytes()
        except OSError:
            return None
        system = self.connection.scalar(text("SELECT system_identifier FROM pg_control_system()"))
        return directory if int.from_bytes(control[:8], "little") == int(system) else None

    def listing(self, path: str) -> list[tuple[str, bool | None]]:
        """(name, whether a directory; None if gone since it was listed)."""
        if self.local is None:
            return [
                (name, is_directory)
                for name, is_directory in self.connection.execute(_LIST_DIRECTORY, {"path": path})
            ]
        try:
            entries = list(os.scandir(self.local / path))
        except FileNotFoundError:
            return []
        listed: list[tuple[str, bool | None]] = []
        for entry in sorted(entries, key=lambda entry: entry.name):
            try:
                listed.append((entry.name, entry.is_dir(follow_symlinks=False)))
            except FileNotFoundError:
                listed.append((entry.name, None))
        return listed

    def read(self, path: str, offset: int = 0, length: int | None = None) -> bytes | None:
        """The file's bytes from ``offset`` (``length`` of them, or to its end); None if it
        is gone."""
        if self.local is not None:
            try:
                with (self.local / path).open("rb") as file:
                    file.seek(offset)
                    return file.read() if length is None else file.read(length)
            except FileNotFoundError:
                return None
        if length is None:
            value = self.connection.execute(_READ_FILE, {"path": path, "slack": _SLACK})
        else:
            value = self.connection.execute(
                text("SELECT pg_read_binary_file(:path, :offset, :length, true)"),
                {"path": path, "offset": offset, "length": length},
            )
        data = value.scalar_one()
        return None if data is None else bytes(data)


def _files_under(files: ServerFiles, path: str, skip: set[str]) -> list[tuple[str, bytes]]:
    found: list[tuple[str, bytes]] = []
    for name, is_directory in files.listing(path):
        child = name if path == "." else f"{path}/{name}"
        if child in skip or is_directory is None:  # skipped, or gone since it was listed
            continue
        if is_directory:
            found += _files_under(files, child, skip)
        elif (data := files.read(child)) is not None:
            found.append((child, data))
    return found


def database_files(engine: Engine) -> list[tuple[str, bytes]]:
    """After a CHECKPOINT (so every change is in the files): every file of this database's
    directory and of the rest of the data directory, except other databases' and pg_wal."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        files = ServerFiles(connection)
        connection.execute(text("CHECKPOINT"))
        own = connection.scalar(
            text("SELECT oid FROM pg_database WHERE datname = current_database()")
        )
        skip = {"pg_wal"} | {
            f"base/{name}"
            for (name,) in connection.execute(text("SELECT pg_ls_dir('base')"))
            if name != str(own) and name != "pgsql_tmp"
        }
        return _files_under(files, ".", skip)


def wal_files(engine: Engine) -> list[tuple[str, bytes]]:
    """Every file in pg_wal, as a copy of the directory would hold them (segments recycled
    for later use still hold what they held). Each segment's pages are given without their
    headers, so a value that a page boundary cut in two is whole again; the segments are in
    the order of their names, which is log order."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        page_size = int(connection.scalar(text("SHOW wal_block_size")) or 8192)
        segments = _files_under(ServerFiles(connection), "pg_wal", set())
    stripped = [(name, _without_page_headers(data, page_size)) for name, data in segments]
    # Where a segment ends and the next begins, a value may be cut in two.
    seams = [
        (f"{first}+{second}", before[-_SEAM:] + after[:_SEAM])
        for (first, before), (second, after) in pairwise(stripped)
    ]
    return stripped + seams


_SEAM = 4096  # bytes on either side of the seam between two segments


def _without_page_headers(data: bytes, page_size: int) -> bytes:
    if len(data) < page_size or _PAGE_HEADER.unpack_from(data)[0] == 0:
        return data  # not a segment (a history or status file), or never written
    pieces = []
    for offset in range(0, len(data), page_size):
        page = data[offset : offset + page_size]
        info = _PAGE_HEADER.unpack_from(page)[1] if len(page) >= _PAGE_HEADER.size else 0
        pieces.append(page[_LONG_HEADER if info & _LONG_HEADER_FLAG else _SHORT_HEADER :])
    return b"".join(pieces)


def pg_dump_binary(engine: Engine) -> str:
    """A pg_dump of at least the server's major version: on PATH, or in Debian's
    /usr/lib/postgresql/<version>/bin."""
    with engine.connect() as connection:
        major = int(connection.scalar(text("SHOW server_version_num")) or 0) // 10000
    candidates = [f"/usr/lib/postgresql/{major}/bin/pg_dump", shutil.which("pg_dump") or ""]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"), reverse=True)
    for candidate in candidates:
        if not candidate or not Path(candidate).is_file():
            continue
        shown = subprocess.run(
            [candidate, "--version"], capture_output=True, text=True, check=False
        ).stdout
        version = re.search(r"(\d+)(?:\.\d+)?", shown)
        if version and int(version.group(1)) >= major:
            return candidate
    cannot_copy(f"no pg_dump of version {major} or later (PATH, /usr/lib/postgresql/*/bin)")


def pg_dump(engine: Engine) -> bytes:
    """The plain-text dump of the whole database, as an administrator's backup would be."""
    binary = pg_dump_binary(engine)
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    result = subprocess.run(
        [binary, "--no-password", "--dbname", url],
        capture_output=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


# The write-ahead log's pages (src/include/access/xlog_internal.h): each page starts with a
# header whose xlp_pageaddr is the page's own position in the log (its LSN); the first page
# of a segment has the long header.
_PAGE_HEADER = struct.Struct("<HHIQI")  # magic, info, timeline, pageaddr, rem_len
_SHORT_HEADER = 24
_LONG_HEADER = 40
_LONG_HEADER_FLAG = 0x0002  # XLP_LONG_HEADER


def lsn_value(lsn: str) -> int:
    high, low = lsn.split("/")
    return (int(high, 16) << 32) | int(low, 16)


@dataclass
class WalArchive:
    """The write-ahead log's pages since the archive began, copied from pg_wal each time
    :meth:`capture` runs, as continuous archiving would keep them.

    While the archive is open (:meth:`kept`) a temporary replication slot makes the server
    keep every segment written since it began, as an archiver that has not yet copied them
    would: a checkpoint (anyone's) would otherwise remove or recycle them. Only pages whose
    header names their own position are kept: a recycled segment holds pages of older
    positions until it is written over. A page copied again later (the last, partly written
    page of a capture) replaces its earlier copy. :func:`wal_stream` gives the pages'
    contents without their headers, in log order.
    """

    start: int
    segment_size: int
    page_size: int
    timeline: int
    pages: dict[int, bytes] = field(default_factory=dict)
    copied_to: int = 0  # the first page not yet copied in full

    @classmethod
    @contextmanager
    def kept(cls, engine: Engine) -> Iterator["WalArchive"]:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            ServerFiles(connection)  # or skip: the archive copies pg_wal's files
            try:  # a temporary slot goes when this session ends, however the test ends
                connection.execute(
                    text("SELECT pg_create_physical_replication_slot(:name, true, true)"),
                    {"name": f"pingyi_test_archive_{uuid.uuid4().hex[:12]}"},
                )
            except DBAPIError as error:
                cannot_copy(f"cannot keep the log ({str(error.orig).splitlines()[0]})")
            yield cls._begin(connection)

    @classmethod
    def _begin(cls, connection: Connection) -> "WalArchive":
        start = lsn_value(connection.scalar(text("SELECT pg_current_wal_flush_lsn()::text")))
        settings: dict[str, str] = dict(
            connection.execute(
                text(
                    "SELECT name, setting FROM pg_settings "
                    "WHERE name IN ('wal_segment_size', 'wal_block_size')"
                )
            ).all()
        )
        timeline = connection.scalar(text("SELECT timeline_id FROM pg_control_checkpoint()"))
        page_size = int(settings["wal_block_size"])
        archive = cls(
            start=start,
            segment_size=int(settings["wal_segment_size"]),
            page_size=page_size,
            timeline=int(timeline),
        )
        archive.copied_to = start - start % page_size
        return archive

    def segment_name(self, position: int) -> str:
        number = position // self.segment_size
        per_id = 0x1_0000_0000 // self.segment_size
        return f"{self.timeline:08X}{number // per_id:08X}{number % per_id:08X}"

    def capture(self, engine: Engine) -> int:
        """Copy the pages written since the last capture; the log's flushed end (an LSN)."""
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            files = ServerFiles(connection)
            end = lsn_value(connection.scalar(text("SELECT pg_current_wal_flush_lsn()::text")))
            end_page = -(-end // self.page_size) * self.page_size  # rounded up to a page
            position = self.copied_to
            while position < end_page:
                segment_start = position - position % self.segment_size
                upto = min(end_page, segment_start + self.segment_size)
                path = f"pg_wal/{self.segment_name(position)}"
                data = files.read(path, position - segment_start, upto - position) or b""
                for offset in range(0, len(data) - self.page_size + 1, self.page_size):
                    page = data[offset : offset + self.page_size]
                    if _PAGE_HEADER.unpack_from(page)[3] == position + offset:
                        self.pages[position + offset] = page
                position = upto
        self.copied_to = end - end % self.page_size
        return end

    def missing_pages(self, upto: int) -> list[int]:
        first = self.start - self.start % self.page_size
        return [page for page in range(first, upto, self.page_size) if page not in self.pages]

    def snapshot(self) -> dict[int, bytes]:
        return dict(self.pages)


@dataclass(frozen=True)
class WalRecord:
    """One record of PostgreSQL's write-ahead log (src/include/access/xlogrecord.h): where it
    is in the stream, its (top-level) transaction, resource manager and info bits, the block
    each of its block references names, and its main data."""

    start: int
    end: int
    xid: int
    rmid: int
    info: int
    blocks: tuple[tuple[int, int], ...]  # (relation file number, block number)
    block_data: tuple[tuple[int, int], ...]  # (start, length) of each block's data
    main: bytes


_RECORD_HEADER = struct.Struct("<IIQBB2xI")  # xl_tot_len, xl_xid, xl_prev, xl_info, xl_rmid, crc
_BLOCK_HEADER = struct.Struct("<BBH")  # id, fork_flags, data_length
_IMAGE_HEADER = struct.Struct("<HHB")  # length, hole_offset, bimg_info
_MAX_BLOCK_ID = 32
_DATA_SHORT, _DATA_LONG, _ORIGIN, _TOPLEVEL_XID = 255, 254, 253, 252
_HAS_IMAGE, _SAME_REL = 0x10, 0x80
_IMAGE_HAS_HOLE, _IMAGE_COMPRESSED = 0x01, 0x04 | 0x08 | 0x10  # PostgreSQL 15
_HEAP2_RMGR, _HEAP_RMGR = 9, 10
_HEAP_INSERT, _HEAP_UPDATE, _HEAP_HOT_UPDATE = 0x00, 0x20, 0x40
_HEAP2_MULTI_INSERT = 0x50
_HEAP_OPCODE = 0x70
_HEAP_INIT_PAGE = 0x80
_MULTI_INSERT_TUPLE_HEADER = 7  # datalen, t_infomask2, t_infomask, t_hoff
_HEAP_UPDATE_DATA = struct.Struct("<IHBBIH")  # old xmax and offnum, bits, flags, new xmax, offnum


@dataclass
class WalStream:
    """Pages of the log without their headers, in log order: one stream in which a record
    cut by page boundaries is whole again. ``offsets[i]`` is where page ``i``'s contents begin
    in the stream, ``lsns[i]`` their LSN, ``continued[i]`` the bytes of a record begun on an
    earlier page that open it (``xlp_rem_len``)."""

    data: bytes
    offsets: list[int]
    lsns: list[int]
    continued: list[int]

    def lsn(self, position: int) -> int:
        index = bisect_right(self.offsets, position) - 1
        return self.lsns[index] + position - self.offsets[index]

    def _first_record_from(self, page: int) -> int | None:
        """Where the first record beginning on page ``page`` or later begins."""
        while page < len(self.offsets):
            start = self.offsets[page] + (-(-self.continued[page] // 8) * 8)
            page_end = self.offsets[page + 1] if page + 1 < len(self.offsets) else len(self.data)
            if start < page_end:
                return start
            page += 1
        return None

    @cached_property
    def records(self) -> list[WalRecord]:
        """Every record, walked from the first that begins in the stream. Where the walk
        meets something that is not a record (the zeros after a segment switch) it starts
        again at the next page's first record."""
        found: list[WalRecord] = []
        data = self.data
        position = self._first_record_from(0)
        while position is not None and position + _RECORD_HEADER.size <= len(data):
            record = self._record_at(position)
            if record is None:
                position = self._first_record_from(bisect_right(self.offsets, position))
                continue
            found.append(record)
            position = record.start + -(-(record.end - record.start) // 8) * 8
        return found

    def _first_occurrences(self, values: dict[Any, bytes]) -> dict[Any, tuple[int, int]]:
        """Where each value first occurs: the index of the record, and the position."""
        starts = [record.start for record in self.records]
        found = find_all(self.data, values.values())
        return {
            key: (bisect_right(starts, found[value][0]) - 1, found[value][0])
            for key, value in values.items()
            if found[value] and starts and found[value][0] >= starts[0]
        }

    def transactions(self, values: dict[Any, bytes]) -> dict[Any, float | None]:
        """The transaction of the record in which each value first occurs: for a new row's
        unique value, the transaction that inserted it."""
        first = self._first_occurrences(values)
        return {
            key: float(self.records[first[key][0]].xid) if key in first else None for key in values
        }

    def first_updates(self, rows: dict[Any, bytes]) -> dict[Any, float | None]:
        """The transaction that first updated each row, found by following it through the
        heap records: from the insert holding its value first (block and line pointer), to
        each update naming that place (an update of a used code need not log the code again:
        it may log only what changed)."""
        inserted: dict[int, list[tuple[int, Any]]] = defaultdict(list)
        for key, (index, position) in self._first_occurrences(rows).items():
            inserted[index].append((position, key))
        place: dict[tuple[int, int, int], Any] = {}
        updated: dict[Any, float | None] = dict.fromkeys(rows)
        for index, record in enumerate(self.records):
            if not record.blocks:
                continue
            if index in inserted:
                place |= _inserted_places(record, inserted[index], self.data)
            operation = record.info & _HEAP_OPCODE
            if record.rmid == _HEAP_RMGR and operation in (_HEAP_UPDATE, _HEAP_HOT_UPDATE):
                if len(record.main) < _HEAP_UPDATE_DATA.size:
                    continue
                _xmax, old_offset, _bits, _flags, _new_xmax, new_offset = (
                    _HEAP_UPDATE_DATA.unpack_from(record.main)
                )
                old_block = record.blocks[1] if len(record.blocks) > 1 else record.blocks[0]
                key = place.pop((*old_block, old_offset), None)
                if key is not None:
                    if updated[key] is None:
                        updated[key] = float(record.xid)
                    place[(*record.blocks[0], new_offset)] = key
        return updated

    def _record_at(self, start: int) -> WalRecord | None:
        data = self.data
        total, xid, _prev, info, rmid, _crc = _RECORD_HEADER.unpack_from(data, start)
        end = start + total
        if total < _RECORD_HEADER.size or end > len(data):
            return None
        position = start + _RECORD_HEADER.size
        blocks: list[tuple[int, int]] = []
        sizes: list[tuple[int, int]] = []  # image and data length of each block
        main_length = 0
        relation = -1
        while position < end:
            block_id = data[position]
            if block_id == _DATA_SHORT:
                main_length = data[position + 1]
                position += 2
                break
            if block_id == _DATA_LONG:
                main_length = int.from_bytes(data[position + 1 : position + 5], "little")
                position += 5
                break
            if block_id == _ORIGIN:
                position += 3
                continue
            if block_id == _TOPLEVEL_XID:
                xid = int.from_bytes(data[position + 1 : position + 5], "little")
                position += 5
                continue
            if block_id > _MAX_BLOCK_ID:
                return None
            _id, fork_flags, data_length = _BLOCK_HEADER.unpack_from(data, position)
            position += _BLOCK_HEADER.size
            image_length = 0
            if fork_flags & _HAS_IMAGE:
                image_length, _hole, image_info = _IMAGE_HEADER.unpack_from(data, position)
                position += _IMAGE_HEADER.size
                if image_info & _IMAGE_HAS_HOLE and image_info & _IMAGE_COMPRESSED:
                    position += 2
            sizes.append((image_length, data_length))
            if not fork_flags & _SAME_REL:
                relation = int.from_bytes(data[position + 8 : position + 12], "little")
                position += 12
            blocks.append((relation, int.from_bytes(data[position : position + 4], "little")))
            position += 4
        block_data = []
        for image_length, data_length in sizes:
            position += image_length
            block_data.append((position, data_length))
            position += data_length
        if position + main_length > end:
            return None
        main = data[position : position + main_length]
        return WalRecord(start, end, xid, rmid, info, tuple(blocks), tuple(block_data), main)


def _inserted_places(
    record: WalRecord, rows: list[tuple[int, Any]], data: bytes
) -> dict[tuple[int, int, int], Any]:
    """Where an insert record put the rows whose values it holds (by position in the
    stream): one row and its line pointer for a heap insert; for a multi-insert (a bulk
    INSERT or COPY), the tuples in its block data, in the order of their line pointers
    (listed in its main data, or 1, 2, … on a new page)."""
    operation = record.info & _HEAP_OPCODE
    block = record.blocks[0]
    if record.rmid == _HEAP_RMGR and operation == _HEAP_INSERT and len(record.main) >= 2:
        offset = int.from_bytes(record.main[:2], "little")
        return {(*block, offset): key for _position, key in rows[:1]}
    if record.rmid != _HEAP2_RMGR or operation != _HEAP2_MULTI_INSERT or len(record.main) < 4:
        return {}
    count = int.from_bytes(record.main[2:4], "little")
    if record.info & _HEAP_INIT_PAGE:
        offsets = list(range(1, count + 1))
    else:
        offsets = [
            int.from_bytes(record.main[4 + 2 * i : 6 + 2 * i], "little") for i in range(count)
        ]
    start, length = record.block_data[0]
    ends = []  # where each tuple's data ends, in the stream
    position = start
    for _ in range(count):
        position += (position - start) % 2  # each tuple's header is aligned to 2 bytes
        tuple_length = int.from_bytes(data[position : position + 2], "little")
        position += _MULTI_INSERT_TUPLE_HEADER + tuple_length
        ends.append(position)
    if not length or position > start + length:
        return {}  # the tuples are in a page image only
    return {
        (*block, offsets[bisect_right(ends, found)]): key
        for found, key in rows
        if start <= found < position
    }


def wal_stream(pages: dict[int, bytes]) -> WalStream:
    """The pages' contents without headers, in log order (see :class:`WalStream`)."""
    pieces: list[bytes] = []
    stream = WalStream(b"", [], [], [])
    position = 0
    for page_lsn in sorted(pages):
        page = pages[page_lsn]
        _magic, info, _timeline, _address, continued = _PAGE_HEADER.unpack_from(page)
        header = _LONG_HEADER if info & _LONG_HEADER_FLAG else _SHORT_HEADER
        stream.offsets.append(position)
        stream.lsns.append(page_lsn + header)
        stream.continued.append(continued)
        pieces.append(page[header:])
        position += len(page) - header
    stream.data = b"".join(pieces)
    return stream


# --- SQLite -----------------------------------------------------------------------------------


def sqlite_files(engine: Engine) -> list[tuple[str, bytes]]:
    """The database file and its write-ahead log, as a copy of the directory would hold."""
    assert engine.url.database is not None
    database = Path(engine.url.database)
    files = []
    for path in (database, Path(f"{database}-wal")):
        if path.exists():
            files.append((path.name, path.read_bytes()))
    return files


def sqlite_wal_size(engine: Engine) -> int:
    assert engine.url.database is not None
    wal = Path(f"{engine.url.database}-wal")
    return wal.stat().st_size if wal.exists() else 0
