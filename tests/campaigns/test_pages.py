"""The campaigns section of the office console, through HTTP: list, create, detail, edit a
draft (with the anonymity lock), and the lifecycle steps behind confirmation pages.

Pages are read in English (the language cookie), so the assertions do not depend on the
Chinese catalog.
"""

import datetime as dt
import re
from html import unescape
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus
from app.departments.models import Department
from tests.console import csrf_token, sign_in
from tests.factories import issue_codes, make_campaign, make_department, make_staff

SERVICE_RATING = "file:service-rating.yaml"  # shipped; groups citizens and enterprises


@pytest.fixture
def departments(session: Session) -> list[Department]:
    return [
        make_department(session, code="FGJ", name="发改局", category="经济发展类"),
        make_department(session, code="SWJ", name="商务局", category="经济发展类"),
        make_department(session, code="SJJ", name="市监局", category="执法监管类"),
    ]


def signed_in(
    client: TestClient, session: Session, role: str = "admin", department: Department | None = None
) -> str:
    """Sign in a new staff member in English; returns a CSRF token for their posts.

    The token is bound to the session, so it is taken after signing in, from the sign-out form
    that every console page has (a post without a valid token is refused whatever the role).
    """
    if role == "liaison" and department is None:
        department = make_department(session)
    user = make_staff(session, role=role, department=department)
    client.get("/admin/login?lang=en")
    assert sign_in(client, user.username).status_code == 303
    return csrf_token(client, "/admin")


@pytest.fixture
def token(client: TestClient, session: Session) -> str:
    """An administrator is signed in."""
    return signed_in(client, session)


def post(client: TestClient, path: str, token: str, data: dict[str, Any]) -> httpx.Response:
    return client.post(path, data={"csrftoken": token, **data}, follow_redirects=False)


def creation(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "template": SERVICE_RATING,
        "slug": "window-2026",
        "title_zh": "2026年窗口服务评议",
        "title_en": "2026 service window evaluation",
        "group": ["citizens", "enterprises"],
        "weight_citizens": "60",
        "weight_enterprises": "40",
        "target": ["FGJ", "SJJ"],
        "disclosure_threshold": "6",
        "starts_on": "2026-11-01",
        "ends_on": "2026-12-15",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def audit_entries(session: Session, action: str) -> list[AuditEntry]:
    session.expire_all()
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def stored(session: Session, slug: str) -> Campaign:
    session.expire_all()
    return campaign_service.get_campaign(session, slug)


def text_of(response: httpx.Response) -> str:
    """The page's text without tags, whitespace collapsed."""
    without_tags = re.sub(r"<[^>]+>", " ", response.text)
    return " ".join(unescape(without_tags).split())


def draft(session: Session, departments: list[Department], **options: Any) -> Campaign:
    return make_campaign(
        session,
        departments=departments[:2],
        status=CampaignStatus.DRAFT,
        groups={"citizens": 2.0, "cadres": 1.0},
        **options,
    )


class TestCampaignList:
    def test_lists_title_slug_status_dates_and_counts(
        self, client: TestClient, session: Session, token: str, departments: list[Department]
    ) -> None:
        campaign = make_campaign(session, departments=departments, slug="list-check")
        campaign.starts_on = dt.date(2026, 11, 1)
        session.flush()

        response = client.get("/admin/campaigns")

        assert response.status_code == 200
        row = re.search(
            r"<tr>\s*<td><a href=\"/admin/campaigns/list-check\">.*?</tr>", response.text, re.S
        )
        assert row is not None
        cells = [
            " ".join(re.sub(r"<[^>]+>", " ", cell).split())
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), re.S)
        ]
        assert cells == ["Test evaluation", "list-check", "Open", "2026-11-01 – not set", "3", "2"]
        assert 'href="/admin/campaigns/new"' in response.text

    def test_auditor_sees_the_list_without_the_new_campaign_button(
        self, client: TestClient, session: Session
    ) -> None:
        make_campaign(session, slug="seen-by-auditor")
        signed_in(client, session, "auditor")

        response = client.get("/admin/campaigns")

        assert response.status_code == 200
        assert "seen-by-auditor" in response.text
        assert 'href="/admin/campaigns/new"' not in response.text


class TestChoosingTheQuestionnaire:
    def test_first_step_offers_every_shipped_template(self, client: TestClient, token: str) -> None:
        response = client.get("/admin/campaigns/new")

        assert response.status_code == 200
        assert f'value="{SERVICE_RATING}"' in response.text
        assert 'value="file:conduct-efficiency-annual.yaml"' in response.text
        assert 'method="get"' in response.text

    def test_second_step_shows_the_template_groups_and_departments_by_category(
        self, client: TestClient, token: str, departments: list[Department]
    ) -> None:
        response = client.get("/admin/campaigns/new", params={"template": SERVICE_RATING})

        assert response.status_code == 200
        page = response.text
        assert 'name="group" value="citizens"' in page
        assert 'name="group" value="enterprises"' in page
        assert 'name="group" value="cadres"' not in page  # declared by the other template only
        assert 'name="weight_citizens"' in page
        assert "<legend>经济发展类</legend>" in page
        assert "<legend>执法监管类</legend>" in page
        for department in departments:
            assert f'name="target" value="{department.code}"' in page
        assert 'name="all_targets" value="all"' in page
        threshold_input = re.search(r'<input id="disclosure_threshold"[^>]*>', page)
        assert threshold_input is not None
        assert 'value="5"' in threshold_input.group(0)  # the setting's default
        assert f'name="template" value="{SERVICE_RATING}"' in page

    def test_unknown_template_goes_back_to_the_choice(self, client: TestClient, token: str) -> None:
        response = client.get("/admin/campaigns/new", params={"template": "file:nope.yaml"})

        assert response.status_code == 404
        assert "file:nope.yaml" in response.text
        assert f'value="{SERVICE_RATING}"' in response.text


class TestCreatingACampaign:
    def test_created_draft_has_the_form_settings_and_is_audited(
        self, client: TestClient, session: Session, token: str, departments: list[Department]
    ) -> None:
        response = post(client, "/admin/campaigns/new", token, creation())

        assert response.status_code == 303
        assert response.headers["location"] == "/admin/campaigns/window-2026"
        campaign = stored(session, "window-2026")
        assert campaign.status == CampaignStatus.DRAFT
        assert (campaign.title_zh, campaign.title_en) == (
            "2026年窗口服务评议",
            "2026 service window evaluation",
        )
        assert campaign.questionnaire["id"] == "service_rating"
        assert [(g.key, g.weight) for g in campaign.rater_groups] == [
            ("citizens", 60),
            ("enterprises", 40),
        ]
        assert [t.department.code for t in campaign.targets] == ["FGJ", "SJJ"]
        assert campaign.disclosure_threshold == 6
        assert (campaign.starts_on, campaign.ends_on) == (
            dt.date(2026, 11, 1),
            dt.date(2026, 12, 15),
        )
        [entry] = audit_entries(session, "campaign_create")
        assert entry.object == "campaign:window-2026"
        assert entry.detail["questionnaire"] == "service_rating"
        assert entry.detail["rater_groups"] == {"citizens": 60, "enterprises": 40}
        assert entry.detail["targets"] == 2

    def test_all_departments(
        self, client: TestClient, session: Session, token: str, departments: list[Department]
    ) -> None:
        response = post(
            client, "/admin/campaigns/new", token, creation(target=None, all_targets="all")
        )

        assert response.status_code == 303
        targets = [t.department.code for t in stored(session, "window-2026").targets]
        assert targets == ["FGJ", "SWJ", "SJJ"]

    def test_whole_category_and_a_single_department(
        self, client: TestClient, session: Session, token: str, departments: list[Department]
    ) -> None:
        extra = make_department(session, code="MZJ", category="社会事业类")

        response = post(
            client,
            "/admin/campaigns/new",
            token,
            creation(target=[extra.code], category=["经济发展类"]),
        )

        assert response.status_code == 303
        targets = [t.department.code for t in stored(session, "window-2026").targets]
        assert targets == ["FGJ", "SWJ", "MZJ"]

    def test_threshold_left_empty_takes_the_setting(
        self, client: TestClient, session: Session, token: str, departments: list[Department]
    ) -> None:
        response = post(client, "/admin/campaigns/new", token, creation(disclosure_threshold=""))

        assert response.status_code == 303
        assert stored(session, "window-2026").disclosure_threshold == 5

    def test_only_the_included_groups_take_part(
        self, client: TestClient, session: Session, token: str, departments: list[Department]
    ) -> None:
        response = post(client, "/admin/campaigns/new", token, creation(group=["enterprises"]))

        assert response.status_code == 303
        groups = [(g.key, g.weight) for g in stored(session, "window-2026").rater_groups]
        assert groups == [("enterprises", 40)]


def problem_texts(response: httpx.Response) -> dict[str, str]:
    """The message shown next to each field, by field name."""
    return {
        name: " ".join(unescape(message).split())
        for name, message in re.findall(
            r'<p class="problems" id="([\w-]+)-problem">(.*?)</p>', response.text, re.S
        )
    }


class TestCreationErrorsAreShownInPlace:
    @pytest.mark.parametrize(
        ("overrides", "field", "words"),
        [
            ({"slug": "Not A Slug"}, "slug", "lower-case letters"),
            ({"title_en": ""}, "title_en", "title in English"),
            ({"title_zh": "长" * 201}, "title_zh", "at most 200 characters"),
            ({"disclosure_threshold": "2"}, "disclosure_threshold", "at least 3"),
            ({"disclosure_threshold": "many"}, "disclosure_threshold", "whole number"),
            ({"group": None}, "rater_groups", "at least one rater group"),
            ({"weight_enterprises": "0"}, "weight_enterprises", "greater than 0"),
            ({"weight_citizens": "lots"}, "weight_citizens", "greater than 0"),
            ({"target": None}, "targets", "Choose the departments"),
            ({"starts_on": "2026-12-20"}, "ends_on", "before the start date"),
            ({"slug": "new"}, "slug", "cannot be a campaign's slug"),
            ({"target": ["FGJ", "XXX"]}, "targets", "XXX"),
            ({"group": ["citizens", "farmers"], "weight_farmers": "1"}, "rater_groups", "farmers"),
        ],
        ids=[
            "bad slug",
            "missing English title",
            "title too long",
            "threshold below minimum",
            "threshold not a number",
            "no rater group",
            "zero weight",
            "weight not a number",
            "no target",
            "ends before it starts",
            "reserved slug",
            "unknown department",
            "undeclared group",
        ],
    )
    def test_refused_with_the_message_next_to_the_field_and_input_kept(
        self,
        client: TestClient,
        session: Session,
        token: str,
        departments: list[Department],
        overrides: dict[str, Any],
        field: str,
        words: str,
    ) -> None:
        response = post(client, "/admin/campaigns/new", token, creation(**overrides))

        assert response.status_code == 422
        problems = problem_texts(response)
        assert field in problems, problems
        assert words in problems[field]
        assert 'role="alert"' in response.text
        assert 'value="2026-12-15"' in response.text  # typed input kept
        assert f'name="template" value="{SERVICE_RATING}"' in response.text
        assert audit_entries(session, "campaign_create") == []
        session.expire_all()
        assert session.scalars(select(Campaign)).all() == []

    def test_checked_boxes_stay_checked(
        self, client: TestClient, session: Session, token: str, departments: list[Department]
    ) -> None:
        response = post(
            client, "/admin/campaigns/new", token, creation(slug="!", group=["enterprises"])
        )

        assert response.status_code == 422
        assert re.search(r'name="group" value="enterprises" checked', response.text)
        assert not re.search(r'name="group" value="citizens" checked', response.text)
        assert re.search(r'name="target" value="SJJ" checked', response.text)
        assert not re.search(r'name="target" value="SWJ" checked', response.text)

    def test_duplicate_slug_is_refused_and_the_first_campaign_kept(
        self, client: TestClient, session: Session, token: str, departments: list[Department]
    ) -> None:
        make_campaign(session, slug="window-2026", departments=departments[:1])

        response = post(client, "/admin/campaigns/new", token, creation())

        assert response.status_code == 422
        assert "already exists" in problem_texts(response)["slug"]
        assert len(stored(session, "window-2026").targets) == 1

    def test_unknown_template_in_the_post_goes_back_to_the_choice(
        self, client: TestClient, session: Session, token: str, departments: list[Department]
    ) -> None:
        response = post(client, "/admin/campaigns/new", token, creation(template="file:x.yaml"))

        assert response.status_code == 422
        assert f'value="{SERVICE_RATING}"' in response.text
        session.expire_all()
        assert session.scalars(select(Campaign)).all() == []


class TestCampaignDetail:
    def test_shows_every_setting(
        self, client: TestClient, session: Session, token: str, departments: list[Department]
    ) -> None:
        campaign = draft(session, departments, threshold=7, slug="detail-check")
        campaign.starts_on = dt.date(2026, 11, 1)
        campaign.ends_on = dt.date(2026, 12, 31)
        session.flush()

        response = client.get("/admin/campaigns/detail-check")

        assert response.status_code == 200
        page = text_of(response)
        assert "Test evaluation" in page
        assert "测试评议" in page
        assert "id small, version 1" in page
        assert "Citizens citizens 2 66.7%" in page
        assert "Cadres cadres 1 33.3%" in page
        assert "发改局 FGJ" in page
        assert "商务局 SWJ" in page
        assert "市监局" not in page
        assert "7 raters" in page
        assert "2026-11-01" in page
        assert "2026-12-31" in page
        assert "Draft" in page
        assert "Not locked yet" in page

    def test_administrator_gets_every_section_and_the_next_step(
        self, client: TestClient, session: Session, token: str, departments: list[Department]
    ) -> None:
        draft(session, departments, slug="links-check")

        page = client.get("/admin/campaigns/links-check").text

        for section in ("codes", "turnout", "results", "edit", "open"):
            assert f'href="/admin/campaigns/links-check/{section}"' in page
        for step in ("close", "publish"):
            assert f'href="/admin/campaigns/links-check/{step}"' not in page

    def test_closed_campaign_offers_opening_the_ballot_box_only(
        self, client: TestClient, session: Session, token: str, departments: list[Department]
    ) -> None:
        make_campaign(session, slug="closed-check", status=CampaignStatus.CLOSED)

        page = client.get("/admin/campaigns/closed-check").text

        assert 'href="/admin/campaigns/closed-check/tally"' in page
        for step in ("edit", "open", "close", "publish"):
            assert f'href="/admin/campaigns/closed-check/{step}"' not in page

    def test_tallied_campaign_offers_publishing_only(
        self, client: TestClient, session: Session, token: str, departments: list[Department]
    ) -> None:
        make_campaign(session, slug="tallied-check", status=CampaignStatus.TALLIED)

        page = client.get("/admin/campaigns/tallied-check").text

        assert 'href="/admin/campaigns/tallied-check/publish"' in page
        for step in ("edit", "open", "close", "tally"):
            assert f'href="/admin/campaigns/tallied-check/{step}"' not in page

    def test_auditor_sees_turnout_and_results_links_only(
        self, client: TestClient, session: Session, departments: list[Department]
    ) -> None:
        draft(session, departments, slug="auditor-check")
        signed_in(client, session, "auditor")

        response = client.get("/admin/campaigns/auditor-check")

        assert response.status_code == 200
        page = response.text
        assert 'href="/admin/campaigns/auditor-check/turnout"' in page
        assert 'href="/admin/campaigns/auditor-check/results"' in page
        for section in ("codes", "edit", "open"):
            assert f'href="/admin/campaigns/auditor-check/{section}"' not in page

    def test_lock_is_shown_once_codes_are_issued(
        self, client: TestClient, session: Session, token: str, departments: list[Department]
    ) -> None:
        campaign = draft(session, departments, slug="locked-detail")
        issue_codes(session, campaign)

        page = text_of(client.get("/admin/campaigns/locked-detail"))

        assert "Locked: codes have been issued" in page

    def test_unknown_campaign_is_404(self, client: TestClient, token: str) -> None:
        response = client.get("/admin/campaigns/no-such-campaign")

        assert response.status_code == 404
        assert "no-such-campaign" in response.text


def edit_data(campaign: Campaign, **overrides: Any) -> dict[str, Any]:
    """What the edit form posts for ``campaign`` unchanged, with ``overrides``."""
    data: dict[str, Any] = {
        "title_zh": campaign.title_zh,
        "title_en": campaign.title_en,
        "starts_on": campaign.starts_on.isoformat() if campaign.starts_on else "",
        "ends_on": campaign.ends_on.isoformat() if campaign.ends_on else "",
        "disclosure_threshold": str(campaign.disclosure_threshold),
        "group": [group.key for group in campaign.rater_groups],
        "target": [target.department.code for target in campaign.targets],
        **{f"weight_{group.key}": f"{group.weight:g}" for group in campaign.rater_groups},
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


class TestEditingWithoutCodes:
    def test_form_shows_every_setting_editable(
        self, client: TestClient, session: Session, token: str, departments: list[Department]
    ) -> None:
        draft(session, departments, slug="edit-form")

        response = client.get("/admin/campaigns/edit-form/edit")

        assert response.status_code == 200
        page = response.text
        assert 'value="测试评议"' in page
        assert re.search(
            r'<input id="disclosure_threshold" name="disclosure_threshold" type="number"', page
        )
        assert re.search(r'name="group" value="citizens" checked', page)
        assert re.search(r'name="target" value="FGJ" checked', page)
        assert not re.search(r'name="target" value="SJJ" checked', page)
        assert 'name="target" value="SJJ"' in page
        assert "Codes have been issued" not in page

    def test_every_setting_changes_and_the_changes_are_audited(
        self, client: TestClient, session: Session, token: str, departments: list[Department]
    ) -> None:
        campaign = draft(session, departments, slug="edit-all")

        response = post(
            client,
            "/admin/campaigns/edit-all/edit",
            token,
            edit_data(
                campaign,
                title_en="Renamed evaluation",
                starts_on="2026-11-02",
                disclosure_threshold="8",
                group=["cadres"],
                weight_cadres="3",
                target=["SWJ", "SJJ"],
            ),
        )

        assert response.status_code == 303
        assert response.headers["location"] == "/admin/campaigns/edit-all"
        campaign = stored(session, "edit-all")
        assert campaign.title_en == "Renamed evaluation"
        assert campaign.starts_on == dt.date(2026, 11, 2)
        assert campaign.disclosure_threshold == 8
        assert [(g.key, g.weight) for g in campaign.rater_groups] == [("cadres", 3)]
        assert [t.department.code for t in campaign.targets] == ["SWJ", "SJJ"]
        [entry] = audit_entries(session, "campaign_update")
        assert entry.object == "campaign:edit-all"
        assert entry.detail == {
            "title_en": {"from": "Test evaluation", "to": "Renamed evaluation"},
            "starts_on": {"from": None, "to": "2026-11-02"},
            "disclosure_threshold": {"from": 5, "to": 8},
            "rater_groups_removed": ["citizens"],
            "weights": {"cadres": {"from": 1.0, "to": 3.0}},
            "targets_added": ["SJJ"],
            "targets_removed": ["FGJ"],
        }

    def test_saving_without_a_change_records_nothing(
        self, client: TestClient, session: Session, token: str, departments: list[Department]
    ) -> None:
        campaign = draft(session, departments, slug="edit-nothing")

        response = post(client, "/admin/campaigns/edit-nothing/edit", token, edit_data(campaign))

        assert response.status_code == 303
        assert audit_entries(session, "campaign_update") == []

    def test_errors_are_shown_in_place_and_nothing_changes(
        self, client: TestClient, session: Session, token: str, departments: list[Department]
    ) -> None:
        campaign = draft(session, departments, slug="edit-errors")

        response = post(
            client,
            "/admin/campaigns/edit-errors/edit",
            token,
            edit_data(campaign, title_en="Typed title", disclosure_threshold="1"),
        )

        assert response.status_code == 422
        assert "at least 3" in problem_texts(response)["disclosure_threshold"]
        assert 'value="Typed title"' in response.text
        assert stored(session, "edit-errors").title_en == "Test evaluation"
        assert audit_entries(session, "campaign_update") == []


class TestEditingOnceCodesAreIssued:
    @pytest.fixture
    def campaign(self, session: Session, departments: list[Department]) -> Campaign:
        campaign = draft(session, departments, slug="locked")
        issue_codes(session, campaign, count=2)
        return campaign

    def test_anonymity_settings_are_shown_read_only_with_the_reason(
        self, client: TestClient, token: str, campaign: Campaign
    ) -> None:
        response = client.get("/admin/campaigns/locked/edit")

        assert response.status_code == 200
        page = response.text
        assert "Codes have been issued for this campaign" in text_of(response)
        assert "changing who is counted afterwards could single raters out" in text_of(response)
        assert 'type="number" min="3"' not in page  # no threshold input
        assert '<input type="hidden" name="disclosure_threshold" value="5">' in page
        assert 'type="checkbox" name="group"' not in page
        assert 'type="checkbox" name="target"' not in page
        assert 'name="weight_citizens"' in page  # weights stay editable
        assert 'id="title_en"' in page

    def test_title_dates_and_weights_still_change(
        self, client: TestClient, session: Session, token: str, campaign: Campaign
    ) -> None:
        response = post(
            client,
            "/admin/campaigns/locked/edit",
            token,
            edit_data(campaign, title_zh="新标题", ends_on="2026-12-01", weight_citizens="5"),
        )

        assert response.status_code == 303
        campaign = stored(session, "locked")
        assert campaign.title_zh == "新标题"
        assert campaign.ends_on == dt.date(2026, 12, 1)
        assert [(g.key, g.weight) for g in campaign.rater_groups] == [
            ("citizens", 5),
            ("cadres", 1),
        ]
        [entry] = audit_entries(session, "campaign_update")
        assert set(entry.detail) == {"title_zh", "ends_on", "weights"}

    @pytest.mark.parametrize(
        ("overrides", "field", "words"),
        [
            ({"disclosure_threshold": "3"}, "disclosure_threshold", "disclosure threshold"),
            ({"group": ["citizens"]}, "rater_groups", "rater groups"),
            ({"target": ["FGJ"]}, "targets", "departments rated"),
            ({"target": None, "all_targets": "all"}, "targets", "departments rated"),
        ],
        ids=["lower threshold", "drop a group", "drop a target", "all departments"],
    )
    def test_crafted_post_changing_them_is_refused(
        self,
        client: TestClient,
        session: Session,
        token: str,
        campaign: Campaign,
        overrides: dict[str, Any],
        field: str,
        words: str,
    ) -> None:
        response = post(
            client,
            "/admin/campaigns/locked/edit",
            token,
            edit_data(campaign, title_en="Sneaky", **overrides),
        )

        assert response.status_code == 422
        message = problem_texts(response)[field]
        assert words in message
        assert "codes or roster passwords have already been issued" in message
        campaign = stored(session, "locked")
        assert campaign.disclosure_threshold == 5
        assert [g.key for g in campaign.rater_groups] == ["citizens", "cadres"]
        assert [t.department.code for t in campaign.targets] == ["FGJ", "SWJ"]
        assert campaign.title_en == "Test evaluation"  # refused as a whole
        assert audit_entries(session, "campaign_update") == []


class TestOnlyADraftIsEdited:
    @pytest.mark.parametrize("method", ["GET", "POST"])
    def test_open_campaign_cannot_be_edited(
        self,
        client: TestClient,
        session: Session,
        token: str,
        departments: list[Department],
        method: str,
    ) -> None:
        campaign = make_campaign(session, slug="already-open", departments=departments[:1])
        if method == "GET":
            response = client.get("/admin/campaigns/already-open/edit")
        else:
            response = post(
                client,
                "/admin/campaigns/already-open/edit",
                token,
                edit_data(campaign, title_en="X"),
            )

        assert response.status_code == 409
        assert "Only a draft can be edited" in text_of(response)
        assert stored(session, "already-open").title_en == "Test evaluation"


STEPS = [
    ("open", CampaignStatus.DRAFT, CampaignStatus.OPEN, "raters can use their codes"),
    ("close", CampaignStatus.OPEN, CampaignStatus.CLOSED, "No more ratings are accepted"),
    ("publish", CampaignStatus.TALLIED, CampaignStatus.PUBLISHED, "The results become public"),
]


class TestLifecycleSteps:
    @pytest.mark.parametrize(
        ("action", "before", "after", "words"), STEPS, ids=[step[0] for step in STEPS]
    )
    def test_confirmation_page_then_the_step_is_taken_and_audited(
        self,
        client: TestClient,
        session: Session,
        token: str,
        action: str,
        before: CampaignStatus,
        after: CampaignStatus,
        words: str,
    ) -> None:
        make_campaign(session, slug="stepping", status=before)

        page = client.get(f"/admin/campaigns/stepping/{action}")
        assert page.status_code == 200
        assert words in text_of(page)
        assert "This cannot be undone." in text_of(page)
        assert f'action="/admin/campaigns/stepping/{action}"' in page.text
        assert stored(session, "stepping").status == before

        response = post(client, f"/admin/campaigns/stepping/{action}", token, {})

        assert response.status_code == 303
        assert response.headers["location"] == "/admin/campaigns/stepping"
        assert stored(session, "stepping").status == after
        [entry] = audit_entries(session, f"campaign_{action}")
        assert entry.object == "campaign:stepping"
        assert entry.detail == {"from": before.value, "to": after.value}

    def test_publishing_says_liaisons_see_their_results(
        self, client: TestClient, session: Session, token: str
    ) -> None:
        make_campaign(session, slug="to-publish", status=CampaignStatus.TALLIED)

        page = text_of(client.get("/admin/campaigns/to-publish/publish"))

        assert "liaison sees the results of their own department" in page

    def test_refused_step_shows_why_and_changes_nothing(
        self, client: TestClient, session: Session, token: str
    ) -> None:
        make_campaign(session, slug="still-open", status=CampaignStatus.OPEN)

        response = post(client, "/admin/campaigns/still-open/publish", token, {})

        assert response.status_code == 409
        assert "cannot be published: it is open" in text_of(response)
        assert stored(session, "still-open").status == CampaignStatus.OPEN
        assert audit_entries(session, "campaign_publish") == []

    def test_a_draft_without_a_tally_key_is_not_opened(
        self, client: TestClient, session: Session, token: str
    ) -> None:
        make_campaign(session, slug="no-key", status=CampaignStatus.DRAFT, sealed_box=False)

        page = client.get("/admin/campaigns/no-key/open")
        response = post(client, "/admin/campaigns/no-key/open", token, {})

        assert "cannot open without a tally key" in text_of(page)
        assert 'action="/admin/campaigns/no-key/open"' not in page.text
        assert response.status_code == 409
        assert "cannot open without a tally key" in text_of(response)
        assert stored(session, "no-key").status == CampaignStatus.DRAFT
        assert audit_entries(session, "campaign_open") == []

    def test_confirmation_page_of_an_impossible_step_has_no_button(
        self, client: TestClient, session: Session, token: str
    ) -> None:
        make_campaign(session, slug="is-draft", status=CampaignStatus.DRAFT)

        response = client.get("/admin/campaigns/is-draft/close")

        assert "cannot be closed: it is a draft" in text_of(response)
        assert 'action="/admin/campaigns/is-draft/close"' not in response.text


# Every route of the section, with whether an auditor may use it.
ROUTES = [
    ("GET", "/admin/campaigns", True),
    ("GET", "/admin/campaigns/{slug}", True),
    ("GET", "/admin/campaigns/new", False),
    ("POST", "/admin/campaigns/new", False),
    ("GET", "/admin/campaigns/{slug}/edit", False),
    ("POST", "/admin/campaigns/{slug}/edit", False),
    ("GET", "/admin/campaigns/{slug}/open", False),
    ("POST", "/admin/campaigns/{slug}/open", False),
    ("GET", "/admin/campaigns/{slug}/close", False),
    ("POST", "/admin/campaigns/{slug}/close", False),
    ("GET", "/admin/campaigns/{slug}/publish", False),
    ("POST", "/admin/campaigns/{slug}/publish", False),
]


class TestPermissions:
    @pytest.mark.parametrize(
        ("method", "path", "auditor_may"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES]
    )
    @pytest.mark.parametrize("role", ["auditor", "liaison"])
    def test_roles_without_the_permission_get_403_and_nothing_changes(
        self,
        client: TestClient,
        session: Session,
        departments: list[Department],
        role: str,
        method: str,
        path: str,
        auditor_may: bool,
    ) -> None:
        campaign = draft(session, departments, slug="guarded")
        csrf = signed_in(client, session, role, department=departments[0])
        address = path.format(slug=campaign.slug)

        if method == "GET":
            response = client.get(address, follow_redirects=False)
        else:
            data = creation() if address.endswith("/new") else edit_data(campaign, title_en="X")
            response = post(client, address, csrf, data)

        expected = 200 if role == "auditor" and auditor_may else 403
        assert response.status_code == expected
        if expected == 403:
            assert "may not open this page" in text_of(response)
        campaign = stored(session, "guarded")
        assert (campaign.status, campaign.title_en) == (CampaignStatus.DRAFT, "Test evaluation")
        session.expire_all()
        assert session.scalar(select(Campaign.id).where(Campaign.slug == "window-2026")) is None

    def test_signed_out_visitor_is_sent_to_sign_in(self, client: TestClient) -> None:
        response = client.get("/admin/campaigns", follow_redirects=False)

        assert response.status_code == 303
        assert response.headers["location"].startswith("/admin/login")
