"""The worker's entry point: ``celery -A workers.app worker``. It reads the settings once,
here, and assembles the Celery app (workers/celeryapp.py) and what runs around its jobs
(workers/signals.py)."""

from __future__ import annotations

import sys

from shared.errors import ConfigError
from shared.settings import Settings, load_settings
from workers import logs
from workers import metrics as worker_metrics
from workers.celeryapp import build_celery
from workers.metrics import WorkerMetrics
from workers.signals import connect_signals


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None


settings = _settings_or_exit()
# Before any metric exists: every process of this worker counts in files the main one reads.
worker_metrics.use_multiprocess_dir()
logs.configure(settings)
metrics = WorkerMetrics()
app = build_celery(settings, metrics)
connect_signals(settings, app, metrics)
