from fastapi import APIRouter

from app.ballots import service as ballot_service
from app.ballots.schemas import BallotIn, Receipt
from app.deps import HashingKeyDep, SessionDep
from app.error_handlers import error_responses

router = APIRouter(prefix="/api/v1", tags=["rating"])


@router.post(
    "/ballots",
    status_code=201,
    response_model=Receipt,
    responses=error_responses(403, 409, 413, 422),
    summary="Submit evaluations with an admission code, once",
)
def submit_ballot(body: BallotIn, session: SessionDep, hashing_key: HashingKeyDep) -> Receipt:
    """Uses the code and stores one evaluation per target, in one transaction.

    403: unknown or revoked code. 409: code already used, or campaign not open.
    422: invalid body, unknown target or item, or a level outside the item's scale; the
    error names the field. 413: body over 64 KiB. None of these changes anything stored.
    """
    return ballot_service.submit_ballot(session, hashing_key, body)
