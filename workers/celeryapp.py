"""The worker's Celery app, assembled from the settings: broker, queues, delivery rules and
the three tasks (a code email, a security notice, a webhook delivery), each run through one
wrapper that counts its outcome and retries it without losing it."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from celery import Celery, Task
from kombu import Queue
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.jobs import (
    CODE_QUEUE,
    NOTICE_KINDS,
    NOTICE_QUEUE,
    QUEUES,
    SEND_CODE_TASK,
    SEND_NOTICE_TASK,
)
from shared.settings import Settings, is_sentinel_url
from shared.webhooks import DELIVER_WEBHOOKS_TASK, WEBHOOK_QUEUE
from workers import tasks, webhooks
from workers.metrics import WorkerMetrics
from workers.retry import RetryLater, retry
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


def build_celery(settings: Settings, metrics: WorkerMetrics | None = None) -> Celery:
    """The worker's Celery app: its broker, queues and delivery rules, and its three tasks."""
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
        # Jobs run on threads, each sending on an SMTP session of its own (workers/smtp_pool.py):
        # while a provider takes its 100 ms to accept a message, the process sends others.
        # Prefetch stays one job per thread, and each is acknowledged after it ran.
        worker_pool="threads",
        worker_concurrency=settings.smtp_max_sessions,
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
    building = threading.Lock()

    def runtime() -> Runtime:
        # One per process, shared by its job threads; a prefork child (`--pool prefork`) must
        # not share its parent's sockets.
        pid = os.getpid()
        if pid not in runtimes:
            with building:
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
        except RetryLater as later:
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
