"""A job's retry that cannot lose the job."""

from __future__ import annotations

from typing import Any, NoReturn

from celery import Task
from celery.exceptions import Reject


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
