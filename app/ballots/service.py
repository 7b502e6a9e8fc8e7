"""Accepting ballots: one admission code or credential, evaluations of one or more targets,
exactly once, sealed in the ballot box, and the ballot's tracker as the rater's receipt."""

import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import insert
from sqlalchemy.orm import Session

from app import db
from app.admission import service as admission_service
from app.admission.service import Admission
from app.ballot_box import contents as ballot_contents
from app.ballot_box import service as box_service
from app.ballots import answers as answer_codec
from app.ballots import models as ballot_models
from app.ballots import quality, receipts
from app.ballots.comment_text import clean_comment
from app.ballots.models import Evaluation
from app.ballots.schemas import BallotIn, EvaluationIn, Receipt
from app.campaigns import service as campaign_service
from app.campaigns.policy import QualityPolicy
from app.credentials import roster, spending
from app.errors import InvalidInput
from app.i18n import N_, gettext
from app.surveys.schemas import Item, Questionnaire

_shuffler = secrets.SystemRandom()
_INSERT_EVALUATIONS = insert(Evaluation)
_INSERT_RECEIPT = insert(ballot_models.Receipt)


def submit_ballot(
    session: Session, hashing_key: bytes, ballot: BallotIn, *, start_key: bytes | None = None
) -> Receipt:
    """Use the code or spend the credential and put the sealed ballot in the ballot box, all
    in the caller's single transaction; the receipt is the ballot's tracker.

    The ballot is checked in memory exactly as it would be stored (departments, answers,
    comment, quality flags), then encrypted to the campaign's tally key: nothing it says is
    written readable (``app.ballot_box``). Any refusal raises before the transaction
    commits, so the code stays unused (the credential unspent) and nothing is stored. Start
    tokens are checked with ``start_key``, by default this server's.

    A campaign opened before the ballot box existed, and given no tally key since, stores
    its evaluations directly, as it always did, with a random receipt whose hash is kept.
    """
    scope = admit(session, hashing_key, ballot)
    return _accept(session, scope, ballot.evaluations, start_key)


def submit_member_ballot(
    session: Session,
    member_id: int,
    campaign_id: int,
    evaluations: list[EvaluationIn],
    *,
    start_key: bytes | None = None,
) -> Receipt:
    """A roster member's ballot without a credential (the rating page without JavaScript):
    the member is marked served and the sealed ballot stored in the caller's single
    transaction, as a direct code is used; see :func:`app.credentials.roster.use_member`."""
    db.begin_writing(session)
    admission = roster.use_member(session, member_id, campaign_id)
    scope = scope_of(admission, box_service.tally_fingerprint(session, admission.campaign.id))
    return _accept(session, scope, evaluations, start_key)


def _accept(
    session: Session,
    scope: "BallotScope",
    evaluations: list[EvaluationIn],
    start_key: bytes | None,
) -> Receipt:
    """Check the evaluations of an admitted ballot and store them sealed; the receipt."""
    checked = check_evaluations(
        scope, evaluations, start_key=start_key or quality.server_start_token_key()
    )
    _shuffler.shuffle(checked)
    if scope.tally_fingerprint is not None:
        key = box_service.box_key(
            session, scope.campaign_id, scope.campaign_slug, scope.tally_fingerprint
        )
        tracker = box_service.put_ballot(
            session,
            scope.campaign_id,
            key,
            ballot_contents.BallotContents(
                rater_group=scope.rater_group_key,
                evaluations=tuple(
                    ballot_contents.SealedEvaluation(
                        target=item.target_code,
                        answers=item.answers,
                        quality_flags=item.quality_flags,
                        comment=item.comment,
                    )
                    for item in checked
                ),
            ),
        )
        receipt = receipts.tracker_text(tracker)
    else:
        receipt = _store_unsealed(session, scope, checked)
    return Receipt(
        campaign=scope.campaign_slug,
        accepted_evaluations=len(checked),
        message=gettext("Thank you. Your evaluation has been recorded anonymously."),
        receipt=receipt,
    )


def _store_unsealed(session: Session, scope: "BallotScope", checked: list["Checked"]) -> str:
    """An upgraded campaign's ballot without a tally key: evaluations stored at once, in
    random order, sharing no identifier, and the hash of a random receipt."""
    # Core inserts on the session's connection and transaction: the ORM's bulk machinery
    # would only add per-row bookkeeping for rows this session never reads back.
    connection = session.connection()
    connection.execute(
        _INSERT_EVALUATIONS,
        [
            {
                "id": uuid.uuid4(),
                "campaign_id": scope.campaign_id,
                "target_id": item.target_id,
                "rater_group_id": scope.rater_group_id,
                "answers": item.answers,
                "comment": item.comment,
                "quality_flags": item.quality_flags,
            }
            for item in checked
        ],
    )
    receipt = receipts.new_receipt()
    connection.execute(
        _INSERT_RECEIPT,
        {"receipt_hash": receipts.receipt_hash(receipt), "campaign_id": scope.campaign_id},
    )
    return receipt


@dataclass(frozen=True)
class Checked:
    """One evaluation of a ballot, checked and in the form it is kept in."""

    target_code: str
    target_id: int
    answers: str
    comment: str | None
    quality_flags: int


@dataclass(frozen=True)
class BallotScope:
    """What an admitted ballot may rate, as plain values: the same for a code and for a
    credential, so the rows are made by one function whatever admitted the rater."""

    campaign_id: int
    campaign_slug: str
    rater_group_id: int
    rater_group_key: str
    questionnaire: Questionnaire
    quality_policy: QualityPolicy
    target_ids: Mapping[str, int]  # target id by department code, of targets it may rate
    tally_fingerprint: bytes | None  # the campaign's tally key; None: not sealed (upgraded)

    @property
    def items(self) -> list[Item]:
        return self.questionnaire.items_for(self.rater_group_key)


def admit(session: Session, hashing_key: bytes, ballot: BallotIn) -> BallotScope:
    """Use the ballot's code, or spend its credential, and return what it admits to.

    Both are exactly-once by a database rule (a conditional UPDATE of the code, an INSERT
    into the spent set keyed on the message's hash), never by a read-then-write. For a
    code, only the departments the ballot names are looked up among its targets.
    """
    if ballot.credential is not None:
        admission = spending.spend_credential(session, ballot.credential)
        return scope_of(admission, box_service.tally_fingerprint(session, admission.campaign.id))
    if ballot.code is None:  # BallotIn's validator makes this unreachable
        raise InvalidInput(field="code")
    admitted = admission_service.redeem_code(
        session,
        hashing_key,
        ballot.code,
        {evaluation.target for evaluation in ballot.evaluations},
    )
    return BallotScope(
        campaign_id=admitted.campaign_id,
        campaign_slug=admitted.campaign_slug,
        rater_group_id=admitted.rater_group_id,
        rater_group_key=admitted.rater_group_key,
        questionnaire=admitted.questionnaire,
        quality_policy=admitted.policy.quality,
        target_ids=admitted.target_ids,
        tally_fingerprint=admitted.tally_fingerprint,
    )


def scope_of(admission: Admission, tally_fingerprint: bytes | None) -> BallotScope:
    """The scope of an admission loaded as ORM objects (a credential's)."""
    return BallotScope(
        campaign_id=admission.campaign.id,
        campaign_slug=admission.campaign.slug,
        rater_group_id=admission.rater_group.id,
        rater_group_key=admission.rater_group.key,
        questionnaire=admission.questionnaire,
        quality_policy=campaign_service.policy_of(admission.campaign).quality,
        target_ids={target.department.code: target.id for target in admission.targets},
        tally_fingerprint=tally_fingerprint,
    )


def check_evaluations(
    scope: BallotScope, evaluations: list[EvaluationIn], *, start_key: bytes
) -> list[Checked]:
    """Check every evaluation against what the ballot is admitted to, in the submitted order.

    Each evaluation's quality flags are measured on that evaluation alone, with its own
    start token, so the evaluations of one submission share no flag by construction. The
    token and the time it gives are used here and dropped: only the flags are kept.
    """
    group_key = scope.rater_group_key
    items = scope.items
    checked: list[Checked] = []
    seen_targets: set[str] = set()
    for index, evaluation in enumerate(evaluations):
        where = f"evaluations[{index}]"
        target_id = scope.target_ids.get(evaluation.target)
        if target_id is None:
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
        check_answers(items, evaluation.answers, where)
        checked.append(
            Checked(
                target_code=evaluation.target,
                target_id=target_id,
                answers=answer_codec.encode(scope.questionnaire, group_key, evaluation.answers),
                comment=clean_comment(scope.questionnaire, evaluation.comment, f"{where}.comment"),
                quality_flags=quality.quality_flags(
                    items,
                    evaluation.answers,
                    evaluation.started,
                    key=start_key,
                    policy=scope.quality_policy,
                ),
            )
        )
    return checked


def check_answers(items_shown: list[Item], answers: dict[str, int | None], where: str) -> None:
    items = {item.id: item for item in items_shown}
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
