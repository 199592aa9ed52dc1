"""Redis clients for the API (async) and the workers (sync), built from the settings.

Every process that talks to the state store or to the broker gets its clients here, so that
the choice of topology lives in one place.
"""

from __future__ import annotations

import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

from shared.settings import Settings


def async_client(url: str, settings: Settings) -> redis.asyncio.Redis:
    """The API's client: text replies, short timeouts."""
    return redis.asyncio.Redis.from_url(
        url,
        decode_responses=True,
        # A connection that died with a restarted Redis fails on write: one immediate retry
        # on a fresh connection. Timeouts are not retried: a script may have run already.
        retry=AsyncRetry(NoBackoff(), 1),
        retry_on_error=[RedisConnectionError],
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        health_check_interval=30,
        max_connections=512,
    )


def sync_client(url: str, settings: Settings) -> redis.Redis:
    """A worker's client: bytes replies, a longer timeout (a worker is not answering a user)."""
    return redis.Redis.from_url(
        url,
        socket_timeout=settings.redis_timeout_seconds * 4,
        socket_connect_timeout=settings.redis_timeout_seconds * 4,
        health_check_interval=30,
        # As above: one retry on a dead connection, none on a timeout.
        retry=Retry(NoBackoff(), 1),
        retry_on_error=[RedisConnectionError],
    )
