"""Opening the ballot box: decrypt every sealed ballot, check it, shuffle, scrub comments.

Pure, with no database: the online tally runs it on the server and the offline tally on a
trustee's own machine. Everything here happens in memory; what leaves is evaluations in a
random order (``secrets.SystemRandom``) with no link among those of one ballot, and comments
already scrubbed, shuffled on their own, so no raw comment reaches a table or a file.

Each ballot is checked again against the campaign's frozen questionnaire exactly as when it
was submitted (rater group, departments, levels, quality flags, comment rules). A ballot
that does not open, whose tracker does not match its ciphertext, or that fails a check is
*rejected*: reported by its tracker with the reason, never silently dropped, and nothing of
it is counted.
"""

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from app.ballot_box import contents as ballot_contents
from app.ballot_box import tally_key
from app.ballots import answers as answer_codec
from app.ballots.comment_text import clean_comment
from app.ballots.models import STRAIGHT_LINING, TOO_FAST
from app.comments import scrub
from app.errors import InvalidInput
from app.i18n import N_, gettext
from app.surveys.schemas import Questionnaire

KNOWN_FLAGS = STRAIGHT_LINING | TOO_FAST

# Reasons a ballot is not counted, as reported beside its tracker (English: they go into
# files and the audit trail; the pages translate them).
ALTERED = "altered: its tracker does not match its ciphertext"
UNREADABLE = "does not open with the campaign's tally key"
MALFORMED = "not a ballot of this campaign's format"
WRONG_GROUP = "names a rater group this campaign does not have"
WRONG_TARGET = "rates a department this campaign does not rate, or one twice"
WRONG_ANSWERS = "its answers do not fit the questionnaire"
WRONG_FLAGS = "its quality flags are not known"
WRONG_COMMENT = "its comment breaks the comment rules"
REJECTION_MESSAGES = {
    ALTERED: N_("altered: its tracker does not match what is stored"),
    UNREADABLE: N_("it does not open with this campaign's tally key"),
    MALFORMED: N_("it is not a ballot of this campaign's format"),
    WRONG_GROUP: N_("it names a rater group this campaign does not have"),
    WRONG_TARGET: N_("it rates a department this campaign does not rate, or one twice"),
    WRONG_ANSWERS: N_("its answers do not fit the questionnaire"),
    WRONG_FLAGS: N_("its quality flags are not known"),
    WRONG_COMMENT: N_("its comment breaks the comment rules"),
}


def rejection_text(reason: str) -> str:
    """Why a ballot was not counted, in the reader's language."""
    return gettext(REJECTION_MESSAGES.get(reason, reason))


@dataclass(frozen=True)
class BoxContext:
    """What opening needs to know of the campaign (from the database, or a box file)."""

    campaign_slug: str
    key_fingerprint: bytes
    questionnaire: Questionnaire
    rater_groups: frozenset[str]
    targets: frozenset[str]  # department codes
    scrub_names: tuple[str, ...]

    @property
    def info(self) -> bytes:
        return tally_key.info_for(self.campaign_slug, self.key_fingerprint)


@dataclass(frozen=True)
class TalliedEvaluation:
    target: str
    rater_group: str
    answers: str
    quality_flags: int


@dataclass
class OpenedBox:
    """The box, opened: evaluations and scrubbed comments in random order, the rest reported."""

    evaluations: list[TalliedEvaluation] = field(default_factory=list)
    comments: list[tuple[str, str]] = field(default_factory=list)  # (department code, text)
    ballots_in_box: int = 0
    ballots_counted: int = 0
    rejected: list[tuple[bytes, str]] = field(default_factory=list)  # (tracker, reason)
    box_digest: bytes = b""


def box_digest(trackers: Iterable[bytes]) -> bytes:
    """SHA-256 over the sorted trackers: names exactly which ballots a box held."""
    digest = hashlib.sha256()
    for value in sorted(trackers):
        digest.update(value)
    return digest.digest()


def open_box(
    sealed: Iterable[tuple[bytes, bytes]],
    key_pair: tally_key.TallyKeyPair,
    context: BoxContext,
) -> OpenedBox:
    """Open every ``(tracker, ciphertext)``; see the module for what comes out."""
    opened = OpenedBox()
    trackers: list[bytes] = []
    info = context.info
    for tracker, ciphertext in sealed:
        trackers.append(tracker)
        opened.ballots_in_box += 1
        problem, ballot = _open_one(tracker, ciphertext, key_pair, info, context)
        if ballot is None:
            opened.rejected.append((tracker, problem))
            continue
        opened.ballots_counted += 1
        for item in ballot.evaluations:
            opened.evaluations.append(
                TalliedEvaluation(
                    target=item.target,
                    rater_group=ballot.rater_group,
                    answers=item.answers,
                    quality_flags=item.quality_flags,
                )
            )
            if item.comment is not None:
                opened.comments.append(
                    (item.target, scrub.scrub(item.comment, list(context.scrub_names)))
                )
    shuffler = secrets.SystemRandom()
    shuffler.shuffle(opened.evaluations)
    shuffler.shuffle(opened.comments)
    opened.rejected.sort()
    opened.box_digest = box_digest(trackers)
    return opened


def _open_one(
    tracker: bytes,
    ciphertext: bytes,
    key_pair: tally_key.TallyKeyPair,
    info: bytes,
    context: BoxContext,
) -> tuple[str, ballot_contents.BallotContents | None]:
    if tally_key.tracker(ciphertext) != tracker:
        return ALTERED, None
    try:
        plaintext = tally_key.open_sealed(ciphertext, key_pair, info)
    except tally_key.BallotUnreadable:
        return UNREADABLE, None
    try:
        ballot = ballot_contents.decode(plaintext)
    except ballot_contents.BallotContentsInvalid:
        return MALFORMED, None
    problem = check_contents(ballot, context)
    return (problem, None) if problem else ("", ballot)


def check_contents(ballot: ballot_contents.BallotContents, context: BoxContext) -> str:
    """Why a decrypted ballot cannot be counted, or "" when it can."""
    if ballot.rater_group not in context.rater_groups:
        return WRONG_GROUP
    questionnaire = context.questionnaire
    seen: set[str] = set()
    for item in ballot.evaluations:
        if item.target not in context.targets or item.target in seen:
            return WRONG_TARGET
        seen.add(item.target)
        if not answers_fit(questionnaire, ballot.rater_group, item.answers):
            return WRONG_ANSWERS
        if item.quality_flags & ~KNOWN_FLAGS or item.quality_flags < 0:
            return WRONG_FLAGS
        if item.comment is not None:
            try:
                if clean_comment(questionnaire, item.comment, "comment") != item.comment:
                    return WRONG_COMMENT
            except InvalidInput:
                return WRONG_COMMENT
    return ""


def answers_fit(questionnaire: Questionnaire, group_key: str, encoded: str) -> bool:
    """Whether an encoded answers string is one the questionnaire allows for the group."""
    if len(encoded) != len(questionnaire.items):
        return False
    for item, symbol in zip(questionnaire.items, encoded, strict=True):
        if not questionnaire.shows(item, group_key):
            if symbol != answer_codec.NOT_SHOWN:
                return False
        elif symbol != answer_codec.NOT_APPLICABLE and (
            symbol not in "123456789" or int(symbol) not in {level.value for level in item.levels}
        ):
            return False
    return True
