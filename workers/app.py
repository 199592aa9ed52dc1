"""The Celery app: ``celery -A workers.app worker``. Reads the settings once, here."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from celery import Celery, Task
from kombu import Queue
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.errors import ConfigError
from shared.jobs import CODE_QUEUE, NOTICE_QUEUE, SEND_CODE_TASK, SEND_NOTICE_TASK
from shared.settings import Settings, load_settings
from workers import tasks
from workers.runtime import Runtime

log = logging.getLogger("twostep.worker")

STORE_RETRY_SECONDS = 2


def create_celery(settings: Settings) -> Celery:
    app = Celery("twostep", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_queues=(Queue(CODE_QUEUE), Queue(NOTICE_QUEUE)),
        task_default_queue=NOTICE_QUEUE,
        task_routes={
            SEND_CODE_TASK: {"queue": CODE_QUEUE},
            SEND_NOTICE_TASK: {"queue": NOTICE_QUEUE},
        },
        # Consume in the order the queues are listed: codes always before notices.
        broker_transport_options={
            "visibility_timeout": settings.broker_visibility_timeout_seconds,
            "queue_order_strategy": "priority",
            "socket_timeout": 5,
            "socket_connect_timeout": 5,
        },
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_time_limit=120,
        task_soft_time_limit=90,
        worker_hijack_root_logger=False,
        # Reconnect to a broker that came back within a couple of seconds, not Celery's 30.
        worker_consumer="workers.consumer:QuickReconnectConsumer",
    )
    runtimes: dict[int, Runtime] = {}

    def runtime() -> Runtime:
        # One per process: a prefork child must not share its parent's sockets.
        pid = os.getpid()
        if pid not in runtimes:
            runtimes.clear()
            runtimes[pid] = Runtime.build(settings)
        return runtimes[pid]

    def run(task: Task[Any, Any], job: Any, payload: dict[str, object]) -> str:
        try:
            return str(job(runtime(), payload, task.request.retries))
        except tasks.RetryLater as later:
            raise task.retry(countdown=later.delay_seconds) from None
        except (RedisConnectionError, RedisTimeoutError):
            # The state store is away: an acknowledged failure would lose the email.
            log.warning("redis unavailable, job retried in %ss", STORE_RETRY_SECONDS)
            raise task.retry(countdown=STORE_RETRY_SECONDS) from None

    # No retry cap: each job stops retrying by itself when its code or notice expires.
    @app.task(name=SEND_CODE_TASK, bind=True, acks_late=True, max_retries=None)
    def send_code(self: Task[Any, Any], payload: dict[str, object]) -> str:
        return run(self, tasks.send_code, payload)

    @app.task(name=SEND_NOTICE_TASK, bind=True, acks_late=True, max_retries=None)
    def send_notice(self: Task[Any, Any], payload: dict[str, object]) -> str:
        return run(self, tasks.send_notice, payload)

    return app


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None


settings = _settings_or_exit()
logging.basicConfig(
    level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
)
app = create_celery(settings)
