import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.campaigns.policy import ResultsPolicy
from app.config import MINIMUM_DISCLOSURE_THRESHOLD
from app.departments.schemas import DepartmentCode
from app.surveys.schemas import Identifier, LocalizedText

Slug = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")
]


class RaterGroupSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Identifier
    weight: float = Field(gt=0, description="Relative weight in composite scores")


class TargetCategories(BaseModel):
    model_config = ConfigDict(extra="forbid")

    categories: list[str] = Field(min_length=1)


class CampaignSpec(BaseModel):
    """What ``pingyi campaign create SPEC.yaml`` reads."""

    model_config = ConfigDict(extra="forbid")

    slug: Slug
    title: LocalizedText
    questionnaire: str = Field(description="A template id from surveys/, or a path to one")
    disclosure_threshold: int | None = Field(default=None, ge=MINIMUM_DISCLOSURE_THRESHOLD)
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    series: Slug | None = Field(
        default=None,
        description="Campaigns sharing a series key (e.g. `annual-review`) are compared year "
        "over year on public department pages",
    )
    rater_groups: list[RaterGroupSpec] = Field(min_length=1)
    targets: (
        Literal["all"] | Annotated[list[DepartmentCode], Field(min_length=1)] | TargetCategories
    ) = "all"
    policy: ResultsPolicy = Field(default_factory=ResultsPolicy)
    short_form: dict[Identifier, list[Identifier]] | None = Field(
        default=None,
        description=(
            "Per rater group, the only items it sees (e.g. `{cadres: [overall, ...]}`), for "
            "groups that rate many departments; frozen with the campaign's questionnaire"
        ),
    )

    @model_validator(mode="after")
    def _dates_in_order(self) -> "CampaignSpec":
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        keys = [group.key for group in self.rater_groups]
        if len(set(keys)) != len(keys):
            raise ValueError("a rater group is listed twice")
        return self
