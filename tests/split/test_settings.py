"""PINGYI_COLLECTOR_URL and PINGYI_ISSUER_URL: each half names the other."""

import pytest

from app.config import DeploymentRole, Settings, SettingsInvalid
from app.reports import slips
from app.split import links

PRODUCTION_SECRET = "k4Jq9xVb2WnT7rLp0ZsYc8HdMf3GaE6u1QiOwKyB5NjRtXvUoPl"


class TestPeerAddresses:
    def test_an_address_is_kept_without_its_trailing_slash(self) -> None:
        settings = Settings(role=DeploymentRole.ISSUER, collector_url="https://c.example.org/")

        assert settings.collector_url == "https://c.example.org"
        assert links.collector_url(settings) == "https://c.example.org"
        assert links.issuer_url(settings) == ""

    @pytest.mark.parametrize(
        "address",
        ["c.example.org", "ftp://c.example.org", "https://c.example.org/r", "https://c?x"],
    )
    def test_an_address_with_a_path_or_another_scheme_is_refused(self, address: str) -> None:
        with pytest.raises(SettingsInvalid) as refused:
            Settings(role=DeploymentRole.ISSUER, collector_url=address)

        assert "PINGYI_COLLECTOR_URL" in refused.value.translated()

    @pytest.mark.parametrize(
        ("role", "setting"),
        [
            (DeploymentRole.ISSUER, "PINGYI_COLLECTOR_URL"),
            (DeploymentRole.COLLECTOR, "PINGYI_ISSUER_URL"),
        ],
    )
    def test_a_split_role_in_production_needs_the_other_half(
        self, role: DeploymentRole, setting: str
    ) -> None:
        with pytest.raises(SettingsInvalid) as refused:
            Settings(env="production", secret_key=PRODUCTION_SECRET, role=role)

        assert setting in refused.value.translated()

    def test_a_single_deployment_needs_neither(self) -> None:
        settings = Settings(env="production", secret_key=PRODUCTION_SECRET)

        assert links.collector_url(settings) == links.issuer_url(settings) == ""


class TestSlipAddress:
    def test_an_issuers_slips_send_raters_to_the_collector(self) -> None:
        settings = Settings(
            role=DeploymentRole.ISSUER,
            collector_url="https://c.example.org",
            public_base_url="https://issuer.example.org",
        )

        base = links.rating_base_url(settings)

        assert slips.rating_url(base, "ABCD") == "https://c.example.org/r#ABCD"

    def test_a_single_deployments_slips_send_raters_to_itself(self) -> None:
        settings = Settings(public_base_url="https://pingjia.example.org/")

        assert links.rating_base_url(settings) == "https://pingjia.example.org"
