"""Mystery inspections as a scored channel: a hand-worked example.

The campaign is :class:`tests.public.helpers.Published`; its published composites are east
86.94, west 86.94 and north 52.50 (执法类) and centre 86.94 (综合类). With inspections weighted
0.2 and the office's scores east 70, west 95, north 100 and none for centre:

    east   0.8 × 86.94 + 0.2 × 70  = 69.552 + 14 = 83.552 → 83.55  比较满意  rank 2 of 3
    west   0.8 × 86.94 + 0.2 × 95  = 69.552 + 19 = 88.552 → 88.55  满意      rank 1 of 3
    north  0.8 × 52.50 + 0.2 × 100 = 42.000 + 20 = 62.000 → 62.00  基本满意  rank 3 of 3
    centre no inspection score: no overall score, not ranked
"""

import datetime as dt
from fractions import Fraction

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.campaigns import service as campaign_service
from app.campaigns.policy import CommentPolicy, InspectionChannel, ResultsPolicy
from app.inspections import channel
from app.inspections import service as inspection_service
from app.inspections.models import InspectionScore
from app.results import service as results_service
from tests.factories import make_staff
from tests.inspections.helpers import record
from tests.public.helpers import THRESHOLD, Published, close_and_publish
from tests.series.helpers import TwoYears


def weighted(session: Session, **setting: object) -> Published:
    published = Published(session, publish=False)
    campaign_service.set_policy(
        session,
        published.campaign,
        ResultsPolicy(
            comments=CommentPolicy(min_respondents=THRESHOLD),
            inspection=InspectionChannel.model_validate({"weight": 0.2, **setting}),
        ),
    )
    return published


class TestOverallScore:
    def test_hand_worked_example(self, session: Session) -> None:
        published = weighted(session)
        inspection_service.set_scores(
            session,
            "admin",
            published.campaign,
            {
                published.east.id: Fraction(70),
                published.west.id: Fraction(95),
                published.north.id: Fraction(100),
            },
        )
        close_and_publish(session, published.campaign)
        results = results_service.campaign_results(session, published.campaign, "zh_CN")

        computed = channel.channel_results(session, published.campaign, results)

        assert computed is not None
        by_code = {score.department_code: score for score in computed.scores}
        east, west = by_code[published.east.code], by_code[published.west.code]
        north, centre = by_code[published.north.code], by_code[published.centre.code]
        assert (east.rating_composite, east.inspection_score, east.overall) == (86.94, 70, 83.55)
        assert (west.overall, west.grade, west.rank) == (88.55, "满意", 1)
        assert (east.grade, east.rank, east.ranked_in_category) == ("比较满意", 2, 3)
        assert (north.overall, north.grade, north.rank) == (62.0, "基本满意", 3)
        assert (centre.inspection_score, centre.overall, centre.rank) == (None, None, None)
        # the ratings' own composite, grade and rank are untouched
        assert [target.composite_score for target in results.targets] == [86.94, 86.94, 52.5, 86.94]

    def test_derived_from_findings(self, session: Session) -> None:
        published = weighted(session, source="findings", deduction_per_finding=5)
        published.campaign.starts_on = dt.date(2026, 11, 1)
        published.campaign.ends_on = dt.date(2026, 11, 30)
        inspector = make_staff(session, role="inspector")
        for day in (dt.date(2026, 11, 3), dt.date(2026, 11, 20)):
            record(session, inspector, published.east, day=day)
        close_and_publish(session, published.campaign)
        results = results_service.campaign_results(session, published.campaign, "zh_CN")

        computed = channel.channel_results(session, published.campaign, results)

        assert computed is not None
        east = computed.for_department(published.east.code)
        west = computed.for_department(published.west.code)
        assert east is not None
        assert west is not None
        # 0.8 × 86.94 + 0.2 × (100 − 2 × 5) = 69.552 + 18 = 87.552 → 87.55
        assert (east.findings, east.inspection_score, east.overall) == (2, 90, 87.55)
        # no finding: 0.8 × 86.94 + 0.2 × 100 = 89.552 → 89.55
        assert (west.findings, west.overall) == (0, 89.55)

    def test_no_weight_no_channel(self, session: Session) -> None:
        published = Published(session)
        results = results_service.campaign_results(session, published.campaign, "zh_CN")

        assert channel.channel_results(session, published.campaign, results) is None

    def test_public_page_shows_the_overall_score(
        self, client: TestClient, session: Session
    ) -> None:
        published = weighted(session)
        inspection_service.set_scores(
            session, "admin", published.campaign, {published.east.id: Fraction(70)}
        )
        close_and_publish(session, published.campaign)

        page = client.get(f"/results/{published.slug}/departments/{published.east.code}")
        section = page.text[page.text.index('id="overall"') :]

        assert "83.55" in section
        assert "70.00" in section
        assert "比较满意" in section

    def test_a_withheld_composite_withholds_the_overall_score(
        self, client: TestClient, session: Session
    ) -> None:
        """The overall score and the inspection score would give the withheld composite back."""
        policy = ResultsPolicy(
            comments=CommentPolicy(min_respondents=THRESHOLD),
            inspection=InspectionChannel(weight=0.2),
        )
        years = TwoYears(session, policy)
        session.add(
            InspectionScore(
                campaign_id=years.second.id, department_id=years.centre.id, score_hundredths=9000
            )
        )
        session.flush()
        results = results_service.campaign_results(session, years.second, "zh_CN")

        computed = channel.channel_results(session, years.second, results)

        assert computed is not None
        centre = computed.for_department(years.centre.code)
        assert centre is not None
        assert (centre.rating_composite, centre.inspection_score) == (None, 90)
        assert (centre.overall, centre.grade, centre.rank) == (None, None, None)
        page = client.get(f"/results/{years.second.slug}/departments/{years.centre.code}")
        section = page.text[page.text.index('id="overall"') : page.text.index('id="trend"')]
        assert section.count('class="withheld"') == 3  # composite, overall score, grade


class TestMethodologyPage:
    def test_states_the_weights_and_the_rule(self, client: TestClient, session: Session) -> None:
        published = weighted(session, source="findings", deduction_per_finding=5)
        close_and_publish(session, published.campaign)

        page = client.get(f"/results/{published.slug}/methodology")

        section = page.text[page.text.index('id="inspections"') :]
        assert "0.8 × 公布的综合得分 + 0.2 × 暗访得分" in section
        assert "扣 5 分" in section
