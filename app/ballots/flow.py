"""The rating page's steps, without JavaScript and without server-side state.

Every step is a form post carrying what admits the rater (a code, or a blind-signed
credential as its text, see :class:`Entry`) and the rater's draft (what they chose and
answered so far, and a start token per target page shown, see ``app.ballots.quality``) in
hidden fields; the server keeps nothing between steps, so an abandoned draft leaves no
trace. Steps: choose the targets one knows (skipped when the code is scoped to one target),
one page per chosen target, a review page, then submission. A target page opened from the
review (to change its answers) leads straight back to the review.

A target answered 不了解 on every item is not submitted: the review lists it as not counted
(:meth:`RatingFlow.not_known`). The ballot API still accepts such an evaluation (it counts
toward participation only); the pages do not send one.
"""

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError

from app.admission.service import Admission
from app.ballots.schemas import BallotIn, EvaluationIn
from app.credentials.schemas import CredentialIn
from app.errors import InvalidInput
from app.i18n import N_

NOT_APPLICABLE_VALUE = "na"
ANSWER_FIELD_PREFIX = "a."
CHOOSE = "choose"
REVIEW = "review"
TARGET_PREFIX = "target:"
EDIT_PREFIX = "edit:"
RETURN_TO_FIELD = "return_to"  # a hidden field: "review" on a target page opened from the review
CREDENTIAL_TEXT_MAX_LENGTH = 4096  # characters; a credential with a 4096-bit key takes ~1,100
_WHITESPACE = re.compile(r"\s+")


def credential_text(credential: CredentialIn) -> str:
    """The credential as one line a rater can copy, save and paste: base64url (no padding)
    of its JSON. ``app/static/js/rate.js`` writes the same form."""
    payload = credential.model_dump_json(exclude_none=True).encode()
    return base64.urlsafe_b64encode(payload).rstrip(b"=").decode("ascii")


def parse_credential_text(text: str) -> CredentialIn:
    """The credential a pasted or posted text holds; line breaks and spaces a messaging app
    or an editor added are ignored. Checks only its form: the signature is the service's.
    """
    compact = _WHITESPACE.sub("", text)
    try:
        if len(compact) > CREDENTIAL_TEXT_MAX_LENGTH:
            raise ValueError("too long")
        payload = base64.urlsafe_b64decode(compact + "=" * (-len(compact) % 4))
        return CredentialIn.model_validate_json(payload)
    except (ValueError, binascii.Error, ValidationError):
        raise InvalidInput(
            N_(
                "This is not a complete evaluation credential. "
                "Please copy or open the whole saved text again."
            ),
            field="credential",
        ) from None


@dataclass(frozen=True)
class Entry:
    """What admits the rater, carried in every step's hidden fields: an admission code, a
    blind-signed credential's text (:func:`credential_text`), or a signed-in roster member's
    token (``app.ballots.roster_entry``, with the campaign's slug to sign in again). Exactly
    one of ``code``, ``credential`` and ``roster`` is set."""

    code: str = ""
    credential: str = ""
    roster: str = ""
    campaign: str = ""  # the roster campaign's slug

    @property
    def uses_credential(self) -> bool:
        return bool(self.credential)

    @property
    def uses_roster(self) -> bool:
        return bool(self.roster) and not self.credential


class RatingDraft(BaseModel):
    chosen: list[str] = []
    answers: dict[str, dict[str, int | None]] = {}
    comments: dict[str, str] = {}
    started: dict[str, str] = {}  # target code -> start token taken when its page was first shown

    @classmethod
    def load(cls, serialized: str | None) -> "RatingDraft":
        if not serialized:
            return cls()
        try:
            return cls.model_validate(json.loads(serialized))
        except (ValueError, RecursionError, ValidationError):  # a hostile draft: nested deep
            return cls()

    def dump(self) -> str:
        return self.model_dump_json()


@dataclass
class Step:
    """Where the rater is, and what to tell them there."""

    name: str  # CHOOSE, REVIEW or TARGET_PREFIX + index
    missing: list[str] = field(default_factory=list)  # unanswered item ids on a target step
    error: str | None = None  # a message id to show at the top
    returns_to_review: bool = False  # a target page opened from the review to change it

    @property
    def target_index(self) -> int | None:
        if self.name.startswith(TARGET_PREFIX):
            return int(self.name.removeprefix(TARGET_PREFIX))
        return None


class RatingFlow:
    def __init__(self, admission: Admission, draft: RatingDraft) -> None:
        self.admission = admission
        self.draft = draft
        self.scope = [target.department.code for target in admission.targets]
        self.item_ids = [item.id for item in admission.items]
        draft.chosen = [code for code in draft.chosen if code in self.scope]

    @property
    def single_target(self) -> bool:
        return len(self.scope) == 1

    def first_step(self) -> Step:
        if self.single_target:
            self.draft.chosen = list(self.scope)
            return Step(TARGET_PREFIX + "0")
        return Step(CHOOSE)

    def parse_step(self, name: str | None) -> Step:
        """The posted step, or the first step when it is missing or out of range."""
        if name in (CHOOSE, REVIEW) and (name == CHOOSE or self.draft.chosen):
            return Step(name)
        if name and name.startswith(TARGET_PREFIX):
            index = name.removeprefix(TARGET_PREFIX)
            if index.isdigit() and int(index) < len(self.draft.chosen):
                return Step(name)
        return self.first_step()

    def choose(self, codes: list[str]) -> None:
        picked = set(codes)
        self.draft.chosen = [code for code in self.scope if code in picked]
        self.draft.started = {
            code: token for code, token in self.draft.started.items() if code in picked
        }

    def show(self, index: int, new_start_token: Callable[[], str]) -> None:
        """A target's page is shown: the first time, it gets its own start token.

        The token is kept across steps (back, edit, a language switch, a page asking for a
        missing answer), so it always dates from when the rater first saw the target.
        """
        target = self.draft.chosen[index]
        if target not in self.draft.started:
            self.draft.started[target] = new_start_token()

    def record(self, index: int, form: Mapping[str, str], comment: str | None) -> None:
        """Keep what was answered on a target page; unanswered items stay unanswered."""
        target = self.draft.chosen[index]
        answers: dict[str, int | None] = {}
        for item_id in self.item_ids:
            value = form.get(ANSWER_FIELD_PREFIX + item_id)
            if value == NOT_APPLICABLE_VALUE:
                answers[item_id] = None
            elif value is not None and value.isdigit():
                answers[item_id] = int(value)
        self.draft.answers[target] = answers
        if comment is not None and comment.strip():
            self.draft.comments[target] = comment
        else:
            self.draft.comments.pop(target, None)

    def missing(self, target: str) -> list[str]:
        answered = self.draft.answers.get(target, {})
        return [item_id for item_id in self.item_ids if item_id not in answered]

    def skip(self, index: int, *, returns_to_review: bool = False) -> Step:
        target = self.draft.chosen.pop(index)
        self.draft.answers.pop(target, None)
        self.draft.comments.pop(target, None)
        self.draft.started.pop(target, None)
        if not self.draft.chosen:
            return Step(CHOOSE)
        if returns_to_review and self.first_incomplete() is None:
            return Step(REVIEW)
        if index < len(self.draft.chosen):
            return Step(TARGET_PREFIX + str(index))
        return Step(REVIEW)

    def advance(self, step: Step) -> Step:
        if step.name == CHOOSE:
            if not self.draft.chosen:
                return Step(CHOOSE, error=N_("Please choose at least one department you know."))
            return Step(TARGET_PREFIX + "0")
        index = step.target_index
        if index is None:
            return step
        missing = self.missing(self.draft.chosen[index])
        if missing:
            return Step(
                step.name,
                missing=missing,
                error=N_("Please answer every question."),
                returns_to_review=step.returns_to_review,
            )
        if step.returns_to_review:
            return self.first_incomplete() or Step(REVIEW)
        if index + 1 < len(self.draft.chosen):
            return Step(TARGET_PREFIX + str(index + 1))
        return Step(REVIEW)

    def back(self, step: Step) -> Step:
        index = step.target_index
        if step.returns_to_review and index is not None:
            return Step(REVIEW)
        if step.name == REVIEW:
            return Step(TARGET_PREFIX + str(len(self.draft.chosen) - 1))
        if index:
            return Step(TARGET_PREFIX + str(index - 1))
        return Step(TARGET_PREFIX + "0") if self.single_target else Step(CHOOSE)

    def first_incomplete(self) -> Step | None:
        for index, target in enumerate(self.draft.chosen):
            missing = self.missing(target)
            if missing:
                return Step(
                    TARGET_PREFIX + str(index),
                    missing=missing,
                    error=N_("Please answer every question."),
                )
        return None

    def ballot(self, entry: Entry) -> BallotIn:
        """The ballot to submit; a credential's text must be valid (it was checked each step)."""
        credential = parse_credential_text(entry.credential) if entry.uses_credential else None
        return BallotIn(
            code=None if credential else entry.code,
            credential=credential,
            evaluations=self.evaluations(),
        )

    def not_known(self, target: str) -> bool:
        """Whether every item of the target is answered 不了解: it is not submitted."""
        answered = self.draft.answers.get(target, {})
        return all(item_id in answered and answered[item_id] is None for item_id in self.item_ids)

    def counted(self) -> list[str]:
        """The chosen targets that are submitted: all but those answered 不了解 throughout."""
        return [target for target in self.draft.chosen if not self.not_known(target)]

    def unrated(self) -> list[str]:
        """The targets in scope that were not chosen, or were skipped."""
        return [code for code in self.scope if code not in self.draft.chosen]

    def evaluations(self) -> list[EvaluationIn]:
        """The evaluations to submit, one per counted target (see :meth:`counted`)."""
        return [
            EvaluationIn(
                target=target,
                answers=self.draft.answers.get(target, {}),
                comment=self.draft.comments.get(target),
                started=self.draft.started.get(target),
            )
            for target in self.counted()
        ]

    def answered_count(self, target: str) -> int:
        """How many of the target's items are answered (不了解 counts as an answer)."""
        answered = self.draft.answers.get(target, {})
        return sum(1 for item_id in self.item_ids if item_id in answered)
