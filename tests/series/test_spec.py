"""The series key of a campaign: in the spec, validated, kept, and changed with the campaign."""

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.campaigns import service as campaign_service
from app.campaigns.schemas import CampaignSpec
from tests.factories import make_department, small_questionnaire


def spec(**overrides: object) -> CampaignSpec:
    return CampaignSpec.model_validate(
        {
            "slug": "annual-2026",
            "title": {"zh": "2026年度评议", "en": "2026 review"},
            "questionnaire": "small",
            "rater_groups": [{"key": "citizens", "weight": 1}],
            "targets": "all",
            **overrides,
        }
    )


class TestSeriesKey:
    def test_is_stored_and_can_change_while_a_draft(self, session: Session) -> None:
        make_department(session)
        campaign = campaign_service.create_campaign(
            session, spec(series="annual-review"), small_questionnaire(), default_threshold=5
        )
        assert campaign.series == "annual-review"

        changes = campaign_service.update_campaign(session, campaign, spec(series=None))

        assert campaign.series is None
        assert changes["series"] == {"from": "annual-review", "to": None}

    @pytest.mark.parametrize("key", ["Annual", "a", "年度", "x" * 65, "-annual"])
    def test_a_malformed_key_is_refused(self, key: str) -> None:
        with pytest.raises(ValidationError):
            spec(series=key)
