"""What each audience sees of a campaign, decided under one disclosure audit.

Audiences, from the most to the least:

- **staff** (the office's console, exports and command line): the results once the box is
  counted, turnout (codes used per rater group), the quality-flag counts, and everything the
  public sees;
- **the public**: the published results in every format and on every page, and the
  verification page (the ballots counted and the list of their trackers, credentials issued
  per rater group);
- **a department's liaison**: the public's figures of their own department.

Each audience sees a subset of what the next sees, so one plan made for staff protects them
all: hiding a figure can only widen what an attacker can infer. The plan
(:func:`app.results.service.campaign_results`) treats every one of these figures as a cell of
the campaign's count tables, tied to the results by sums and inequalities
(:mod:`app.results.tables`), and the attacker's linear programme runs over all of them at
once. The figures published before the results exist — the ballots counted, credentials
issued, codes used — are decided here, by rules that need no results, and the results are
then withheld around them.
"""

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.admission import turnout as admission_turnout
from app.ballot_box import service as box_service
from app.ballots.models import STRAIGHT_LINING, TOO_FAST
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, RaterGroup
from app.campaigns.policy import ResultsPolicy
from app.comments.models import CommentForReview
from app.config import get_settings
from app.credentials import verification
from app.results.schemas import CampaignResults, TargetResult
from app.results.tables import Surroundings
from app.results.tally import CampaignTally


def least_shown_count(campaign: Campaign) -> int:
    """The smallest count shown on its own: the threshold, or the protection width if wider
    (a count of c tells any cell below it lies in [0, c])."""
    policy = campaign_service.policy_of(campaign)
    threshold = campaign.disclosure_threshold
    return max(threshold, int(-(-policy.width_for(threshold) // 1)))


def ballots_shown(campaign: Campaign, ballots_in_box: int) -> bool:
    """Whether the verification page shows how many ballots the box holds, and so the list
    of their trackers (its length is that number)."""
    return ballots_in_box >= least_shown_count(campaign)


def issued_shown(campaign: Campaign, issued: int) -> bool:
    """Whether a rater group's number of credentials issued is shown."""
    return issued >= campaign.disclosure_threshold


@dataclass(frozen=True)
class BallotFigures:
    """The verification page's figures of the box, each None where withheld."""

    in_box: int | None
    counted: int | None  # None before the tally, too
    trackers_shown: bool


def ballot_figures(session: Session, campaign: Campaign) -> BallotFigures:
    """The ballots as the public sees them after close (see :func:`ballots_shown`): those in
    the box, with those stored directly by a campaign opened before the box existed."""
    stored_directly = verification.legacy_receipt_count(session, campaign)
    in_box = box_service.ballots_in_box(session, campaign) + stored_directly
    shown = ballots_shown(campaign, in_box)
    tally = box_service.tally_of(session, campaign)
    counted = None if tally is None else tally.ballots_counted + stored_directly
    return BallotFigures(
        in_box=in_box if shown else None,
        counted=counted if shown else None,
        trackers_shown=shown,
    )


def surroundings(
    session: Session, campaign: Campaign, counted: CampaignTally, policy: ResultsPolicy
) -> Surroundings:
    """Every figure beside the results tables that some audience sees, as counts."""
    tally = box_service.tally_of(session, campaign)
    stored_directly = verification.legacy_receipt_count(session, campaign)
    ballots = None
    if tally is not None:
        ballots = (
            tally.ballots_counted + stored_directly,
            ballots_shown(campaign, tally.ballots_in_box + stored_directly),
        )
    issued: dict[int, tuple[int, bool]] = {}
    used: dict[int, tuple[int, bool]] = {}
    usable: dict[int, int] = {}
    used_in_revoked: dict[int, int] = {}
    used_total = None
    if get_settings().issues_credentials:
        for group_id, count in verification.issued_counts(session, campaign).items():
            issued[group_id] = (count, issued_shown(campaign, count))
        codes = admission_turnout.group_code_counts(session, campaign, "zh_CN")
        disclosed = admission_turnout.disclose_turnout(codes, campaign.disclosure_threshold)
        by_key = {group.key: group.id for group in campaign.rater_groups}
        for raw, shown in zip(codes, disclosed.groups, strict=True):
            group_id = by_key[raw.rater_group]
            used[group_id] = (raw.used, shown.used is not None)
            usable[group_id] = raw.issued - raw.revoked
            used_in_revoked[group_id] = raw.used_in_revoked_batches
        used_total = (sum(raw.used for raw in codes), disclosed.used is not None)
    minimum = policy.comments.min_respondents
    copies = {
        target_id: count
        for target_id, count in session.execute(
            select(CommentForReview.target_id, func.count())
            .where(CommentForReview.campaign_id == campaign.id)
            .group_by(CommentForReview.target_id)
        )
    }
    return Surroundings(
        ballots=ballots,
        issued=issued,
        used=used,
        codes_usable=usable,
        used_in_revoked_batches=used_in_revoked,
        used_total=used_total,
        flagged=counted.flagged,
        straight_lining=counted.flag_counts.get(STRAIGHT_LINING, 0),
        too_fast=counted.flag_counts.get(TOO_FAST, 0),
        excluded=policy.quality.handling == "exclude",
        released_comments={
            target_id: max(minimum, count) for target_id, count in copies.items() if count
        },
    )


@dataclass(frozen=True)
class IssuedFigure:
    rater_group: RaterGroup
    issued: int | None  # None where withheld


def issued_figures(session: Session, campaign: Campaign) -> list[IssuedFigure]:
    """Credentials issued per rater group, as the verification page shows them after close."""
    counts = verification.issued_counts(session, campaign)
    return [
        IssuedFigure(
            rater_group=group,
            issued=counts[group.id] if issued_shown(campaign, counts[group.id]) else None,
        )
        for group in campaign.rater_groups
    ]


def department_view(results: CampaignResults, department_code: str) -> TargetResult | None:
    """A liaison's view: the public's figures of their own department, nothing else."""
    return next((target for target in results.targets if target.target == department_code), None)
