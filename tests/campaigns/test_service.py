"""Campaigns: creation from a spec, the frozen questionnaire, and the lifecycle."""

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import i18n
from app.admission import service as admission_service
from app.audit.models import AuditEntry
from app.ballot_box import service as box_service
from app.ballot_box import shares
from app.campaigns import lifecycle
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus
from app.campaigns.schemas import CampaignSpec
from app.config import MINIMUM_DISCLOSURE_THRESHOLD
from app.departments.models import Department
from app.errors import InvalidInput, InvalidTransition
from app.surveys.schemas import Questionnaire
from tests.factories import issue_codes, make_department, small_questionnaire

DEFAULT_THRESHOLD = 7


def campaign_spec(**overrides: Any) -> CampaignSpec:
    data: dict[str, Any] = {
        "slug": "district-2026",
        "title": {"zh": "2026年度民主评议", "en": "2026 annual evaluation"},
        "questionnaire": "small",
        "rater_groups": [{"key": "citizens", "weight": 60}, {"key": "cadres", "weight": 40}],
        "targets": "all",
    }
    data.update(overrides)
    return CampaignSpec.model_validate(data)


def create(
    session: Session, spec: CampaignSpec, questionnaire: Questionnaire | None = None
) -> Campaign:
    return campaign_service.create_campaign(
        session,
        spec,
        questionnaire or small_questionnaire(),
        default_threshold=DEFAULT_THRESHOLD,
    )


def campaign_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Campaign)) or 0


def target_codes(campaign: Campaign) -> list[str]:
    return [target.department.code for target in campaign.targets]


@pytest.fixture
def departments(session: Session) -> list[Department]:
    return [
        make_department(session, code="FGJ", category="经济发展类"),
        make_department(session, code="SJJ", category="执法监管类"),
        make_department(session, code="SWJ", category="经济发展类"),
        make_department(session, code="MZJ", category="社会事业类"),
    ]


class TestCreateCampaignFromSpec:
    def test_new_campaign_is_a_draft_with_the_spec_settings(
        self, session: Session, departments: list[Department]
    ) -> None:
        campaign = create(
            session,
            campaign_spec(starts_on="2026-11-01", ends_on="2026-12-31", disclosure_threshold=9),
        )

        assert campaign.status == CampaignStatus.DRAFT
        assert (campaign.title_for("zh_CN"), campaign.title_for("en")) == (
            "2026年度民主评议",
            "2026 annual evaluation",
        )
        assert (campaign.starts_on, campaign.ends_on) == (
            dt.date(2026, 11, 1),
            dt.date(2026, 12, 31),
        )
        assert campaign.disclosure_threshold == 9
        assert campaign_service.get_campaign(session, "district-2026") is campaign

    def test_threshold_defaults_to_the_setting(
        self, session: Session, departments: list[Department]
    ) -> None:
        assert create(session, campaign_spec()).disclosure_threshold == DEFAULT_THRESHOLD

    def test_rater_groups_keep_spec_order_weights_and_questionnaire_names(
        self, session: Session, departments: list[Department]
    ) -> None:
        spec = campaign_spec(
            rater_groups=[{"key": "cadres", "weight": 1.5}, {"key": "citizens", "weight": 3}]
        )

        campaign = create(session, spec)

        groups = [(g.key, g.weight, g.name_zh, g.name_en) for g in campaign.rater_groups]
        assert groups == [
            ("cadres", 1.5, "基层干部", "Cadres"),
            ("citizens", 3, "群众", "Citizens"),
        ]


class TestTargetsAreSelected:
    def test_all_takes_every_department_in_import_order(
        self, session: Session, departments: list[Department]
    ) -> None:
        campaign = create(session, campaign_spec(targets="all"))

        assert target_codes(campaign) == [department.code for department in departments]

    def test_list_of_codes_takes_those_departments_in_list_order(
        self, session: Session, departments: list[Department]
    ) -> None:
        campaign = create(session, campaign_spec(targets=["SWJ", "FGJ"]))

        assert target_codes(campaign) == ["SWJ", "FGJ"]

    def test_categories_take_every_department_in_them(
        self, session: Session, departments: list[Department]
    ) -> None:
        spec = campaign_spec(targets={"categories": ["经济发展类", "社会事业类"]})

        campaign = create(session, spec)

        assert target_codes(campaign) == ["FGJ", "SWJ", "MZJ"]


class TestCreationIsRefused:
    def test_unknown_department_code_is_named(
        self, session: Session, departments: list[Department]
    ) -> None:
        with pytest.raises(InvalidInput) as caught:
            create(session, campaign_spec(targets=["FGJ", "NOPE"]))

        assert caught.value.field == "targets"
        assert "NOPE" in str(caught.value)
        assert "FGJ" not in str(caught.value)
        assert campaign_count(session) == 0

    def test_department_listed_twice_is_refused(
        self, session: Session, departments: list[Department]
    ) -> None:
        with pytest.raises(InvalidInput) as caught:
            create(session, campaign_spec(targets=["FGJ", "SJJ", "FGJ"]))

        assert caught.value.field == "targets"

    def test_category_without_departments_is_named(
        self, session: Session, departments: list[Department]
    ) -> None:
        with pytest.raises(InvalidInput) as caught:
            create(session, campaign_spec(targets={"categories": ["经济发展类", "无此类别"]}))

        assert "无此类别" in str(caught.value)
        assert campaign_count(session) == 0

    def test_all_with_no_departments_is_refused(self, session: Session) -> None:
        with pytest.raises(InvalidInput) as caught:
            create(session, campaign_spec(targets="all"))

        assert caught.value.field == "targets"

    def test_rater_group_not_declared_by_the_questionnaire_is_named(
        self, session: Session, departments: list[Department]
    ) -> None:
        spec = campaign_spec(
            rater_groups=[{"key": "citizens", "weight": 1}, {"key": "farmers", "weight": 1}]
        )

        with pytest.raises(InvalidInput) as caught:
            create(session, spec)

        assert caught.value.field == "rater_groups[1].key"
        assert "farmers" in str(caught.value)
        assert "small" in str(caught.value)
        assert campaign_count(session) == 0

    def test_duplicate_slug_is_refused_and_the_first_campaign_kept(
        self, session: Session, departments: list[Department]
    ) -> None:
        first = create(session, campaign_spec(targets=["FGJ"]))

        with pytest.raises(InvalidInput) as caught:
            create(session, campaign_spec(targets=["SJJ"]))

        assert caught.value.field == "slug"
        assert first.slug in str(caught.value)
        assert campaign_count(session) == 1
        assert target_codes(campaign_service.get_campaign(session, first.slug)) == ["FGJ"]


class TestSpecIsValidated:
    def test_ends_on_before_starts_on_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="ends_on"):
            campaign_spec(starts_on="2026-12-31", ends_on="2026-11-01")

    def test_same_start_and_end_day_is_allowed(self) -> None:
        spec = campaign_spec(starts_on="2026-11-01", ends_on="2026-11-01")

        assert spec.starts_on == spec.ends_on

    @pytest.mark.parametrize("threshold", [MINIMUM_DISCLOSURE_THRESHOLD - 1, 1, 0, -5])
    def test_threshold_below_the_minimum_is_refused(self, threshold: int) -> None:
        with pytest.raises(ValidationError) as caught:
            campaign_spec(disclosure_threshold=threshold)

        assert [error["loc"] for error in caught.value.errors()] == [("disclosure_threshold",)]

    def test_threshold_at_the_minimum_is_allowed(self) -> None:
        spec = campaign_spec(disclosure_threshold=MINIMUM_DISCLOSURE_THRESHOLD)

        assert spec.disclosure_threshold == MINIMUM_DISCLOSURE_THRESHOLD

    def test_rater_group_listed_twice_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="twice"):
            campaign_spec(rater_groups=[{"key": "citizens", "weight": 1}] * 2)

    @pytest.mark.parametrize("weight", [0, -1])
    def test_weight_must_be_positive(self, weight: float) -> None:
        with pytest.raises(ValidationError):
            campaign_spec(rater_groups=[{"key": "citizens", "weight": weight}])

    @pytest.mark.parametrize(
        "targets", [[], {"categories": []}], ids=["empty list", "no categories"]
    )
    def test_empty_target_selection_is_refused(self, targets: object) -> None:
        with pytest.raises(ValidationError):
            campaign_spec(targets=targets)

    def test_unknown_key_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="colour"):
            campaign_spec(colour="red")


class TestCampaignKeepsFrozenQuestionnaire:
    def test_stored_copy_reads_back_as_the_same_questionnaire(
        self, session: Session, departments: list[Department]
    ) -> None:
        questionnaire = small_questionnaire(points={"five_level": {5: 10, 4: 8, 3: 6, 2: 4, 1: 2}})
        campaign = create(session, campaign_spec(), questionnaire)
        session.expire_all()

        stored = campaign_service.questionnaire_of(
            campaign_service.get_campaign(session, campaign.slug)
        )

        assert stored == questionnaire
        assert stored.points_for(stored.items[0]) == {5: 10, 4: 8, 3: 6, 2: 4, 1: 2}

    def test_later_campaign_with_a_new_version_leaves_the_first_copy_alone(
        self, session: Session, departments: list[Department]
    ) -> None:
        first = create(session, campaign_spec(slug="first-round"), small_questionnaire())
        revised = small_questionnaire(
            version=2, title={"zh": "修订问卷", "en": "Revised questionnaire"}
        )

        create(session, campaign_spec(slug="second-round"), revised)
        session.expire_all()

        first_copy = campaign_service.questionnaire_of(
            campaign_service.get_campaign(session, first.slug)
        )
        second_copy = campaign_service.questionnaire_of(
            campaign_service.get_campaign(session, "second-round")
        )
        assert first_copy == small_questionnaire()
        assert second_copy == revised


# Every (status, action) pair that the lifecycle draft → open → closed → tallied → published
# refuses.
ACTIONS = ("open", "close", "tally", "publish")
ALLOWED = {
    (CampaignStatus.DRAFT, "open"),
    (CampaignStatus.OPEN, "close"),
    (CampaignStatus.CLOSED, "tally"),
    (CampaignStatus.TALLIED, "publish"),
}
REFUSED = [
    (status, action)
    for status in CampaignStatus
    for action in ACTIONS
    if (status, action) not in ALLOWED
]
CHINESE_STATUS_WORDS = {
    CampaignStatus.DRAFT: "草稿",
    CampaignStatus.OPEN: "正在进行",
    CampaignStatus.CLOSED: "已结束",
    CampaignStatus.TALLIED: "已计票",
    CampaignStatus.PUBLISHED: "已公布",
}
ENGLISH_STATUS_WORDS = {
    CampaignStatus.DRAFT: "is a draft",
    CampaignStatus.OPEN: "is open",
    CampaignStatus.CLOSED: "is closed",
    CampaignStatus.TALLIED: "is tallied",
    CampaignStatus.PUBLISHED: "is published",
}


def campaign_in(session: Session, status: CampaignStatus) -> Campaign:
    make_department(session)
    campaign = create(session, campaign_spec(slug="lifecycle-check"))
    campaign.status = status
    session.flush()
    return campaign


def with_tally_key(session: Session, campaign: Campaign) -> list[shares.Share]:
    """Give a draft its 2-of-3 tally key; the trustees' shares."""
    made = box_service.create_tally_key(session, campaign, count=3, threshold=2)
    return [shares.parse_share(share.dump(), share.file_name()) for share in made.share_files]


def take_step(
    session: Session,
    campaign: Campaign,
    action: str,
    trustee_shares: list[shares.Share] | None = None,
) -> None:
    """The lifecycle stage ``action``, as the console and the command line take it."""
    if action == "open":
        lifecycle.open_campaign(session, campaign, actor="tester")
    elif action == "close":
        lifecycle.close_campaign(session, campaign, actor="tester")
    elif action == "tally":
        lifecycle.tally_campaign(session, campaign, trustee_shares or [], actor="tester")
    else:
        lifecycle.publish_campaign(session, campaign, actor="tester")


class TestLifecycleMovesForward:
    def test_draft_opens_closes_is_tallied_and_published_each_stage_audited(
        self, session: Session, departments: list[Department]
    ) -> None:
        campaign = create(session, campaign_spec())
        trustee_shares = with_tally_key(session, campaign)
        seen = [campaign.status]

        for action in ACTIONS:
            take_step(session, campaign, action, trustee_shares[:2])
            seen.append(campaign.status)

        assert seen == [
            CampaignStatus.DRAFT,
            CampaignStatus.OPEN,
            CampaignStatus.CLOSED,
            CampaignStatus.TALLIED,
            CampaignStatus.PUBLISHED,
        ]
        audited = session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.object == f"campaign:{campaign.slug}")
            .order_by(AuditEntry.sequence)
        ).all()
        assert audited == [f"campaign_{action}" for action in ACTIONS]

    def test_new_status_is_stored(self, session: Session, departments: list[Department]) -> None:
        campaign = create(session, campaign_spec())
        with_tally_key(session, campaign)

        lifecycle.open_campaign(session, campaign, actor="tester")
        session.expire_all()

        stored_status = session.scalar(select(Campaign.status).where(Campaign.id == campaign.id))
        assert stored_status == CampaignStatus.OPEN

    def test_a_draft_without_a_tally_key_does_not_open(
        self, session: Session, departments: list[Department]
    ) -> None:
        campaign = create(session, campaign_spec())
        i18n.set_locale("en")

        with pytest.raises(InvalidTransition) as caught:
            lifecycle.open_campaign(session, campaign, actor="tester")

        assert f"“{campaign.slug}” cannot open without a tally key" in caught.value.translated()
        session.expire_all()
        assert campaign_service.get_campaign(session, campaign.slug).status == CampaignStatus.DRAFT


class TestInvalidTransitionIsRefused:
    @pytest.mark.parametrize(("status", "action"), REFUSED, ids=[f"{s}-{a}" for s, a in REFUSED])
    def test_refused_and_status_unchanged(
        self, session: Session, status: CampaignStatus, action: str
    ) -> None:
        campaign = campaign_in(session, status)

        with pytest.raises(InvalidTransition):
            take_step(session, campaign, action)

        session.expire_all()
        assert campaign_service.get_campaign(session, campaign.slug).status == status

    @pytest.mark.parametrize(("status", "action"), REFUSED, ids=[f"{s}-{a}" for s, a in REFUSED])
    def test_chinese_message_names_campaign_and_status_in_words(
        self, session: Session, status: CampaignStatus, action: str
    ) -> None:
        campaign = campaign_in(session, status)

        with pytest.raises(InvalidTransition) as caught:
            take_step(session, campaign, action)

        message = caught.value.translated()
        refusal = message.split("。")[0]  # the sentence that says why, before the rule
        assert f"“{campaign.slug}”" in refusal
        assert CHINESE_STATUS_WORDS[status] in refusal
        other_words = [word for s, word in CHINESE_STATUS_WORDS.items() if s != status]
        assert not any(word in refusal for word in other_words)
        assert not any(english in message for english in ("%(", status.value, "it is"))

    @pytest.mark.parametrize(("status", "action"), REFUSED, ids=[f"{s}-{a}" for s, a in REFUSED])
    def test_english_message_names_campaign_and_status_in_words(
        self, session: Session, status: CampaignStatus, action: str
    ) -> None:
        campaign = campaign_in(session, status)
        i18n.set_locale("en")

        with pytest.raises(InvalidTransition) as caught:
            take_step(session, campaign, action)

        message = caught.value.translated()
        assert f"“{campaign.slug}”" in message
        assert ENGLISH_STATUS_WORDS[status] in message
        assert "%(" not in message
        assert not any("\u4e00" <= character <= "\u9fff" for character in message)

    def test_api_body_carries_the_translated_message(self, session: Session) -> None:
        campaign = campaign_in(session, CampaignStatus.PUBLISHED)

        with pytest.raises(InvalidTransition) as caught:
            lifecycle.open_campaign(session, campaign, actor="tester")

        body = caught.value.as_body()["error"]
        assert body["code"] == "invalid_transition"
        assert body["message"] == caught.value.translated()
        assert CHINESE_STATUS_WORDS[CampaignStatus.PUBLISHED] in body["message"]


def locked_draft(session: Session, *, codes: bool) -> Campaign:
    """A draft rating FGJ and SJJ by citizens (60) and cadres (40), threshold 7."""
    campaign = create(session, campaign_spec(targets=["FGJ", "SJJ"]))
    if codes:
        issue_codes(session, campaign, group="cadres")
    return campaign


def edited_spec(campaign: Campaign, **overrides: Any) -> CampaignSpec:
    """The campaign's current settings as a spec, with ``overrides``."""
    data: dict[str, Any] = {
        "slug": campaign.slug,
        "title": {"zh": campaign.title_zh, "en": campaign.title_en},
        "questionnaire": campaign.questionnaire["id"],
        "disclosure_threshold": campaign.disclosure_threshold,
        "starts_on": campaign.starts_on,
        "ends_on": campaign.ends_on,
        "rater_groups": [{"key": g.key, "weight": g.weight} for g in campaign.rater_groups],
        "targets": [target.department.code for target in campaign.targets],
    }
    data.update(overrides)
    return CampaignSpec.model_validate(data)


def settings_of(session: Session, slug: str) -> tuple[Any, ...]:
    session.expire_all()
    campaign = campaign_service.get_campaign(session, slug)
    return (
        campaign.title_en,
        campaign.disclosure_threshold,
        [(group.key, group.weight) for group in campaign.rater_groups],
        target_codes(campaign),
    )


class TestAnonymityLock:
    def test_unlocked_until_the_first_batch_is_issued(
        self, session: Session, departments: list[Department]
    ) -> None:
        campaign = locked_draft(session, codes=False)
        assert not campaign_service.anonymity_locked(session, campaign)

        issue_codes(session, campaign)

        assert campaign_service.anonymity_locked(session, campaign)

    def test_revoking_the_batch_does_not_unlock(
        self, session: Session, departments: list[Department]
    ) -> None:
        campaign = locked_draft(session, codes=True)
        [batch] = admission_service.list_batches(session, campaign)

        admission_service.revoke_batch(session, campaign, batch.id)

        assert campaign_service.anonymity_locked(session, campaign)

    def test_another_campaigns_codes_do_not_lock(
        self, session: Session, departments: list[Department]
    ) -> None:
        campaign = locked_draft(session, codes=False)
        other = create(session, campaign_spec(slug="other-round", targets=["SWJ"]))
        issue_codes(session, other)

        assert not campaign_service.anonymity_locked(session, campaign)


class TestUpdateCampaignWithoutCodes:
    def test_every_setting_can_be_replaced_and_changes_are_returned(
        self, session: Session, departments: list[Department]
    ) -> None:
        campaign = locked_draft(session, codes=False)

        changes = campaign_service.update_campaign(
            session,
            campaign,
            edited_spec(
                campaign,
                title={"zh": "新标题", "en": "New title"},
                ends_on="2026-12-31",
                disclosure_threshold=4,
                rater_groups=[{"key": "cadres", "weight": 3}, {"key": "citizens", "weight": 60}],
                targets={"categories": ["经济发展类"]},
            ),
        )

        assert settings_of(session, campaign.slug) == (
            "New title",
            4,
            [("cadres", 3), ("citizens", 60)],
            ["FGJ", "SWJ"],
        )
        assert changes == {
            "title_zh": {"from": "2026年度民主评议", "to": "新标题"},
            "title_en": {"from": "2026 annual evaluation", "to": "New title"},
            "ends_on": {"from": None, "to": "2026-12-31"},
            "disclosure_threshold": {"from": DEFAULT_THRESHOLD, "to": 4},
            "weights": {"cadres": {"from": 40, "to": 3}},
            "targets_added": ["SWJ"],
            "targets_removed": ["SJJ"],
        }

    def test_groups_can_be_dropped_and_added_back(
        self, session: Session, departments: list[Department]
    ) -> None:
        campaign = locked_draft(session, codes=False)
        campaign_service.update_campaign(
            session,
            campaign,
            edited_spec(campaign, rater_groups=[{"key": "citizens", "weight": 1}]),
        )

        changes = campaign_service.update_campaign(
            session,
            campaign,
            edited_spec(
                campaign,
                rater_groups=[{"key": "citizens", "weight": 1}, {"key": "cadres", "weight": 2}],
            ),
        )

        assert changes == {"rater_groups_added": ["cadres"]}
        assert settings_of(session, campaign.slug)[2] == [("citizens", 1), ("cadres", 2)]
        assert [g.name_zh for g in campaign.rater_groups] == ["群众", "基层干部"]

    def test_nothing_changed_returns_nothing(
        self, session: Session, departments: list[Department]
    ) -> None:
        campaign = locked_draft(session, codes=False)

        assert campaign_service.update_campaign(session, campaign, edited_spec(campaign)) == {}

    def test_no_threshold_keeps_the_current_one(
        self, session: Session, departments: list[Department]
    ) -> None:
        campaign = locked_draft(session, codes=True)

        campaign_service.update_campaign(
            session, campaign, edited_spec(campaign, disclosure_threshold=None)
        )

        assert campaign.disclosure_threshold == DEFAULT_THRESHOLD

    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"slug": "renamed"}, "slug"),
            ({"questionnaire": "other"}, "questionnaire"),
            ({"rater_groups": [{"key": "farmers", "weight": 1}]}, "rater_groups[0].key"),
            ({"targets": ["NOPE"]}, "targets"),
            ({"title": {"zh": "长" * 201, "en": "Long"}}, "title_zh"),
        ],
        ids=["slug", "questionnaire", "undeclared group", "unknown department", "long title"],
    )
    def test_refused_changes(
        self,
        session: Session,
        departments: list[Department],
        overrides: dict[str, Any],
        field: str,
    ) -> None:
        campaign = locked_draft(session, codes=False)
        before = settings_of(session, campaign.slug)

        with pytest.raises(InvalidInput) as caught:
            campaign_service.update_campaign(session, campaign, edited_spec(campaign, **overrides))

        assert caught.value.field == field
        assert settings_of(session, campaign.slug) == before

    @pytest.mark.parametrize("status", [s for s in CampaignStatus if s != CampaignStatus.DRAFT])
    def test_only_a_draft_is_edited(
        self, session: Session, departments: list[Department], status: CampaignStatus
    ) -> None:
        campaign = locked_draft(session, codes=False)
        campaign.status = status

        with pytest.raises(InvalidTransition) as caught:
            campaign_service.update_campaign(
                session, campaign, edited_spec(campaign, title={"zh": "改", "en": "Changed"})
            )

        assert "Only a draft can be edited" in str(caught.value)
        assert settings_of(session, campaign.slug)[0] == "2026 annual evaluation"


class TestUpdateCampaignOnceCodesAreIssued:
    def test_title_dates_and_weights_still_change(
        self, session: Session, departments: list[Department]
    ) -> None:
        campaign = locked_draft(session, codes=True)

        changes = campaign_service.update_campaign(
            session,
            campaign,
            edited_spec(
                campaign,
                title={"zh": "新标题", "en": "New title"},
                starts_on="2026-11-01",
                rater_groups=[{"key": "citizens", "weight": 50}, {"key": "cadres", "weight": 50}],
            ),
        )

        assert settings_of(session, campaign.slug) == (
            "New title",
            DEFAULT_THRESHOLD,
            [("citizens", 50), ("cadres", 50)],
            ["FGJ", "SJJ"],
        )
        assert set(changes) == {"title_zh", "title_en", "starts_on", "weights"}

    def test_same_targets_chosen_another_way_are_no_change(
        self, session: Session, departments: list[Department]
    ) -> None:
        campaign = locked_draft(session, codes=True)

        changes = campaign_service.update_campaign(
            session, campaign, edited_spec(campaign, targets=["SJJ", "FGJ"])
        )

        assert changes == {}
        assert target_codes(campaign) == ["FGJ", "SJJ"]

    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"disclosure_threshold": DEFAULT_THRESHOLD + 1}, "disclosure_threshold"),
            ({"disclosure_threshold": MINIMUM_DISCLOSURE_THRESHOLD}, "disclosure_threshold"),
            ({"rater_groups": [{"key": "cadres", "weight": 1}]}, "rater_groups"),
            ({"rater_groups": [{"key": "citizens", "weight": 1}]}, "rater_groups"),
            ({"targets": ["FGJ"]}, "targets"),
            ({"targets": ["FGJ", "SJJ", "SWJ"]}, "targets"),
            ({"targets": "all"}, "targets"),
            ({"targets": {"categories": ["执法监管类"]}}, "targets"),
        ],
        ids=[
            "raise threshold",
            "lower threshold",
            "drop a group",
            "drop the group with codes",
            "drop a target",
            "add a target",
            "all departments",
            "a category",
        ],
    )
    def test_anonymity_settings_are_refused_and_nothing_changes(
        self,
        session: Session,
        departments: list[Department],
        overrides: dict[str, Any],
        field: str,
    ) -> None:
        campaign = locked_draft(session, codes=True)
        before = settings_of(session, campaign.slug)

        with pytest.raises(InvalidInput) as caught:
            campaign_service.update_campaign(
                session,
                campaign,
                edited_spec(campaign, title={"zh": "新标题", "en": "New title"}, **overrides),
            )

        assert caught.value.field == field
        assert "codes or roster passwords have already been issued" in str(caught.value)
        assert settings_of(session, campaign.slug) == before  # the title did not change either


def test_a_roster_imported_into_a_draft_locks_its_anonymity_settings(
    session: Session, departments: list[Department]
) -> None:
    from app.credentials import roster

    campaign = locked_draft(session, codes=False)
    assert not campaign_service.anonymity_locked(session, campaign)
    roster.import_roster(
        session, campaign, "cadres", [roster.RosterLine(line=1, identifier="13800138000")], b"s"
    )

    assert campaign_service.anonymity_locked(session, campaign)
    with pytest.raises(InvalidInput) as caught:
        campaign_service.update_campaign(session, campaign, edited_spec(campaign, targets=["FGJ"]))
    assert caught.value.field == "targets"


class TestUpdateCampaignOnBothEngines:
    def test_groups_and_targets_are_replaced_until_codes_lock_them(
        self, any_session: Session
    ) -> None:
        for code, category in (("FGJ", "经济发展类"), ("SJJ", "执法监管类"), ("SWJ", "经济发展类")):
            make_department(any_session, code=code, category=category)
        campaign = create(any_session, campaign_spec(targets=["FGJ", "SJJ"]))

        campaign_service.update_campaign(
            any_session,
            campaign,
            edited_spec(
                campaign,
                rater_groups=[{"key": "cadres", "weight": 1}],
                targets=["SWJ", "FGJ"],
            ),
        )
        issue_codes(any_session, campaign, group="cadres")
        with pytest.raises(InvalidInput):
            campaign_service.update_campaign(
                any_session, campaign, edited_spec(campaign, targets=["SWJ"])
            )

        assert settings_of(any_session, campaign.slug)[2:] == ([("cadres", 1)], ["SWJ", "FGJ"])
