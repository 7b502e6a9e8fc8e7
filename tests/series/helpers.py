"""Two published campaigns of one series ("annual", 2025 and 2026) rating the same departments.

2025 is :class:`tests.public.helpers.Published` (east, west, centre good; north poor). In 2026
east is rated poorly (it falls), north well (it rises), west as before (no change), and centre
by only two raters per group, under the threshold of 3: its composite is withheld.
"""

import datetime as dt

from sqlalchemy.orm import Session

from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign
from app.campaigns.policy import CommentPolicy, ResultsPolicy
from tests.factories import make_campaign
from tests.public.helpers import (
    GOOD_CADRES,
    GOOD_CITIZENS,
    POOR_CADRES,
    POOR_CITIZENS,
    THRESHOLD,
    Published,
    close_and_publish,
    rate,
)

SERIES = "annual"


class TwoYears:
    def __init__(self, session: Session, policy: ResultsPolicy | None = None) -> None:
        self.first = Published(session, publish=False)
        self.east, self.west = self.first.east, self.first.west
        self.north, self.centre = self.first.north, self.first.centre
        self._dates(self.first.campaign, 2025)
        close_and_publish(session, self.first.campaign)
        self.second = make_campaign(
            session,
            groups={"citizens": 3.0, "cadres": 1.0},
            departments=[self.east, self.west, self.north, self.centre],
            threshold=THRESHOLD,
        )
        self._dates(self.second, 2026)
        campaign_service.set_policy(
            session,
            self.second,
            policy or ResultsPolicy(comments=CommentPolicy(min_respondents=THRESHOLD)),
        )
        rate(session, self.second, self.east, "citizens", POOR_CITIZENS)
        rate(session, self.second, self.east, "cadres", POOR_CADRES)
        rate(session, self.second, self.west, "citizens", GOOD_CITIZENS)
        rate(session, self.second, self.west, "cadres", GOOD_CADRES)
        rate(session, self.second, self.north, "citizens", GOOD_CITIZENS)
        rate(session, self.second, self.north, "cadres", GOOD_CADRES)
        rate(session, self.second, self.centre, "citizens", GOOD_CITIZENS[:2])
        rate(session, self.second, self.centre, "cadres", GOOD_CADRES[:2])
        close_and_publish(session, self.second)

    @staticmethod
    def _dates(campaign: Campaign, year: int) -> None:
        campaign.series = SERIES
        campaign.starts_on = dt.date(year, 11, 1)
        campaign.ends_on = dt.date(year, 11, 30)
