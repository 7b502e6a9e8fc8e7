"""Checking and spending a credential (the collector's side): a ballot carries the unblinded
credential, ``{"rater_group", "message", "signature", "campaign"?}``; it is checked against the
public keys of that rater group, and spent by inserting a SHA-256 of the message into the
spent set, in the ballot's transaction. Nothing here joins it to issuance."""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app import db
from app.admission.service import Admission
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus, RaterGroup, Target
from app.credentials import blind_rsa, keys
from app.credentials.errors import (
    CredentialInvalid,
    CredentialMalformed,
    CredentialSpent,
)
from app.credentials.models import CredentialKey, SpentCredential
from app.errors import CampaignNotOpen

# --- checking and spending a credential ---------------------------------------------------------


class CredentialLike(Protocol):
    """A credential as a ballot carries it (``app.credentials.schemas.CredentialIn``)."""

    @property
    def rater_group(self) -> str: ...

    @property
    def message(self) -> str: ...

    @property
    def signature(self) -> str: ...

    @property
    def campaign(self) -> str | None: ...


@dataclass(frozen=True)
class _Verified:
    key: CredentialKey
    message_hash: bytes
    admission: Admission


def message_hash(message: bytes) -> bytes:
    """What the spent set holds for a credential: SHA-256 of its prepared message."""
    return hashlib.sha256(message).digest()


def credential_admission(session: Session, credential: CredentialLike) -> Admission:
    """What a credential admits to, without spending it.

    403 when no key of its rater group (and campaign, when named) verifies it; 409 when it
    is spent or its campaign is not open; 422 when a value is malformed.
    """
    verified = _verify(session, credential)
    spent = session.scalar(
        select(SpentCredential.message_hash).where(
            SpentCredential.message_hash == verified.message_hash
        )
    )
    if spent is not None:
        raise CredentialSpent(field="credential")
    return verified.admission


def spend_credential(session: Session, credential: CredentialLike) -> Admission:
    """Verify the credential and add it to the spent set, in the caller's transaction.

    The insert is the exactly-once rule: of concurrent transactions spending one credential,
    one inserts and the others find the conflict (409). On SQLite, call this first in the
    transaction (it then begins with the write lock; see :func:`app.db.begin_writing`).
    """
    db.begin_writing(session)
    verified = _verify(session, credential)
    values = {"message_hash": verified.message_hash, "key_id": verified.key.id}
    dialect = session.get_bind().dialect.name
    statement = (
        postgresql.insert(SpentCredential).values(values).on_conflict_do_nothing()
        if dialect == "postgresql"
        else sqlite.insert(SpentCredential).values(values).on_conflict_do_nothing()
    )
    inserted = session.execute(
        statement.returning(SpentCredential.message_hash)
    ).scalar_one_or_none()
    if inserted is None:
        raise CredentialSpent(field="credential")
    return verified.admission


def _verify(session: Session, credential: CredentialLike) -> _Verified:
    message = keys.decode_b64url(credential.message, field="credential.message")
    if len(message) != keys.MESSAGE_LENGTH:
        raise CredentialMalformed(field="credential.message")
    signature = keys.decode_b64url(credential.signature, field="credential.signature")

    candidates = _candidate_keys(session, credential.rater_group, credential.campaign)
    if not candidates:
        raise CredentialInvalid(field="credential")
    lengths = {blind_rsa.modulus_length(keys.public_key_of(key)) for key, _ in candidates}
    if len(signature) not in lengths:
        raise CredentialMalformed(field="credential.signature")
    # Open campaigns first: a match elsewhere only changes the refusal to "not open".
    candidates.sort(key=lambda candidate: candidate[1].status != CampaignStatus.OPEN)
    for key, campaign in candidates:
        if blind_rsa.verify(keys.public_key_of(key), message, signature):
            if campaign.status != CampaignStatus.OPEN:
                raise CampaignNotOpen()
            return _Verified(
                key=key,
                message_hash=message_hash(message),
                admission=_admission_for_key(session, campaign, key),
            )
    raise CredentialInvalid(field="credential")


def _candidate_keys(
    session: Session, rater_group_key: str, campaign_slug: str | None
) -> list[tuple[CredentialKey, Campaign]]:
    query = (
        select(CredentialKey, Campaign)
        .join(Campaign, Campaign.id == CredentialKey.campaign_id)
        .join(RaterGroup, RaterGroup.id == CredentialKey.rater_group_id)
        .where(RaterGroup.key == rater_group_key)
        .order_by(CredentialKey.id)
    )
    if campaign_slug is not None:
        query = query.where(Campaign.slug == campaign_slug)
    return [(key, campaign) for key, campaign in session.execute(query).all()]


def _admission_for_key(session: Session, campaign: Campaign, key: CredentialKey) -> Admission:
    group = session.get_one(RaterGroup, key.rater_group_id)
    targets: Sequence[Target] = (
        [session.get_one(Target, key.target_id)] if key.target_id is not None else campaign.targets
    )
    return Admission(
        campaign=campaign,
        rater_group=group,
        targets=list(targets),
        questionnaire=campaign_service.questionnaire_of(campaign),
    )
