from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from app.surveys.schemas import MAX_ITEMS

MAX_EVALUATIONS_PER_BALLOT = 200
MAX_COMMENT_CHARACTERS = 2000

Level = StrictInt


class EvaluationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: str = Field(max_length=64, description="The department code of the target rated")
    answers: dict[Annotated[str, Field(max_length=64)], Level | None] = Field(
        max_length=MAX_ITEMS,
        description="Level per item id; null is 不了解 (don't know). Every item shown must appear.",
    )
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARACTERS)


class BallotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(max_length=64, description="The admission code, grouped or not")
    evaluations: list[EvaluationIn] = Field(min_length=1, max_length=MAX_EVALUATIONS_PER_BALLOT)


class Receipt(BaseModel):
    campaign: str
    accepted_evaluations: int
    message: str
