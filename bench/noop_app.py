"""A Celery app with one no-op task, on twostep's broker settings: ``celery -A bench.noop_app``."""

from __future__ import annotations

import workers.app  # noqa: F401  (a worker's set-up: logging, metrics, signals, as ours has)
from bench.mail import NOOP_TASK
from shared.settings import load_settings
from workers.celeryapp import build_celery

app = build_celery(load_settings())


@app.task(name=NOOP_TASK, acks_late=True)
def noop(payload: dict[str, object]) -> None:
    """Takes a payload like a real job's, and does nothing with it."""
