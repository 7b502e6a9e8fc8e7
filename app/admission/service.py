"""Admission codes: issuing batches, revoking them, and admitting a rater with a code.

Turnout figures are in ``app.admission.turnout``; a new batch's codes awaiting their one-time
download are in ``app.admission.pending``."""

import csv
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TextIO

from sqlalchemy import Connection, Text, and_, bindparam, cast, insert, or_, select, update
from sqlalchemy.orm import Session

from app.admission import codes
from app.admission.models import AdmissionCode, CodeBatch, CodeStatus
from app.ballot_box.models import TallyKey
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus, RaterGroup, Target
from app.campaigns.policy import ResultsPolicy
from app.departments.models import Department
from app.errors import (
    CampaignNotOpen,
    CodeMistyped,
    CodeRevoked,
    CodeUnknown,
    CodeUsed,
    InvalidInput,
    NotFound,
)
from app.i18n import N_
from app.reports.cells import csv_row
from app.surveys.schemas import Item, Questionnaire

MAX_BATCH_SIZE = 200_000
CODES_CSV_HEADER = ("campaign", "rater_group", "target", "code")
ISSUABLE_STATUSES = (CampaignStatus.DRAFT, CampaignStatus.OPEN)


@dataclass(frozen=True)
class IssuedBatch:
    batch: CodeBatch
    campaign_slug: str
    rater_group_key: str
    target_code: str | None
    codes: list[str]


@dataclass(frozen=True)
class Admission:
    """What a valid code admits its holder to: one rater group's questionnaire, some targets."""

    campaign: Campaign
    rater_group: RaterGroup
    targets: list[Target]
    questionnaire: Questionnaire

    @property
    def items(self) -> list[Item]:
        return self.questionnaire.items_for(self.rater_group.key)


def issue_codes(
    session: Session,
    campaign: Campaign,
    *,
    hashing_key: bytes,
    group_key: str,
    count: int,
    target_code: str | None = None,
    ready: bool = True,
) -> IssuedBatch:
    """Create a batch of ``count`` new codes; only their keyed hashes are stored.

    A batch made with ``ready=False`` admits no one until :func:`mark_batch_ready`: the
    command line commits the codes first and writes their only copy (slips, a CSV file)
    afterwards, so an interrupted command must not leave codes that work but nobody holds.
    """
    if campaign.status not in ISSUABLE_STATUSES:
        raise InvalidInput(
            N_("Codes can be issued only while a campaign is a draft or open."), field="campaign"
        )
    if not 1 <= count <= MAX_BATCH_SIZE:
        raise InvalidInput(
            N_("The number of codes must be between 1 and %(maximum)s."),
            field="count",
            maximum=MAX_BATCH_SIZE,
        )
    group = campaign_service.rater_group(campaign, group_key)
    target = _target(campaign, target_code) if target_code else None

    batch = CodeBatch(
        campaign_id=campaign.id,
        rater_group_id=group.id,
        target_id=target.id if target else None,
        size=count,
        ready=ready,
    )
    session.add(batch)
    session.flush()

    normalized = codes.generate_normalized(count)
    _insert_unused_codes(
        session, batch.id, [codes.keyed_hash(hashing_key, code) for code in normalized]
    )
    return IssuedBatch(
        batch=batch,
        campaign_slug=campaign.slug,
        rater_group_key=group.key,
        target_code=target.department.code if target else None,
        codes=[codes.group(code) for code in normalized],
    )


def _insert_unused_codes(session: Session, batch_id: int, code_hashes: list[bytes]) -> None:
    """Insert a batch's code hashes as unused codes, in hash order.

    Hash order, not the order the codes were made (which is the order of the CSV file and
    of the printed slips): the table's physical order then says nothing about which slip a
    row belongs to, and the primary key's B-tree is filled in order, which makes a large
    batch several times faster. The rows go to the driver as plain tuples: by COPY on
    PostgreSQL with psycopg (an executemany there is a round trip per row), by the
    driver's executemany on SQLite, skipping SQLAlchemy's per-row parameter processing.
    """
    columns = [
        column.key
        for column in (AdmissionCode.code_hash, AdmissionCode.batch_id, AdmissionCode.status)
    ]
    unused = CodeStatus.UNUSED.value
    rows = [(code_hash, batch_id, unused) for code_hash in sorted(code_hashes)]
    connection = session.connection()
    driver_connection = connection.connection.driver_connection
    if connection.dialect.driver == "psycopg" and driver_connection is not None:
        from psycopg import sql  # only on PostgreSQL; psycopg is a dependency anyway

        statement = sql.SQL("COPY {table} ({columns}) FROM STDIN").format(
            table=sql.Identifier(AdmissionCode.__tablename__),
            columns=sql.SQL(", ").join(sql.Identifier(column) for column in columns),
        )
        with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    elif connection.dialect.paramstyle == "qmark":  # SQLite
        compiled = insert(AdmissionCode).compile(dialect=connection.dialect, column_keys=columns)
        connection.exec_driver_sql(str(compiled), rows)
    else:
        connection.execute(
            insert(AdmissionCode), [dict(zip(columns, row, strict=True)) for row in rows]
        )


def write_codes_csv(issued: IssuedBatch, stream: TextIO) -> None:
    writer = csv.writer(stream)
    writer.writerow(CODES_CSV_HEADER)
    scope = (issued.campaign_slug, issued.rater_group_key, issued.target_code or "")
    writer.writerows(csv_row((*scope, code)) for code in issued.codes)


def list_batches(session: Session, campaign: Campaign) -> Sequence[CodeBatch]:
    return session.scalars(
        select(CodeBatch).where(CodeBatch.campaign_id == campaign.id).order_by(CodeBatch.id)
    ).all()


def mark_batch_ready(session: Session, campaign: Campaign, batch_id: int) -> None:
    """Let a batch's codes admit, once their only copy has been written out."""
    batch = _campaign_batch(session, campaign, batch_id)
    batch.ready = True
    session.flush()


def revoke_batch(session: Session, campaign: Campaign, batch_id: int) -> None:
    """Revoke a batch's unused codes; used codes stay used.

    Deliberately returns nothing: how many codes were still unused is the batch's size minus
    its turnout, which may be below the disclosure threshold.
    """
    batch = _campaign_batch(session, campaign, batch_id)
    batch.revoked = True
    session.execute(
        update(AdmissionCode)
        .where(AdmissionCode.batch_id == batch.id, AdmissionCode.status == CodeStatus.UNUSED)
        .values(status=CodeStatus.REVOKED)
    )


def _campaign_batch(session: Session, campaign: Campaign, batch_id: int) -> CodeBatch:
    batch = session.get(CodeBatch, batch_id)
    if batch is None or batch.campaign_id != campaign.id:
        raise NotFound(name=f"{campaign.slug}/batch {batch_id}")
    return batch


def code_hash(hashing_key: bytes, code_text: str) -> bytes:
    try:
        return codes.keyed_hash(hashing_key, codes.normalize(code_text))
    except codes.MalformedCode:
        raise CodeMistyped(field="code") from None


def check_code(session: Session, hashing_key: bytes, code_text: str) -> Admission:
    """What the code admits to, without using it; refuses unknown, revoked and used codes."""
    hashed = code_hash(hashing_key, code_text)
    row = session.execute(
        select(AdmissionCode.status, AdmissionCode.batch_id).where(
            AdmissionCode.code_hash == hashed
        )
    ).one_or_none()
    if row is None:
        older = previous_code_hash(session.connection(), code_text)
        if older is None:
            raise CodeUnknown(field="code")
        return check_code_hash(session, older)
    _refuse_status(row.status)
    return _admission_for_batch(session, row.batch_id)


def check_code_hash(session: Session, hashed: bytes) -> Admission:
    """:func:`check_code` for a code's stored hash."""
    row = session.execute(
        select(AdmissionCode.status, AdmissionCode.batch_id).where(
            AdmissionCode.code_hash == hashed
        )
    ).one()
    _refuse_status(row.status)
    return _admission_for_batch(session, row.batch_id)


def previous_code_hash(connection: Connection, code_text: str) -> bytes | None:
    """After a miss under the current secret: the code's stored hash under one of the
    previous secrets (``PINGYI_PREVIOUS_SECRET_KEYS``, kept after a rotation), if any.

    Codes are stored only as keyed hashes, so rotating the secret cannot re-key them; codes
    issued before a rotation are found here. Only a miss pays for it: one lookup per
    previous secret.
    """
    from app.config import get_settings

    previous = get_settings().previous_secrets()
    if not previous:
        return None
    try:
        normalized = codes.normalize(code_text)
    except codes.MalformedCode:
        return None
    for secret in previous:
        hashed = codes.keyed_hash(codes.hashing_key(secret), normalized)
        if connection.execute(_CODE_STATUS, {"hashed": hashed}).first() is not None:
            return hashed
    return None


def use_code(session: Session, hashing_key: bytes, code_text: str) -> Admission:
    """Mark the code used, atomically, and return what it admits to, as ORM objects.

    See :func:`redeem_code` for the exactly-once rule; this variant loads the campaign, rater
    group and targets as objects, for callers that show them.
    """
    batch_id = _mark_used(session.connection(), code_hash(hashing_key, code_text), code_text)
    return _admission_for_batch(session, batch_id)


@dataclass(frozen=True)
class CodeAdmission:
    """What a used code admits a ballot to, as plain values: enough to store the ballot.

    The ballot path's counterpart of :class:`Admission`, read with one query instead of as
    ORM objects (a campaign's targets alone are dozens of rows). The questionnaire and results
    policy are parsed once per process for each distinct stored text (see
    :func:`_questionnaire_from_json`), so nothing here can be stale.
    """

    campaign_id: int
    campaign_slug: str
    rater_group_id: int
    rater_group_key: str
    questionnaire: Questionnaire
    policy: ResultsPolicy
    target_ids: dict[str, int]  # target id by department code, of those named that it admits
    tally_fingerprint: bytes | None  # the campaign's tally key (None: its box never began)


# The ballot path's statements, built once: building one per request costs more CPU than the
# database spends running it. SQLAlchemy compiles each once; psycopg prepares it on the server.
# A code admits only once its batch is ready (its slips and file are written); the batch is
# looked up by primary key inside the same UPDATE, so the ballot path stays one statement.
# A code of a batch that is not ready is unknown: nobody was meant to hold it.
_BATCH_IS_READY = (
    select(CodeBatch.id)
    .where(CodeBatch.id == AdmissionCode.batch_id, CodeBatch.ready.is_(True))
    .exists()
)
_MARK_USED = (
    update(AdmissionCode)
    .where(
        AdmissionCode.code_hash == bindparam("hashed"),
        AdmissionCode.status == CodeStatus.UNUSED,
        _BATCH_IS_READY,
    )
    .values(status=CodeStatus.USED)
    .returning(AdmissionCode.batch_id)
)
_CODE_STATUS = select(AdmissionCode.status).where(
    AdmissionCode.code_hash == bindparam("hashed"), _BATCH_IS_READY
)
# One row per named department the batch admits (or one row with no target): the batch, its
# campaign, rater group and tally key, and the targets, in one round trip.
_BATCH_ADMISSION = (
    select(
        CodeBatch.campaign_id,
        CodeBatch.rater_group_id,
        Campaign.status,
        Campaign.slug,
        cast(Campaign.questionnaire, Text).label("questionnaire"),
        cast(Campaign.policy, Text).label("policy"),
        RaterGroup.key,
        Department.code,
        Target.id.label("target_id"),
        TallyKey.fingerprint.label("tally_fingerprint"),
    )
    .select_from(CodeBatch)
    .join(Campaign, Campaign.id == CodeBatch.campaign_id)
    .join(RaterGroup, RaterGroup.id == CodeBatch.rater_group_id)
    .outerjoin(TallyKey, TallyKey.campaign_id == CodeBatch.campaign_id)
    .outerjoin(
        Target,
        and_(
            Target.campaign_id == CodeBatch.campaign_id,
            or_(CodeBatch.target_id.is_(None), Target.id == CodeBatch.target_id),
            Target.department_id.in_(
                select(Department.id).where(
                    Department.code.in_(bindparam("department_codes", expanding=True))
                )
            ),
        ),
    )
    .outerjoin(Department, Department.id == Target.department_id)
    .where(CodeBatch.id == bindparam("batch_id"))
)


def redeem_code(
    session: Session, hashing_key: bytes, code_text: str, department_codes: Collection[str]
) -> CodeAdmission:
    """Mark the code used, atomically, and return what it admits to: its campaign, rater
    group and questionnaire, and which of ``department_codes`` it may rate.

    The conditional UPDATE is the whole exactly-once guarantee: of any number of concurrent
    transactions presenting one code, only one sees a row change; the others are refused.
    It is the transaction's first statement, so on SQLite it takes the write lock at once
    instead of failing to upgrade a read lock. The caller's transaction stores the
    evaluations and commits, or rolls back and leaves the code unused. A campaign that is
    not open refuses the code after the UPDATE, which the rollback then undoes.
    """
    connection = session.connection()
    batch_id = _mark_used(connection, code_hash(hashing_key, code_text), code_text)
    # A name with a NUL matches no department, and PostgreSQL would refuse the text outright.
    names = sorted(code for code in department_codes if "\x00" not in code)
    rows = connection.execute(
        _BATCH_ADMISSION, {"batch_id": batch_id, "department_codes": names}
    ).all()
    first = rows[0]
    if first.status != CampaignStatus.OPEN:
        raise CampaignNotOpen()
    return CodeAdmission(
        campaign_id=first.campaign_id,
        campaign_slug=first.slug,
        rater_group_id=first.rater_group_id,
        rater_group_key=first.key,
        questionnaire=_questionnaire_from_json(first.questionnaire),
        policy=_policy_from_json(first.policy or "{}"),
        target_ids={row.code: row.target_id for row in rows if row.target_id is not None},
        tally_fingerprint=None
        if first.tally_fingerprint is None
        else bytes(first.tally_fingerprint),
    )


def _mark_used(connection: Connection, hashed: bytes, code_text: str | None = None) -> int:
    """The conditional UPDATE of :func:`redeem_code`; returns the code's batch id.

    Given the ``code_text``, a code unknown under the current secret is looked up under the
    previous ones (:func:`previous_code_hash`).
    """
    batch_id = connection.execute(_MARK_USED, {"hashed": hashed}).scalar_one_or_none()
    if batch_id is None:
        status = connection.execute(_CODE_STATUS, {"hashed": hashed}).scalar_one_or_none()
        if status is None:
            older = None if code_text is None else previous_code_hash(connection, code_text)
            if older is not None:
                return _mark_used(connection, older)
            raise CodeUnknown(field="code")
        _refuse_status(status)
        raise CodeUsed(field="code")
    return int(batch_id)


@lru_cache(maxsize=64)
def _questionnaire_from_json(stored: str) -> Questionnaire:
    """A campaign's frozen questionnaire, parsed once per distinct stored text.

    Keyed on the text itself rather than the campaign id: a copy never changes once
    stored, and a key that is the content cannot be stale. The model is frozen and shared.
    """
    return Questionnaire.model_validate(json.loads(stored))


@lru_cache(maxsize=64)
def _policy_from_json(stored: str) -> ResultsPolicy:
    """A campaign's results policy, parsed once per distinct stored text (it may change
    while the campaign is open; a changed policy is a new text, so a new entry)."""
    return campaign_service.policy_of(Campaign(policy=json.loads(stored)))


def _refuse_status(status: CodeStatus) -> None:
    if status == CodeStatus.REVOKED:
        raise CodeRevoked(field="code")
    if status == CodeStatus.USED:
        raise CodeUsed(field="code")


def _admission_for_batch(session: Session, batch_id: int) -> Admission:
    batch = session.get_one(CodeBatch, batch_id)
    if not batch.ready:  # see _BATCH_IS_READY
        raise CodeUnknown(field="code")
    campaign = session.get_one(Campaign, batch.campaign_id)
    if campaign.status != CampaignStatus.OPEN:
        raise CampaignNotOpen()
    group = session.get_one(RaterGroup, batch.rater_group_id)
    targets = (
        [session.get_one(Target, batch.target_id)]
        if batch.target_id is not None
        else list(campaign.targets)
    )
    return Admission(
        campaign=campaign,
        rater_group=group,
        targets=targets,
        questionnaire=campaign_service.questionnaire_of(campaign),
    )


def _target(campaign: Campaign, department_code: str) -> Target:
    for target in campaign.targets:
        if target.department.code == department_code:
            return target
    raise InvalidInput(
        N_("Department “%(code)s” is not a target of campaign “%(slug)s”."),
        field="target",
        code=department_code,
        slug=campaign.slug,
    )
