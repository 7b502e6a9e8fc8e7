"""The shape of a campaign's published results: what JSON, CSV, XLSX, PDF and pages show.

A figure that is withheld is ``null`` and its field name is listed in ``withheld``. Every
export and page is made from one :class:`CampaignResults`, so the same suppression applies
everywhere.
"""

import datetime as dt

from pydantic import BaseModel, Field

from app.surveys.schemas import ScaleName


class ItemResult(BaseModel):
    item: str
    respondents: int | None = Field(description="Evaluations that were shown the item")
    not_applicable: int | None = Field(description="Of those, answered 不了解 (don't know)")
    mean_points: float | None
    standard_deviation: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    satisfaction_rate: float | None = Field(description="Share of answers in the top two levels")
    distribution: dict[int, int] | None = Field(description="Answers per level, N/A excluded")
    withheld: list[str]


class DimensionResult(BaseModel):
    """One dimension's items pooled, for one target and rater group."""

    dimension: str
    name: str
    answers: int | None = Field(description="Answers to the dimension's items, N/A excluded")
    not_applicable: int | None
    mean_points: float | None
    standard_deviation: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    satisfaction_rate: float | None
    distribution: dict[int, int] | None
    withheld: list[str]


class GroupResult(BaseModel):
    rater_group: str
    evaluations: int | None
    score: float | None = Field(description="Mean of evaluation scores (points of scored items)")
    score_standard_deviation: float | None = None
    score_ci_low: float | None = None
    score_ci_high: float | None = None
    trimmed_score: float | None = Field(
        default=None, description="The score without the highest and lowest trim share"
    )
    withheld: list[str]
    dimensions: list[DimensionResult] = Field(default_factory=list)
    items: list[ItemResult]


class TargetDimension(BaseModel):
    """A dimension's score for a target: the groups' dimension means, weighted like the
    composite, over the groups where it is shown."""

    dimension: str
    name: str
    score: float | None
    satisfaction_rate: float | None = None
    withheld: list[str]


class TargetResult(BaseModel):
    target: str
    name: str
    category: str
    evaluations: int | None = Field(default=None, description="Evaluations of this target")
    composite_score: float | None = Field(
        description="Group scores weighted by the campaign's weights; withheld groups left out"
    )
    composite_groups: list[str] = Field(
        description="Rater groups whose scores entered the composite"
    )
    grade: str | None = None
    rank: int | None = Field(default=None, description="Rank within the category; ties share")
    ranked_in_category: int | None = None
    bottom: bool = Field(default=False, description="Last place in its category (末位)")
    dimensions: list[TargetDimension] = Field(default_factory=list)
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


class DimensionInfo(BaseModel):
    id: str
    name: str


class GradeInfo(BaseModel):
    name: str
    minimum: float


class QualitySummary(BaseModel):
    """Low-quality evaluations, always reported, campaign-wide."""

    handling: str
    down_weight: float | None = None
    straight_lining: int | None = Field(description="Null where withheld, like any count")
    too_fast: int | None
    flagged: int | None = Field(description="Evaluations with at least one flag")
    evaluations: int | None = Field(
        description="All evaluations stored, flagged or not; withheld with the campaign's count"
    )


class PrivacyInfo(BaseModel):
    """How a differentially private release was made, shown on the methodology page."""

    mechanism: str
    epsilon: float
    unit: str = Field(description="What the guarantee protects: one rater's whole ballot")
    sensitivity: float
    library: str


class BallotBoxInfo(BaseModel):
    """How the campaign's ballots were kept until the tally, for the methodology page."""

    sealed: bool = Field(description="Whether ballots were sealed in the ballot box")
    sealed_from: dt.date | None = Field(
        default=None,
        description="For a campaign already open when the box was introduced: the day from "
        "which its ballots were sealed (earlier ones were stored as evaluations directly)",
    )
    trustees: int | None = None
    threshold: int | None = Field(default=None, description="Trustees' shares that open the box")


class CampaignResults(BaseModel):
    campaign: str
    title: str
    status: str
    disclosure_threshold: int
    protection_width: float = 0.0
    evaluations: int | None = Field(default=None, description="Evaluations in the campaign")
    points: dict[str, dict[int, float]] = Field(
        default_factory=dict, description="Points per level, per scale used"
    )
    trim_share: float = 0.0
    grades: list[GradeInfo] = Field(default_factory=list)
    rater_groups: list[RaterGroupInfo]
    dimensions: list[DimensionInfo] = Field(default_factory=list)
    items: list[ItemInfo]
    targets: list[TargetResult]
    quality: QualitySummary | None = None
    privacy: PrivacyInfo | None = None
    ballot_box: BallotBoxInfo | None = None
    withheld_figures: list[str] = Field(
        default_factory=list, description="Plain-words list of what is withheld, for bulletins"
    )
