"""Staff's texts may not hold bidirectional controls or other invisible control characters.

``字符\\u202e反向`` shows as 字符向反 on a page. Comments refuse such characters already;
department names and categories (CSV import, console forms, CLI), questionnaire texts (YAML
templates, console upload), campaign titles and rater group names follow the same rule
(:mod:`app.text_rules`): each entry point refuses the text, names the field and stores nothing.
"""

from html import unescape
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import i18n, text_rules
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus
from app.campaigns.schemas import CampaignSpec, RaterGroupSpec
from app.departments import service as department_service
from app.departments.models import Department
from app.errors import InvalidInput
from app.surveys import service as survey_service
from app.surveys.models import QuestionnaireTemplate
from app.surveys.service import QuestionnaireInvalid
from tests.campaigns.test_pages import creation, edit_data, post, problem_texts, signed_in
from tests.console import post_form, sign_in
from tests.departments.test_pages import field_error, upload_csv
from tests.factories import make_campaign, make_department, make_staff, small_questionnaire
from tests.surveys.test_pages import VALID_YAML, problems_shown
from tests.test_cli import app_database, run_failing

REVERSED = "字符\u202e反向"
BIDI_CHARACTERS = sorted(text_rules.BIDI_CONTROLS)


def department_count(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Department)) or 0


@pytest.fixture
def admin(client: TestClient, session: Session) -> TestClient:
    """Signed in as an administrator, reading the console in English."""
    staff = make_staff(session, role="admin", username="office.admin")
    sign_in(client, staff.username)
    client.headers["Accept-Language"] = "en"
    return client


class TestTheRule:
    @pytest.mark.parametrize("character", BIDI_CHARACTERS, ids=text_rules.code_point)
    def test_every_bidi_control_is_refused(self, character: str) -> None:
        assert text_rules.refused_character(f"字符{character}反向") == character
        assert text_rules.staff_text_problem(f"a{character}b") is not None

    def test_other_controls_are_refused_but_line_ends_and_tabs_kept(self) -> None:
        assert text_rules.refused_character("a\x1bb") == "\x1b"
        assert text_rules.staff_text_problem("第一行\r\n第二行\t") is None

    def test_ordinary_text_passes(self) -> None:
        assert text_rules.staff_text_problem("市市场监管局 (Market Regulation) — 窗口类") is None

    def test_the_message_names_the_field_and_the_character_in_the_shown_locale(self) -> None:
        with pytest.raises(InvalidInput) as refused:
            text_rules.check_staff_text(REVERSED, field="name", what="The department's name")

        assert refused.value.field == "name"
        assert refused.value.translated().startswith("单位名称含有不可见的控制字符（U+202E）")
        i18n.set_locale("en")
        assert refused.value.translated().startswith(
            "The department's name contains an invisible control character (U+202E)"
        )


class TestDepartmentImport:
    @pytest.mark.parametrize("field", ["name", "category", "name_en"])
    def test_the_file_is_refused_naming_line_and_column(self, session: Session, field: str) -> None:
        row = {"code": "FGJ", "name": "发改局", "category": "经济发展类", "name_en": "DRC"}
        row[field] = REVERSED
        content = "code,name,category,name_en\nSWJ,商务局,经济发展类,\n" + ",".join(row.values())

        with pytest.raises(department_service.DepartmentImportInvalid) as refused:
            department_service.import_csv(session, content.encode())

        [problem] = refused.value.problems
        assert problem.line == 3
        assert str(problem).startswith(f"line 3: {field}: contains an invisible control")
        assert "U+202E" in str(problem)
        assert department_count(session) == 0

    def test_the_console_upload_shows_the_problem_and_imports_nothing(
        self, admin: TestClient, session: Session
    ) -> None:
        response = upload_csv(admin, f"code,name,category\nFGJ,{REVERSED},经济发展类\n".encode())

        assert response.status_code == 422
        assert "U+202E" in response.text
        assert department_count(session) == 0

    def test_the_command_refuses_the_file(self, tmp_path: Path) -> None:
        file = tmp_path / "departments.csv"
        file.write_text(f"code,name,category\nFGJ,发改局,{REVERSED}\n", encoding="utf-8")
        with app_database() as engine, Session(engine) as session:
            result = run_failing("departments", "import", str(file))

            assert "category" in result.output
            assert "U+202E" in result.output
            assert department_count(session) == 0


class TestDepartmentForms:
    def test_a_new_department_is_refused_with_the_message_at_the_name(
        self, admin: TestClient, session: Session
    ) -> None:
        new = "/admin/departments/new"
        response = post_form(
            admin, new, {"code": "FGJ", "name": REVERSED, "category": "经济发展类"}, token_from=new
        )

        assert response.status_code == 422
        message = unescape(field_error(response.text, "name") or "")
        assert message.startswith("The department's name contains")
        assert "U+202E" in message
        assert department_count(session) == 0

    def test_an_edit_is_refused_and_nothing_changes(
        self, admin: TestClient, session: Session
    ) -> None:
        make_department(session, code="FGJ", name="发改局", category="经济发展类")
        edit = "/admin/departments/FGJ/edit"

        response = post_form(
            admin,
            edit,
            {"name": "发改局", "name_en": "DRC\u2066", "category": "经济\u200f发展类"},
            token_from=edit,
        )

        assert response.status_code == 422
        assert "U+200F" in (field_error(response.text, "category") or "")
        assert "U+2066" in (field_error(response.text, "name_en") or "")
        session.expire_all()
        department = department_service.get_department(session, "FGJ")
        assert (department.name_en, department.category) == (None, "经济发展类")

    def test_the_message_is_in_chinese_by_default(self, admin: TestClient) -> None:
        del admin.headers["Accept-Language"]
        new = "/admin/departments/new"
        response = post_form(
            admin, new, {"code": "FGJ", "name": "发改局", "category": REVERSED}, token_from=new
        )

        assert response.status_code == 422
        message = field_error(response.text, "category") or ""
        assert message.startswith("单位类别")
        assert "U+202E" in message


class TestQuestionnaires:
    @pytest.mark.parametrize(
        ("original", "replacement", "place"),
        [
            ("窗口人员热情礼貌", REVERSED, "item 'courtesy', text.zh"),
            ("Window staff are courteous", "Courteous\u200e", "item 'courtesy', text.en"),
            ("服务态度", REVERSED, "dimension 'attitude', name.zh"),
            ("办事群众", REVERSED, "rater group 'citizens', name.zh"),
            ("窗口服务评议", REVERSED, "title.zh"),
            ("其他意见", REVERSED, "comment.prompt.zh"),
        ],
    )
    def test_a_template_is_refused_naming_the_place(
        self, original: str, replacement: str, place: str
    ) -> None:
        text = VALID_YAML.replace(original, replacement, 1)
        assert text != VALID_YAML

        with pytest.raises(QuestionnaireInvalid) as refused:
            survey_service.parse_questionnaire_text(text, "window.yaml")

        [problem] = refused.value.problems
        assert problem.startswith(f"{place}: contains an invisible control character")

    def test_the_console_upload_is_refused_and_nothing_kept(
        self, admin: TestClient, session: Session
    ) -> None:
        upload = "/admin/questionnaires/upload"
        source = VALID_YAML.replace("同事之间配合顺畅", REVERSED)

        response = post_form(admin, upload, {"source": source}, token_from=upload)

        assert response.status_code == 422
        [problem] = problems_shown(response.text)
        assert problem.startswith("item 'teamwork', text.zh: contains an invisible control")
        assert session.scalars(select(QuestionnaireTemplate)).all() == []


def spec(title_zh: str = "2026年评议", title_en: str = "2026 evaluation") -> CampaignSpec:
    return CampaignSpec.model_validate(
        {
            "slug": "bidi-2026",
            "title": {"zh": title_zh, "en": title_en},
            "questionnaire": "small",
            "rater_groups": [RaterGroupSpec(key="citizens", weight=1.0).model_dump()],
            "targets": "all",
        }
    )


def campaign_count(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Campaign)) or 0


class TestCampaigns:
    @pytest.mark.parametrize(
        ("titles", "field"),
        [({"title_zh": REVERSED}, "title_zh"), ({"title_en": "Evaluation\u2067"}, "title_en")],
    )
    def test_a_title_is_refused_naming_it(
        self, session: Session, titles: dict[str, str], field: str
    ) -> None:
        make_department(session)

        with pytest.raises(InvalidInput) as refused:
            campaign_service.create_campaign(
                session, spec(**titles), small_questionnaire(), default_threshold=5
            )

        assert refused.value.field == field
        assert "标题" in refused.value.translated()
        assert campaign_count(session) == 0

    def test_a_rater_group_name_is_refused(self, session: Session) -> None:
        make_department(session)
        questionnaire = small_questionnaire(
            rater_groups=[
                {"key": "citizens", "name": {"zh": REVERSED, "en": "Citizens"}},
                {"key": "cadres", "name": {"zh": "基层干部", "en": "Cadres"}},
            ]
        )

        with pytest.raises(QuestionnaireInvalid) as refused:
            campaign_service.create_campaign(session, spec(), questionnaire, default_threshold=5)

        assert refused.value.problems[0].startswith("rater group 'citizens', name.zh:")
        assert campaign_count(session) == 0

    def test_the_console_form_shows_the_problem_at_the_title(
        self, client: TestClient, session: Session
    ) -> None:
        make_department(session, code="FGJ", name="发改局", category="经济发展类")
        make_department(session, code="SJJ", name="市监局", category="执法监管类")
        token = signed_in(client, session)

        response = post(client, "/admin/campaigns/new", token, creation(title_zh=REVERSED))

        assert response.status_code == 422
        problems = problem_texts(response)
        assert "U+202E" in problems["title_zh"]
        assert "Chinese title" in problems["title_zh"]
        assert campaign_count(session) == 0

    def test_an_edited_title_is_refused_and_nothing_changes(
        self, client: TestClient, session: Session
    ) -> None:
        token = signed_in(client, session)
        campaign = make_campaign(session, status=CampaignStatus.DRAFT, slug="bidi-edit")
        data: dict[str, Any] = edit_data(campaign, title_en="Renamed\u202d")

        response = post(client, "/admin/campaigns/bidi-edit/edit", token, data)

        assert response.status_code == 422
        assert "U+202D" in problem_texts(response)["title_en"]
        session.expire_all()
        assert campaign_service.get_campaign(session, "bidi-edit").title_en == "Test evaluation"
