"""A campaign's results policy: grades, trimming, low-quality evaluations, comments, privacy.

Kept as JSON on the campaign (``Campaign.policy``) and validated by these models; an empty
object means every default. The disclosure threshold itself stays a column of the campaign
because it is an anonymity setting, locked once codes are issued.
"""

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.surveys.schemas import LocalizedText


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GradeBand(Strict):
    """Targets whose composite score is at least ``minimum`` get this grade."""

    name: LocalizedText
    minimum: float = Field(ge=0)


DEFAULT_GRADES = [
    GradeBand(name=LocalizedText(zh="满意", en="Satisfied"), minimum=85),
    GradeBand(name=LocalizedText(zh="比较满意", en="Fairly satisfied"), minimum=75),
    GradeBand(name=LocalizedText(zh="基本满意", en="Basically satisfied"), minimum=60),
    GradeBand(name=LocalizedText(zh="不满意", en="Dissatisfied"), minimum=0),
]


class QualityPolicy(Strict):
    """What counts as a low-quality evaluation, and what happens to it.

    Straight-lining: every answered item at the same level, with at least
    ``straight_line_min_items`` items answered. Too fast: the rating form was submitted
    sooner than ``min_seconds_per_item`` per answered item after it was first shown (the form
    carries a signed start token; only the resulting flag is stored, never a time).
    """

    handling: Literal["keep", "down_weight", "exclude"] = "keep"
    down_weight: float = Field(default=0.5, gt=0, lt=1)
    straight_line_min_items: int = Field(default=6, ge=2)
    min_seconds_per_item: float = Field(default=2.0, ge=0)


class CommentPolicy(Strict):
    min_respondents: int = Field(default=10, ge=1)
    scrub_names: list[str] = Field(
        default_factory=list, description="Names to replace in comments (staff, for instance)"
    )


class PrivacyRelease(Strict):
    """Optional differentially private release of published counts and means."""

    enabled: bool = False
    epsilon: float = Field(default=1.0, gt=0, le=20)


class InspectionChannel(Strict):
    """Mystery inspections (暗访) as a scored channel beside the ratings (app.inspections.channel).

    With ``weight`` above 0 each department's overall score is ``(1 − weight) × published
    composite + weight × inspection score``. The inspection score is the office's entered
    score (``source: entered``) or 100 minus ``deduction_per_finding`` per finding recorded
    within the campaign's dates (``source: findings``), never below 0.
    """

    weight: float = Field(default=0.0, ge=0, lt=1)
    source: Literal["entered", "findings"] = "entered"
    deduction_per_finding: float = Field(default=5.0, ge=0, le=100)


class BulletinSettings(Strict):
    """The official document layout of the results bulletin (通报): who issues it, its
    document number (文号), its date, and who gets a copy (抄送). All optional: a bulletin
    without them prints none of these lines."""

    issuing_office: str | None = Field(default=None, max_length=100, description="发文机关")
    document_number: str | None = Field(default=None, max_length=60, description="文号")
    issued_on: dt.date | None = Field(default=None, description="成文日期")
    copy_to: list[str] = Field(
        default_factory=list, max_length=30, description="抄送: offices that get a copy"
    )


class ResultsPolicy(Strict):
    grades: list[GradeBand] = Field(default_factory=lambda: list(DEFAULT_GRADES), min_length=1)
    trim_share: float = Field(
        default=0.0,
        ge=0,
        lt=0.5,
        description="Share of the highest and of the lowest evaluation scores each group's "
        "trimmed score leaves out",
    )
    protection_width: float | None = Field(
        default=None,
        gt=0,
        description="How wide the range of values an attacker can narrow a withheld count to "
        "must stay; the disclosure threshold when not set",
    )
    quality: QualityPolicy = Field(default_factory=QualityPolicy)
    comments: CommentPolicy = Field(default_factory=CommentPolicy)
    privacy: PrivacyRelease = Field(default_factory=PrivacyRelease)
    inspection: InspectionChannel = Field(default_factory=InspectionChannel)
    bulletin: BulletinSettings = Field(default_factory=BulletinSettings)

    @model_validator(mode="after")
    def _grades_descending(self) -> "ResultsPolicy":
        minimums = [band.minimum for band in self.grades]
        if minimums != sorted(minimums, reverse=True) or len(set(minimums)) != len(minimums):
            raise ValueError("grade minimums must be distinct and listed from highest to lowest")
        if minimums[-1] != 0:
            raise ValueError("the lowest grade must start at 0, so every score has a grade")
        return self

    def width_for(self, threshold: int) -> float:
        return self.protection_width if self.protection_width is not None else float(threshold)
