"""A job's retry: the one exception a task raises to run again later, its back-off, and the
Celery retry that cannot lose the job."""

from __future__ import annotations

import random
from typing import Any, NoReturn

from celery import Task
from celery.exceptions import Reject

from shared.errors import TwostepError


class RetryLater(TwostepError):
    """Stop now and run this job again in ``delay_seconds``: a busy send, a mail server or
    webhook receiver that failed for now (then the job's back-off), a webhook run that used
    its time (then soon)."""

    def __init__(self, delay_seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.delay_seconds = delay_seconds


def backoff_seconds(retries: int) -> float:
    """Exponential back-off with jitter: about 2 s, then up to 4, 8, ... at most 60."""
    ceiling = min(60.0, 2.0 * 2**retries)
    return random.uniform(max(2.0, ceiling / 2), ceiling)


def retry(task: Task[Any, Any], countdown: float) -> NoReturn:
    """Retry the running job in ``countdown`` seconds.

    Celery publishes a retry as a new message and, when it cannot (the broker is away), turns
    the failure into ``Reject(requeue=False)`` (celery/app/task.py, ``Task.retry``, up to 5.7):
    the worker then drops the message it holds, and with it an email whose send has not gone
    out. Rejected with ``requeue=True`` instead, the broker keeps the job: back on its queue
    when the broker answers the reject, else still unacknowledged, handed back after the
    visibility timeout."""
    try:
        raise task.retry(countdown=countdown)
    except Reject as exc:
        # (getattr: celery-types does not declare the attributes Reject sets)
        if getattr(exc, "requeue", False):
            raise
        raise Reject(getattr(exc, "reason", None), requeue=True) from None
