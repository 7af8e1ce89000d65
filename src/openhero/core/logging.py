"""Structured logs: one line per request and one per job, as JSON or text (``OPENHERO_LOG_FORMAT``).

What a line may carry is fixed here (``FIELDS``): ids (request, practice group, key, job), the route
*template* (``/v1/patients/{id}``, never the raw path or query string, which can hold an NHS number),
method, status, durations and outcomes. Nothing from a body, header or query string is logged, so no
API key, token, signing secret or patient identifier reaches a log line. Loggers of libraries that
would log URLs (httpx, httpcore: PDS and webhook URLs) are held at WARNING, and uvicorn's access log
(raw path with query string) is replaced by ``log_request`` (an observer of ``core/observe.py``).
"""

from __future__ import annotations

import json
import logging
import logging.config
import sys
from datetime import UTC, datetime
from typing import Any

from starlette.types import Scope

from openhero.core.observe import route_template

request_log = logging.getLogger("openhero.request")
job_log = logging.getLogger("openhero.job")

# Structured fields a line may carry (anything else passed as ``extra`` is ignored by the formatters).
FIELDS = ("request_id", "method", "route", "status", "duration_ms", "practice_group_id", "key_id",
          "job_kind", "job_id", "attempt", "outcome", "error_type", "worker_id")
# Libraries that log request URLs or SQL parameters, even at DEBUG, are held at WARNING.
_QUIET = ("httpx", "httpcore", "uvicorn.access", "aiosqlite", "asyncio", "sqlalchemy", "asyncpg", "multipart",
          "python_multipart", "hpack", "aiosmtplib", "mail.log", "urllib3")


def resolve_format(log_format: str) -> str:
    """``auto``: text when stderr is a terminal, JSON otherwise (a log shipper reads the lines)."""
    if log_format in ("json", "text"):
        return log_format
    return "text" if sys.stderr.isatty() else "json"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            out.update(fields)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, separators=(",", ":"), default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "fields", None)
        if fields:
            line += " " + " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        return line


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` document (also handed to uvicorn so every worker process uses it)."""
    formatter = JsonFormatter if resolve_format(log_format) == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"openhero": {"()": formatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "openhero",
                                "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "alembic": {"level": "WARNING"},
            **{name: {"level": "WARNING", "handlers": [], "propagate": True} for name in _QUIET},
        },
    }


def configure_logging(log_format: str, level: str) -> None:
    logging.config.dictConfig(logging_config(log_format, level))


def log_job(*, kind: str, job_id: int, attempt: int, outcome: str, duration: float, worker_id: str,
            error_type: str | None = None) -> None:
    """One line per job run: kind, id, attempt, outcome (done/retry/failed/released), duration."""
    if job_log.isEnabledFor(logging.INFO):
        job_log.info("job", extra={"fields": {
            "job_kind": kind, "job_id": job_id, "attempt": attempt, "outcome": outcome,
            "duration_ms": round(duration * 1000, 2), "worker_id": worker_id, "error_type": error_type}})


def log_request(scope: Scope, status: int, seconds: float) -> None:
    """One line per HTTP request (a ``core.observe`` observer), written after the response has been sent.

    Cheap: the route template is read from the route the router matched (``scope["route"]``), the caller
    from the principal auth stored in the scope."""
    if not request_log.isEnabledFor(logging.INFO):
        return
    principal = scope.get("openhero.principal")
    # A record made directly and handed to the logger: Logger.info() would also walk the stack to find the
    # caller, which costs more than the rest of the line.
    record = logging.LogRecord("openhero.request", logging.INFO, __file__, 0, "request", None, None)
    record.fields = {
        "request_id": scope.get("openhero.request_id"),
        "method": scope["method"],
        "route": route_template(scope),
        "status": status,
        "duration_ms": round(seconds * 1000, 2),
        "practice_group_id": getattr(principal, "practice_group_id", None),
        "key_id": getattr(principal, "key_id", None),
    }
    request_log.handle(record)
