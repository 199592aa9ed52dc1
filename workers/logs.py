"""The worker's log lines: one JSON object per line (or text), Celery's own lines included,
with the task and request id they belong to."""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import Any

from shared.logs import configure_logging, json_line
from shared.settings import Settings

_ARGSREPR_REQUEST_ID = re.compile(r"request_id=([A-Za-z0-9._-]{1,64})")


class CeleryFields(logging.Filter):
    """Lifts the task id and name out of Celery's own log records (its ``extra={"data":
    ...}``), and the request id out of the argument summary the API wrote
    (api/mailqueue.py), for the main process's "received" line, logged before the job
    runs anywhere."""

    def filter(self, record: logging.LogRecord) -> bool:
        data = getattr(record, "data", None)
        if isinstance(data, dict):
            record.task_id = data.get("id")
            record.task = data.get("name")
            found = _ARGSREPR_REQUEST_ID.search(str(data.get("args") or ""))
            if found and not getattr(record, "request_id", None):
                record.request_id = found.group(1)
        return True


def configure(settings: Settings) -> None:
    """Our handler on the root logger, with Celery's fields lifted onto each record."""
    handler = configure_logging(settings)
    handler.addFilter(CeleryFields())


def request_id_of(args: Any) -> str:
    """The request id a job's payload carries (api/mailqueue.py), or \"\"."""
    if isinstance(args, list | tuple) and args and isinstance(args[0], dict):
        return str(args[0].get("request_id") or "")
    return ""


def say_as_json(message: str, stream: Any = None) -> None:
    """Celery's ``safe_say`` (celery/apps/worker.py, Celery pinned to 5.7), which its signal
    handlers use to print "worker: Warm shutdown (MainProcess)" and the like straight to
    stdout: the same words as a JSON line, written as safely (one os.write, no lock)."""
    fd = stream.fileno() if stream is not None else sys.stdout.fileno()
    os.write(fd, (json_line("INFO", "celery.apps.worker", message.strip()) + "\n").encode())
