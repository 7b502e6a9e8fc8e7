"""``pingyi serve``: the web application under uvicorn (imported only when it serves)."""

import gc
from typing import TYPE_CHECKING, Annotated

import typer

from app.config import get_settings

if TYPE_CHECKING:
    from fastapi import FastAPI


def serving_app() -> "FastAPI":
    """The application as each worker serves it: built, then its start-up objects (modules,
    routes, templates; about all a worker holds) moved out of the garbage collector's sight,
    so that the collections requests set off scan only what requests made."""
    from app.main import create_app

    app = create_app()
    gc.collect()
    gc.freeze()
    return app


def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
    graceful_seconds: Annotated[
        int, typer.Option(min=1, help="On SIGTERM, how long requests in flight may finish")
    ] = 30,
) -> None:
    """Serve the web application with uvicorn. No access log is written (privacy rule 5).

    With several workers, a supervisor restarts any worker that dies. SIGTERM or Ctrl-C stops
    accepting connections and lets requests in flight finish (up to --graceful-seconds).
    Logs go to stderr, as JSON lines when PINGYI_LOG_FORMAT=json.
    """
    import uvicorn

    from app.logs import logging_config

    settings = get_settings()
    uvicorn.run(
        "app.serve_cli:serving_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        server_header=False,
        log_config=logging_config(settings.log_format),
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_graceful_shutdown=graceful_seconds,
    )
