"""A job's retry while the broker is away keeps the job (workers/retry.py)."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import redis
from celery import Celery, Task
from celery.exceptions import Reject, Retry

from tests.processes import RedisServer
from workers.retry import retry


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _app(broker_url: str) -> Celery:
    app = Celery("retry-test", broker=broker_url, set_as_current=False)
    app.conf.update(
        broker_connection_retry=False,
        broker_transport_options={"socket_connect_timeout": 1, "socket_timeout": 1},
    )
    return app


def _retrying_task(app: Celery) -> Task[Any, Any]:
    @app.task(name="retry-test.job", bind=True, max_retries=None)
    def job(self: Task[Any, Any]) -> None:
        retry(self, countdown=5)

    return job


def test_a_retry_the_broker_cannot_take_requeues_the_job_instead_of_dropping_it() -> None:
    task = _retrying_task(_app(f"redis://127.0.0.1:{_closed_port()}/0"))
    task.push_request(id="job-1", retries=0, delivery_info={}, called_directly=False)
    try:
        with pytest.raises(Reject) as rejected:
            task.run()
    finally:
        task.pop_request()
    assert rejected.value.requeue is True
    assert "Connection refused" in str(rejected.value.reason)  # the publish's failure, kept


@pytest.mark.integration
def test_a_retry_the_broker_takes_is_a_retry(redis_server: RedisServer) -> None:
    task = _retrying_task(_app(redis_server.url(5)))
    task.push_request(id="job-2", retries=0, delivery_info={}, called_directly=False)
    try:
        with pytest.raises(Retry):
            task.run()
    finally:
        task.pop_request()
        with redis.Redis.from_url(redis_server.url(5)) as client:
            assert client.llen("celery") == 1  # the retry, published
            client.flushdb()
