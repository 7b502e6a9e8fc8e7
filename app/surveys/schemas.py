"""The questionnaire format: what a YAML template under ``surveys/`` may say.

A campaign keeps a frozen copy of its questionnaire (``Questionnaire.model_dump``); the order
of ``items`` in that copy is the order in which each evaluation's answers are stored, so a
copy must never change once a campaign has one.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from app.i18n import Locale

Identifier = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$", strip_whitespace=True)
]
ScaleName = Literal["five_level", "three_level"]
Level = int
MAX_ITEMS = 60
REFERENCE_ERROR_TYPE = "questionnaire_references"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalizedText(Strict):
    zh: Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
    en: Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]

    def get(self, locale: Locale) -> str:
        return self.zh if locale == "zh_CN" else self.en


class ScaleLevel(Strict):
    value: Level
    label: LocalizedText


NOT_APPLICABLE_LABEL = LocalizedText(zh="不了解", en="Don't know")

SCALES: dict[ScaleName, tuple[ScaleLevel, ...]] = {
    "five_level": (
        ScaleLevel(value=5, label=LocalizedText(zh="非常满意", en="Very satisfied")),
        ScaleLevel(value=4, label=LocalizedText(zh="满意", en="Satisfied")),
        ScaleLevel(value=3, label=LocalizedText(zh="基本满意", en="Fairly satisfied")),
        ScaleLevel(value=2, label=LocalizedText(zh="不满意", en="Dissatisfied")),
        ScaleLevel(value=1, label=LocalizedText(zh="非常不满意", en="Very dissatisfied")),
    ),
    "three_level": (
        ScaleLevel(value=3, label=LocalizedText(zh="满意", en="Satisfied")),
        ScaleLevel(value=2, label=LocalizedText(zh="基本满意", en="Fairly satisfied")),
        ScaleLevel(value=1, label=LocalizedText(zh="不满意", en="Dissatisfied")),
    ),
}

DEFAULT_POINTS: dict[ScaleName, dict[Level, float]] = {
    "five_level": {5: 100, 4: 80, 3: 60, 2: 40, 1: 20},
    "three_level": {3: 100, 2: 70, 1: 30},
}

SATISFIED_LEVEL_COUNT = 2  # the top two levels of a scale count as satisfied


class RaterGroupDefinition(Strict):
    key: Identifier
    name: LocalizedText


class Dimension(Strict):
    id: Identifier
    name: LocalizedText


class Item(Strict):
    id: Identifier
    dimension: Identifier
    text: LocalizedText
    scale: ScaleName
    points: dict[Level, float] | None = Field(
        default=None, description="Points per level; the questionnaire's points for the scale"
    )
    groups: list[Identifier] | None = Field(
        default=None, description="Rater groups who see this item; every group when absent"
    )
    scored: bool = Field(default=True, description="Whether the item counts toward scores")

    def is_for(self, group_key: str) -> bool:
        return self.groups is None or group_key in self.groups

    @property
    def levels(self) -> tuple[ScaleLevel, ...]:
        return SCALES[self.scale]


class Comment(Strict):
    prompt: LocalizedText
    max_length: int = Field(default=500, ge=1, le=2000)


class Questionnaire(Strict):
    id: Identifier
    version: int = Field(ge=1)
    title: LocalizedText
    description: LocalizedText | None = None
    rater_groups: list[RaterGroupDefinition] = Field(min_length=1)
    dimensions: list[Dimension] = Field(min_length=1)
    points: dict[ScaleName, dict[Level, float]] = Field(default_factory=dict)
    items: list[Item] = Field(min_length=1, max_length=MAX_ITEMS)
    comment: Comment | None = None
    short_form: dict[Identifier, list[Identifier]] | None = Field(
        default=None,
        description=(
            "Per rater group, the only items that group sees (a short form for groups that "
            "rate many departments, e.g. the overall item and one item per dimension)"
        ),
    )

    @model_validator(mode="after")
    def _references_resolve(self) -> "Questionnaire":
        problems = self.problems()
        if problems:
            raise PydanticCustomError(
                REFERENCE_ERROR_TYPE,
                "{summary}",
                {"summary": "; ".join(problems), "problems": problems},
            )
        return self

    def problems(self) -> list[str]:
        """Cross-reference problems, each naming the item it concerns."""
        problems: list[str] = []
        group_keys = [group.key for group in self.rater_groups]
        dimension_ids = [dimension.id for dimension in self.dimensions]
        problems += _duplicates("rater group", group_keys)
        problems += _duplicates("dimension", dimension_ids)
        problems += _duplicates("item", [item.id for item in self.items])
        for scale, points in self.points.items():
            problems += _points_problems(f"points for {scale}", scale, points)
        for item in self.items:
            where = f"item '{item.id}'"
            if item.dimension not in dimension_ids:
                problems.append(f"{where}: dimension '{item.dimension}' is not declared")
            for group in item.groups or []:
                if group not in group_keys:
                    problems.append(f"{where}: rater group '{group}' is not declared")
            if item.groups is not None and not item.groups:
                problems.append(f"{where}: groups is empty, so no rater would see it")
            if item.points is not None:
                problems += _points_problems(where, item.scale, item.points)
        problems += self._short_form_problems(group_keys)
        for group in group_keys:
            if not any(item.is_for(group) for item in self.items):
                problems.append(f"rater group '{group}' sees no item")
        return problems

    def _short_form_problems(self, group_keys: list[str]) -> list[str]:
        problems: list[str] = []
        items = {item.id: item for item in self.items}
        for group, item_ids in (self.short_form or {}).items():
            where = f"short form of '{group}'"
            if group not in group_keys:
                problems.append(f"{where}: rater group '{group}' is not declared")
                continue
            if not item_ids:
                problems.append(f"{where}: it lists no item, so that group would see none")
            problems += _duplicates(f"{where}: item", item_ids)
            for item_id in item_ids:
                item = items.get(item_id)
                if item is None:
                    problems.append(f"{where}: item '{item_id}' is not declared")
                elif not item.is_for(group):
                    problems.append(f"{where}: item '{item_id}' is not for that group")
        return problems

    def shows(self, item: Item, group_key: str) -> bool:
        """Whether raters of ``group_key`` see ``item``: it is for them, and in their short
        form when they have one."""
        if not item.is_for(group_key):
            return False
        short = (self.short_form or {}).get(group_key)
        return short is None or item.id in short

    def points_for(self, item: Item) -> dict[Level, float]:
        if item.points is not None:
            return item.points
        return self.points.get(item.scale, DEFAULT_POINTS[item.scale])

    def items_for(self, group_key: str) -> list[Item]:
        return [item for item in self.items if self.shows(item, group_key)]

    def group(self, key: str) -> RaterGroupDefinition | None:
        return next((group for group in self.rater_groups if group.key == key), None)

    def dimension(self, dimension_id: str) -> Dimension:
        return next(d for d in self.dimensions if d.id == dimension_id)


def _duplicates(what: str, identifiers: list[str]) -> list[str]:
    seen: set[str] = set()
    problems = []
    for identifier in identifiers:
        if identifier in seen:
            problems.append(f"{what} '{identifier}' is declared twice")
        seen.add(identifier)
    return problems


def _points_problems(where: str, scale: ScaleName, points: dict[Level, float]) -> list[str]:
    expected = sorted(level.value for level in SCALES[scale])
    if sorted(points) != expected:
        return [f"{where}: points must give exactly the levels {expected} of {scale}"]
    by_level = [points[level] for level in expected]
    if by_level != sorted(by_level):
        return [f"{where}: a higher level must not earn fewer points than a lower one"]
    return []
