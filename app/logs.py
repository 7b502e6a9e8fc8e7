"""Logging for every process: plain lines for people, or one JSON object per line.

What may be logged is decided where a line is written (see
:class:`app.middleware.request_log.RequestLogMiddleware`: rater routes write nothing); this
module only shapes lines. It adds nothing about the request — no address, no user agent —
and keeps the fields a caller passes with ``extra={"fields": {...}}`` as JSON keys.
"""

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]
FIELDS_ATTRIBUTE = "fields"


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", ...fields, "error"?}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, FIELDS_ATTRIBUTE, None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def logging_config(log_format: LogFormat) -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` for Pingyi's and uvicorn's loggers.

    uvicorn's access logger is silenced here as well as by ``access_log=False``: an access
    line for a rating request is exactly what privacy rule 5 forbids.
    """
    formatter = (
        {"()": JsonFormatter}
        if log_format == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    )
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "default",
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"default": handler},
        "loggers": {
            "pingyi": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        },
    }


def configure(log_format: LogFormat) -> None:
    logging.config.dictConfig(logging_config(log_format))
