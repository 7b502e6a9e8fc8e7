"""Turnout: codes issued and used per rater group, with disclosure control."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.admission.models import AdmissionCode, CodeBatch, CodeStatus
from app.campaigns.models import Campaign, RaterGroup
from app.i18n import Locale


@dataclass(frozen=True)
class GroupTurnout:
    """A rater group's codes: issued (those that could be used or were: revoked codes are
    left out) and revoked, known to the office anyway, so always shown; used only when at
    least the disclosure threshold."""

    rater_group: str
    name: str
    issued: int
    revoked: int
    used: int | None  # None when withheld


@dataclass(frozen=True)
class Turnout:
    groups: list[GroupTurnout]
    issued: int
    used: int | None  # None when withheld
    threshold: int


@dataclass(frozen=True)
class GroupCodeCounts:
    """A rater group's codes by status, before disclosure control: ``issued`` counts every
    code of the group's ready batches, revoked ones included. Codes of a batch that is not
    ready (its slips were never written) are not counted at all."""

    rater_group: str
    name: str
    issued: int
    revoked: int
    used: int
    used_in_revoked_batches: int  # the office knows it: sizes of revoked batches minus revoked


def turnout(session: Session, campaign: Campaign, locale: Locale) -> Turnout:
    """How many codes each rater group was issued and has used, under disclosure control."""
    return disclose_turnout(
        group_code_counts(session, campaign, locale), campaign.disclosure_threshold
    )


def group_code_counts(
    session: Session, campaign: Campaign, locale: Locale
) -> list[GroupCodeCounts]:
    """Each rater group's codes by status, before disclosure control."""
    rows = session.execute(
        select(CodeBatch.rater_group_id, CodeBatch.revoked, AdmissionCode.status, func.count())
        .select_from(AdmissionCode)
        .join(CodeBatch, AdmissionCode.batch_id == CodeBatch.id)
        .where(CodeBatch.campaign_id == campaign.id, CodeBatch.ready.is_(True))
        .group_by(CodeBatch.rater_group_id, CodeBatch.revoked, AdmissionCode.status)
    )
    counted: dict[tuple[int, bool, CodeStatus], int] = {}
    for group_id, batch_revoked, status, code_count in rows:
        key = (group_id, bool(batch_revoked), CodeStatus(status))
        counted[key] = counted.get(key, 0) + code_count

    def codes_of(
        group: RaterGroup, status: CodeStatus, *, batch_revoked: bool | None = None
    ) -> int:
        return sum(
            counted.get((group.id, revoked, status), 0)
            for revoked in (False, True)
            if batch_revoked is None or revoked == batch_revoked
        )

    return [
        GroupCodeCounts(
            rater_group=group.key,
            name=group.name_for(locale),
            issued=sum(codes_of(group, status) for status in CodeStatus),
            revoked=codes_of(group, CodeStatus.REVOKED),
            used=codes_of(group, CodeStatus.USED),
            used_in_revoked_batches=codes_of(group, CodeStatus.USED, batch_revoked=True),
        )
        for group in campaign.rater_groups
    ]


def disclose_turnout(counts: Sequence[GroupCodeCounts], threshold: int) -> Turnout:
    """Withhold every used count below ``threshold``, and the total where it would tell one.

    A group's used count is withheld below the threshold, unless the group has no usable
    code at all (issued minus revoked is 0): then it is 0 by shape, and saying so discloses
    nothing. The total used is withheld below
    the threshold too, and whenever it would pin a withheld group to a single value given
    what else the office knows: the shown groups' counts, and for each withheld group the
    range it must lie in, from the codes used in its revoked batches (batch sizes minus codes
    revoked) up to the smaller of ``threshold - 1`` and its issued minus revoked codes. That
    covers the plain case (exactly one withheld group: total minus the others) and also
    several withheld groups all at the bottom or all at the top of their ranges (all zero,
    say). A withheld group whose range is a single value is known without the total, so it
    is left out. Withholding the total depends on the counts, yet it pins no group either:
    had every withheld group been at the bottom of its range, or every one at the top, the
    total would have been withheld as well, so each keeps at least two possible values.
    """
    groups = [
        GroupTurnout(
            rater_group=group.rater_group,
            name=group.name,
            issued=group.issued - group.revoked,
            revoked=group.revoked,
            used=group.used if group.used >= threshold or _none_usable(group) else None,
        )
        for group in counts
    ]
    total_used = sum(group.used for group in counts)
    total_issued = sum(group.issued - group.revoked for group in counts)
    withheld = [group for group in counts if group.used < threshold]
    total_shown = (
        total_used >= threshold and not _total_would_pin(withheld, threshold)
    ) or total_issued == 0
    return Turnout(
        groups=groups,
        issued=total_issued,
        used=total_used if total_shown else None,
        threshold=threshold,
    )


def _none_usable(group: GroupCodeCounts) -> bool:
    """Whether the group has no code that could have been used (none issued, or every one
    revoked): its used count is 0 by shape, known to the office without being disclosed."""
    return group.issued - group.revoked == 0


def _total_would_pin(withheld: Sequence[GroupCodeCounts], threshold: int) -> bool:
    """Whether the withheld groups' sum leaves one of them a single possible value."""
    ranges = [
        (
            group.used_in_revoked_batches,
            min(threshold - 1, group.issued - group.revoked),
            group.used,
        )
        for group in withheld
    ]
    open_ranges = [(lowest, highest, used) for lowest, highest, used in ranges if lowest < highest]
    open_sum = sum(used for _, _, used in open_ranges)
    lowest_sum = sum(lowest for lowest, _, _ in open_ranges)
    highest_sum = sum(highest for _, highest, _ in open_ranges)
    for lowest, highest, _ in open_ranges:
        least = max(lowest, open_sum - (highest_sum - highest))
        most = min(highest, open_sum - (lowest_sum - lowest))
        if least == most:
            return True
    return False
