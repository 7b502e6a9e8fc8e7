"""What a sealed ballot holds, and its byte form inside the encryption.

A ballot's plaintext names its rater group and, per department rated, the department's code,
the answers in their compact form (``app.ballots.answers``), the quality flags measured when
it was submitted, and the comment as the rater wrote it. Codes and keys rather than database
ids, so a box exported from one database opens anywhere (an offline tally, a collector).
Nothing else: no time, no code, no credential.
"""

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

FORMAT_VERSION = 1


class BallotContentsInvalid(ValueError):
    """The plaintext is not a ballot of this format."""


@dataclass(frozen=True)
class SealedEvaluation:
    target: str  # department code
    answers: str  # one character per questionnaire item (app.ballots.answers)
    quality_flags: int
    comment: str | None


@dataclass(frozen=True)
class BallotContents:
    rater_group: str  # the rater group's key
    evaluations: tuple[SealedEvaluation, ...]


class _EvaluationForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    t: StrictStr
    a: StrictStr
    f: StrictInt = 0
    c: StrictStr | None = None


class _BallotForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: StrictInt
    g: StrictStr
    e: list[_EvaluationForm] = Field(min_length=1)


def encode(contents: BallotContents) -> bytes:
    """Compact JSON (UTF-8): a ballot's plaintext before padding."""
    document: dict[str, Any] = {
        "v": FORMAT_VERSION,
        "g": contents.rater_group,
        "e": [
            {"t": item.target, "a": item.answers, "f": item.quality_flags}
            | ({"c": item.comment} if item.comment is not None else {})
            for item in contents.evaluations
        ],
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode(plaintext: bytes) -> BallotContents:
    try:
        form = _BallotForm.model_validate_json(plaintext)
    except (ValidationError, ValueError):
        raise BallotContentsInvalid("not a ballot of this format") from None
    if form.v != FORMAT_VERSION:
        raise BallotContentsInvalid(f"ballot format {form.v} is not known")
    return BallotContents(
        rater_group=form.g,
        evaluations=tuple(
            SealedEvaluation(target=item.t, answers=item.a, quality_flags=item.f, comment=item.c)
            for item in form.e
        ),
    )
