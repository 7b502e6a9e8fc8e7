"""Liveness and readiness for load balancers and orchestrators.

``/healthz``: the process answers (it checks nothing else, so a slow database never gets
healthy workers killed). ``/readyz``: the database answers and its schema is at the newest
migration, so a new release is not sent traffic before ``alembic upgrade head`` has run.
"""

from functools import lru_cache

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from app.config import PROJECT_ROOT
from app.db import get_engine

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: str
    migrations: str


@lru_cache
def expected_revisions() -> frozenset[str]:
    # Alembic is imported on the first readiness check rather than at start-up (about 0.25 s
    # that every worker process would otherwise pay before it can answer).
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up (it does not check the database)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
def readyz() -> JSONResponse:
    """503 until the database answers and its schema is at the newest migration."""
    from alembic.runtime.migration import MigrationContext

    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
            current = frozenset(MigrationContext.configure(connection).get_current_heads())
    except Exception:  # any failure to reach the database means "not ready"
        body = Readiness(status="unavailable", database="unreachable", migrations="unknown")
        return JSONResponse(body.model_dump(), status_code=503)
    at_head = current == expected_revisions()
    body = Readiness(
        status="ready" if at_head else "unavailable",
        database="ok",
        migrations="head" if at_head else "behind",
    )
    return JSONResponse(body.model_dump(), status_code=200 if at_head else 503)
