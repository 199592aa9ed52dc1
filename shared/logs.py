"""Log lines of the API and the workers: one JSON object per line, with the request id.

Both entry points call ``configure_logging``. Every line goes through one handler whose
formatter masks email addresses, in any script (a safety net: code that logs an address
masks it first) and never adds more than an allow-list of ``extra=`` fields.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any, TextIO

from shared import reports
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
# Addresses are found from their "@" outwards, never by a pattern tried at every position
# (quadratic on a long run of letters): the domain is matched forwards from the "@", the
# local part read backwards. Both accept any script, so that internationalised addresses
# (RFC 6531), punycode domains and a Python repr of UTF-8 bytes (``j\xc3\xb6rg@``)
# are masked too. Over-reaching is safe (more is masked, or a domain shown with what
# follows it); stopping short is a leak.
# A domain label: any character but space, the dots and the ASCII that no label holds
# (the backslash is kept for the escapes of a repr). At least two labels (so
# "celery@worker-1", a Celery node name, is left alone), or a bracketed address literal.
_LABEL = r"[^\s\x00-\x2c.\x2f\x3a-\x40\x5b\x5d\x5e\x60\x7b-\x7f\u3002\uff0e\uff61]+"
_DOMAIN = re.compile(rf"{_LABEL}(?:[.\u3002\uff0e\uff61]{_LABEL})+|\[[^\]\s@]{{1,64}}\]")
# A local part read backwards from the "@": anything but space and RFC 5322's specials.
_LOCAL_REVERSED = re.compile(r'[^\s\x00-\x1f\x7f()<>\[\]:;@,"]+')
# RFC 5321 allows 64 octets; a longer run is masked as far back as this.
_LOCAL_MAX_CHARS = 256
_QUOTE_CHARS = "'`"
# uvicorn's access line: client, method, path with query string, HTTP version, status.
_ACCESS_ARGS = 5
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def _local_start(text: str, floor: int, at: int) -> int:
    """Where the local part that ends at ``at`` starts (``at`` itself: there is none)."""
    window_start = max(floor, at - _LOCAL_MAX_CHARS)
    if at > window_start and text[at - 1] == '"':
        # A quoted local part ("jörg müller"@...): back to its opening quote, on one line.
        opening = text.rfind('"', window_start, at - 1)
        if opening >= 0 and "\n" not in text[opening:at]:
            return opening
        return at
    found = _LOCAL_REVERSED.match(text[window_start:at][::-1])
    start = at - found.end() if found else at
    # A repr's quote ('jörg@...'), not part of the address.
    while start < at and text[start] in _QUOTE_CHARS:
        start += 1
    return start


def redact(text: str) -> str:
    """``text`` with every email address masked as ``a**@example.com``: at most the first
    character of the local part is left, in any script; the domain is kept."""
    at = text.find("@")
    if at < 0:
        return text
    parts: list[str] = []
    done = 0  # text[:done] is in parts
    while at >= 0:
        domain = _DOMAIN.match(text, at + 1)
        start = _local_start(text, done, at) if domain else at
        if domain is None or start == at:
            at = text.find("@", at + 1)
            continue
        parts += (text[done:start], mask_email(text[start : at + 1] + domain.group()))
        done = domain.end()
        at = text.find("@", done)
    if not parts:
        return text
    parts.append(text[done:])
    return "".join(parts)


def _access_line(record: logging.LogRecord) -> tuple[str, dict[str, Any]] | None:
    """uvicorn's access line without its query string, and its parts as fields."""
    args = record.args
    if record.name != "uvicorn.access" or not isinstance(args, tuple) or len(args) != _ACCESS_ARGS:
        return None
    client, method, full_path, http_version, status = args
    path = reports.redact_path(str(full_path).split("?", 1)[0])
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
