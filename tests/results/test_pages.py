"""Turnout, results and exports in the office console, and a liaison's own results.

Ratings are made through the services (``tests.results.helpers.rate``) and counted by the
tally, as the trustees would count them; the disclosure threshold is 3 unless a test says
otherwise. Answers are (courtesy, speed, overall).
"""

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.admission import service as admission_service
from app.audit.models import AuditEntry
from app.campaigns.models import Campaign, CampaignStatus
from app.departments.models import Department
from app.middleware.locale import LANGUAGE_COOKIE
from tests import factories
from tests.console import post_form, sign_in
from tests.factories import (
    HASHING_KEY,
    issue_codes,
    make_campaign,
    make_department,
    make_staff,
)

THRESHOLD = 3
CITIZENS_SCORING_70 = [(5, 3, 1), (4, 2, 2), (2, 1, 5)]
ENTERPRISES_SCORING_85 = [(5, 3, 3), (4, 3, 3), (3, 2, 3)]
ONE_ENTERPRISE = [(5, 3, 5)]
WITHHELD_MARK = '<span class="withheld"'
# One wording for every hidden figure, whichever rule hid it.
WITHHELD_FIGURE = (
    f'{WITHHELD_MARK} title="withheld to protect raters\' anonymity">not published</span>'
)


def sign_in_as(
    client: TestClient, session: Session, role: str, department: Department | None = None
) -> None:
    user = make_staff(session, role=role, department=department)
    assert sign_in(client, user.username).status_code == 303
    client.cookies.set(LANGUAGE_COOKIE, "en")  # English texts, as the language switch sets


def audit_entries(session: Session, action: str) -> list[AuditEntry]:
    session.expire_all()
    return list(
        session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.sequence)
        )
    )


def departments(session: Session) -> tuple[Department, Department]:
    return (
        make_department(session, name="东城区税务局", category="执法类"),
        make_department(session, name="西城区市场监管局", category="执法类"),
    )


def rated_campaign(
    session: Session,
    targets: tuple[Department, Department],
    *,
    status: CampaignStatus = CampaignStatus.PUBLISHED,
) -> Campaign:
    """The first target: citizens score 70, one enterprise (withheld). The second: enterprises
    score 85, no citizens (withheld). Brought to ``status`` through the campaign's lifecycle:
    closed, its ballot box counted (tallied), published."""
    return factories.rated_campaign(
        session,
        [
            (0, "citizens", CITIZENS_SCORING_70),
            (0, "enterprises", ONE_ENTERPRISE),
            (1, "enterprises", ENTERPRISES_SCORING_85),
        ],
        groups={"citizens": 1.0, "enterprises": 1.0},
        departments=list(targets),
        threshold=THRESHOLD,
        status=status,
    )


def table_row(html: str, header: str) -> str:
    match = re.search(rf'<th scope="row">{re.escape(header)}</th>(.*?)</tr>', html, re.S)
    assert match, f"no row {header!r}"
    return match.group(1)


def cells(row: str) -> list[str]:
    return [cell.strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


class TestTurnout:
    def test_used_counts_below_the_threshold_are_withheld_with_a_note(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session, threshold=5)
        citizen_codes = issue_codes(session, campaign, group="citizens", count=10)
        cadre_codes = issue_codes(session, campaign, group="cadres", count=8)
        for code in citizen_codes[:2] + cadre_codes[:6]:
            admission_service.use_code(session, HASHING_KEY, code)
        sign_in_as(client, session, "auditor")

        page = client.get(f"/admin/campaigns/{campaign.slug}/turnout")

        assert page.status_code == 200
        citizens = cells(table_row(page.text, "Citizens"))
        cadres = cells(table_row(page.text, "Cadres"))
        assert citizens[0] == "10"
        assert WITHHELD_FIGURE in citizens[1]
        assert WITHHELD_FIGURE in citizens[2]  # the share used is withheld with it
        assert cadres[:2] == ["8", "6"]
        assert cadres[2] == "75.0%"
        total = cells(table_row(page.text, "Total"))
        assert total[0] == "18"
        assert WITHHELD_FIGURE in total[1]  # 8, but with cadres' 6 it would give citizens' 2
        assert (
            "A number of used codes below 5 is not published, to protect raters' anonymity"
            in page.text
        )

    def test_figures_at_the_threshold_are_shown(self, client: TestClient, session: Session) -> None:
        campaign = make_campaign(session, threshold=5)
        for group in ("citizens", "cadres"):
            for code in issue_codes(session, campaign, group=group, count=5):
                admission_service.use_code(session, HASHING_KEY, code)
        sign_in_as(client, session, "admin")

        page = client.get(f"/admin/campaigns/{campaign.slug}/turnout")

        assert WITHHELD_MARK not in page.text.split("<tfoot>")[0].split("<tbody>")[1]
        assert cells(table_row(page.text, "Total"))[1] == "10"


class TestResultsPage:
    def test_tables_show_figures_and_mark_withheld_cells(
        self, client: TestClient, session: Session
    ) -> None:
        first, second = departments(session)
        campaign = rated_campaign(session, (first, second), status=CampaignStatus.TALLIED)
        sign_in_as(client, session, "admin")

        page = client.get(f"/admin/campaigns/{campaign.slug}/results")

        assert page.status_code == 200
        assert first.name in page.text
        assert second.name in page.text
        # Composite table: first from citizens only (70), second from enterprises only (85).
        composite_first = cells(table_row(page.text, first.name))
        assert composite_first[:3] == [first.code, "执法类", "70.00"]
        assert composite_first[3] == "Citizens"
        # Evaluations and score by group: one enterprise is withheld, even its count.
        rows = re.findall(rf'<th scope="row">{first.name}</th>(.*?)</tr>', page.text, re.S)
        by_group = cells(rows[1])
        assert by_group[:2] == ["3", "70.00"]
        assert all(WITHHELD_FIGURE in cell for cell in by_group[2:4])
        assert (
            "Some figures are not published, to protect raters' anonymity: a figure from fewer "
            "than 3 raters" in page.text
        )
        # Item tables: courtesy answered 5, 4, 2 by citizens: 100, 80, 40 points.
        assert "73.33" in page.text
        assert "66.7%" in page.text
        assert "Very satisfied: 1" in page.text

    def test_charts_of_composites_and_of_each_groups_scores(
        self, client: TestClient, session: Session
    ) -> None:
        first, second = departments(session)
        campaign = rated_campaign(session, (first, second), status=CampaignStatus.TALLIED)
        sign_in_as(client, session, "admin")

        page = client.get(f"/admin/campaigns/{campaign.slug}/results")

        charts = re.findall(r"<svg .*?</svg>", page.text, re.S)
        assert len(charts) == 3
        titles = [re.findall(r"<title id=[^>]*>(.*?)</title>", chart)[0] for chart in charts]
        assert titles == [
            "Composite score by department",
            "Score given by Citizens",
            "Score given by Enterprises",
        ]
        assert f"{first.name}: 70.00" in charts[0]
        assert f"{second.name}: 85.00" in charts[0]
        assert f"{second.name}: not published" in charts[1]
        assert 'class="row withheld"' in charts[1]

    def test_viewing_results_is_audited(self, client: TestClient, session: Session) -> None:
        campaign = rated_campaign(session, departments(session))
        sign_in_as(client, session, "auditor")

        client.get(f"/admin/campaigns/{campaign.slug}/results")

        (entry,) = audit_entries(session, "results_view")
        assert entry.object == f"campaign:{campaign.slug}"

    def test_an_auditor_sees_no_export_buttons(self, client: TestClient, session: Session) -> None:
        campaign = rated_campaign(session, departments(session))
        sign_in_as(client, session, "auditor")

        page = client.get(f"/admin/campaigns/{campaign.slug}/results")

        assert page.status_code == 200
        assert "results.csv" not in page.text


class TestExports:
    def test_csv_export_is_an_audited_attachment(
        self, client: TestClient, session: Session
    ) -> None:
        first, second = departments(session)
        campaign = rated_campaign(session, (first, second))
        sign_in_as(client, session, "admin")
        results_path = f"/admin/campaigns/{campaign.slug}/results"

        response = post_form(client, f"{results_path}.csv", token_from=results_path)

        assert response.status_code == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert response.headers["content-disposition"] == (
            f'attachment; filename="results-{campaign.slug}.csv"'
        )
        text = response.content.decode("utf-8")
        assert text.startswith("\ufeff")
        assert first.name in text
        assert second.name in text
        (entry,) = audit_entries(session, "results_export")
        assert entry.detail == {"format": "csv"}
        assert entry.object == f"campaign:{campaign.slug}"

    def test_json_export_names_withheld_figures(self, client: TestClient, session: Session) -> None:
        first, second = departments(session)
        campaign = rated_campaign(session, (first, second))
        sign_in_as(client, session, "admin")
        results_path = f"/admin/campaigns/{campaign.slug}/results"

        response = post_form(client, f"{results_path}.json", token_from=results_path)

        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.headers["content-disposition"] == (
            f'attachment; filename="results-{campaign.slug}.json"'
        )
        body = json.loads(response.content)
        assert body["campaign"] == campaign.slug
        target = next(t for t in body["targets"] if t["target"] == first.code)
        assert target["composite_score"] == 70.0
        enterprises = next(g for g in target["groups"] if g["rater_group"] == "enterprises")
        assert enterprises["evaluations"] is None
        assert enterprises["withheld"] == [
            "evaluations",
            "score",
            "score_standard_deviation",
            "score_ci_low",
            "score_ci_high",
        ]
        assert (
            f"{first.name} · Enterprises: all figures (withheld to protect raters' anonymity)"
            in body["withheld_figures"]
        )
        (entry,) = audit_entries(session, "results_export")
        assert entry.detail == {"format": "json"}

    def test_exports_are_post_only(self, client: TestClient, session: Session) -> None:
        campaign = rated_campaign(session, departments(session))
        sign_in_as(client, session, "admin")

        assert client.get(f"/admin/campaigns/{campaign.slug}/results.csv").status_code == 405
        assert client.post(f"/admin/campaigns/{campaign.slug}/results.csv").status_code == 403
        assert audit_entries(session, "results_export") == []


class TestLiaisonResults:
    def test_a_liaison_sees_only_their_department_in_published_campaigns(
        self, client: TestClient, session: Session
    ) -> None:
        mine, theirs = departments(session)
        published = rated_campaign(session, (mine, theirs))
        still_open = rated_campaign(session, (mine, theirs), status=CampaignStatus.OPEN)
        closed = rated_campaign(session, (mine, theirs), status=CampaignStatus.CLOSED)
        tallied = rated_campaign(session, (mine, theirs), status=CampaignStatus.TALLIED)
        other_department = make_department(session, name="南城区教育局")
        not_rating_me = rated_campaign(session, (theirs, other_department))
        sign_in_as(client, session, "liaison", department=mine)

        page = client.get("/admin/my-results")

        assert page.status_code == 200
        assert f'id="campaign-{published.slug}"' in page.text
        for hidden in (still_open, closed, tallied, not_rating_me):
            assert hidden.slug not in page.text
        assert mine.name in page.text
        for other in (theirs, other_department):
            assert other.name not in page.text
            assert other.code not in page.text
        assert "85.00" not in page.text  # the other department's enterprise score
        assert "70.00" in page.text  # their own composite
        assert WITHHELD_FIGURE in page.text  # their one enterprise rater is withheld
        charts = re.findall(r"<svg .*?</svg>", page.text, re.S)
        chart = [svg for svg in charts if "Citizens" in svg]  # besides the dimension chart
        assert len(chart) == 1
        assert "Citizens: 70.00" in chart[0]
        assert "Enterprises: not published" in chart[0]

    def test_viewing_own_results_is_audited(self, client: TestClient, session: Session) -> None:
        mine, theirs = departments(session)
        published = rated_campaign(session, (mine, theirs))
        sign_in_as(client, session, "liaison", department=mine)

        client.get("/admin/my-results")

        (entry,) = audit_entries(session, "results_view")
        assert entry.object == f"department:{mine.code}"
        assert entry.detail == {"campaigns": [published.slug]}

    def test_nothing_published_yet(self, client: TestClient, session: Session) -> None:
        mine, theirs = departments(session)
        rated_campaign(session, (mine, theirs), status=CampaignStatus.TALLIED)
        sign_in_as(client, session, "liaison", department=mine)

        page = client.get("/admin/my-results")

        assert "No published results for your department yet." in page.text
        assert theirs.name not in page.text

    def test_the_console_front_page_leads_a_liaison_here(
        self, client: TestClient, session: Session
    ) -> None:
        mine, _ = departments(session)
        sign_in_as(client, session, "liaison", department=mine)

        response = client.get("/admin", follow_redirects=False)

        assert response.headers["location"] == "/admin/my-results"


class TestPermissions:
    @pytest.mark.parametrize(
        ("role", "path"),
        [
            ("liaison", "/admin/campaigns/{slug}/turnout"),
            ("liaison", "/admin/campaigns/{slug}/results"),
            ("admin", "/admin/my-results"),
            ("auditor", "/admin/my-results"),
        ],
    )
    def test_pages_refuse_roles_without_the_permission(
        self, client: TestClient, session: Session, role: str, path: str
    ) -> None:
        mine, theirs = departments(session)
        campaign = rated_campaign(session, (mine, theirs))
        sign_in_as(client, session, role, department=mine if role == "liaison" else None)

        response = client.get(path.format(slug=campaign.slug))

        assert response.status_code == 403
        assert theirs.name not in response.text
        assert audit_entries(session, "results_view") == []

    @pytest.mark.parametrize("role", ["liaison", "auditor"])
    @pytest.mark.parametrize("suffix", ["csv", "json"])
    def test_exports_refuse_roles_without_the_permission(
        self, client: TestClient, session: Session, role: str, suffix: str
    ) -> None:
        mine, theirs = departments(session)
        campaign = rated_campaign(session, (mine, theirs))
        sign_in_as(client, session, role, department=mine if role == "liaison" else None)

        response = post_form(client, f"/admin/campaigns/{campaign.slug}/results.{suffix}")

        assert response.status_code == 403
        assert theirs.name not in response.text
        assert audit_entries(session, "results_export") == []


class TestResultsWaitForTheTally:
    @pytest.mark.parametrize("status", [CampaignStatus.OPEN, CampaignStatus.CLOSED])
    def test_results_and_exports_are_refused_until_the_ballot_box_is_counted(
        self, client: TestClient, session: Session, status: CampaignStatus
    ) -> None:
        first, second = departments(session)
        campaign = rated_campaign(session, (first, second), status=status)
        sign_in_as(client, session, "admin")

        page = client.get(f"/admin/campaigns/{campaign.slug}/results")
        export = post_form(client, f"/admin/campaigns/{campaign.slug}/results.csv")

        assert page.status_code == 409
        assert "closed" in page.text
        assert export.status_code == 409
