"""A Celery app with one no-op task, on twostep's broker settings: ``celery -A bench.noop_app``."""

from __future__ import annotations

from bench.mail import NOOP_TASK
from shared.settings import load_settings
from workers.app import create_celery

app = create_celery(load_settings())


@app.task(name=NOOP_TASK, acks_late=True)
def noop(payload: dict[str, object]) -> None:
    """Takes a payload like a real job's, and does nothing with it."""
