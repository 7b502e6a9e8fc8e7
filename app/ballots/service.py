"""Accepting ballots: one admission code or credential, evaluations of one or more targets,
exactly once, and a receipt for the rater."""

import secrets
import unicodedata
import uuid
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from app.admission import service as admission_service
from app.admission.service import Admission
from app.ballots import answers as answer_codec
from app.ballots import quality, receipts
from app.ballots.models import Evaluation
from app.ballots.schemas import BallotIn, EvaluationIn, Receipt
from app.campaigns import service as campaign_service
from app.credentials import models as credential_models
from app.credentials import service as credential_service
from app.errors import InvalidInput
from app.i18n import N_, gettext

_shuffler = secrets.SystemRandom()
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
ALLOWED_CONTROLS = frozenset("\n\t")


def submit_ballot(
    session: Session, hashing_key: bytes, ballot: BallotIn, *, start_key: bytes | None = None
) -> Receipt:
    """Use the code or spend the credential, store the evaluations and the receipt's hash,
    all in the caller's single transaction.

    Any refusal raises before the transaction commits, so the code stays unused (the
    credential unspent) and nothing is stored. Rows are inserted in random order and share
    no identifier (DESIGN.md). Start tokens are checked with ``start_key``, by default this
    server's.
    """
    admission = admit(session, hashing_key, ballot)
    rows = evaluation_rows(
        admission, ballot.evaluations, start_key=start_key or quality.server_start_token_key()
    )
    _shuffler.shuffle(rows)
    session.execute(insert(Evaluation), rows)
    receipt = receipts.new_receipt()
    session.execute(
        insert(credential_models.Receipt).values(
            receipt_hash=receipts.receipt_hash(receipt), campaign_id=admission.campaign.id
        )
    )
    return Receipt(
        campaign=admission.campaign.slug,
        accepted_evaluations=len(rows),
        message=gettext("Thank you. Your evaluation has been recorded anonymously."),
        receipt=receipt,
    )


def admit(session: Session, hashing_key: bytes, ballot: BallotIn) -> Admission:
    """Use the ballot's code, or spend its credential, and return what it admits to.

    Both are exactly-once by a database rule (a conditional UPDATE of the code, an INSERT
    into the spent set keyed on the message's hash), never by a read-then-write.
    """
    if ballot.credential is not None:
        return credential_service.spend_credential(session, ballot.credential)
    if ballot.code is None:  # BallotIn's validator makes this unreachable
        raise InvalidInput(field="code")
    return admission_service.use_code(session, hashing_key, ballot.code)


def evaluation_rows(
    admission: Admission, evaluations: list[EvaluationIn], *, start_key: bytes
) -> list[dict[str, Any]]:
    """Check every evaluation against what the code admits to; one row per evaluation.

    Each row's quality flags are measured on that evaluation alone, with its own start
    token, so the rows of one submission share no flag by construction. The token and the
    time it gives are used here and dropped: only the flags reach the row.
    """
    targets_by_code = {target.department.code: target for target in admission.targets}
    group_key = admission.rater_group.key
    quality_policy = campaign_service.policy_of(admission.campaign).quality
    items = admission.items
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
                "quality_flags": quality.quality_flags(
                    items,
                    evaluation.answers,
                    evaluation.started,
                    key=start_key,
                    policy=quality_policy,
                ),
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
