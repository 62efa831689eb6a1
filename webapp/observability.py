"""Logs an operator can search: JSON lines in production, a request id on every request, the job id in jobs.

Every process (web, worker, listener, CLI) logs through one handler on the root logger, set up
by `configure_logging`; its filter adds the request id (web) or the RQ job id (worker) to each
record, whichever logger wrote it.
"""

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request
from rq import get_current_job

REQUEST_ID_HEADER = "X-Request-ID"
# An id from the proxy is kept if it looks like one (it ends up in logs and a response header).
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# Attributes every LogRecord has: anything else on a record came from `extra=` and is logged too.
_STANDARD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
    "job_id",
}

log = logging.getLogger("webapp.request")


class ContextFilter(logging.Filter):
    """Add `request_id` and `job_id` (None outside a request or a job) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id") if has_request_context() else None
        job = get_current_job()
        record.job_id = job.id if job is not None else None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id / job_id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "job_id"):
            if getattr(record, key, None):
                entry[key] = getattr(record, key)
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _OurHandler(logging.StreamHandler):
    """The root handler configure_logging installs (so a second call replaces it, not doubles it)."""


# Libraries that log at INFO what only debugging needs: aiosmtpd writes a line for every SMTP
# command (three a message, every address in them). Kept to warnings unless the level is DEBUG.
CHATTY_LOGGERS = ("mail.log",)


def configure_logging(level: str = "INFO", fmt: str = "text", stream=None) -> logging.Handler:
    """Send every logger's records to stderr, as JSON lines (`fmt="json"`) or plain text."""
    handler = _OurHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if level.upper() == "DEBUG" else logging.WARNING)
    return handler


def init_app(app: Flask) -> None:
    """Give each request an id (kept from the proxy's X-Request-ID) and log it when it ends."""
    if app.config.get("LOG_FORMAT") == "json":
        configure_logging(app.config.get("LOG_LEVEL", "INFO"), "json")
    log_requests = app.config.get("LOG_FORMAT") == "json"

    @app.before_request
    def assign_request_id():
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _VALID_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def return_request_id(response):
        request_id = g.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        # gunicorn's access log has no request id: in production the app writes its own.
        if log_requests and "request_started" in g:
            log.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - g.request_started) * 1000, 1),
                    "remote_addr": request.remote_addr,
                },
            )
        return response
