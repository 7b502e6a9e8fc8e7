"""Liveness and readiness for load balancers and orchestrators.

``/healthz``: the process answers (it checks nothing else, so a slow database never gets
healthy workers killed). ``/readyz``: this replica can serve. 503 with reason codes in
``problems`` when it cannot:

- ``unreachable``: the database does not answer;
- ``behind``: the schema is not one this code can run on: ``pingyi db upgrade`` has not run
  yet, or a newer release contracted the schema (``app.ops.schema``). A schema a newer release
  only expanded, and that still lists this code's revision, is ``compatible`` and ready, so old
  replicas stay in service while replicas are replaced one by one;
- ``schema_drift``: the database at this code's head differs from the models (checked at most
  once a minute per process; the differences are logged, not shown here);
- ``secret_mismatch``: PINGYI_SECRET_KEY is not the secret this database was set up with;
- ``disk_full``: less than PINGYI_MIN_FREE_DISK_MB free where the app or SQLite writes.
"""

import logging
import threading
import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, text

from app.config import get_settings
from app.db import get_engine
from app.ops import disk, schema
from app.ops import secret as ops_secret

DRIFT_CHECK_INTERVAL_SECONDS = 60.0

router = APIRouter(tags=["operations"])
log = logging.getLogger("pingyi.health")


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str  # ready / unavailable
    database: str  # ok / unreachable
    migrations: str  # head / compatible / behind / unknown
    problems: list[str] = Field(default_factory=list)  # reason codes, none when ready


class _DriftCache:
    """The last drift check per database, so probes every few seconds do not reflect the
    whole schema each time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._checked: dict[str, tuple[float, bool]] = {}  # database → (when, drifted)

    def drifted(self, engine: Engine, connection: Connection) -> bool:
        key = engine.url.render_as_string(hide_password=True)
        with self._lock:
            checked = self._checked.get(key)
            if checked is not None and time.monotonic() - checked[0] < DRIFT_CHECK_INTERVAL_SECONDS:
                return checked[1]
            differences = schema.schema_drift(connection)
            for difference in differences:
                log.warning("schema drift: %s", difference)
            self._checked[key] = (time.monotonic(), bool(differences))
            return bool(differences)

    def clear(self) -> None:
        with self._lock:
            self._checked.clear()


drift_cache = _DriftCache()


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up (it does not check the database)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
def readyz() -> JSONResponse:
    """503 with reason codes until this replica can serve (see the module docstring)."""
    engine = get_engine()
    body = Readiness(status="unavailable", database="ok", migrations="unknown")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            body.problems = _database_problems(engine, connection, body)
    except Exception as error:  # any failure to reach the database means "not ready"
        log.warning("readiness: the database did not answer (%s)", type(error).__name__)
        body.database, body.migrations, body.problems = "unreachable", "unknown", ["unreachable"]
    settings = get_settings()
    if disk.short_of_space(settings.var_dir, engine.url, settings.min_free_disk_mb):
        body.problems.append("disk_full")
    ready = not body.problems
    body.status = "ready" if ready else "unavailable"
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


def _database_problems(engine: Engine, connection: Connection, body: Readiness) -> list[str]:
    body.migrations = schema.schema_status(connection)
    if body.migrations == "behind":
        return ["behind"]  # the other checks assume a schema this code knows
    problems = []
    if body.migrations == "head" and drift_cache.drifted(engine, connection):
        problems.append("schema_drift")
    if (secret_problem := ops_secret.secret_problem(connection)) is not None:
        problems.append(secret_problem)
    return problems
