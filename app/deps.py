"""Dependencies shared by routers."""

from functools import lru_cache
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from app.admission import codes
from app.config import get_settings
from app.db import get_session

SessionDep = Annotated[Session, Depends(get_session, scope="function")]


@lru_cache
def code_hashing_key() -> bytes:
    return codes.hashing_key(get_settings().secret_bytes())


HashingKeyDep = Annotated[bytes, Depends(code_hashing_key)]
