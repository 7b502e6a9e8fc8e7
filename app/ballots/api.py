from typing import Annotated

from fastapi import APIRouter, Depends

from app.ballots import quality
from app.ballots import service as ballot_service
from app.ballots.schemas import BallotIn, Receipt, StartToken
from app.db import run_committed
from app.deps import HashingKeyDep, SessionDep
from app.error_handlers import error_responses

router = APIRouter(prefix="/api/v1", tags=["rating"])


async def start_token_key() -> bytes:
    """This server's start token key. Async, like the routes below, so that FastAPI runs
    it on the event loop instead of sending a cached lookup to a worker thread."""
    return quality.server_start_token_key()


StartKeyDep = Annotated[bytes, Depends(start_token_key)]


@router.post(
    "/ballots",
    status_code=201,
    response_model=Receipt,
    responses=error_responses(403, 409, 413, 422),
    summary="Submit evaluations with an admission code or a credential, once",
)
async def submit_ballot(
    body: BallotIn, session: SessionDep, hashing_key: HashingKeyDep, start_key: StartKeyDep
) -> Receipt:
    """Uses the code, or spends the credential, and stores one evaluation per target, in one
    transaction. Send exactly one of `code` and `credential`.

    A credential is what `POST /api/v1/credentials` signed blind, finalized by the rater's
    browser: the server checks its signature against the campaign's key for the rater
    group and records a hash of its message in the spent set. Send it without cookies: the
    server never needs one here.

    Each evaluation may carry the `started` token taken when its target's form was shown;
    an evaluation completed implausibly fast, or with every answered item at the same
    level, is stored with a quality flag (never a time) that the campaign's results policy
    handles. A missing or invalid token is never a reason to refuse.

    The response's `receipt` is random: only its SHA-256 is stored, and after close the
    sorted hashes are published on the campaign's verification page.

    403: unknown or revoked code, or a credential whose signature does not verify.
    409: code already used, credential already spent, or campaign not open.
    422: invalid body (neither or both of `code` and `credential`, a malformed credential),
    unknown target (or one outside the credential's scope) or item, or a level outside the
    item's scale; the error names the field. 413: body over 64 KiB. None of these changes
    anything stored.
    """
    # All the blocking work and the commit in one trip to a worker thread (a sync route
    # would also send the validation of its answer there).
    return await run_committed(
        session, ballot_service.submit_ballot, hashing_key, body, start_key=start_key
    )


@router.get(
    "/start-token",
    response_model=StartToken,
    summary="A fresh start token, to take when a target's form is shown",
)
async def start_token(start_key: StartKeyDep) -> StartToken:
    """A signed token holding a random value and the time it was signed, nothing else.

    Take one each time you show a target's form and send it back as that evaluation's
    `started` in `POST /api/v1/ballots`. The server keeps nothing: no copy of the token,
    no log line of this request. Tokens are valid for one day.
    """
    return StartToken(started=quality.new_start_token(start_key))
