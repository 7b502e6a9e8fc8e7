"""Rosters: known raters (cadres, registered enterprises) who fetch a credential by signing in.

The office imports identifiers (phone numbers, registration numbers); the database keeps only
an HMAC-SHA256 of each, under a key derived from the server secret and bound to the campaign,
and an Argon2 hash of a random one-time password. The passwords are written once to a file
for sending out of band (SMS) and are not kept anywhere else.

A member signs in with identifier and password and receives a short-lived signed cookie that
only ``POST /api/v1/credentials`` receives (its path). Failed sign-ins are counted in this
process's memory only, per identifier hash: never in the database, never per IP address.
"""

import csv
import hashlib
import hmac
import io
import os
import secrets
import unicodedata
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TextIO

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from app.accounts import passwords
from app.admission import codes
from app.admission.service import Admission
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus, RaterGroup
from app.credentials import roster_file
from app.credentials.errors import (
    CredentialAlreadyIssued,
    RosterImportInvalid,
    RosterLoginFailed,
    RosterLoginThrottled,
    RosterSessionMissing,
)
from app.credentials.models import RosterMember
from app.errors import CampaignNotOpen, InvalidInput
from app.i18n import N_
from app.reports.cells import csv_row
from app.signin_failures import FailureCounter as FailureCounter  # re-exported for callers

IDENTIFIER_KEY_CONTEXT = b"pingyi roster identifier v1"
SESSION_KEY_CONTEXT = b"pingyi roster session v1"
SESSION_SALT = "pingyi roster session"
COOKIE_NAME = "pingyi_roster"
COOKIE_PATH = "/api/v1/credentials"  # the only address the cookie is ever sent to
SESSION_MAX_AGE = 15 * 60  # seconds
PASSWORD_SYMBOLS = 10  # Crockford base32: 50 bits
PASSWORD_GROUP = 5
MAX_IDENTIFIER_LENGTH = 128
MAX_ROSTER_SIZE = 200_000
PASSWORDS_CSV_HEADER = ("campaign", "rater_group", "identifier", "password")
IMPORTABLE_STATUSES = (CampaignStatus.DRAFT, CampaignStatus.OPEN)
_IDENTIFIER_SEPARATORS = str.maketrans("", "", " -\u00a0\u3000\t\r\n")
_PASSWORD_SEPARATORS = str.maketrans("", "", " -_.\u00a0\u3000\t\r\n")
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})


# --- identifiers and passwords ------------------------------------------------------------------


def normalize_identifier(text: str) -> str:
    """What is hashed: full-width folded (NFKC), case-folded, without spaces and dashes."""
    return unicodedata.normalize("NFKC", text).translate(_IDENTIFIER_SEPARATORS).casefold()


def identifier_key(server_secret: bytes) -> bytes:
    return hmac.new(server_secret, IDENTIFIER_KEY_CONTEXT, hashlib.sha256).digest()


def identifier_hash(key: bytes, campaign: Campaign, identifier: str) -> bytes:
    """HMAC-SHA256 of the normalized identifier, bound to the campaign's slug, so one person's
    entries in two campaigns' rosters do not match each other."""
    text = f"{campaign.slug}\n{normalize_identifier(identifier)}"
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def new_password() -> str:
    """A one-time password: 10 Crockford base32 symbols (50 bits), in two groups of five."""
    symbols = "".join(secrets.choice(codes.ALPHABET) for _ in range(PASSWORD_SYMBOLS))
    return f"{symbols[:PASSWORD_GROUP]}-{symbols[PASSWORD_GROUP:]}"


def normalize_password(text: str) -> str:
    """Forgiving as codes are: case, separators, full-width input and O/I/L look-alikes."""
    folded = unicodedata.normalize("NFKC", text).upper().translate(_PASSWORD_SEPARATORS)
    return folded.translate(_LOOK_ALIKES)


# --- import -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RosterLine:
    line: int  # in the file, counting from 1
    identifier: str


@dataclass(frozen=True)
class RosterEntry:
    identifier: str
    password: str


def read_identifiers(data: bytes, column: str | None = None) -> list[RosterLine]:
    """Identifiers from a CSV file (UTF-8, BOM tolerated): the first field of each non-empty
    line, or, with ``column``, that column of a file whose first line names the columns."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise RosterImportInvalid([f"the file is not UTF-8 text ({error.reason})"]) from None
    rows = list(csv.reader(io.StringIO(text)))
    index = 0
    first_data_row = roster_file.header_rows(rows)  # 1 when the first line names columns
    if column is not None:
        header = [name.strip() for name in rows[0]] if rows else []
        if column not in header:
            raise RosterImportInvalid([f"line 1: there is no column “{column}”"])
        index = header.index(column)
        first_data_row = 1
    lines: list[RosterLine] = []
    for number, row in enumerate(rows[first_data_row:], start=first_data_row + 1):
        value = row[index].strip() if len(row) > index else ""
        if value:
            lines.append(RosterLine(line=number, identifier=value))
    return lines


def import_roster(
    session: Session,
    campaign: Campaign,
    group_key: str,
    lines: Sequence[RosterLine],
    server_secret: bytes,
) -> list[RosterEntry]:
    """Add members to a campaign's roster, each with a new one-time password.

    Returns the identifiers with their passwords, in file order, for the caller to write once.
    Nothing is imported when any line is a problem: empty, too long, a duplicate in the file,
    or already on the campaign's roster.
    """
    if campaign.status not in IMPORTABLE_STATUSES:
        raise InvalidInput(
            N_("A roster can be imported only while a campaign is a draft or open."),
            field="campaign",
        )
    group = campaign_service.rater_group(campaign, group_key)
    if not lines:
        raise RosterImportInvalid(["the file holds no identifier"])
    if len(lines) > MAX_ROSTER_SIZE:
        raise RosterImportInvalid([f"more than {MAX_ROSTER_SIZE} identifiers"])

    key = identifier_key(server_secret)
    problems: list[str] = []
    first_line: dict[bytes, int] = {}
    hashes: list[bytes] = []
    for line in lines:
        normalized = normalize_identifier(line.identifier)
        hashed = identifier_hash(key, campaign, line.identifier)
        hashes.append(hashed)
        if not normalized:
            problems.append(f"line {line.line}: the identifier is empty")
        elif len(normalized) > MAX_IDENTIFIER_LENGTH:
            problems.append(
                f"line {line.line}: the identifier is longer than {MAX_IDENTIFIER_LENGTH}"
            )
        elif hashed in first_line:
            problems.append(f"line {line.line}: the same identifier as line {first_line[hashed]}")
        else:
            first_line[hashed] = line.line
    existing = set(
        session.scalars(
            select(RosterMember.identifier_hash).where(RosterMember.campaign_id == campaign.id)
        )
    )
    problems += [
        f"line {line.line}: already on the roster of {campaign.slug}"
        for line, hashed in zip(lines, hashes, strict=True)
        if hashed in existing and first_line.get(hashed) == line.line
    ]
    if problems:
        raise RosterImportInvalid(problems)

    entries = [RosterEntry(identifier=line.identifier, password=new_password()) for line in lines]
    password_hashes = _hash_passwords([normalize_password(entry.password) for entry in entries])
    session.execute(
        insert(RosterMember),
        [
            {
                "campaign_id": campaign.id,
                "rater_group_id": group.id,
                "identifier_hash": hashed,
                "password_hash": password_hash,
                "credential_issued": False,
            }
            for hashed, password_hash in zip(hashes, password_hashes, strict=True)
        ],
    )
    return entries


def _hash_passwords(plain: list[str]) -> list[str]:
    """Argon2 is slow on purpose; its C code releases the GIL, so use every core."""
    workers = max(1, min(len(plain), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(passwords.hash_password, plain))


def write_passwords_csv(
    campaign: Campaign, group_key: str, entries: Sequence[RosterEntry], stream: TextIO
) -> None:
    """Write the one-time passwords, one row per member; cells are formula-safe (an
    identifier is whatever the office's file held). Open ``stream`` with
    :func:`app.private_files.private_text`: the file must be readable by its owner only."""
    writer = csv.writer(stream)
    writer.writerow(PASSWORDS_CSV_HEADER)
    for entry in entries:
        writer.writerow(csv_row((campaign.slug, group_key, entry.identifier, entry.password)))


# --- sign-in ------------------------------------------------------------------------------------


login_failures = FailureCounter()


@dataclass(frozen=True)
class RosterSignIn:
    member: RosterMember
    campaign: Campaign
    rater_group: RaterGroup


def sign_in(
    session: Session,
    server_secret: bytes,
    campaign_slug: str,
    identifier: str,
    password: str,
    *,
    failures: FailureCounter = login_failures,
    before_check: Callable[[], object] | None = None,
) -> RosterSignIn:
    """Check a member's identifier and one-time password for an open campaign.

    An unknown identifier and a wrong password get the same answer in the same time (the
    password is checked against a dummy hash), and the same throttling: failures are counted
    per identifier hash first. ``before_check`` runs after that and before the password is
    checked (the per-address ceiling; whatever it raises refuses the attempt). Nothing is
    written.
    """
    campaign = campaign_service.get_campaign(session, campaign_slug)
    if campaign.status != CampaignStatus.OPEN:
        raise CampaignNotOpen()
    hashed = identifier_hash(identifier_key(server_secret), campaign, identifier)
    wait = failures.begin_attempt(hashed)
    if wait:
        raise RosterLoginThrottled(seconds=wait)
    if before_check is not None:
        before_check()
    member = _member(session, campaign, hashed)
    if member is None:
        member = _member_under_previous_secret(session, campaign, identifier)
    stored = member.password_hash if member is not None else None
    if not passwords.verify_password(stored, normalize_password(password)) or member is None:
        raise RosterLoginFailed(field="password")
    failures.succeeded(hashed)
    return RosterSignIn(
        member=member,
        campaign=campaign,
        rater_group=session.get_one(RaterGroup, member.rater_group_id),
    )


def _member(session: Session, campaign: Campaign, hashed: bytes) -> RosterMember | None:
    return session.scalar(
        select(RosterMember).where(
            RosterMember.campaign_id == campaign.id, RosterMember.identifier_hash == hashed
        )
    )


def _member_under_previous_secret(
    session: Session, campaign: Campaign, identifier: str
) -> RosterMember | None:
    """A member imported before the secret was rotated: identifiers are stored as keyed
    hashes, which rotation cannot re-key, so the previous secrets
    (``PINGYI_PREVIOUS_SECRET_KEYS``) are tried after the current one."""
    from app.config import get_settings

    for secret in get_settings().previous_secrets():
        member = _member(
            session, campaign, identifier_hash(identifier_key(secret), campaign, identifier)
        )
        if member is not None:
            return member
    return None


# --- rating without a credential (the rating page without JavaScript) --------------------------


def member_admission(session: Session, member_id: int, campaign_id: int) -> Admission:
    """What a signed-in member may rate, without marking them served: refused once they have
    received a credential or rated (409), or when the campaign is not open."""
    member = session.get(RosterMember, member_id)
    if member is None or member.campaign_id != campaign_id:
        raise RosterSessionMissing()
    if member.credential_issued:
        raise CredentialAlreadyIssued()
    return _admission(session, member)


def use_member(session: Session, member_id: int, campaign_id: int) -> Admission:
    """Mark a member served for a ballot stored without a credential, exactly once: a
    conditional UPDATE checked by its result, in the ballot's transaction, so the ballot is
    stored with it or neither is. A member who received a credential is refused (409), and
    after this no credential is issued to them (no blinded message hash is kept)."""
    claimed = session.execute(
        update(RosterMember)
        .where(
            RosterMember.id == member_id,
            RosterMember.campaign_id == campaign_id,
            RosterMember.credential_issued.is_(False),
        )
        .values(credential_issued=True)
        .returning(RosterMember.id)
    ).scalar_one_or_none()
    if claimed is None:
        member_admission(session, member_id, campaign_id)  # says why
        raise CredentialAlreadyIssued()
    return _admission(session, session.get_one(RosterMember, member_id))


def _admission(session: Session, member: RosterMember) -> Admission:
    campaign = session.get_one(Campaign, member.campaign_id)
    if campaign.status != CampaignStatus.OPEN:
        raise CampaignNotOpen()
    return Admission(
        campaign=campaign,
        rater_group=session.get_one(RaterGroup, member.rater_group_id),
        targets=list(campaign.targets),
        questionnaire=campaign_service.questionnaire_of(campaign),
    )


def campaigns_with_roster(session: Session) -> list[Campaign]:
    """Open campaigns that have a roster, for the rating page's roster sign-in."""
    with_members = select(RosterMember.campaign_id).distinct()
    return list(
        session.scalars(
            select(Campaign)
            .where(Campaign.status == CampaignStatus.OPEN, Campaign.id.in_(with_members))
            .order_by(Campaign.id)
        )
    )


# --- the session cookie -------------------------------------------------------------------------


@dataclass(frozen=True)
class RosterSession:
    member_id: int
    campaign_id: int


def _serializer(server_secret: bytes) -> URLSafeTimedSerializer:
    key = hmac.new(server_secret, SESSION_KEY_CONTEXT, hashlib.sha256).digest()
    return URLSafeTimedSerializer(key, salt=SESSION_SALT)


def encode_session(server_secret: bytes, roster_session: RosterSession) -> str:
    return _serializer(server_secret).dumps([roster_session.member_id, roster_session.campaign_id])


def decode_session(server_secret: bytes, cookie: str | None) -> RosterSession | None:
    """The session in a cookie, or None when missing, forged or older than 15 minutes."""
    if not cookie:
        return None
    try:
        value = _serializer(server_secret).loads(cookie, max_age=SESSION_MAX_AGE)
    except (BadSignature, ValueError, TypeError):
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(part, int) for part in value)
    ):
        return None
    return RosterSession(member_id=value[0], campaign_id=value[1])


def cookie_header(value: str, *, secure: bool, max_age: int = SESSION_MAX_AGE) -> str:
    attributes = [
        f"{COOKIE_NAME}={value}",
        f"Path={COOKIE_PATH}",
        f"Max-Age={max_age}",
        "HttpOnly",
        "SameSite=Strict",
    ]
    if secure:
        attributes.append("Secure")
    return "; ".join(attributes)
