"""No plaintext anywhere before the tally (privacy rule 6, "Sealed ballot box").

Ballots go in through the real services on a committed database of the test's own, by both
paths: an admission code used directly, and a credential blind-signed for a voucher. Every
evaluation has an answers pattern no other has, and a comment carrying markers no other
comment has (Latin letters, Chinese characters: the scrubber leaves letters alone) and a
mobile number (which the scrubber hides at the tally).

Before the tally (while the campaign is open, and again once it is closed and sealed), none of
it may be in anything an administrator can copy: on PostgreSQL a ``pg_dump``, every file of
the database and of the rest of the data directory after a ``CHECKPOINT``, every file in
``pg_wal`` (and an archive of its pages since the campaign began, as continuous archiving
would keep them: a checkpoint may remove a segment from pg_wal before anyone copies it); on
SQLite the database file and its write-ahead log. Each is searched for the
plaintext as UTF-8, UTF-16 (both byte orders), hex (how pg_dump writes bytes), JSON's
``\\u`` escapes and base64. The ballots' trackers must be found in the same copies, so the
search is known to look where the ballots are (on SQLite, in the write-ahead log itself: it
has not been checkpointed away).

After the tally every marker is in the comment copies and every pattern in the evaluations,
and the same copies now show them (the search finds plaintext that is there); the mobile
numbers, scrubbed in memory before anything is written, are in no copy, ever. No log record
carries any of it before the tally, nor a mobile number after.
"""

import base64
import json
import logging
import secrets
import string
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.ballots import receipts
from app.ballots import service as ballot_service
from app.ballots.models import Evaluation
from app.ballots.schemas import BallotIn, EvaluationIn
from app.campaigns import lifecycle
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign
from app.campaigns.policy import CommentPolicy
from app.comments.models import CommentForReview
from app.comments.scrub import PLACEHOLDER
from app.config import get_settings
from app.credentials import issuance
from app.credentials import keys as credential_keys
from app.credentials.schemas import CredentialIn
from app.surveys.schemas import Questionnaire
from tests.ballot_box import stored_bytes
from tests.ballot_box.stored_bytes import Haystack, wal_stream
from tests.conftest import PostgresDatabases, migrate, new_sqlite_engine
from tests.credentials.credential_helpers import (
    key_of,
    key_pool,  # noqa: F401 - an autouse fixture
    rater_side,
)
from tests.factories import (
    HASHING_KEY,
    issue_codes,
    make_campaign,
    small_questionnaire,
    trustee_shares,
)

pytestmark = pytest.mark.slow

BALLOTS_PER_PATH = 10  # direct codes, and as many credentials
ITEMS = 16  # answers patterns are 16 characters of 0-5: no other text in a copy matches one
LATIN_MARKER = 20
CHINESE_MARKER = 8
CJK_FIRST, CJK_LAST = 0x4E00, 0x9FA5


def questionnaire() -> Questionnaire:
    return small_questionnaire(
        items=[
            {
                "id": f"q{index:02d}",
                "dimension": "attitude" if index % 2 else "efficiency",
                "scale": "five_level",
                "text": {"zh": f"问题{index}", "en": f"Question {index}"},
            }
            for index in range(ITEMS)
        ]
    )


@dataclass(frozen=True)
class Written:
    """What one evaluation's rater wrote, every piece unique to this run."""

    latin: str
    chinese: str
    pattern: str  # the answers as stored: one character 0-5 per item
    phone: str

    @property
    def comment(self) -> str:
        return f"{self.latin} 窗口服务{self.chinese}, 电话 {self.phone}"

    @property
    def answers(self) -> dict[str, int | None]:
        return {
            f"q{index:02d}": None if symbol == "0" else int(symbol)
            for index, symbol in enumerate(self.pattern)
        }


def new_written() -> Written:
    choose = secrets.choice
    return Written(
        latin="".join(choose(string.ascii_uppercase) for _ in range(LATIN_MARKER)),
        chinese="".join(chr(choose(range(CJK_FIRST, CJK_LAST + 1))) for _ in range(CHINESE_MARKER)),
        pattern="".join(choose("012345") for _ in range(ITEMS)),
        phone="13" + "".join(choose(string.digits) for _ in range(9)),
    )


def base64_forms(value: bytes) -> list[bytes]:
    """The base64 of ``value`` wherever it starts in a 3-byte group: the characters that
    depend on its bytes alone."""
    forms = []
    for before in range(3):
        skip = (3 - before) % 3
        part = value[skip:]
        forms.append(base64.b64encode(part[: len(part) // 3 * 3]))
    return forms


def encoded_forms(text: str) -> dict[bytes, str]:
    """The byte forms ``text`` could be stored in, each with its name."""
    utf8 = text.encode()
    forms: dict[bytes, str] = {}
    for form, encoding in [
        (utf8, "UTF-8"),
        (text.encode("utf-16-le"), "UTF-16LE"),
        (text.encode("utf-16-be"), "UTF-16BE"),
        (utf8.hex().encode(), "hex"),
        (json.dumps(text)[1:-1].encode(), "JSON escapes"),
        *((form, "base64") for form in base64_forms(utf8)),
    ]:
        forms.setdefault(form, encoding)
    return forms


def needles(written: list[Written], *, phones_only: bool = False) -> dict[bytes, str]:
    """Every form of every piece of plaintext, each with a description."""
    found: dict[bytes, str] = {}
    for index, item in enumerate(written):
        pieces = {"mobile number": item.phone}
        if not phones_only:
            pieces |= {"Latin marker": item.latin, "Chinese marker": item.chinese}
            pieces["answers pattern"] = item.pattern
        for kind, value in pieces.items():
            for form, encoding in encoded_forms(value).items():
                found.setdefault(form, f"{kind} of evaluation {index} ({encoding})")
    return found


def leaks(copies: dict[str, Haystack], wanted: dict[bytes, str]) -> list[str]:
    """Where any of ``wanted`` occurs, with the file and the bytes around it."""
    found = []
    for name, haystack in copies.items():
        for needle, positions in haystack.positions(wanted).items():
            for position in positions[:3]:
                found.append(
                    f"{wanted[needle]} in {name} {haystack.label_at(position)} at byte "
                    f"{haystack.offset_in_chunk(position)}: "
                    f"{haystack.context(position, len(needle))!r}"
                )
    return found


def missing(haystack: Haystack, wanted: list[bytes]) -> int:
    return sum(1 for positions in haystack.positions(wanted).values() if not positions)


# --- the campaign ---------------------------------------------------------------------------


@dataclass
class Campaigned:
    campaign_id: int
    slug: str
    written: list[Written]
    trackers: list[bytes]


def rate(engine: Engine) -> Campaigned:
    """An open campaign with a tally key; ballots in through both paths, each rating both
    departments, each comment released for review whatever the number of raters."""
    secret = get_settings().secret_bytes()
    with Session(engine, expire_on_commit=False) as session:
        campaign = make_campaign(session, questionnaire=questionnaire())
        policy = campaign_service.policy_of(campaign)
        campaign_service.set_policy(
            session,
            campaign,
            policy.model_copy(update={"comments": CommentPolicy(min_respondents=1)}),
        )
        credential_keys.open_campaign_keys(session, campaign, secret)
        codes = issue_codes(session, campaign, count=2 * BALLOTS_PER_PATH)
        citizens = next(group for group in campaign.rater_groups if group.key == "citizens")
        public_key = bytes(key_of(session, campaign.id, citizens.id).public_key)
        targets = [target.department.code for target in campaign.targets]
        session.commit()

    rated = Campaigned(campaign.id, campaign.slug, [], [])
    for index, code in enumerate(codes):
        written = [new_written() for _ in targets]
        rated.written += written
        evaluations = [
            EvaluationIn(target=target, answers=item.answers, comment=item.comment)
            for target, item in zip(targets, written, strict=True)
        ]
        if index < BALLOTS_PER_PATH:
            ballot = BallotIn(code=code, evaluations=evaluations)
        else:
            side = rater_side(public_key)
            with Session(engine) as session:
                issued = issuance.issue_for_voucher(
                    session, HASHING_KEY, secret, code, side.blinded
                )
                session.commit()
            signature = side.finalize(issued.blind_signature)
            credential = side.credential(signature, "citizens", campaign.slug)
            ballot = BallotIn(
                credential=CredentialIn(**credential.as_json()),
                evaluations=evaluations,
            )
        with Session(engine) as session:
            receipt = ballot_service.submit_ballot(session, HASHING_KEY, ballot)
            session.commit()
        rated.trackers.append(receipts.receipt_bytes(receipt.receipt))
    return rated


def close(engine: Engine, rated: Campaigned) -> None:
    with Session(engine) as session:
        campaign = session.get_one(Campaign, rated.campaign_id)
        lifecycle.close_campaign(session, campaign, actor="test")
        session.commit()  # the seal's vacuum runs now


def tally(engine: Engine, rated: Campaigned) -> None:
    with Session(engine) as session:
        campaign = session.get_one(Campaign, rated.campaign_id)
        lifecycle.tally_campaign(session, campaign, trustee_shares(campaign)[:2], actor="test")
        session.commit()


def assert_counted(engine: Engine, rated: Campaigned) -> None:
    """The tally stored every pattern and every comment, scrubbed of its mobile number."""
    with Session(engine) as session:
        patterns = set(
            session.scalars(
                select(Evaluation.answers).where(Evaluation.campaign_id == rated.campaign_id)
            )
        )
        copies = list(
            session.scalars(
                select(CommentForReview.text).where(
                    CommentForReview.campaign_id == rated.campaign_id
                )
            )
        )
    assert patterns == {item.pattern for item in rated.written}
    assert len(copies) == len(rated.written)
    joined = "\n".join(copies)
    for item in rated.written:
        assert item.latin in joined
        assert item.chinese in joined
        assert item.phone not in joined
    assert joined.count(PLACEHOLDER) == len(rated.written)


@pytest.fixture
def log_records(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every log record of every logger, down to DEBUG (SQLAlchemy's statements too)."""
    caplog.set_level(logging.DEBUG)
    return caplog


def logged(records: list[logging.LogRecord]) -> str:
    return "\n".join(f"{record.name}: {record.getMessage()}" for record in records)


def assert_not_logged(
    records: list[logging.LogRecord], written: list[Written], *, phones_only: bool
) -> None:
    text = logged(records)
    for item in written:
        values = [item.phone] if phones_only else [item.phone, item.latin, item.chinese]
        values += [] if phones_only else [item.pattern]
        for value in values:
            assert value not in text, f"{value!r} is in a log record"


# --- the tests ------------------------------------------------------------------------------


def postgres_copies(engine: Engine, archive: stored_bytes.WalArchive) -> dict[str, Haystack]:
    """What an administrator can copy now. pg_wal first: the CHECKPOINT taken before the
    database's files are read lets the server remove old segments."""
    end = archive.capture(engine)
    assert not archive.missing_pages(end), "pg_wal was recycled before the archive copied it"
    copies = {
        "pg_wal": Haystack(stored_bytes.wal_files(engine)),
        "archived pg_wal": Haystack([("archive", wal_stream(archive.snapshot()).data)]),
        "pg_dump": Haystack([("pg_dump", stored_bytes.pg_dump(engine))]),
    }
    copies["data directory"] = Haystack(stored_bytes.database_files(engine))
    return copies


@pytest.mark.postgres
def test_postgres_stores_no_plaintext_before_the_tally(
    postgres_databases: PostgresDatabases, log_records: pytest.LogCaptureFixture
) -> None:
    engine = postgres_databases.create()
    migrate(engine)
    try:
        stored_bytes.pg_dump_binary(engine)  # skip (or fail under CI) before the work
        with stored_bytes.WalArchive.kept(engine) as archive:
            check_postgres(engine, archive, log_records)
    finally:
        engine.dispose()


def check_postgres(
    engine: Engine, archive: stored_bytes.WalArchive, log_records: pytest.LogCaptureFixture
) -> None:
    """Rate, close and tally, searching every copy at each moment (see the module)."""
    rated = rate(engine)
    plaintext = needles(rated.written)
    trackers_hex = [tracker.hex().encode() for tracker in rated.trackers]

    for moment in ("open", "closed"):
        if moment == "closed":
            close(engine, rated)
        copies = postgres_copies(engine, archive)
        for haystack in copies.values():  # one pass each
            haystack.positions([*plaintext, *trackers_hex, *rated.trackers])
        assert not leaks(copies, plaintext), (moment, leaks(copies, plaintext))
        # The ballots are in what was read: the search looked where they are.
        assert missing(copies["pg_dump"], trackers_hex) == 0, moment
        assert missing(copies["data directory"], rated.trackers) == 0, moment
        assert missing(copies["archived pg_wal"], rated.trackers) == 0, moment
    assert_not_logged(log_records.records, rated.written, phones_only=False)

    tally(engine, rated)
    assert_counted(engine, rated)
    copies = postgres_copies(engine, archive)
    shown = [item.latin.encode() for item in rated.written]
    shown += [item.pattern.encode() for item in rated.written]
    phones = needles(rated.written, phones_only=True)
    for haystack in copies.values():
        haystack.positions([*shown, *phones])
    for name in ("pg_dump", "data directory", "archived pg_wal"):
        assert missing(copies[name], shown) == 0, f"the tally's rows are not in {name}"
    assert not leaks(copies, phones), leaks(copies, phones)
    assert_not_logged(log_records.records, rated.written, phones_only=True)


def test_sqlite_stores_no_plaintext_before_the_tally(
    log_records: pytest.LogCaptureFixture,
) -> None:
    engine = new_sqlite_engine()
    migrate(engine)
    try:
        rated = rate(engine)
        plaintext = needles(rated.written)
        # Read at once: the write-ahead log still holds every ballot's transaction.
        assert stored_bytes.sqlite_wal_size(engine) > 0
        files = stored_bytes.sqlite_files(engine)
        wal = Haystack(chunk for chunk in files if chunk[0].endswith("-wal"))
        assert missing(wal, rated.trackers) == 0
        copies = {"database": Haystack(files)}
        assert not leaks(copies, plaintext), leaks(copies, plaintext)

        close(engine, rated)
        copies = {"database": Haystack(stored_bytes.sqlite_files(engine))}
        assert missing(copies["database"], rated.trackers) == 0
        assert not leaks(copies, plaintext), leaks(copies, plaintext)
        assert_not_logged(log_records.records, rated.written, phones_only=False)

        tally(engine, rated)
        assert_counted(engine, rated)
        copies = {"database": Haystack(stored_bytes.sqlite_files(engine))}
        shown = [item.latin.encode() for item in rated.written]
        assert missing(copies["database"], shown) == 0
        phones = needles(rated.written, phones_only=True)
        assert not leaks(copies, phones), leaks(copies, phones)
        assert_not_logged(log_records.records, rated.written, phones_only=True)
    finally:
        engine.dispose()
