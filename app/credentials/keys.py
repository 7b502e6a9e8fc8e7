"""Blind-signing keys: one per campaign × rater group × scope (all targets, or the one
target of a scoped batch), made when a campaign opens or a scoped batch is issued. Private keys
are stored encrypted under the server secret and kept decrypted in this process once loaded.
Also the base64url form every credential field travels in."""

import base64
import binascii
import hashlib
import re
import threading
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.admission import codes
from app.admission import service as admission_service
from app.admission.models import AdmissionCode, CodeBatch
from app.campaigns.models import Campaign, CampaignStatus, RaterGroup, Target
from app.credentials import blind_rsa
from app.credentials.errors import (
    CredentialMalformed,
    CredentialsUnavailable,
)
from app.credentials.models import CredentialKey

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


def as_bytes(value: bytes | str, field: str) -> bytes:
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
