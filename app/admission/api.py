from fastapi import APIRouter

from app.admission import service as admission_service
from app.admission.schemas import AdmissionIn, AdmissionOut
from app.deps import HashingKeyDep, SessionDep
from app.error_handlers import error_responses
from app.i18n import current_locale

router = APIRouter(prefix="/api/v1", tags=["rating"])


@router.post(
    "/admission",
    response_model=AdmissionOut,
    responses=error_responses(403, 409, 413, 422),
    summary="What an admission code admits to, without using it",
)
def admission(body: AdmissionIn, session: SessionDep, hashing_key: HashingKeyDep) -> AdmissionOut:
    """Campaign, rater group, targets and questionnaire for a code. The code stays unused.

    403: unknown or revoked code. 409: code already used, or campaign not open.
    422: the code fails its check character (a typo).
    """
    admitted = admission_service.check_code(session, hashing_key, body.code)
    return AdmissionOut.of(admitted, current_locale())
