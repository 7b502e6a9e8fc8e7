from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from app.ballots.quality import START_TOKEN_MAX_LENGTH
from app.credentials.schemas import CredentialIn
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
    started: str | None = Field(
        default=None,
        description=(
            "The start token taken when this target's form was shown (`started` of "
            "`POST /api/v1/admission` or of `GET /api/v1/start-token`); one per target. "
            "It only lets the server flag an evaluation completed implausibly fast; the "
            "flag is stored, never a time. A missing, invalid or expired token never "
            "refuses a ballot."
        ),
    )

    @field_validator("started", mode="before")
    @classmethod
    def _unusable_token_is_no_token(cls, value: object) -> str | None:
        """Whatever the client sends here, the ballot is not refused for it."""
        if isinstance(value, str) and len(value) <= START_TOKEN_MAX_LENGTH:
            return value
        return None


class BallotIn(BaseModel):
    """Evaluations with exactly one of an admission code or a credential."""

    model_config = ConfigDict(extra="forbid")

    code: str | None = Field(
        default=None, max_length=64, description="The admission code, grouped or not"
    )
    credential: CredentialIn | None = Field(
        default=None,
        description=(
            "A blind-signed credential (RSABSSA-SHA384-PSS-Randomized), in place of `code`: "
            "checked against the campaign's key for the rater group, whose scope (all "
            "departments or one) it admits to, and spent once"
        ),
    )
    evaluations: list[EvaluationIn] = Field(min_length=1, max_length=MAX_EVALUATIONS_PER_BALLOT)

    @model_validator(mode="after")
    def _code_or_credential(self) -> "BallotIn":
        if (self.code is None) == (self.credential is None):
            raise ValueError("send exactly one of `code` and `credential`")
        return self


class Receipt(BaseModel):
    campaign: str
    accepted_evaluations: int
    message: str
    receipt: str = Field(
        description=(
            "The ballot's tracker: the SHA-256 of its ciphertext in the sealed ballot box, as "
            "grouped hex (64 digits in groups of four). After close the sorted trackers are "
            "public, so the rater can check the ballot is in the box and, after the tally, "
            "counted. It proves nothing about what the ballot said. (A campaign opened before "
            "the ballot box existed gives a random 16-byte receipt instead.)"
        )
    )


class StartToken(BaseModel):
    started: str = Field(
        description=(
            "A signed start token: a random value and the time it was signed, nothing else. "
            "Send it back as `started` of the evaluation of the target whose form you showed "
            "when you took it. Valid for one day."
        )
    )
