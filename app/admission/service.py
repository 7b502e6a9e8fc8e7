"""Admission codes: issuing batches, revoking them, and admitting a rater with a code.

Turnout figures are in ``app.admission.turnout``; a new batch's codes awaiting their one-time
download are in ``app.admission.pending``."""

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from app.admission import codes
from app.admission.models import AdmissionCode, CodeBatch, CodeStatus
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus, RaterGroup, Target
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
) -> IssuedBatch:
    """Create a batch of ``count`` new codes; only their keyed hashes are stored."""
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
    group = _rater_group(campaign, group_key)
    target = _target(campaign, target_code) if target_code else None

    batch = CodeBatch(
        campaign_id=campaign.id,
        rater_group_id=group.id,
        target_id=target.id if target else None,
        size=count,
    )
    session.add(batch)
    session.flush()

    new_codes = [codes.generate() for _ in range(count)]
    rows = [
        {
            "code_hash": codes.keyed_hash(hashing_key, codes.normalize(code)),
            "batch_id": batch.id,
            "status": CodeStatus.UNUSED,
        }
        for code in new_codes
    ]
    session.execute(insert(AdmissionCode), rows)
    return IssuedBatch(
        batch=batch,
        campaign_slug=campaign.slug,
        rater_group_key=group.key,
        target_code=target.department.code if target else None,
        codes=new_codes,
    )


def write_codes_csv(issued: IssuedBatch, stream: TextIO) -> None:
    writer = csv.writer(stream)
    writer.writerow(CODES_CSV_HEADER)
    for code in issued.codes:
        writer.writerow(
            (issued.campaign_slug, issued.rater_group_key, issued.target_code or "", code)
        )


def list_batches(session: Session, campaign: Campaign) -> Sequence[CodeBatch]:
    return session.scalars(
        select(CodeBatch).where(CodeBatch.campaign_id == campaign.id).order_by(CodeBatch.id)
    ).all()


def revoke_batch(session: Session, campaign: Campaign, batch_id: int) -> None:
    """Revoke a batch's unused codes; used codes stay used.

    Deliberately returns nothing: how many codes were still unused is the batch's size minus
    its turnout, which may be below the disclosure threshold.
    """
    batch = session.get(CodeBatch, batch_id)
    if batch is None or batch.campaign_id != campaign.id:
        raise NotFound(name=f"{campaign.slug}/batch {batch_id}")
    batch.revoked = True
    session.execute(
        update(AdmissionCode)
        .where(AdmissionCode.batch_id == batch.id, AdmissionCode.status == CodeStatus.UNUSED)
        .values(status=CodeStatus.REVOKED)
    )


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
        raise CodeUnknown(field="code")
    _refuse_status(row.status)
    return _admission_for_batch(session, row.batch_id)


def use_code(session: Session, hashing_key: bytes, code_text: str) -> Admission:
    """Mark the code used, atomically, and return what it admits to.

    The conditional UPDATE is the whole exactly-once guarantee: of any number of concurrent
    transactions presenting one code, only one sees a row change; the others are refused.
    It is the transaction's first statement, so on SQLite it takes the write lock at once
    instead of failing to upgrade a read lock. The caller's transaction stores the
    evaluations and commits, or rolls back and leaves the code unused.
    """
    hashed = code_hash(hashing_key, code_text)
    batch_id = session.execute(
        update(AdmissionCode)
        .where(AdmissionCode.code_hash == hashed, AdmissionCode.status == CodeStatus.UNUSED)
        .values(status=CodeStatus.USED)
        .returning(AdmissionCode.batch_id)
    ).scalar_one_or_none()
    if batch_id is None:
        status = session.scalar(
            select(AdmissionCode.status).where(AdmissionCode.code_hash == hashed)
        )
        if status is None:
            raise CodeUnknown(field="code")
        _refuse_status(status)
        raise CodeUsed(field="code")
    return _admission_for_batch(session, batch_id)


def _refuse_status(status: CodeStatus) -> None:
    if status == CodeStatus.REVOKED:
        raise CodeRevoked(field="code")
    if status == CodeStatus.USED:
        raise CodeUsed(field="code")


def _admission_for_batch(session: Session, batch_id: int) -> Admission:
    batch = session.get_one(CodeBatch, batch_id)
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


def _rater_group(campaign: Campaign, key: str) -> RaterGroup:
    for group in campaign.rater_groups:
        if group.key == key:
            return group
    raise InvalidInput(
        N_("Campaign “%(slug)s” has no rater group “%(key)s”."),
        field="group",
        slug=campaign.slug,
        key=key,
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
