"""Log lines of the API and the workers: one JSON object per line, with the request id.

Both entry points call ``configure_logging``. Every line goes through one handler whose
formatter masks email addresses (a safety net: code that logs an address masks it first)
and never adds more than an allow-list of ``extra=`` fields.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any, TextIO

from shared.codes import mask_email
from shared.requestctx import request_id
from shared.settings import LogFormat, Settings

# The ``extra=`` fields a line may carry. Anything else a caller passes is left out, so a
# careless ``extra={"to": address}`` never reaches the output.
EXTRA_FIELDS = (
    "request_id",
    "event_type",
    "task",
    "task_id",
    "kind",
    "outcome",
    "queue",
    "challenge_id",
    "send_no",
    "notice_id",
    "retries",
    "delay_seconds",
    "method",
    "path",
    "status",
    "hostname",
    "concurrency",
    "queues",
    "port",
)
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# uvicorn's access line: client, method, path with query string, HTTP version, status.
_ACCESS_ARGS = 5
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def redact(text: str) -> str:
    """``text`` with every email address masked as ``a**@example.com``."""
    if "@" not in text:
        return text
    return _EMAIL.sub(lambda found: mask_email(found.group(0)), text)


def _access_line(record: logging.LogRecord) -> tuple[str, dict[str, Any]] | None:
    """uvicorn's access line without its query string, and its parts as fields."""
    args = record.args
    if record.name != "uvicorn.access" or not isinstance(args, tuple) or len(args) != _ACCESS_ARGS:
        return None
    client, method, full_path, http_version, status = args
    path = str(full_path).split("?", 1)[0]
    message = f'{client} - "{method} {path} HTTP/{http_version}" {status}'
    return message, {"method": method, "path": path, "status": status}


def _message_and_fields(record: logging.LogRecord) -> tuple[str, dict[str, Any]]:
    access = _access_line(record)
    if access is not None:
        return access
    return record.getMessage(), {}


def _exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    parts = []
    if record.exc_info:
        parts.append(formatter.formatException(record.exc_info))
    elif record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(formatter.formatStack(record.stack_info))
    return "\n".join(parts)


def _timestamp(epoch_seconds: float) -> str:
    ts = datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="milliseconds")
    return ts.replace("+00:00", "Z")


def json_line(level: str, logger: str, message: str) -> str:
    """A line as ``JsonFormatter`` writes it, made without the logging machinery: for code
    that runs inside a signal handler, where taking logging's locks could deadlock."""
    entry = {"ts": _timestamp(time.time()), "level": level, "logger": logger}
    return json.dumps({**entry, "message": redact(message)})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, request_id, exception, extras."""

    def format(self, record: logging.LogRecord) -> str:
        message, fields = _message_and_fields(record)
        entry: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(message),
        }
        rid = getattr(record, "request_id", None) or request_id()
        if rid:
            entry["request_id"] = rid
        for name in EXTRA_FIELDS:
            value = fields.get(name, getattr(record, name, None))
            if value is not None and name not in entry:
                entry[name] = redact(value) if isinstance(value, str) else value
        exception = _exception_text(self, record)
        if exception:
            entry["exception"] = redact(exception)
        return json.dumps(entry, default=lambda value: redact(str(value)))


class TextFormatter(logging.Formatter):
    """A readable line: time, level, logger, [request id], message; addresses masked."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        message, _fields = _message_and_fields(record)
        rid = getattr(record, "request_id", None) or request_id()
        line = f"{self.formatTime(record)} {record.levelname} {record.name} "
        line += f"[{rid}] " if rid else ""
        line += redact(message)
        exception = _exception_text(self, record)
        return f"{line}\n{redact(exception)}" if exception else line


def formatter_for(log_format: LogFormat) -> logging.Formatter:
    return JsonFormatter() if log_format is LogFormat.JSON else TextFormatter()


def configure_logging(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    """Send every logger's lines, uvicorn's included, through one handler on ``stream``
    (standard error by default), formatted as ``settings.log_format`` says."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter_for(settings.log_format))
    # Warnings (a library's deprecation, Celery's "running as root") become log lines too.
    logging.captureWarnings(True)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    # uvicorn gives its loggers their own text handlers before the app exists: hand their
    # lines to the root handler instead.
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        if name == "uvicorn.access" and not logger.handlers and not logger.propagate:
            # `uvicorn --no-access-log` left it so: kept off (propagating would log each request).
            continue
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True
    return handler


def uvicorn_log_config(level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for ``uvicorn --log-config``: JSON lines from uvicorn's
    own process too (its supervisor, with ``--workers``, never builds the app)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["default"], "level": level},
        "loggers": {name: {"handlers": [], "propagate": True} for name in UVICORN_LOGGERS},
    }
