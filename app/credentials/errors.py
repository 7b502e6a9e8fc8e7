"""Refusals of the credential flows: issuance, roster sign-in, and checking a credential.

Voucher refusals reuse the admission code errors of ``app.errors`` (unknown and revoked 403,
used 409, mistyped 422) with the field ``voucher``; a campaign that is not open is
``app.errors.CampaignNotOpen`` (409).
"""

from app.errors import InvalidInput, PingyiError
from app.i18n import N_


class CredentialMalformed(PingyiError):
    """A value cannot be what it claims: not base64url, the wrong length, not below the key's
    modulus. The field names which value."""

    status_code = 422
    code = "credential_malformed"
    message = N_(
        "This value is damaged: it is not base64url of the right length for this evaluation's key."
    )


class CredentialInvalid(PingyiError):
    status_code = 403
    code = "credential_invalid"
    message = N_("This credential is not valid for this evaluation.")


class CredentialSpent(PingyiError):
    status_code = 409
    code = "credential_spent"
    message = N_("This credential has already been used. Each credential can be used only once.")


class CredentialAlreadyIssued(PingyiError):
    status_code = 409
    code = "credential_issued"
    message = N_(
        "A credential has already been issued for this roster entry. "
        "Each rater receives one credential only."
    )


class CredentialsUnavailable(PingyiError):
    """The scope has no signing key here: not created yet, or this is a collector."""

    status_code = 409
    code = "credentials_unavailable"
    message = N_("Anonymous credentials are not available for this evaluation.")


class RosterSessionMissing(PingyiError):
    status_code = 403
    code = "roster_session_missing"
    message = N_(
        "Please sign in with your roster identifier and password first (the sign-in lasts "
        "15 minutes), or enter the code from your slip."
    )


class RosterLoginFailed(PingyiError):
    """Wrong identifier or wrong password: deliberately the same answer for both."""

    status_code = 403
    code = "roster_login_failed"
    message = N_("The identifier or the password is not right. Please check both.")


class RosterLoginThrottled(PingyiError):
    status_code = 429
    code = "roster_login_throttled"
    message = N_("Too many failed attempts. Please wait %(seconds)s seconds and try again.")


class RosterImportInvalid(InvalidInput):
    """The roster file has problems; nothing was imported."""

    message = N_("Nothing was imported: %(count)s problem(s) in the roster.")

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(count=len(problems))


class KeyTransferInvalid(InvalidInput):
    """A public key file cannot be imported; nothing was imported."""

    message = N_("The key file cannot be imported: %(problem)s")
