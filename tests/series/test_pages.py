"""The series on the public department page and the console's risers and fallers."""

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.public import views as public_views
from app.results import service as results_service
from tests.console import sign_in
from tests.factories import make_staff
from tests.series.helpers import TwoYears


def trend_section(html: str) -> str:
    start = html.index('id="trend"')
    return html[start : html.index('id="comments"')]


def points(value: float | None) -> str:
    assert value is not None
    return public_views.decimal_text(value, 2)


class TestPublicDepartmentPage:
    def test_trend_table_and_chart_show_each_campaigns_published_figures(
        self, client: TestClient, session: Session
    ) -> None:
        years = TwoYears(session)
        first = results_service.campaign_results(session, years.first.campaign, "zh_CN")
        second = results_service.campaign_results(session, years.second, "zh_CN")

        page = client.get(f"/results/{years.second.slug}/departments/{years.north.code}")

        assert page.status_code == 200
        section = trend_section(page.text)
        assert "<svg" in section
        assert "<script" not in section
        rows = re.findall(r"<tr.*?</tr>", section.split("<tbody>")[1], re.S)
        assert len(rows) == 2
        for row, results in zip(rows, (first, second), strict=True):
            shown = next(t for t in results.targets if t.target == years.north.code)
            cells = re.findall(r'<td class="number">(.*?)</td>', row, re.S)
            expected = [points(shown.composite_score)]
            for dimension in shown.dimensions:
                expected.append(points(dimension.score))
                assert dimension.satisfaction_rate is not None
                expected.append(
                    public_views.decimal_text(dimension.satisfaction_rate * 100, 2) + "%"
                )
            assert [cell.strip() for cell in cells] == expected
        assert 'aria-current="page"' in rows[1]

    def test_a_withheld_figure_is_shown_as_withheld(
        self, client: TestClient, session: Session
    ) -> None:
        years = TwoYears(session)

        page = client.get(f"/results/{years.first.campaign.slug}/departments/{years.centre.code}")

        rows = re.findall(r"<tr.*?</tr>", trend_section(page.text).split("<tbody>")[1], re.S)
        assert 'class="withheld"' not in rows[0]
        assert 'class="withheld"' in rows[1]

    def test_a_campaign_without_series_shows_no_trend(
        self, client: TestClient, session: Session
    ) -> None:
        years = TwoYears(session)
        years.second.series = None
        session.flush()

        page = client.get(f"/results/{years.second.slug}/departments/{years.north.code}")

        assert 'id="trend"' not in page.text


class TestConsoleSeriesPage:
    def test_lists_risers_and_fallers(self, client: TestClient, session: Session) -> None:
        years = TwoYears(session)
        assert sign_in(client, make_staff(session, role="auditor").username).status_code == 303

        page = client.get("/admin/series/annual")

        assert page.status_code == 200
        risers = page.text.index("<caption>")
        assert years.north.name in page.text[risers : page.text.index("<caption>", risers + 1)]
        assert client.get("/admin/series").status_code == 200
