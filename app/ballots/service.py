"""Accepting ballots: one admission code, evaluations of one or more targets, exactly once."""

import secrets
import unicodedata
import uuid
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from app.admission import service as admission_service
from app.admission.service import Admission
from app.ballots import answers as answer_codec
from app.ballots.models import Evaluation
from app.ballots.schemas import BallotIn, EvaluationIn, Receipt
from app.errors import InvalidInput
from app.i18n import N_, gettext

_shuffler = secrets.SystemRandom()
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
ALLOWED_CONTROLS = frozenset("\n\t")


def submit_ballot(session: Session, hashing_key: bytes, ballot: BallotIn) -> Receipt:
    """Use the code and store the evaluations, in the caller's single transaction.

    Any refusal raises before the transaction commits, so the code stays unused and nothing
    is stored. Rows are inserted in random order and share no identifier (DESIGN.md).
    """
    admission = admission_service.use_code(session, hashing_key, ballot.code)
    rows = evaluation_rows(admission, ballot.evaluations)
    _shuffler.shuffle(rows)
    session.execute(insert(Evaluation), rows)
    return Receipt(
        campaign=admission.campaign.slug,
        accepted_evaluations=len(rows),
        message=gettext("Thank you. Your evaluation has been recorded anonymously."),
    )


def evaluation_rows(admission: Admission, evaluations: list[EvaluationIn]) -> list[dict[str, Any]]:
    """Check every evaluation against what the code admits to; one row per evaluation."""
    targets_by_code = {target.department.code: target for target in admission.targets}
    group_key = admission.rater_group.key
    rows: list[dict[str, Any]] = []
    seen_targets: set[str] = set()
    for index, evaluation in enumerate(evaluations):
        where = f"evaluations[{index}]"
        target = targets_by_code.get(evaluation.target)
        if target is None:
            raise InvalidInput(
                N_("“%(target)s” is not among the departments this code can rate."),
                field=f"{where}.target",
                target=evaluation.target,
            )
        if evaluation.target in seen_targets:
            raise InvalidInput(
                N_("Department “%(target)s” is rated twice in one submission."),
                field=f"{where}.target",
                target=evaluation.target,
            )
        seen_targets.add(evaluation.target)
        check_answers(admission, evaluation.answers, where)
        rows.append(
            {
                "id": uuid.uuid4(),
                "campaign_id": admission.campaign.id,
                "target_id": target.id,
                "rater_group_id": admission.rater_group.id,
                "answers": answer_codec.encode(
                    admission.questionnaire, group_key, evaluation.answers
                ),
                "comment": clean_comment(admission, evaluation.comment, f"{where}.comment"),
                "quality_flags": 0,
            }
        )
    return rows


def check_answers(admission: Admission, answers: dict[str, int | None], where: str) -> None:
    items = {item.id: item for item in admission.items}
    for item_id, level in answers.items():
        item = items.get(item_id)
        if item is None:
            raise InvalidInput(
                N_("“%(item)s” is not a question of this questionnaire for your group."),
                field=f"{where}.answers.{item_id}",
                item=item_id,
            )
        allowed = [scale_level.value for scale_level in item.levels]
        if level is not None and level not in allowed:
            raise InvalidInput(
                N_(
                    "%(level)s is not on this question's scale "
                    "(%(lowest)s to %(highest)s, or null for “don't know”)."
                ),
                field=f"{where}.answers.{item_id}",
                level=level,
                lowest=min(allowed),
                highest=max(allowed),
            )
    for item_id in items:
        if item_id not in answers:
            raise InvalidInput(
                N_("Question “%(item)s” is not answered: choose a level or “don't know”."),
                field=f"{where}.answers.{item_id}",
                item=item_id,
            )


def clean_comment(admission: Admission, comment: str | None, field: str) -> str | None:
    """The comment as stored: trimmed, line breaks unified, ``None`` when empty.

    Control characters, bidirectional overrides and unpaired surrogates are refused rather
    than stripped, so what is stored is exactly what the rater saw.
    """
    if comment is None:
        return None
    text = comment.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        return None
    spec = admission.questionnaire.comment
    if spec is None:
        raise InvalidInput(N_("This questionnaire takes no comment."), field=field)
    if len(text) > spec.max_length:
        raise InvalidInput(
            N_("The comment is too long: at most %(maximum)s characters."),
            field=field,
            maximum=spec.max_length,
        )
    for character in text:
        if character in ALLOWED_CONTROLS:
            continue
        category = unicodedata.category(character)
        if category in ("Cc", "Cs") or character in BIDI_CONTROLS:
            raise InvalidInput(
                N_("The comment contains an invisible control character; please remove it."),
                field=field,
            )
    return text
