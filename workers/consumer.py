"""The worker's broker consumer: reconnecting quickly when the broker comes back, and surviving
the loss of the broker with a job in hand (a narrow patch of kombu's Redis channel)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from celery.worker.consumer import Consumer
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

# Kombu's defaults wait 2 s, then 4, 6, ... up to 30 s between tries: a Redis restart of a
# few seconds would leave workers idle for half a minute. Try every second or two instead.
RETRY = {"interval_start": 0.5, "interval_step": 0.5, "interval_max": 2.0}


class QuickReconnectConsumer(Consumer):
    def ensure_connected(self, conn: Any) -> Any:
        ensure = conn.ensure_connection

        def quickly(*args: Any, **kwargs: Any) -> Any:
            return ensure(*args, **{**kwargs, **RETRY})

        conn.ensure_connection = quickly
        return super().ensure_connected(conn)


def _detached_is_a_connection_error(
    connparams: Callable[..., dict[str, Any]],
) -> Callable[..., dict[str, Any]]:
    """Kombu 5.3.2 to 5.7.0 (at least; no fix upstream as of 5.7.0): a channel asked for a new
    Redis pool after its connection was torn down fails with AttributeError instead of a
    connection error, and Celery treats that as fatal ("Unrecoverable error", the worker
    exits).

    How it happens when the broker goes away while the worker holds an unacknowledged job and
    has a BRPOP in flight (a prefork worker with a free process): Celery calls
    ``Connection.collect()``; the Redis channel's ``close()`` first reads the pending BRPOP
    reply (kombu#1733), which raises a connection error, so the channel is left open;
    ``collect()`` swallows that and detaches the transport (``transport.client = None``).
    Then ``Connection.close()`` closes the channel again: no BRPOP pending now, so it drops
    its pools and restores the unacknowledged job ("Restoring 1 unacknowledged message(s)")
    through a new pool, whose parameters ``_connparams`` reads from the detached client.
    The ack of a job that finishes after the loss takes the same path.

    With this, those calls raise the connection error they stand for, which kombu and Celery
    already handle: the close is ignored, the ack logged ("Couldn't ack"), the worker
    reconnects, and the job stays unacknowledged on the broker until its visibility timeout
    gives it back (a second delivery of a send already marked sent sends nothing)."""

    @functools.wraps(connparams)
    def guarded(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        transport = self.connection
        if transport is None or transport.client is None:
            raise RedisConnectionError("the channel's broker connection is closed")
        return connparams(self, *args, **kwargs)

    guarded.twostep_guarded = True  # type: ignore[attr-defined]
    return guarded


_original = kombu_redis.Channel.__dict__["_connparams"]
if not getattr(_original, "twostep_guarded", False):
    # (setattr: the kombu stubs do not declare it.) SentinelChannel inherits it: both
    # topologies are covered.
    setattr(kombu_redis.Channel, "_connparams", _detached_is_a_connection_error(_original))  # noqa: B010
