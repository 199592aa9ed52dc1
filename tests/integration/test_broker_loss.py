"""A worker's broker connection lost with a job in hand: kombu's teardown, as Celery runs it,
against a real redis-server stopped under it, step by step (no race: the BRPOP in flight that
the event loop would have sent is sent by hand)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from kombu import Connection, Consumer, Exchange, Message, Queue
from kombu.common import ignore_errors

import workers.consumer  # noqa: F401  (the worker's patch of kombu, as the worker imports it)
from tests.processes import RedisServer

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(log_dir: Path) -> Iterator[RedisServer]:
    # Append-only: what the broker held before it stopped is there when it starts again.
    server = RedisServer(log_dir / "broker-loss", appendonly=True)
    yield server
    server.stop()


def _held_job(url: str) -> tuple[Connection, Consumer, Message]:
    """A connection as a Celery worker holds it: the task consumer on the default channel
    with one job delivered and not acknowledged, a BRPOP in flight for the next one (a
    prefork worker with a free process asks for more), and the remote-control channel
    (a fanout queue, auto-deleted) opened after it."""
    with Connection(url) as publisher:
        publisher.SimpleQueue("held").put({"job": 1})
    connection = Connection(url, transport_options={"visibility_timeout": 5})
    connection.ensure_connection(max_retries=1)
    held: list[Message] = []
    tasks = Consumer(connection, queues=[Queue("held")], callbacks=[lambda _, m: held.append(m)])
    tasks.consume()
    control = Consumer(
        connection.channel(),
        queues=[Queue("w.pidbox", Exchange("pidbox", type="fanout"), auto_delete=True)],
        no_ack=True,
    )
    control.consume()
    for _ in range(10):  # a drain may return on the control channel's subscription
        if held:
            break
        connection.drain_events(timeout=5)
    assert len(held) == 1
    channel: Any = tasks.channel
    channel._brpop_start()  # the event loop's BRPOP for the next job
    return connection, tasks, held[0]


def _celery_teardown(connection: Connection, tasks: Consumer) -> None:
    """What Celery 5.7 does when the broker goes away (celery/worker/consumer/consumer.py,
    ``on_connection_error_after_connected``, then the restart's ``Tasks.shutdown``): it
    survives only connection errors, which ``ignore_errors`` swallows; anything else is the
    worker's "Unrecoverable error"."""
    with contextlib.suppress(Exception):  # Celery ignores every error of collect too
        connection.collect(socket_timeout=1)
    ignore_errors(connection, connection.close)
    ignore_errors(connection, tasks.close)  # Celery passes its consumer: the same errors


def test_losing_the_broker_with_a_job_in_hand_and_a_brpop_in_flight_is_a_connection_error(
    broker: RedisServer,
) -> None:
    connection, tasks, _ = _held_job(broker.url(1))
    broker.stop()
    _celery_teardown(connection, tasks)  # raised AttributeError ('hostname') before the fix


def test_the_held_job_stays_unacknowledged_on_the_broker_and_comes_back(
    broker: RedisServer,
) -> None:
    connection, tasks, message = _held_job(broker.url(1))
    broker.stop()
    _celery_teardown(connection, tasks)
    broker.restart()
    # The job finished after the connection was gone: its channel is closed, so the ack is
    # a connection error the worker logs ("Couldn't ack"), not a crash ...
    with pytest.raises(redis.exceptions.ConnectionError):
        message.ack()
    # ... and the job is still held on the broker, where the visibility timeout restores
    # it (claimed and marked sent in the state store, a second delivery sends nothing).
    client = redis.Redis.from_url(broker.url(1))
    assert client.hlen("unacked") == 1
