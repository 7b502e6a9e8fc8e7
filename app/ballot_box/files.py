"""The files of an offline tally: an exported ballot box, and the tally made from it.

``box.bin`` (:func:`write_box`) holds what opening the box needs and nothing more: the
campaign's slug, tally key fingerprint, frozen questionnaire, rater groups, departments and
the names to scrub from comments; the number of ballots and the hash of their sorted
trackers; then each ballot as its stored tracker and ciphertext. It is as safe to carry as
the database itself: without the trustees' shares the ballots are unreadable.

``tally.bin`` (:func:`write_tally`) is what an offline tally produced from such a box: the
box's count and hash (so the import can refuse a tally of another box), the trackers it could
not count with the reason, then the evaluations and the scrubbed comments, each list in its
own random order, one JSON object per line.

Both are written to a temporary file beside the target, flushed to disk, and renamed into
place, so a file that exists is whole; an existing file is never overwritten.
"""

import json
import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from app.ballot_box import opening
from app.comments import scrub
from app.errors import InvalidInput
from app.i18n import N_
from app.surveys.schemas import Questionnaire

BOX_MAGIC = b"PINGYI-BALLOT-BOX/1\n"
TALLY_MAGIC = b"PINGYI-TALLY/1\n"
TRACKER_BYTES = 32
LENGTH_BYTES = 4
MAX_HEADER_BYTES = 16 << 20  # a frozen questionnaire is a few KiB
MAX_CIPHERTEXT_BYTES = 2 << 20

FILE_EXISTS = N_("%(path)s already exists; choose a new file name.")
NOT_A_BOX = N_("%(path)s is not an exported ballot box, or it is damaged (%(problem)s).")
NOT_A_TALLY = N_("%(path)s is not a tally file, or it is damaged (%(problem)s).")
WRONG_CAMPAIGN = N_("%(path)s is the tally of campaign “%(other)s”, not of “%(slug)s”.")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BoxHeader(_Strict):
    campaign: str
    title: str
    fingerprint: str  # hex
    threshold: int
    share_count: int
    questionnaire: dict[str, Any]
    rater_groups: list[str]
    targets: list[str]
    scrub_names: list[str]
    ballots: int
    box_digest: str  # hex

    def context(self) -> opening.BoxContext:
        return opening.BoxContext(
            campaign_slug=self.campaign,
            key_fingerprint=bytes.fromhex(self.fingerprint),
            questionnaire=Questionnaire.model_validate(self.questionnaire),
            rater_groups=frozenset(self.rater_groups),
            targets=frozenset(self.targets),
            scrub_names=tuple(self.scrub_names),
        )


class TallyHeader(_Strict):
    campaign: str
    fingerprint: str
    ballots_in_box: int
    ballots_counted: int
    box_digest: str
    rejected: list[tuple[str, str]]


@contextmanager
def new_file(path: Path) -> Iterator[IO[bytes]]:
    """A binary stream that becomes ``path`` only when the block ends without error."""
    if path.exists():
        raise InvalidInput(FILE_EXISTS, field="out", path=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        try:
            os.link(draft, path)  # fails rather than replace a file made in the meantime
        except FileExistsError:
            raise InvalidInput(FILE_EXISTS, field="out", path=str(path)) from None
    finally:
        draft.unlink(missing_ok=True)


def write_box(stream: IO[bytes], header: BoxHeader, sealed: Iterable[tuple[bytes, bytes]]) -> int:
    stream.write(BOX_MAGIC)
    stream.write(header.model_dump_json().encode() + b"\n")
    written = 0
    for tracker, ciphertext in sealed:
        stream.write(tracker + len(ciphertext).to_bytes(LENGTH_BYTES, "big") + ciphertext)
        written += 1
    return written


@dataclass
class BoxFile:
    header: BoxHeader
    path: Path

    def ballots(self) -> Iterator[tuple[bytes, bytes]]:
        """Each ``(tracker, ciphertext)``, read one at a time."""
        with self.path.open("rb") as stream:
            _read_header(stream, self.path)
            for _ in range(self.header.ballots):
                tracker = stream.read(TRACKER_BYTES)
                length = int.from_bytes(stream.read(LENGTH_BYTES), "big")
                if len(tracker) != TRACKER_BYTES or not 0 < length <= MAX_CIPHERTEXT_BYTES:
                    raise InvalidInput(NOT_A_BOX, path=str(self.path), problem="truncated")
                ciphertext = stream.read(length)
                if len(ciphertext) != length:
                    raise InvalidInput(NOT_A_BOX, path=str(self.path), problem="truncated")
                yield tracker, ciphertext
            if stream.read(1):
                raise InvalidInput(NOT_A_BOX, path=str(self.path), problem="extra data at the end")


def read_box(path: Path) -> BoxFile:
    try:
        with path.open("rb") as stream:
            header = _read_header(stream, path)
    except OSError as error:
        raise InvalidInput(
            NOT_A_BOX, path=str(path), problem=error.strerror or str(error)
        ) from None
    return BoxFile(header=header, path=path)


def _read_header(stream: IO[bytes], path: Path) -> BoxHeader:
    if stream.read(len(BOX_MAGIC)) != BOX_MAGIC:
        raise InvalidInput(NOT_A_BOX, path=str(path), problem="no box header")
    line = stream.readline(MAX_HEADER_BYTES)
    try:
        return BoxHeader.model_validate_json(line)
    except (ValidationError, ValueError):
        raise InvalidInput(NOT_A_BOX, path=str(path), problem="unreadable header") from None


def write_tally(
    stream: IO[bytes], campaign: str, fingerprint: bytes, opened: opening.OpenedBox
) -> None:
    header = TallyHeader(
        campaign=campaign,
        fingerprint=fingerprint.hex(),
        ballots_in_box=opened.ballots_in_box,
        ballots_counted=opened.ballots_counted,
        box_digest=opened.box_digest.hex(),
        rejected=[(tracker.hex(), reason) for tracker, reason in opened.rejected],
    )
    stream.write(TALLY_MAGIC)
    stream.write(header.model_dump_json().encode() + b"\n")
    for item in opened.evaluations:
        line = {"e": [item.target, item.rater_group, item.answers, item.quality_flags]}
        stream.write(json.dumps(line, ensure_ascii=False).encode() + b"\n")
    for target, text in opened.comments:
        stream.write(json.dumps({"c": [target, text]}, ensure_ascii=False).encode() + b"\n")


def read_tally(path: Path, context: opening.BoxContext) -> opening.OpenedBox:
    """A tally file, checked line by line against the campaign it claims to be a tally of:
    a file altered after the tally is refused, not imported."""

    def refuse(problem: str) -> InvalidInput:
        return InvalidInput(NOT_A_TALLY, field="tally", path=str(path), problem=problem)

    try:
        with path.open("rb") as stream:
            if stream.read(len(TALLY_MAGIC)) != TALLY_MAGIC:
                raise refuse("no tally header")
            try:
                header = TallyHeader.model_validate_json(stream.readline(MAX_HEADER_BYTES))
            except (ValidationError, ValueError):
                raise refuse("unreadable header") from None
            if header.campaign != context.campaign_slug:
                raise InvalidInput(
                    WRONG_CAMPAIGN,
                    field="tally",
                    path=str(path),
                    other=header.campaign,
                    slug=context.campaign_slug,
                )
            if header.fingerprint != context.key_fingerprint.hex():
                raise refuse("made with another tally key")
            opened = opening.OpenedBox(
                ballots_in_box=header.ballots_in_box,
                ballots_counted=header.ballots_counted,
                box_digest=bytes.fromhex(header.box_digest),
                rejected=[(bytes.fromhex(tracker), reason) for tracker, reason in header.rejected],
            )
            for number, line in enumerate(stream, start=3):
                _read_tally_line(line, number, context, opened, refuse)
    except OSError as error:
        raise refuse(error.strerror or str(error)) from None
    return opened


def _read_tally_line(
    line: bytes,
    number: int,
    context: opening.BoxContext,
    opened: opening.OpenedBox,
    refuse: Any,
) -> None:
    try:
        record = json.loads(line)
    except ValueError:
        raise refuse(f"line {number} is not JSON") from None
    if isinstance(record, dict) and set(record) == {"e"} and _is_evaluation(record["e"], context):
        target, group, answers, flags = record["e"]
        opened.evaluations.append(opening.TalliedEvaluation(target, group, answers, flags))
        return
    if isinstance(record, dict) and set(record) == {"c"}:
        value = record["c"]
        if (
            isinstance(value, list)
            and len(value) == 2
            and value[0] in context.targets
            and isinstance(value[1], str)
            and value[1].strip()
        ):
            opened.comments.append((value[0], scrub.scrub(value[1], list(context.scrub_names))))
            return
    raise refuse(f"line {number} is not an evaluation or comment of this campaign")


def _is_evaluation(value: object, context: opening.BoxContext) -> bool:
    if not (isinstance(value, list) and len(value) == 4):
        return False
    target, group, answers, flags = value
    return (
        target in context.targets
        and group in context.rater_groups
        and isinstance(answers, str)
        and opening.answers_fit(context.questionnaire, group, answers)
        and isinstance(flags, int)
        and not isinstance(flags, bool)
        and 0 <= flags <= opening.KNOWN_FLAGS
    )
