"""Mystery inspections (暗访): recording findings, their evidence, 通报单 and scores.

Who sees what: an inspector (who may work for a third party) sees only the findings they
recorded; staff who manage inspections see every finding, issue 通报单, enter inspection
scores and turn findings into rectification tasks. Every change is written to the audit trail
in the same transaction.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.models import StaffUser
from app.accounts.permissions import Permission, allows
from app.audit import service as audit_service
from app.campaigns.models import Campaign, CampaignStatus
from app.departments.models import Department
from app.errors import InvalidInput, NotFound
from app.i18n import N_, gettext
from app.inspections.models import (
    BulletinFinding,
    Finding,
    FindingEvidence,
    InspectionBulletin,
    InspectionMethod,
    InspectionScore,
)
from app.rectification import evidence as evidence_store

MAX_CATEGORY_CHARACTERS = 100
MAX_DESCRIPTION_CHARACTERS = 5000
MAX_OFFICE_CHARACTERS = 200
MAX_TITLE_CHARACTERS = 200
MAX_COPY_TO_CHARACTERS = 500
FULL_SCORE = Fraction(100)

# What the console and the 通报单 call each method (translated when shown).
METHOD_NAMES: dict[InspectionMethod, str] = {
    InspectionMethod.SIMULATED_APPLICATION: N_("Posing as an applicant"),
    InspectionMethod.PHONE_CHECK: N_("Phone check"),
    InspectionMethod.SITE_VISIT: N_("Site visit"),
    InspectionMethod.OTHER: N_("Other"),
}


# How the forms call the fields a message names (translated when shown).
FIELD_LABELS = {
    "category": N_("Problem category"),
    "description": N_("What was found"),
    "issuing_office": N_("Issuing office"),
    "title": N_("Title"),
}


def method_name(method: InspectionMethod) -> str:
    return gettext(METHOD_NAMES[method])


def _required_text(value: str, field: str, maximum: int) -> str:
    text = value.strip()
    if not text or len(text) > maximum:
        raise InvalidInput(
            N_("“%(name)s” must be given, at most %(maximum)s characters."),
            field=field,
            name=gettext(FIELD_LABELS[field]),
            maximum=maximum,
        )
    return text


def department_by_code(session: Session, code: str) -> Department:
    department = session.scalar(select(Department).where(Department.code == code))
    if department is None:
        raise NotFound(name=code)
    return department


# Findings


def record_finding(
    session: Session,
    recorder: StaffUser,
    *,
    department_code: str,
    found_on: dt.date,
    method: InspectionMethod,
    category: str,
    description: str,
    organisation: str = "",
    today: dt.date | None = None,
) -> Finding:
    """Record a finding under the recorder's account; the day may not lie in the future."""
    department = department_by_code(session, department_code)
    if found_on > (today or dt.date.today()):
        raise InvalidInput(N_("The day of the inspection is in the future."), field="found_on")
    finding = Finding(
        department_id=department.id,
        found_on=found_on,
        method=method,
        category=_required_text(category, "category", MAX_CATEGORY_CHARACTERS),
        description=_required_text(description, "description", MAX_DESCRIPTION_CHARACTERS),
        organisation=organisation.strip()[:MAX_OFFICE_CHARACTERS],
        recorded_by=recorder.id,
    )
    session.add(finding)
    session.flush()
    audit_service.record(
        session,
        actor=recorder.username,
        action="finding_record",
        object=f"finding:{finding.id}",
        detail={"department": department.code, "found_on": found_on.isoformat()},
    )
    return finding


def add_evidence(
    session: Session, recorder: StaffUser, finding: Finding, filename: str, data: bytes
) -> FindingEvidence:
    """Store an evidence file with the rectification package's store
    (:func:`app.rectification.evidence.store`: size limit, type by content, random name)."""
    stored = evidence_store.store(data, filename)
    item = FindingEvidence(
        finding_id=finding.id,
        stored_name=stored.stored_name,
        original_name=stored.file_name,
        content_type=stored.media_type,
        size_bytes=stored.size_bytes,
    )
    session.add(item)
    session.flush()
    audit_service.record(
        session,
        actor=recorder.username,
        action="finding_evidence_add",
        object=f"finding:{finding.id}",
        detail={"evidence": item.id, "bytes": stored.size_bytes, "type": stored.media_type},
    )
    return item


def sees_every_finding(staff: StaffUser) -> bool:
    return allows(staff.role, Permission.MANAGE_INSPECTIONS)


def visible_findings(session: Session, staff: StaffUser) -> Sequence[Finding]:
    """Every finding for inspection managers; an inspector's own otherwise. Latest first."""
    query = select(Finding).order_by(Finding.found_on.desc(), Finding.id.desc())
    if not sees_every_finding(staff):
        query = query.where(Finding.recorded_by == staff.id)
    return session.scalars(query).all()


def visible_finding(session: Session, staff: StaffUser, finding_id: int) -> Finding:
    """The finding, if ``staff`` may see it; one they may not answers like a missing one."""
    finding = session.get(Finding, finding_id)
    if finding is None or not (sees_every_finding(staff) or finding.recorded_by == staff.id):
        raise NotFound(name=str(finding_id))
    return finding


def evidence_of(finding: Finding, evidence_id: int) -> FindingEvidence:
    for item in finding.evidence:
        if item.id == evidence_id:
            return item
    raise NotFound(name=str(evidence_id))


def findings_of_department(
    session: Session, department_id: int, start: dt.date | None, end: dt.date | None
) -> Sequence[Finding]:
    query = select(Finding).where(Finding.department_id == department_id)
    if start is not None:
        query = query.where(Finding.found_on >= start)
    if end is not None:
        query = query.where(Finding.found_on <= end)
    return session.scalars(query.order_by(Finding.found_on, Finding.id)).all()


# 通报单


def document_number(bulletin: InspectionBulletin) -> str:
    """The 文号 as printed: 〔2026〕3号."""
    return f"〔{bulletin.year}〕{bulletin.number}号"


def issue_bulletin(
    session: Session,
    actor: str,
    *,
    finding_ids: Iterable[int],
    title: str,
    issuing_office: str,
    copy_to: str,
    issued_on: dt.date,
) -> InspectionBulletin:
    """Number a 通报单 listing ``finding_ids`` (in that order): the year's next number.

    Two bulletins issued at once cannot share a number: the unique constraint on
    (year, number) refuses the second transaction.
    """
    ids = list(dict.fromkeys(finding_ids))
    if not ids:
        raise InvalidInput(N_("Choose at least one finding for the bulletin."), field="findings")
    findings = {
        finding.id: finding
        for finding in session.scalars(select(Finding).where(Finding.id.in_(ids)))
    }
    missing = [str(finding_id) for finding_id in ids if finding_id not in findings]
    if missing:
        raise NotFound(name=", ".join(missing))
    year = issued_on.year
    last = session.scalar(
        select(func.max(InspectionBulletin.number)).where(InspectionBulletin.year == year)
    )
    bulletin = InspectionBulletin(
        year=year,
        number=(last or 0) + 1,
        issued_on=issued_on,
        issuing_office=_required_text(issuing_office, "issuing_office", MAX_OFFICE_CHARACTERS),
        title=_required_text(title, "title", MAX_TITLE_CHARACTERS),
        copy_to=copy_to.strip()[:MAX_COPY_TO_CHARACTERS],
        created_by=actor,
    )
    bulletin.entries = [
        BulletinFinding(finding=findings[finding_id], position=position)
        for position, finding_id in enumerate(ids)
    ]
    session.add(bulletin)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="inspection_bulletin_issue",
        object=f"inspection_bulletin:{bulletin.id}",
        detail={"number": document_number(bulletin), "findings": ids},
    )
    return bulletin


def bulletins(session: Session) -> Sequence[InspectionBulletin]:
    return session.scalars(
        select(InspectionBulletin).order_by(
            InspectionBulletin.year.desc(), InspectionBulletin.number.desc()
        )
    ).all()


def bulletin(session: Session, bulletin_id: int) -> InspectionBulletin:
    found = session.get(InspectionBulletin, bulletin_id)
    if found is None:
        raise NotFound(name=str(bulletin_id))
    return found


def last_issuing_office(session: Session) -> str:
    """The issuing office of the latest 通报单, to prefill the next one."""
    office = session.scalar(
        select(InspectionBulletin.issuing_office).order_by(InspectionBulletin.id.desc()).limit(1)
    )
    return office or ""


# Inspection scores (the scored channel: app.inspections.channel)


def parse_score(text: str) -> Fraction | None:
    """A score as typed: blank for none, else 0–100 with at most two decimals."""
    text = text.strip()
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or not 0 <= value <= 100 or value != value.quantize(Decimal("0.01")):
        raise InvalidInput(
            N_(
                "An inspection score is a number from 0 to 100 with at most two decimals, "
                "not “%(value)s”."
            ),
            field="score",
            value=text,
        )
    return Fraction(value)


def set_scores(
    session: Session, actor: str, campaign: Campaign, scores: dict[int, Fraction | None]
) -> dict[str, object]:
    """Enter the office's inspection score per department id (``None`` clears it).

    Refused once the campaign is published: the published overall scores must not move.
    """
    if campaign.status == CampaignStatus.PUBLISHED:
        raise InvalidInput(
            N_("The campaign is published: its inspection scores can no longer change."),
            field="score",
        )
    targets = {target.department_id: target.department.code for target in campaign.targets}
    existing = {
        row.department_id: row
        for row in session.scalars(
            select(InspectionScore).where(InspectionScore.campaign_id == campaign.id)
        )
    }
    changes: dict[str, object] = {}
    for department_id, score in scores.items():
        if department_id not in targets:
            raise NotFound(name=str(department_id))
        row = existing.get(department_id)
        hundredths = None if score is None else int(score * 100)
        before = None if row is None else row.score_hundredths
        if hundredths == before:
            continue
        if hundredths is None and row is not None:
            session.delete(row)
        elif row is None and hundredths is not None:
            session.add(
                InspectionScore(
                    campaign_id=campaign.id,
                    department_id=department_id,
                    score_hundredths=hundredths,
                )
            )
        elif row is not None and hundredths is not None:
            row.score_hundredths = hundredths
        changes[targets[department_id]] = {
            "from": None if before is None else before / 100,
            "to": None if hundredths is None else hundredths / 100,
        }
    session.flush()
    if changes:
        audit_service.record(
            session,
            actor=actor,
            action="inspection_scores_set",
            object=f"campaign:{campaign.slug}",
            detail=changes,
        )
    return changes


def entered_scores(session: Session, campaign: Campaign) -> dict[int, Fraction]:
    """The office's entered scores, by department id."""
    return {
        row.department_id: Fraction(row.score_hundredths, 100)
        for row in session.scalars(
            select(InspectionScore).where(InspectionScore.campaign_id == campaign.id)
        )
    }


@dataclass(frozen=True)
class DerivedScore:
    score: Fraction
    findings: int


def derived_score(findings: int, deduction_per_finding: Fraction) -> Fraction:
    """100 minus the deduction per finding, never below 0."""
    return max(Fraction(0), FULL_SCORE - deduction_per_finding * findings)


def derived_scores(
    session: Session, campaign: Campaign, deduction_per_finding: Fraction
) -> dict[int, DerivedScore]:
    """Each target's score from its findings dated within the campaign's dates (both ends
    included; an open end is unbounded)."""
    return {
        target.department_id: DerivedScore(derived_score(count, deduction_per_finding), count)
        for target in campaign.targets
        for count in [
            len(
                findings_of_department(
                    session, target.department_id, campaign.starts_on, campaign.ends_on
                )
            )
        ]
    }
