"""Domain errors: each carries its HTTP status, a stable code and a translatable message.

Services raise these; the API turns them into ``{"error": {...}}`` bodies and the pages show
the translated message in place. Messages are English message ids with ``%(name)s``
placeholders, translated when shown.
"""

from typing import Any, ClassVar

from app.i18n import N_, gettext


class PingyiError(Exception):
    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "error"
    message: ClassVar[str] = N_("The request could not be processed.")

    def __init__(self, message: str | None = None, *, field: str | None = None, **params: Any):
        self.message_id = message or self.message
        self.field = field
        self.params = params
        super().__init__(self._format(self.message_id))

    def _format(self, text: str) -> str:
        return text % self.params if self.params else text

    def translated(self) -> str:
        return self._format(gettext(self.message_id))

    def as_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.translated()}
        if self.field is not None:
            body["field"] = self.field
        return {"error": body}


class NotFound(PingyiError):
    status_code = 404
    code = "not_found"
    message = N_("“%(name)s” does not exist.")


class InvalidInput(PingyiError):
    """Input that breaks a rule; the raiser gives the message and, where known, the field."""

    status_code = 422
    code = "invalid"


class InvalidTransition(PingyiError):
    """A lifecycle step that the object's current state does not allow."""

    status_code = 409
    code = "invalid_transition"


class CodeMistyped(PingyiError):
    status_code = 422
    code = "code_mistyped"
    message = N_(
        "This code does not look right: please check each character against your slip "
        "(a code has 20 letters and digits)."
    )


class CodeUnknown(PingyiError):
    status_code = 403
    code = "code_unknown"
    message = N_("This code is not valid. Please check it against your slip.")


class CodeRevoked(PingyiError):
    status_code = 403
    code = "code_revoked"
    message = N_("This code has been withdrawn by the evaluation office and cannot be used.")


class CodeUsed(PingyiError):
    status_code = 409
    code = "code_used"
    message = N_("This code has already been used. Each code can be used only once.")


class CampaignNotOpen(PingyiError):
    status_code = 409
    code = "campaign_not_open"
    message = N_("This evaluation is not open for ratings at the moment.")
