"""Evidence files for completion reports: checked by content, stored out of reach, served as
downloads only.

- **Size**: at most :data:`MAX_EVIDENCE_BYTES` each (the console's request limit is 4 MiB).
- **Type** from the first bytes, never the name or the browser's claim: PDF, JPEG, PNG, and
  ZIP containers that are Office Open XML spreadsheets or documents (XLSX, DOCX: the archive
  must hold ``[Content_Types].xml`` and ``xl/`` or ``word/``). Anything else is refused.
- **Storage**: under ``settings.var_dir / "evidence"`` (never the static directory), each file
  under a random 128-bit name, created exclusively with mode 0600 in a 0700 directory.
- **Serving** (:func:`download_headers`): always ``Content-Disposition: attachment``, the type
  decided at upload and a sandboxing CSP; every response already carries
  ``X-Content-Type-Options: nosniff`` (:mod:`app.middleware.security_headers`), so no browser
  renders an upload as a page of this site.
"""

import hashlib
import io
import os
import secrets
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from app.config import get_settings
from app.errors import InvalidInput
from app.i18n import N_

MAX_EVIDENCE_BYTES = 3 * 1024 * 1024  # 3 MiB, under the console's 4 MiB request limit
EVIDENCE_DIR_NAME = "evidence"
STORED_NAME_BYTES = 16  # 128 random bits, as hex
MAX_SHOWN_NAME = 120  # characters of the uploaded name kept for display

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
EXTENSIONS = {PDF: ".pdf", JPEG: ".jpg", PNG: ".png", XLSX: ".xlsx", DOCX: ".docx"}

TOO_LARGE = N_("An evidence file may be at most %(megabytes)s MB; “%(name)s” is larger.")
EMPTY = N_("“%(name)s” is empty.")
WRONG_TYPE = N_(
    "“%(name)s” is not a PDF, JPEG, PNG, XLSX or DOCX file (checked by its content, not its name)."
)


@dataclass(frozen=True)
class StoredEvidence:
    stored_name: str
    file_name: str
    media_type: str
    size_bytes: int
    sha256: str


def sniff(data: bytes) -> str | None:
    """The media type ``data`` really is, among those accepted, or None."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"PK\x03\x04"):
        return _office_type(data)
    return None


def _office_type(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    if any(name.startswith("xl/") for name in names):
        return XLSX
    if any(name.startswith("word/") for name in names):
        return DOCX
    return None


def clean_file_name(name: str | None, media_type: str) -> str:
    """A name to show and offer on download: no path, no control or format characters, and
    the extension of the type found, whatever the uploaded name said."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] not in "CZ" or ch == " ")
    stem = base.rsplit(".", 1)[0].strip(" .") if "." in base else base.strip(" .")
    stem = stem[:MAX_SHOWN_NAME] or "evidence"
    return stem + EXTENSIONS[media_type]


def evidence_dir() -> Path:
    directory = get_settings().var_dir / EVIDENCE_DIR_NAME
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return directory


def check(data: bytes, name: str | None) -> str:
    """The media type of an upload, or :class:`InvalidInput` saying what is wrong with it."""
    shown = name or "?"
    if len(data) > MAX_EVIDENCE_BYTES:
        raise InvalidInput(
            TOO_LARGE, field="evidence", megabytes=MAX_EVIDENCE_BYTES // (1024 * 1024), name=shown
        )
    if not data:
        raise InvalidInput(EMPTY, field="evidence", name=shown)
    media_type = sniff(data)
    if media_type is None:
        raise InvalidInput(WRONG_TYPE, field="evidence", name=shown)
    return media_type


def store(data: bytes, name: str | None) -> StoredEvidence:
    """Check and write one upload; returns what to record. The caller records it in the
    same transaction; a file whose transaction rolls back is left unreferenced."""
    media_type = check(data, name)
    stored_name = secrets.token_hex(STORED_NAME_BYTES)
    path = evidence_dir() / stored_name
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(data)
    return StoredEvidence(
        stored_name=stored_name,
        file_name=clean_file_name(name, media_type),
        media_type=media_type,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def read(stored_name: str) -> bytes:
    if len(stored_name) != STORED_NAME_BYTES * 2 or not all(
        ch in "0123456789abcdef" for ch in stored_name
    ):
        raise ValueError(f"not a stored evidence name: {stored_name!r}")
    return (evidence_dir() / stored_name).read_bytes()


def download_headers(file_name: str) -> dict[str, str]:
    """Headers that make any browser save the file rather than show it."""
    ascii_name = "".join(
        ch if (ch.isascii() and ch.isalnum()) or ch in "._-" else "_" for ch in file_name
    )
    return {
        "Content-Disposition": (
            f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(file_name)}"
        ),
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "no-store",
    }
