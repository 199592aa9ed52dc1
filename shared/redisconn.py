"""Redis clients for the API (async) and the workers (sync), built from the settings.

Every process that talks to the state store or to the broker gets its clients here, so that
the choice of topology lives in one place: a standalone Redis, a Redis Cluster (the state
only: Celery's broker cannot run on a cluster), or a master found through Redis Sentinel.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, cast

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.exceptions import ClusterDownError, SlotNotCoveredError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

from shared.errors import Unavailable
from shared.settings import RedisMode, SentinelUrl, Settings, is_sentinel_url

AsyncStateRedis = redis.asyncio.Redis | redis.asyncio.RedisCluster
SyncStateRedis = redis.Redis | redis.RedisCluster


@dataclass(frozen=True, slots=True)
class ReplicaAck:
    """Writes count as done only once ``replicas`` replicas have them (``WAIT``), so that a
    failover cannot lose a write the API acknowledged."""

    replicas: int
    timeout_ms: int

    def check(self, acknowledged: int) -> None:
        if int(acknowledged) < self.replicas:
            raise Unavailable("too few replicas acknowledged the write")


# The acknowledgement policy of each client built here, for the store that uses it.
_ACKS: weakref.WeakKeyDictionary[Any, ReplicaAck] = weakref.WeakKeyDictionary()


def replica_ack_of(client: object) -> ReplicaAck | None:
    """The acknowledgement policy a client was built with (none: Redis's own, asynchronous)."""
    return _ACKS.get(client)


def replica_ack(settings: Settings) -> ReplicaAck | None:
    """The settings' acknowledgement policy for writes to the state store (none: Redis's own)."""
    if settings.redis_min_replicas_ack == 0:
        return None
    return ReplicaAck(settings.redis_min_replicas_ack, settings.replica_ack_timeout_ms)


def _async_options(settings: Settings) -> dict[str, Any]:
    return {
        "decode_responses": True,
        # A connection that died with a restarted Redis fails on write: one immediate retry
        # on a fresh connection. Timeouts are not retried: a script may have run already.
        # Under Sentinel, a master demoted to replica answers READONLY, which the client
        # turns into a ConnectionError: the retry asks the Sentinels for the new master.
        "retry": AsyncRetry(NoBackoff(), 1),
        "retry_on_error": [RedisConnectionError],
        "socket_timeout": settings.redis_timeout_seconds,
        "socket_connect_timeout": settings.redis_timeout_seconds,
        "health_check_interval": 30,
        "max_connections": 512,
    }


def _sync_options(settings: Settings) -> dict[str, Any]:
    # A worker is not answering a user: a longer timeout. Retries as above.
    return {
        "socket_timeout": settings.redis_timeout_seconds * 4,
        "socket_connect_timeout": settings.redis_timeout_seconds * 4,
        "health_check_interval": 30,
        "retry": Retry(NoBackoff(), 1),
        "retry_on_error": [RedisConnectionError],
    }


def _sentinel_kwargs(sentinel: SentinelUrl, options: dict[str, Any]) -> dict[str, Any]:
    """The master's database and credentials; the Sentinels themselves get the timeouts."""
    master: dict[str, Any] = {"db": sentinel.db}
    if sentinel.password is not None:
        master["password"] = sentinel.password
    if sentinel.username is not None:
        master["username"] = sentinel.username
    return {**options, **master}


def _timeouts(options: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in options.items() if key.startswith("socket_")}


class _AcknowledgedBroker(redis.asyncio.Redis):
    """The API's broker client when writes must reach replicas: each job push (LPUSH, or the
    EVALSHA that pushes a code job and files its backup: the API's only writes to the
    broker) and its ``WAIT`` go in one round trip, so that a 201 whose email job a failover
    would lose is a 503 instead."""

    replica_ack: ReplicaAck
    WRITES = frozenset({"LPUSH", "EVALSHA"})

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        if args[0] not in self.WRITES:
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        async with self.pipeline(transaction=False) as pipe:
            pipe.execute_command(*args, **options)
            pipe.wait(self.replica_ack.replicas, self.replica_ack.timeout_ms)
            # The write's own error (NOSCRIPT included) is raised first, as without WAIT.
            result, acknowledged = await pipe.execute()
        if int(acknowledged) < self.replica_ack.replicas:
            await self.connection_pool.disconnect(inuse_connections=False)
        self.replica_ack.check(acknowledged)
        return result


class _AsyncCluster(redis.asyncio.RedisCluster):
    """A cluster client that, like the others, retries a dead connection (and follows the
    cluster's redirections) but never a timeout: a script may have run already."""

    ERRORS_ALLOW_RETRY = (  # type: ignore[assignment]  # a narrower tuple on purpose
        RedisConnectionError,
        ClusterDownError,
        SlotNotCoveredError,
    )


class _SyncCluster(redis.RedisCluster):
    ERRORS_ALLOW_RETRY = (  # type: ignore[assignment]  # as above
        RedisConnectionError,
        ClusterDownError,
        SlotNotCoveredError,
    )


def _cluster_options(options: dict[str, Any]) -> dict[str, Any]:
    # The cluster client retries at its own level (topology refreshed between tries).
    return {
        key: value
        for key, value in options.items()
        if key not in ("retry_on_error", "health_check_interval")
    }


def async_state_client(settings: Settings) -> AsyncStateRedis:
    """The API's client of the state store, in the configured topology."""
    options = _async_options(settings)
    client: AsyncStateRedis
    if settings.redis_mode is RedisMode.CLUSTER:
        client = _AsyncCluster.from_url(settings.redis_url, **_cluster_options(options))
    elif settings.redis_mode is RedisMode.SENTINEL:
        sentinel = SentinelUrl.parse(settings.redis_url)
        manager = redis.asyncio.sentinel.Sentinel(
            sentinel.sentinels, sentinel_kwargs=_timeouts(options)
        )
        client = manager.master_for(
            cast(str, settings.redis_sentinel_master), **_sentinel_kwargs(sentinel, options)
        )
    else:
        client = redis.asyncio.Redis.from_url(settings.redis_url, **options)
    ack = replica_ack(settings)
    if ack is not None:
        _ACKS[client] = ack
    return client


def async_broker_client(settings: Settings) -> redis.asyncio.Redis:
    """The API's client of the broker: a standalone Redis or a Sentinel-managed master.

    Job pushes wait for replicas only on a Sentinel-managed broker: a standalone one has
    nothing a failover could switch to."""
    options = _async_options(settings)
    ack = replica_ack(settings) if is_sentinel_url(settings.broker_url) else None
    redis_class = redis.asyncio.Redis if ack is None else _AcknowledgedBroker
    client: redis.asyncio.Redis
    if is_sentinel_url(settings.broker_url):
        sentinel = SentinelUrl.parse(settings.broker_url)
        manager = redis.asyncio.sentinel.Sentinel(
            sentinel.sentinels, sentinel_kwargs=_timeouts(options)
        )
        client = manager.master_for(
            cast(str, settings.broker_master),
            redis_class=redis_class,
            **_sentinel_kwargs(sentinel, options),
        )
    else:
        client = redis_class.from_url(settings.broker_url, **options)
    if isinstance(client, _AcknowledgedBroker) and ack is not None:
        client.replica_ack = ack
    return client


def sync_client(url: str, settings: Settings) -> SyncStateRedis:
    """A worker's client of the state store (``url`` is ``settings.redis_url``), bytes replies."""
    if url != settings.redis_url:
        raise ValueError("sync_client builds the workers' client of settings.redis_url")
    options = _sync_options(settings)
    if settings.redis_mode is RedisMode.CLUSTER:
        return _SyncCluster.from_url(url, **_cluster_options(options))
    if settings.redis_mode is RedisMode.SENTINEL:
        sentinel = SentinelUrl.parse(url)
        manager = redis.sentinel.Sentinel(sentinel.sentinels, sentinel_kwargs=_timeouts(options))
        master: redis.Redis = manager.master_for(
            cast(str, settings.redis_sentinel_master), **_sentinel_kwargs(sentinel, options)
        )
        return master
    return redis.Redis.from_url(url, **options)


def sync_broker_client(settings: Settings) -> redis.Redis:
    """A worker's own client of the broker (a standalone Redis or a Sentinel-managed master),
    beside Celery's: the code jobs' backups live there. Bytes replies."""
    options = _sync_options(settings)
    if is_sentinel_url(settings.broker_url):
        sentinel = SentinelUrl.parse(settings.broker_url)
        manager = redis.sentinel.Sentinel(sentinel.sentinels, sentinel_kwargs=_timeouts(options))
        master: redis.Redis = manager.master_for(
            cast(str, settings.broker_master), **_sentinel_kwargs(sentinel, options)
        )
        return master
    return redis.Redis.from_url(settings.broker_url, **options)


def broker_beside_state(settings: Settings) -> tuple[int, int] | None:
    """``(state db, broker db)`` when the broker is a database of the state store's own
    standalone server (the URLs differ in their database at most), else ``None``."""
    if settings.redis_mode is not RedisMode.STANDALONE:
        return None
    urls = (settings.redis_url, settings.broker_url)
    if not all(url.startswith(("redis://", "unix://")) for url in urls):
        return None
    state, broker = (redis.asyncio.connection.parse_url(url) for url in urls)
    state_db, broker_db = int(state.pop("db", 0) or 0), int(broker.pop("db", 0) or 0)
    return (state_db, broker_db) if state == broker else None
