"""The issuer's handover without JavaScript: a code in, a credential's text out.

Without a script the rater's browser cannot blind a message, so the issuer's server plays the
rater's part: it prepares a random message, blinds it under the code's key, has it signed
exactly as ``POST /api/v1/credentials`` would (the code is used up, and only a hash of the
blinded message is stored), unblinds the signature and hands the credential to the rater once.
The blinding factor is dropped, so the stored hash says nothing about the credential.

What this path guarantees, said on the page and in docs/privacy.md: the issuer's *database*
holds nothing that links the code to the credential, but the issuer's *running server* saw
both, once. Linking a rating to a code then needs the issuer's operator to have changed the
running software to record credentials, and the collector's box (and, before the tally, t
trustees). That is weaker than the script's path, where the issuer never sees the
credential, and about as strong as using a code directly on a single deployment.
"""

import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.admission import service as admission_service
from app.ballots import flow as rating_flow
from app.credentials import blind_rsa, issuance
from app.credentials import keys as credential_keys
from app.credentials.errors import CredentialsUnavailable
from app.credentials.schemas import CredentialIn


@dataclass(frozen=True)
class HandedOver:
    """A finished credential, for the rater only: shown once, stored nowhere."""

    campaign_slug: str
    campaign_title: str
    credential_text: str


def make_credential(
    session: Session, hashing_key: bytes, server_secret: bytes, code: str, locale: str
) -> HandedOver:
    """Use ``code`` up for a credential, made here; the refusals of issuance for a voucher.

    A code already used (for a credential or directly) is refused: this path cannot fetch a
    lost credential again, because the blinding factor that would unblind it is gone.
    """
    admitted = admission_service.check_code(session, hashing_key, code)
    key = credential_keys.key_for_code(session, hashing_key, code)
    if key is None:
        raise CredentialsUnavailable()
    public_key = credential_keys.public_key_of(key)
    prepared = blind_rsa.prepare(secrets.token_bytes(credential_keys.NONCE_LENGTH))
    blinded = blind_rsa.blind(public_key, prepared)
    issued = issuance.issue_for_voucher(
        session, hashing_key, server_secret, code, blinded.blinded_msg
    )
    signature = blind_rsa.finalize(public_key, prepared, issued.blind_signature, blinded.inv)
    credential = CredentialIn(
        rater_group=issued.rater_group.key,
        message=credential_keys.encode_b64url(prepared),
        signature=credential_keys.encode_b64url(signature),
        campaign=issued.campaign.slug,
    )
    return HandedOver(
        campaign_slug=issued.campaign.slug,
        campaign_title=admitted.campaign.title_for(locale),
        credential_text=rating_flow.credential_text(credential),
    )
