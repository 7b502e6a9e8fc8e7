"""The console's front page: each campaign at a glance, with the next step to take.

Turnout comes from ``app.admission.turnout`` under its disclosure rules (a used count below
the threshold stays withheld); nothing here counts codes or ballots itself.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.admission import turnout as admission_turnout
from app.ballot_box.models import TallyKey
from app.campaigns.models import Campaign, CampaignStatus
from app.i18n import N_, Locale, gettext


@dataclass(frozen=True)
class NextStep:
    """What the office does next with a campaign: words, the page that does it, and the
    permission that page needs (without it the step is shown, not linked)."""

    label: str
    path: str
    permission: str


@dataclass(frozen=True)
class CampaignAtAGlance:
    campaign: Campaign
    turnout: admission_turnout.Turnout | None  # None where this deployment keeps no codes
    next_step: NextStep | None


STEP_LABELS = {
    "tally_key": N_("Make the tally key"),
    "issue": N_("Issue evaluation codes"),
    "open": N_("Open the evaluation"),
    "close": N_("Close the evaluation"),
    "tally": N_("Open the ballot box (tally)"),
    "publish": N_("Review comments and publish"),
    "read": N_("Read the published results"),
}


def next_step(campaign: Campaign, *, has_tally_key: bool, codes_issued: int) -> NextStep:
    """The step a campaign waits for, from its stage and what it already has."""
    base = f"/admin/campaigns/{campaign.slug}"

    def step(key: str, path: str, permission: str) -> NextStep:
        return NextStep(gettext(STEP_LABELS[key]), base + path, permission)

    match campaign.status:
        case CampaignStatus.DRAFT if not has_tally_key:
            return step("tally_key", "/trustees", "manage_campaigns")
        case CampaignStatus.DRAFT if codes_issued == 0:
            return step("issue", "/codes", "issue_codes")
        case CampaignStatus.DRAFT:
            return step("open", "/open", "manage_campaigns")
        case CampaignStatus.OPEN if codes_issued == 0:
            return step("issue", "/codes", "issue_codes")
        case CampaignStatus.OPEN:
            return step("close", "/close", "manage_campaigns")
        case CampaignStatus.CLOSED:
            return step("tally", "/tally", "enter_tally_share")
        case CampaignStatus.TALLIED:
            return step("publish", "/comments", "view_results")
        case _:
            return step("read", "/results", "view_results")


def at_a_glance(
    session: Session, campaigns: Sequence[Campaign], locale: Locale, *, keeps_codes: bool = True
) -> list[CampaignAtAGlance]:
    """Every campaign with its disclosed turnout and next step."""
    glances = []
    for campaign in campaigns:
        figures = admission_turnout.turnout(session, campaign, locale) if keeps_codes else None
        has_key = session.get(TallyKey, campaign.id) is not None
        glances.append(
            CampaignAtAGlance(
                campaign=campaign,
                turnout=figures,
                next_step=next_step(
                    campaign,
                    has_tally_key=has_key,
                    codes_issued=figures.issued if figures is not None else 1,
                ),
            )
        )
    return glances
