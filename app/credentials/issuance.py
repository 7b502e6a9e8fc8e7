"""Issuance (the issuer's side): a rater proves eligibility with a voucher (an admission code)
or a roster sign-in, and sends a blinded message; the voucher or roster entry is marked as
having received its credential by a conditional UPDATE checked by its result (the
exactly-once rule), and the blinded message is signed. Only a SHA-256 of the blinded message
is kept, so the same request can be answered again after a dropped response (RSA signing is
deterministic) and no other can. Blinding makes that hash independent of the credential."""

import hashlib
import hmac
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import db
from app.admission import codes
from app.admission import service as admission_service
from app.admission.models import AdmissionCode, CodeBatch, CodeStatus
from app.campaigns.models import Campaign, CampaignStatus, RaterGroup
from app.credentials import blind_rsa, keys
from app.credentials.errors import (
    CredentialAlreadyIssued,
    CredentialMalformed,
    CredentialsUnavailable,
    RosterSessionMissing,
)
from app.credentials.models import CredentialKey, RosterMember
from app.errors import CampaignNotOpen, CodeMistyped, CodeRevoked, CodeUnknown, CodeUsed

# --- issuance -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Issued:
    key: CredentialKey
    campaign: Campaign
    rater_group: RaterGroup
    blind_signature: bytes


@dataclass(frozen=True)
class _SigningScope:
    campaign: Campaign
    rater_group: RaterGroup
    key: CredentialKey
    private_key: rsa.RSAPrivateKey


def blinded_hash(blinded_message: bytes) -> bytes:
    return hashlib.sha256(blinded_message).digest()


def issue_for_voucher(
    session: Session,
    hashing_key: bytes,
    server_secret: bytes,
    code_text: str,
    blinded_message: bytes | str,
) -> Issued:
    """Exchange a voucher (an admission code) for a blind signature, once.

    Refusals change nothing: unknown or revoked code 403, mistyped 422, already exchanged
    (or used to rate directly) 409, campaign not open 409, blinded message malformed for the
    key 422. The same code with the same blinded message is answered again with the same
    signature, so a dropped response can be fetched; any other blinded message is 409.
    """
    blinded = keys.as_bytes(blinded_message, "blinded_message")
    try:
        code_hash = codes.keyed_hash(hashing_key, codes.normalize(code_text))
    except codes.MalformedCode:
        raise CodeMistyped(field="voucher") from None
    db.begin_writing(session)
    row = session.execute(
        select(AdmissionCode.status, AdmissionCode.batch_id, AdmissionCode.blinded_hash).where(
            AdmissionCode.code_hash == code_hash
        )
    ).one_or_none()
    if row is None:
        older = admission_service.previous_code_hash(session.connection(), code_text)
        if older is None:
            raise CodeUnknown(field="voucher")
        code_hash = older
        row = session.execute(
            select(AdmissionCode.status, AdmissionCode.batch_id, AdmissionCode.blinded_hash).where(
                AdmissionCode.code_hash == code_hash
            )
        ).one()
    if row.status == CodeStatus.REVOKED:
        raise CodeRevoked(field="voucher")
    batch = session.get_one(CodeBatch, row.batch_id)
    if not batch.ready:  # its slips were never written: nobody was meant to hold the code
        raise CodeUnknown(field="voucher")
    scope = _signing_scope(
        session, batch.campaign_id, batch.rater_group_id, batch.target_id, server_secret
    )
    _check_blinded(scope, blinded)
    wanted = blinded_hash(blinded)
    if row.status == CodeStatus.USED:
        if not _same_hash(row.blinded_hash, wanted):
            raise CodeUsed(field="voucher")
        return _sign(scope, blinded)
    claimed = session.execute(
        update(AdmissionCode)
        .where(AdmissionCode.code_hash == code_hash, AdmissionCode.status == CodeStatus.UNUSED)
        .values(status=CodeStatus.USED, blinded_hash=wanted)
        .returning(AdmissionCode.batch_id)
    ).scalar_one_or_none()
    if claimed is None:  # another transaction took it between the read and the update
        current = session.scalar(
            select(AdmissionCode.blinded_hash).where(AdmissionCode.code_hash == code_hash)
        )
        if not _same_hash(current, wanted):
            raise CodeUsed(field="voucher")
    return _sign(scope, blinded)


def issue_for_member(
    session: Session,
    server_secret: bytes,
    member_id: int,
    campaign_id: int,
    blinded_message: bytes | str,
) -> Issued:
    """Sign a roster member's blinded message, once; the rules of :func:`issue_for_voucher`.

    ``member_id`` and ``campaign_id`` come from the signed roster session; a member that no
    longer exists (or of another campaign) is refused as an absent session (403).
    """
    blinded = keys.as_bytes(blinded_message, "blinded_message")
    db.begin_writing(session)
    member = session.execute(
        select(
            RosterMember.campaign_id,
            RosterMember.rater_group_id,
            RosterMember.credential_issued,
            RosterMember.blinded_hash,
        ).where(RosterMember.id == member_id)
    ).one_or_none()
    if member is None or member.campaign_id != campaign_id:
        raise RosterSessionMissing()
    scope = _signing_scope(session, campaign_id, member.rater_group_id, None, server_secret)
    _check_blinded(scope, blinded)
    wanted = blinded_hash(blinded)
    if member.credential_issued:
        if not _same_hash(member.blinded_hash, wanted):
            raise CredentialAlreadyIssued()
        return _sign(scope, blinded)
    claimed = session.execute(
        update(RosterMember)
        .where(RosterMember.id == member_id, RosterMember.credential_issued.is_(False))
        .values(credential_issued=True, blinded_hash=wanted)
        .returning(RosterMember.id)
    ).scalar_one_or_none()
    if claimed is None:
        current = session.scalar(
            select(RosterMember.blinded_hash).where(RosterMember.id == member_id)
        )
        if not _same_hash(current, wanted):
            raise CredentialAlreadyIssued()
    return _sign(scope, blinded)


def _signing_scope(
    session: Session,
    campaign_id: int,
    rater_group_id: int,
    target_id: int | None,
    server_secret: bytes,
) -> _SigningScope:
    campaign = session.get_one(Campaign, campaign_id)
    if campaign.status != CampaignStatus.OPEN:
        raise CampaignNotOpen()
    key = keys.key_for_scope(session, campaign_id, rater_group_id, target_id)
    if key is None or key.private_key is None:
        raise CredentialsUnavailable()
    return _SigningScope(
        campaign=campaign,
        rater_group=session.get_one(RaterGroup, rater_group_id),
        key=key,
        private_key=keys.private_key_of(key, server_secret),
    )


def _check_blinded(scope: _SigningScope, blinded: bytes) -> None:
    public_numbers = scope.private_key.public_key().public_numbers()
    length = blind_rsa.modulus_length(scope.private_key.public_key())
    if len(blinded) != length or int.from_bytes(blinded, "big") >= public_numbers.n:
        raise CredentialMalformed(field="blinded_message")


def _sign(scope: _SigningScope, blinded: bytes) -> Issued:
    return Issued(
        key=scope.key,
        campaign=scope.campaign,
        rater_group=scope.rater_group,
        blind_signature=blind_rsa.blind_sign(scope.private_key, blinded),
    )


def _same_hash(stored: bytes | None, wanted: bytes) -> bool:
    return stored is not None and hmac.compare_digest(bytes(stored), wanted)
