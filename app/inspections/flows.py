"""A finding becomes a rectification task (暗访问题 → 整改).

One function, called by the console (and by anything else that needs it), that hands the
finding to :func:`app.rectification.service.assign_task` for the department's target in a
published campaign. A rectification task belongs to a campaign's target, so the office chooses
the campaign (normally the latest published one that rated the department). The task's
description names the finding, and the audit trail records which finding became which task.
"""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import service as audit_service
from app.campaigns.models import Campaign, CampaignStatus, Target
from app.departments.models import Department
from app.errors import InvalidInput
from app.i18n import N_, gettext
from app.inspections import service as inspection_service
from app.inspections.models import Finding
from app.rectification import service as rectification_service
from app.rectification.models import RectificationTask

TASK_TITLE = N_("Mystery inspection: %(category)s")
TASK_DESCRIPTION = N_(
    "Found by mystery inspection no. %(finding)s (%(method)s, %(day)s): %(description)s"
)
NOT_RATED = N_("Campaign “%(slug)s” did not rate this department.")


def campaigns_for(session: Session, finding: Finding) -> Sequence[Campaign]:
    """Published campaigns that rated the finding's department, the latest first."""
    return session.scalars(
        select(Campaign)
        .join(Target, Target.campaign_id == Campaign.id)
        .where(
            Target.department_id == finding.department_id,
            Campaign.status == CampaignStatus.PUBLISHED,
        )
        .order_by(Campaign.ends_on.desc().nulls_last(), Campaign.id.desc())
    ).all()


def finding_to_task(
    session: Session,
    finding: Finding,
    campaign: Campaign,
    *,
    working_days: int,
    actor: str,
) -> RectificationTask:
    """Assign the finding's department a rectification task in ``campaign`` (published)."""
    target = next(
        (target for target in campaign.targets if target.department_id == finding.department_id),
        None,
    )
    if target is None:
        raise InvalidInput(NOT_RATED, field="campaign", slug=campaign.slug)
    task = rectification_service.assign_task(
        session,
        campaign,
        target,
        title=(gettext(TASK_TITLE) % {"category": finding.category})[:100],
        description=gettext(TASK_DESCRIPTION)
        % {
            "finding": finding.id,
            "method": inspection_service.method_name(finding.method),
            "day": finding.found_on.isoformat(),
            "description": finding.description,
        },
        working_days=working_days,
        actor=actor,
    )
    department = session.get(Department, finding.department_id)
    audit_service.record(
        session,
        actor=actor,
        action="finding_to_task",
        object=f"finding:{finding.id}",
        detail={
            "task": task.id,
            "campaign": campaign.slug,
            "department": None if department is None else department.code,
        },
    )
    return task
