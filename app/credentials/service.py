"""Blind-signed credentials: signing keys, issuance, and checking and spending a credential.

Issuance (the issuer's side): a rater proves eligibility with a voucher (an admission code)
or a roster sign-in, and sends a blinded message; the voucher or roster entry is marked as
having received its credential by a conditional UPDATE checked by its result (the
exactly-once rule), and the blinded message is signed. Only a SHA-256 of the blinded message
is kept, so the same request can be answered again after a dropped response (RSA signing is
deterministic) and no other can. Blinding makes that hash independent of the credential.

Collection (the collector's side): a ballot carries the unblinded credential, ``{"rater_group",
"message", "signature", "campaign"?}``; it is checked against the public keys of that rater
group, and spent by inserting a SHA-256 of the message into the spent set, in the ballot's
transaction. Nothing here joins the two sides.

Keys: one per campaign × rater group × scope (all targets, or the one target of a scoped
batch), made when a campaign opens or a scoped batch is issued. Private keys are stored
encrypted under the server secret and kept decrypted in this process once loaded.
"""

import base64
import binascii
import hashlib
import hmac
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.admission import codes
from app.admission import service as admission_service
from app.admission.models import AdmissionCode, CodeBatch, CodeStatus
from app.admission.service import Admission
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus, RaterGroup, Target
from app.credentials import blind_rsa
from app.credentials.errors import (
    CredentialAlreadyIssued,
    CredentialInvalid,
    CredentialMalformed,
    CredentialSpent,
    CredentialsUnavailable,
    RosterSessionMissing,
)
from app.credentials.models import CredentialKey, RosterMember, SpentCredential
from app.errors import CampaignNotOpen, CodeMistyped, CodeRevoked, CodeUnknown, CodeUsed

NONCE_LENGTH = 32  # bytes of the rater's random nonce after RFC 9474's 32-byte prefix
MESSAGE_LENGTH = blind_rsa.PREFIX_LENGTH + NONCE_LENGTH  # the prepared message, in bytes
MAX_ENCODED_LENGTH = 2048  # characters of base64url: more than an 8192-bit signature needs
PRIVATE_KEY_CACHE_SIZE = 1024
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")


# --- base64url ----------------------------------------------------------------------------------


def encode_b64url(value: bytes) -> str:
    """Base64url without padding, as the API carries every binary value."""
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode("ascii")


def decode_b64url(text: str, *, field: str) -> bytes:
    """Inverse of :func:`encode_b64url` (padding tolerated); anything else is 422 on ``field``."""
    if len(text) > MAX_ENCODED_LENGTH or not _BASE64URL.fullmatch(text):
        raise CredentialMalformed(field=field)
    stripped = text.rstrip("=")
    if len(stripped) % 4 == 1:
        raise CredentialMalformed(field=field)
    try:
        return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError):
        raise CredentialMalformed(field=field) from None


def _as_bytes(value: bytes | str, field: str) -> bytes:
    return decode_b64url(value, field=field) if isinstance(value, str) else value


# --- keys ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicKeyInfo:
    """A key as the public sees it: which rater group and scope it admits to, and its bytes."""

    id: int
    rater_group: RaterGroup
    target: Target | None
    spki_der: bytes
    fingerprint: bytes  # SHA-256 of spki_der


def keys_of(session: Session, campaign: Campaign) -> list[CredentialKey]:
    return list(
        session.scalars(
            select(CredentialKey)
            .where(CredentialKey.campaign_id == campaign.id)
            .order_by(CredentialKey.id)
        )
    )


def public_keys(session: Session, campaign: Campaign) -> list[PublicKeyInfo]:
    """The campaign's keys in the order of its rater groups, each group's all-targets key
    first, then its scoped keys in the order of the targets."""
    groups = {group.id: group for group in campaign.rater_groups}
    targets = {target.id: target for target in campaign.targets}
    infos = [
        PublicKeyInfo(
            id=key.id,
            rater_group=groups[key.rater_group_id],
            target=targets[key.target_id] if key.target_id is not None else None,
            spki_der=key.public_key,
            fingerprint=key.fingerprint,
        )
        for key in keys_of(session, campaign)
    ]
    return sorted(
        infos,
        key=lambda info: (
            info.rater_group.position,
            -1 if info.target is None else info.target.position,
        ),
    )


def key_for_scope(
    session: Session, campaign_id: int, rater_group_id: int, target_id: int | None
) -> CredentialKey | None:
    target_condition = (
        CredentialKey.target_id.is_(None)
        if target_id is None
        else CredentialKey.target_id == target_id
    )
    return session.scalars(
        select(CredentialKey)
        .where(
            CredentialKey.campaign_id == campaign_id,
            CredentialKey.rater_group_id == rater_group_id,
            target_condition,
        )
        .order_by(CredentialKey.id)
        .limit(1)
    ).first()


def ensure_key(
    session: Session,
    campaign: Campaign,
    group: RaterGroup,
    target: Target | None,
    server_secret: bytes,
) -> CredentialKey:
    """The key for this campaign, rater group and scope, made (3072 bits) if there is none.

    Before making one, the campaign row is locked (PostgreSQL; SQLite writers are serialised
    anyway) and the scope looked up again, so two transactions cannot both make the
    all-targets key, whose null ``target_id`` the unique constraint does not cover. The lock
    is FOR NO KEY UPDATE: it does not wait for the key-share locks that inserting a code
    batch takes, so two batches issued at once do not deadlock.
    """
    if group.campaign_id != campaign.id or (
        target is not None and target.campaign_id != campaign.id
    ):
        raise ValueError(f"rater group or target does not belong to campaign {campaign.slug}")
    target_id = target.id if target else None
    existing = key_for_scope(session, campaign.id, group.id, target_id)
    if existing is not None:
        return existing
    session.execute(
        select(Campaign.id).where(Campaign.id == campaign.id).with_for_update(key_share=True)
    )
    existing = key_for_scope(session, campaign.id, group.id, target_id)
    if existing is not None:
        return existing
    private_key = blind_rsa.generate_private_key()
    public_key = private_key.public_key()
    fingerprint = blind_rsa.public_key_fingerprint(public_key)
    key = CredentialKey(
        campaign_id=campaign.id,
        rater_group_id=group.id,
        target_id=target.id if target else None,
        public_key=blind_rsa.public_key_der(public_key),
        fingerprint=fingerprint,
        private_key=blind_rsa.encrypt_private_key(private_key, server_secret, fingerprint),
    )
    session.add(key)
    session.flush()
    _remember_private_key(fingerprint, server_secret, private_key)
    return key


def open_campaign_keys(
    session: Session, campaign: Campaign, server_secret: bytes
) -> list[CredentialKey]:
    """Every key an open campaign needs: one per rater group for all targets, and one per
    scope of its batches scoped to one target. Keys that exist are kept."""
    for group in campaign.rater_groups:
        ensure_key(session, campaign, group, None, server_secret)
    groups = {group.id: group for group in campaign.rater_groups}
    targets = {target.id: target for target in campaign.targets}
    scopes = session.execute(
        select(CodeBatch.rater_group_id, CodeBatch.target_id)
        .where(CodeBatch.campaign_id == campaign.id, CodeBatch.target_id.is_not(None))
        .distinct()
    ).all()
    for group_id, target_id in sorted(scopes, key=lambda scope: (scope[0], scope[1] or 0)):
        if target_id is not None:
            ensure_key(session, campaign, groups[group_id], targets[target_id], server_secret)
    return keys_of(session, campaign)


def ensure_batch_key(
    session: Session, campaign: Campaign, batch: CodeBatch, server_secret: bytes
) -> CredentialKey | None:
    """The key a new batch's codes will be exchanged under, made if missing.

    A scoped batch gets its scope's key at once (draft or open campaign); an unscoped batch
    uses its rater group's all-targets key, made here only if the campaign is already open
    (a draft gets it when it opens).
    """
    group = next(group for group in campaign.rater_groups if group.id == batch.rater_group_id)
    if batch.target_id is not None:
        target = next(target for target in campaign.targets if target.id == batch.target_id)
        return ensure_key(session, campaign, group, target, server_secret)
    if campaign.status == CampaignStatus.OPEN:
        return ensure_key(session, campaign, group, None, server_secret)
    return None


def key_for_code(session: Session, hashing_key: bytes, code_text: str) -> CredentialKey | None:
    """The key a voucher's credential is signed with (its batch's scope), if there is one yet."""
    try:
        hashed = codes.keyed_hash(hashing_key, codes.normalize(code_text))
    except codes.MalformedCode:
        return None
    scope = _code_scope(session, hashed)
    if scope is None:
        older = admission_service.previous_code_hash(session.connection(), code_text)
        scope = None if older is None else _code_scope(session, older)
    if scope is None:
        return None
    return key_for_scope(session, *scope)


def _code_scope(session: Session, hashed: bytes) -> tuple[int, int, int | None] | None:
    """The campaign, rater group and target of the code stored as ``hashed``."""
    row = session.execute(
        select(CodeBatch.campaign_id, CodeBatch.rater_group_id, CodeBatch.target_id)
        .join(AdmissionCode, AdmissionCode.batch_id == CodeBatch.id)
        .where(AdmissionCode.code_hash == hashed)
    ).one_or_none()
    return None if row is None else (row.campaign_id, row.rater_group_id, row.target_id)


# Decrypting a private key takes ~0.2 s, so each is decrypted once per process. The cache is
# keyed on the fingerprint and on a hash of the server secret it was decrypted under.
_private_keys: dict[tuple[bytes, bytes], rsa.RSAPrivateKey] = {}
_private_keys_lock = threading.Lock()


def _secret_id(server_secret: bytes) -> bytes:
    return hashlib.sha256(b"pingyi key cache v1" + server_secret).digest()


def _remember_private_key(
    fingerprint: bytes, server_secret: bytes, private_key: rsa.RSAPrivateKey
) -> None:
    with _private_keys_lock:
        if len(_private_keys) >= PRIVATE_KEY_CACHE_SIZE:
            _private_keys.clear()
        _private_keys[(fingerprint, _secret_id(server_secret))] = private_key


def private_key_of(key: CredentialKey, server_secret: bytes) -> rsa.RSAPrivateKey:
    """The decrypted private key (cached); a collector's keys have none."""
    if key.private_key is None:
        raise CredentialsUnavailable()
    fingerprint = bytes(key.fingerprint)
    cached = _private_keys.get((fingerprint, _secret_id(server_secret)))
    if cached is not None:
        return cached
    private_key = blind_rsa.decrypt_private_key(key.private_key, server_secret, fingerprint)
    if blind_rsa.public_key_fingerprint(private_key.public_key()) != fingerprint:
        raise blind_rsa.KeyDecryptionFailed(
            f"the private key stored for key {key.id} does not match its public key"
        )
    _remember_private_key(fingerprint, server_secret, private_key)
    return private_key


def public_key_of(key: CredentialKey) -> rsa.RSAPublicKey:
    return _load_public_key(bytes(key.public_key))


@lru_cache(maxsize=PRIVATE_KEY_CACHE_SIZE)
def _load_public_key(spki_der: bytes) -> rsa.RSAPublicKey:
    return blind_rsa.load_public_key(spki_der)


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


def begin_writing(session: Session) -> None:
    """Begin the session's transaction with the write lock on SQLite, if none has begun.

    Issuance and spending read (the code, the keys) before they write; a SQLite transaction
    that began with a read cannot take the write lock once another writer has committed, and
    fails instead of waiting. PostgreSQL ignores the option.
    """
    if not session.in_transaction():
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


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
    blinded = _as_bytes(blinded_message, "blinded_message")
    try:
        code_hash = codes.keyed_hash(hashing_key, codes.normalize(code_text))
    except codes.MalformedCode:
        raise CodeMistyped(field="voucher") from None
    begin_writing(session)
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
    blinded = _as_bytes(blinded_message, "blinded_message")
    begin_writing(session)
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
    key = key_for_scope(session, campaign_id, rater_group_id, target_id)
    if key is None or key.private_key is None:
        raise CredentialsUnavailable()
    return _SigningScope(
        campaign=campaign,
        rater_group=session.get_one(RaterGroup, rater_group_id),
        key=key,
        private_key=private_key_of(key, server_secret),
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
    transaction (it then begins with the write lock; see :func:`begin_writing`).
    """
    begin_writing(session)
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
    message = decode_b64url(credential.message, field="credential.message")
    if len(message) != MESSAGE_LENGTH:
        raise CredentialMalformed(field="credential.message")
    signature = decode_b64url(credential.signature, field="credential.signature")

    candidates = _candidate_keys(session, credential.rater_group, credential.campaign)
    if not candidates:
        raise CredentialInvalid(field="credential")
    lengths = {blind_rsa.modulus_length(public_key_of(key)) for key, _ in candidates}
    if len(signature) not in lengths:
        raise CredentialMalformed(field="credential.signature")
    # Open campaigns first: a match elsewhere only changes the refusal to "not open".
    candidates.sort(key=lambda candidate: candidate[1].status != CampaignStatus.OPEN)
    for key, campaign in candidates:
        if blind_rsa.verify(public_key_of(key), message, signature):
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
