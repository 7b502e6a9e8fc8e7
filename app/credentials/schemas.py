"""Bodies of the credential API. Binary values are base64url without padding."""

from pydantic import BaseModel, ConfigDict, Field

from app.credentials import keys as credential_keys
from app.credentials.models import CredentialKey

B64_MAX_LENGTH = credential_keys.MAX_ENCODED_LENGTH


class CredentialKeyOut(BaseModel):
    """The key a credential for this rater group and scope is signed with."""

    id: int
    public_key: str = Field(description="SubjectPublicKeyInfo DER, base64url")
    fingerprint: str = Field(description="SHA-256 of the DER, hex")

    @classmethod
    def of(cls, key: CredentialKey | None) -> "CredentialKeyOut | None":
        if key is None:
            return None
        return cls(
            id=key.id,
            public_key=credential_keys.encode_b64url(key.public_key),
            fingerprint=bytes(key.fingerprint).hex(),
        )


class CampaignKeyOut(BaseModel):
    id: int
    rater_group: str = Field(description="The rater group's key")
    target: str | None = Field(
        description="The department code of the one target this key admits to; null: all"
    )
    public_key: str = Field(description="SubjectPublicKeyInfo DER, base64url")
    fingerprint: str = Field(description="SHA-256 of the DER, hex")


class CampaignKeysOut(BaseModel):
    campaign: str
    keys: list[CampaignKeyOut]

    @classmethod
    def of(cls, slug: str, infos: list[credential_keys.PublicKeyInfo]) -> "CampaignKeysOut":
        return cls(
            campaign=slug,
            keys=[
                CampaignKeyOut(
                    id=info.id,
                    rater_group=info.rater_group.key,
                    target=info.target.department.code if info.target else None,
                    public_key=credential_keys.encode_b64url(info.spki_der),
                    fingerprint=info.fingerprint.hex(),
                )
                for info in infos
            ],
        )


class CredentialRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    voucher: str | None = Field(
        default=None,
        max_length=64,
        description="An admission code; leave out to use the roster sign-in's cookie instead",
    )
    blinded_message: str = Field(
        max_length=B64_MAX_LENGTH,
        description="RFC 9474 Blind output `blinded_msg`, base64url, the modulus length",
    )


class CredentialOut(BaseModel):
    campaign: str
    rater_group: str
    key_id: int
    blind_signature: str = Field(description="RFC 9474 BlindSign output, base64url")


class RosterLoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign: str = Field(max_length=64, description="The campaign's slug")
    identifier: str = Field(max_length=256, description="As on the roster (phone number, …)")
    password: str = Field(max_length=64, description="The one-time password sent to you")


class RosterLoginOut(BaseModel):
    campaign: str
    rater_group: str
    credential_issued: bool = Field(
        description=(
            "Whether a credential was already issued to this member: only the same blinded "
            "message is then signed again"
        )
    )
    credential_key: CredentialKeyOut | None
    expires_in: int = Field(description="Seconds the sign-in cookie is valid for")


class CredentialIn(BaseModel):
    """A credential as a ballot carries it, in place of a code."""

    model_config = ConfigDict(extra="forbid")

    rater_group: str = Field(max_length=40, description="The rater group's key")
    message: str = Field(
        max_length=B64_MAX_LENGTH,
        description="The prepared message: 32 random bytes (RFC 9474) + a 32-byte nonce",
    )
    signature: str = Field(max_length=B64_MAX_LENGTH, description="The unblinded signature")
    campaign: str | None = Field(
        default=None, max_length=64, description="The campaign's slug, to look in it only"
    )
