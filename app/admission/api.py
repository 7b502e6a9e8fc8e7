from typing import Annotated

from fastapi import APIRouter, Depends

from app.admission import service as admission_service
from app.admission.schemas import AdmissionIn, AdmissionOut
from app.ballots import quality
from app.credentials import keys as credential_keys
from app.credentials.schemas import CredentialKeyOut
from app.deps import HashingKeyDep, SessionDep
from app.error_handlers import error_responses
from app.i18n import current_locale
from app.ratelimit import RateLimits
from app.ratelimit import limit as rate_limit

router = APIRouter(prefix="/api/v1", tags=["rating"])


@router.post(
    "/admission",
    response_model=AdmissionOut,
    responses=error_responses(403, 409, 413, 422, 429),
    summary="What an admission code admits to, without using it",
    dependencies=[Depends(rate_limit(RateLimits.ADMISSION))],
)
def admission(
    body: AdmissionIn,
    session: SessionDep,
    hashing_key: HashingKeyDep,
    start_key: Annotated[bytes, Depends(quality.server_start_token_key)],
) -> AdmissionOut:
    """Campaign, rater group, targets and questionnaire for a code. The code stays unused.

    `started` is a start token for the first target's form; take a fresh one from
    `GET /api/v1/start-token` for each further target. `credential_key` is the public key
    to blind with when exchanging the code for a credential instead.

    403: unknown or revoked code. 409: code already used, or campaign not open.
    422: the code fails its check character (a typo). 429: too many attempts from this
    client address (`Retry-After` says how many seconds to wait).
    """
    admitted = admission_service.check_code(session, hashing_key, body.code)
    key = credential_keys.key_for_code(session, hashing_key, body.code)
    return AdmissionOut.of(
        admitted,
        current_locale(),
        started=quality.new_start_token(start_key),
        credential_key=CredentialKeyOut.of(key),
    )
