"""What a worker does around its jobs, on Celery's signals: its logging, the request id of
each job, the metrics endpoint, and the code jobs' backup sweeper of the main process."""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

import celery.apps.worker
from celery import Celery, signals
from celery.exceptions import CPendingDeprecationWarning
from prometheus_client import start_http_server

from shared.clock import StoreClock
from shared.jobs import QUEUES, backup_delay_seconds
from shared.redisconn import sync_broker_client, sync_client
from shared.requestctx import REQUEST_ID
from shared.settings import LogFormat, Settings
from workers import logs
from workers import metrics as worker_metrics
from workers.backups import BackupSweeper, Sweep, SweeperThread, sweep_interval_seconds
from workers.broker_queues import BrokerQueues
from workers.metrics import WorkerMetrics

log = logging.getLogger("twostep.worker")


def _backup_sweeper(settings: Settings, metrics: WorkerMetrics) -> SweeperThread:
    delay = backup_delay_seconds(settings.broker_visibility_timeout_seconds)

    def build() -> BackupSweeper:
        return BackupSweeper(
            sync_broker_client(settings),
            sync_client(settings.redis_url, settings),
            delay,
            clock=StoreClock(),
        )

    def count(sweep: Sweep) -> None:
        metrics.code_backups.labels("sent_again").inc(sweep.sent_again)
        metrics.code_backups.labels("not_needed").inc(sweep.settled - sweep.sent_again)
        metrics.code_backups.labels("held").inc(sweep.held)

    return SweeperThread(build, sweep_interval_seconds(delay), count)


def connect_signals(settings: Settings, app: Celery, metrics: WorkerMetrics) -> None:
    """Logging, the request id of each job, the metrics endpoint and the code jobs' backup
    sweeper of the main process."""
    sweeper = _backup_sweeper(settings, metrics)

    @signals.setup_logging.connect(weak=False)
    def setup_logging(**_: Any) -> None:
        # Connected, this replaces Celery's own set-up: its loggers use our handler too.
        logs.configure(settings)

    @signals.celeryd_init.connect(weak=False)
    def quiet_banner(sender: str, instance: Any, options: dict[str, Any], **_: Any) -> None:
        if settings.log_format is LogFormat.JSON:
            # Celery prints its banner straight to stdout, over many lines: one line instead.
            instance.quiet = True
            # (setattr: celery-types does not declare it)
            setattr(celery.apps.worker, "safe_say", logs.say_as_json)  # noqa: B010
            log.info(
                "worker %s starting",
                sender,
                extra={"hostname": sender, "concurrency": options.get("concurrency")},
            )

    @signals.task_prerun.connect(weak=False)
    def enter_job(args: Any = None, **_: Any) -> None:
        # Set here, not in the task, so Celery's own lines of the job (succeeded, retry,
        # failed) carry it too; they are logged before task_postrun.
        REQUEST_ID.set(logs.request_id_of(args))

    @signals.task_postrun.connect(weak=False)
    def leave_job(**_: Any) -> None:
        REQUEST_ID.set("")

    @signals.worker_ready.connect(weak=False)
    def serve_metrics(**_: Any) -> None:
        # worker_ready comes in the main process once the pool runs, so the first children
        # are forked before the endpoint exists (a replacement child inherits its socket but
        # never serves it: only the main process runs the server's thread).
        port = settings.worker_metrics_port
        if not port:
            return
        registry = worker_metrics.exposition_registry(BrokerQueues(app).length, QUEUES)
        try:
            start_http_server(port, addr="0.0.0.0", registry=registry)  # noqa: S104
        except OSError as exc:
            log.error("metrics endpoint not served, port %s: %s", port, exc.strerror)
            return
        log.info("metrics on port %s", port, extra={"port": port})

    @signals.worker_ready.connect(weak=False)
    def quiet_cancel_warning(**_: Any) -> None:
        # Celery warns on every broker loss that not cancelling running jobs stops being its
        # default in 6.0; not cancelling them is this worker's choice (build_celery says
        # why). Here, since Celery's logging set-up shows all of its deprecations again.
        warnings.filterwarnings(
            "ignore", r"\s*In Celery 5\.1 we introduced", CPendingDeprecationWarning
        )

    @signals.worker_ready.connect(weak=False)
    def sweep_backups(**_: Any) -> None:
        sweeper.start()

    @signals.worker_shutting_down.connect(weak=False)
    def stop_sweeping(**_: Any) -> None:
        sweeper.stop()

    @signals.worker_process_shutdown.connect(weak=False)
    def forget_child(pid: int | None = None, **_: Any) -> None:
        worker_metrics.mark_process_dead(pid or os.getpid())
