"""The Celery app: ``celery -A workers.app worker``. Reads the settings once, here."""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import warnings
from collections.abc import Callable
from typing import Any

import celery.apps.worker
from celery import Celery, Task, signals
from celery.exceptions import CPendingDeprecationWarning
from kombu import Queue
from prometheus_client import start_http_server
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.clock import StoreClock
from shared.errors import ConfigError
from shared.jobs import (
    CODE_QUEUE,
    NOTICE_KINDS,
    NOTICE_QUEUE,
    QUEUES,
    SEND_CODE_TASK,
    SEND_NOTICE_TASK,
    backup_delay_seconds,
)
from shared.logs import configure_logging, json_line
from shared.redisconn import sync_broker_client, sync_client
from shared.requestctx import REQUEST_ID
from shared.settings import LogFormat, Settings, is_sentinel_url, load_settings
from shared.webhooks import DELIVER_WEBHOOKS_TASK, WEBHOOK_QUEUE
from workers import metrics as worker_metrics
from workers import tasks, webhooks
from workers.backups import BackupSweeper, Sweep, SweeperThread, sweep_interval_seconds
from workers.metrics import WorkerMetrics
from workers.retry import retry
from workers.runtime import Runtime

log = logging.getLogger("twostep.worker")

STORE_RETRY_SECONDS = 2


def _broker_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "visibility_timeout": settings.broker_visibility_timeout_seconds,
        "queue_order_strategy": "priority",
        "socket_timeout": 5,
        "socket_connect_timeout": 5,
    }
    if is_sentinel_url(settings.broker_url):
        # kombu finds the broker's master through the sentinels of the sentinel:// URL.
        options["master_name"] = settings.broker_master
    return options


def create_celery(settings: Settings, metrics: WorkerMetrics | None = None) -> Celery:
    app = Celery("twostep", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_queues=tuple(Queue(queue) for queue in QUEUES),
        task_default_queue=NOTICE_QUEUE,
        task_routes={
            SEND_CODE_TASK: {"queue": CODE_QUEUE},
            SEND_NOTICE_TASK: {"queue": NOTICE_QUEUE},
            DELIVER_WEBHOOKS_TASK: {"queue": WEBHOOK_QUEUE},
        },
        # Consume in the order the queues are listed: codes, then notices, then webhooks.
        broker_transport_options=_broker_options(settings),
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # A job in hand when the broker goes away runs to its end: killing it could cut a send
        # between the mail server's acceptance and the "sent" mark (the email would go twice),
        # and the mark is retried while the job is held (tasks.mark_sent). Its ack is lost
        # with the connection; the broker gives it back after the visibility timeout, and
        # that second delivery sends nothing.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_time_limit=120,
        task_soft_time_limit=90,
        worker_hijack_root_logger=False,
        # Reconnect to a broker that came back within a couple of seconds, not Celery's 30.
        worker_consumer="workers.consumer:QuickReconnectConsumer",
    )
    metrics = metrics or WorkerMetrics()
    runtimes: dict[int, Runtime] = {}

    def runtime() -> Runtime:
        # One per process: a prefork child must not share its parent's sockets.
        pid = os.getpid()
        if pid not in runtimes:
            runtimes.clear()
            runtimes[pid] = Runtime.build(settings, metrics)
        return runtimes[pid]

    def run(
        task: Task[Any, Any], job: Any, payload: dict[str, object], count: Callable[[str], None]
    ) -> str:
        """Run a job; ``count`` records its outcome (sent, retried, ...) in the metrics."""
        try:
            here = runtime()
            here.keep_clock()
            outcome = str(job(here, payload, task.request.retries))
        except tasks.RetryLater as later:
            count("retried")
            retry(task, later.delay_seconds)
        except (RedisConnectionError, RedisTimeoutError):
            # The state store is away: an acknowledged failure would lose the email.
            count("retried")
            log.warning("redis unavailable, job retried in %ss", STORE_RETRY_SECONDS)
            retry(task, STORE_RETRY_SECONDS)
        count(outcome)
        return outcome

    def emails(kind: str) -> Callable[[str], None]:
        return lambda outcome: metrics.emails.labels(kind, outcome).inc()

    def webhook_jobs(outcome: str) -> None:
        metrics.webhook_jobs.labels(outcome).inc()

    # No retry cap: each job stops retrying by itself when its code or notice expires.
    @app.task(name=SEND_CODE_TASK, bind=True, acks_late=True, max_retries=None)
    def send_code(self: Task[Any, Any], payload: dict[str, object]) -> str:
        return run(self, tasks.send_code, payload, emails("code"))

    @app.task(name=SEND_NOTICE_TASK, bind=True, acks_late=True, max_retries=None)
    def send_notice(self: Task[Any, Any], payload: dict[str, object]) -> str:
        # A label value from the payload only when it is one of the known kinds.
        kind = payload.get("kind")
        return run(
            self, tasks.send_notice, payload, emails(kind if kind in NOTICE_KINDS else "other")
        )

    @app.task(name=DELIVER_WEBHOOKS_TASK, bind=True, acks_late=True, max_retries=None)
    def deliver_webhooks(self: Task[Any, Any], payload: dict[str, object]) -> str:
        return run(self, webhooks.deliver_webhooks, payload, webhook_jobs)

    return app


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None


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


def _configure_logging(settings: Settings) -> None:
    handler = configure_logging(settings)
    handler.addFilter(CeleryFields())


def _request_id_of(args: Any) -> str:
    if isinstance(args, list | tuple) and args and isinstance(args[0], dict):
        return str(args[0].get("request_id") or "")
    return ""


class BrokerQueues:
    """Queue lengths, read through Celery's own broker connection (whatever its transport;
    Redis: every priority list of the queue), kept between scrapes."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self._connection: Any = None
        self._lock = threading.Lock()  # scrapes come on threads; a channel is not shared

    def length(self, queue: str) -> int:
        with self._lock:
            return self._length(queue)

    def _length(self, queue: str) -> int:
        if self._connection is None:
            connection = self.app.connection_for_read()
            # A few seconds at most (broker_connection_timeout): a scrape must not hang.
            connection.ensure_connection(max_retries=1)
            self._connection = connection
        try:
            declared = self._connection.default_channel.queue_declare(queue=queue)
        except Exception:
            self._connection.release()
            self._connection = None
            raise
        return int(declared.message_count)


def _say_as_json(message: str, stream: Any = None) -> None:
    """Celery's ``safe_say`` (celery/apps/worker.py, Celery pinned to 5.7), which its signal
    handlers use to print "worker: Warm shutdown (MainProcess)" and the like straight to
    stdout: the same words as a JSON line, written as safely (one os.write, no lock)."""
    fd = stream.fileno() if stream is not None else sys.stdout.fileno()
    os.write(fd, (json_line("INFO", "celery.apps.worker", message.strip()) + "\n").encode())


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
        _configure_logging(settings)

    @signals.celeryd_init.connect(weak=False)
    def quiet_banner(sender: str, instance: Any, options: dict[str, Any], **_: Any) -> None:
        if settings.log_format is LogFormat.JSON:
            # Celery prints its banner straight to stdout, over many lines: one line instead.
            instance.quiet = True
            # (setattr: celery-types does not declare it)
            setattr(celery.apps.worker, "safe_say", _say_as_json)  # noqa: B010
            log.info(
                "worker %s starting",
                sender,
                extra={"hostname": sender, "concurrency": options.get("concurrency")},
            )

    @signals.task_prerun.connect(weak=False)
    def enter_job(args: Any = None, **_: Any) -> None:
        # Set here, not in the task, so Celery's own lines of the job (succeeded, retry,
        # failed) carry it too; they are logged before task_postrun.
        REQUEST_ID.set(_request_id_of(args))

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
        # default in 6.0; not cancelling them is this worker's choice (create_celery says
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


settings = _settings_or_exit()
# Before any metric exists: every process of this worker counts in files the main one reads.
worker_metrics.use_multiprocess_dir()
_configure_logging(settings)
metrics = WorkerMetrics()
app = create_celery(settings, metrics)
connect_signals(settings, app, metrics)
