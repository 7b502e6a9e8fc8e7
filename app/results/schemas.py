"""The shape of a campaign's results, as served in JSON and written to files.

A figure that is withheld is ``null`` and its name is listed in ``withheld``.
"""

from pydantic import BaseModel, Field

from app.surveys.schemas import ScaleName


class ItemResult(BaseModel):
    item: str
    respondents: int | None = Field(description="Evaluations that were shown the item")
    not_applicable: int | None = Field(description="Of those, answered 不了解 (don't know)")
    mean_points: float | None
    satisfaction_rate: float | None = Field(description="Share of answers in the top two levels")
    distribution: dict[int, int] | None = Field(description="Answers per level, N/A excluded")
    withheld: list[str]


class GroupResult(BaseModel):
    rater_group: str
    evaluations: int | None
    score: float | None = Field(description="Mean of evaluation scores (points of scored items)")
    withheld: list[str]
    items: list[ItemResult]


class TargetResult(BaseModel):
    target: str
    name: str
    category: str
    composite_score: float | None = Field(
        description=(
            "Rater-group scores weighted by the campaign's weights; withheld groups left out"
        )
    )
    composite_groups: list[str] = Field(
        description="Rater groups whose scores entered the composite"
    )
    withheld: list[str]
    groups: list[GroupResult]


class RaterGroupInfo(BaseModel):
    key: str
    name: str
    weight: float


class ItemInfo(BaseModel):
    id: str
    dimension: str
    text: str
    scale: ScaleName
    scored: bool


class CampaignResults(BaseModel):
    campaign: str
    title: str
    status: str
    disclosure_threshold: int
    rater_groups: list[RaterGroupInfo]
    items: list[ItemInfo]
    targets: list[TargetResult]
