"""Credential routes: public keys (both halves of a split deployment), and issuance with a
voucher or a roster sign-in (the issuer only). See ``app.credentials.issuance``."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from app.accounts.web import secure_cookies
from app.campaigns import service as campaign_service
from app.config import get_settings
from app.credentials import issuance, roster
from app.credentials import keys as credential_keys
from app.credentials.errors import RosterSessionMissing
from app.credentials.schemas import (
    CampaignKeysOut,
    CredentialKeyOut,
    CredentialOut,
    CredentialRequestIn,
    RosterLoginIn,
    RosterLoginOut,
)
from app.deps import HashingKeyDep, SessionDep
from app.error_handlers import error_responses
from app.ratelimit import RateLimits
from app.ratelimit import check as spend_attempt
from app.ratelimit import refund as refund_attempt


def server_secret() -> bytes:
    return get_settings().secret_bytes()


ServerSecretDep = Annotated[bytes, Depends(server_secret)]

keys_router = APIRouter(prefix="/api/v1", tags=["credentials"])
issuance_router = APIRouter(prefix="/api/v1", tags=["credentials"])


@keys_router.get(
    "/campaigns/{slug}/keys",
    response_model=CampaignKeysOut,
    responses=error_responses(404),
    summary="A campaign's public keys for credentials, with fingerprints",
)
def campaign_keys(slug: str, session: SessionDep) -> CampaignKeysOut:
    """One key per rater group for all targets, and one per target that codes were scoped to.

    `public_key` is the SubjectPublicKeyInfo DER (base64url; WebCrypto imports it as
    `"spki"`), `fingerprint` the SHA-256 of that DER in hex: compare it with the one the
    office publishes. An empty list: the campaign has not opened yet. 404: no such campaign.
    """
    campaign = campaign_service.get_campaign(session, slug)
    return CampaignKeysOut.of(campaign.slug, credential_keys.public_keys(session, campaign))


@issuance_router.post(
    "/credentials",
    response_model=CredentialOut,
    responses=error_responses(403, 409, 413, 422, 429),
    summary="Exchange a voucher or a roster sign-in for a blind signature, once",
)
def issue_credential(
    body: CredentialRequestIn,
    request: Request,
    response: Response,
    session: SessionDep,
    hashing_key: HashingKeyDep,
    secret: ServerSecretDep,
) -> CredentialOut:
    """Signs `blinded_message` (RFC 9474 RSABSSA-SHA384-PSS-Randomized) with the key of the
    voucher's rater group and scope, or of the signed-in roster member's rater group.

    The server records only that the voucher or member has received its credential (and a
    hash of the blinded message, which says nothing about the credential). Sending the same
    blinded message again returns the same signature, so a lost response can be fetched; a
    different one is refused. Without `voucher`, the roster sign-in cookie of
    `POST /api/v1/roster/login` is used, and cleared once the credential is issued.

    403: unknown or revoked voucher, or no valid sign-in. 409: voucher used or credential
    already issued (for another blinded message), campaign not open, or no key yet.
    422: mistyped voucher, or a blinded message that is not base64url of the key's length
    below its modulus. 429: too many vouchers tried from this client address
    (`Retry-After` says how many seconds to wait). None of these changes anything stored.
    """
    if body.voucher is not None:
        spend_attempt(request, RateLimits.VOUCHER)
        issued = issuance.issue_for_voucher(
            session, hashing_key, secret, body.voucher, body.blinded_message
        )
    else:
        signed_in = roster.decode_session(secret, request.cookies.get(roster.COOKIE_NAME))
        if signed_in is None:
            raise RosterSessionMissing()
        issued = issuance.issue_for_member(
            session, secret, signed_in.member_id, signed_in.campaign_id, body.blinded_message
        )
        response.headers.append(
            "set-cookie", roster.cookie_header("", secure=secure_cookies(request), max_age=0)
        )
    return CredentialOut(
        campaign=issued.campaign.slug,
        rater_group=issued.rater_group.key,
        key_id=issued.key.id,
        blind_signature=credential_keys.encode_b64url(issued.blind_signature),
    )


@issuance_router.post(
    "/roster/login",
    response_model=RosterLoginOut,
    responses=error_responses(403, 404, 409, 413, 422, 429),
    summary="Sign in as a roster member, to fetch one credential",
)
def roster_login(
    body: RosterLoginIn,
    request: Request,
    response: Response,
    session: SessionDep,
    secret: ServerSecretDep,
) -> RosterLoginOut:
    """Checks the identifier and the one-time password sent to the member, and sets a signed
    cookie (HttpOnly, SameSite=Strict, 15 minutes) that only `POST /api/v1/credentials`
    receives. Nothing is stored.

    403: wrong identifier or password (the same answer for both). 404: no such campaign.
    409: campaign not open. 429: too many failed attempts for this identifier, or from this
    client address; the message and `Retry-After` say how many seconds to wait.
    """
    signed_in = roster.sign_in(  # per identifier first, then the per-address ceiling
        session,
        secret,
        body.campaign,
        body.identifier,
        body.password,
        before_check=lambda: spend_attempt(request, RateLimits.LOGIN),
    )
    refund_attempt(request, RateLimits.LOGIN)
    value = roster.encode_session(
        secret,
        roster.RosterSession(member_id=signed_in.member.id, campaign_id=signed_in.campaign.id),
    )
    response.headers.append(
        "set-cookie", roster.cookie_header(value, secure=secure_cookies(request))
    )
    key = credential_keys.key_for_scope(
        session, signed_in.campaign.id, signed_in.rater_group.id, None
    )
    return RosterLoginOut(
        campaign=signed_in.campaign.slug,
        rater_group=signed_in.rater_group.key,
        credential_issued=signed_in.member.credential_issued,
        credential_key=CredentialKeyOut.of(key),
        expires_in=roster.SESSION_MAX_AGE,
    )
