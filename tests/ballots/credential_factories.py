"""Credentials for ballot tests, made as an issuer and a rater's browser make them.

A key is stored as a collector holds it (public half only), and credentials are made with
``app.credentials.blind_rsa`` (prepare a 32-byte nonce, blind, sign blind, finalize), so the
tests exercise spending without depending on the issuance endpoints.
"""

import base64
import hashlib
import secrets
from functools import cache

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.orm import Session

from app.ballots.flow import credential_text
from app.campaigns.models import Campaign
from app.credentials import blind_rsa
from app.credentials.models import CredentialKey
from app.credentials.schemas import CredentialIn

NONCE_BYTES = 32


@cache
def cached_key(name: str) -> rsa.RSAPrivateKey:
    """A 3072-bit signing key per name, made once per test run (making one takes a while)."""
    return blind_rsa.generate_private_key()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def store_key(
    session: Session,
    campaign: Campaign,
    private_key: rsa.RSAPrivateKey,
    *,
    group: str = "citizens",
    target: str | None = None,
) -> CredentialKey:
    """The campaign's public key for a rater group (and scope), as a collector holds it."""
    public_key = private_key.public_key()
    rater_group = next(g for g in campaign.rater_groups if g.key == group)
    scope = next(t for t in campaign.targets if t.department.code == target) if target else None
    row = CredentialKey(
        campaign_id=campaign.id,
        rater_group_id=rater_group.id,
        target_id=scope.id if scope else None,
        public_key=blind_rsa.public_key_der(public_key),
        fingerprint=blind_rsa.public_key_fingerprint(public_key),
        private_key=None,
    )
    session.add(row)
    session.flush()
    return row


def make_credential(
    private_key: rsa.RSAPrivateKey, campaign: Campaign | None = None, *, group: str = "citizens"
) -> dict[str, str]:
    """A finalized credential as the API takes it; ``campaign`` is optional there."""
    public_key = private_key.public_key()
    prepared = blind_rsa.prepare(secrets.token_bytes(NONCE_BYTES))
    blinded = blind_rsa.blind(public_key, prepared)
    blind_signature = blind_rsa.blind_sign(private_key, blinded.blinded_msg)
    signature = blind_rsa.finalize(public_key, prepared, blind_signature, blinded.inv)
    credential = {"rater_group": group, "message": b64url(prepared), "signature": b64url(signature)}
    if campaign is not None:
        credential["campaign"] = campaign.slug
    return credential


def as_text(credential: dict[str, str]) -> str:
    """The text a rater saves and pastes."""
    return credential_text(CredentialIn.model_validate(credential))


def message_hash(credential: dict[str, str]) -> bytes:
    """What the spent set holds for ``credential``."""
    return hashlib.sha256(from_b64url(credential["message"])).digest()
