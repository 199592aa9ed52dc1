"""Runs the Lua scripts (``shared/scripts.py``): every script call in the tree goes through
here, async (the API) or sync (the workers).

A call is an EVALSHA sent as a plain command: redis-py's ``Script`` wrapper costs more than
the round trip on the login path, and in a pipeline it asks SCRIPT EXISTS first. A Redis
that lost its scripts (a restart, a failover) answers NOSCRIPT once; the script is loaded and
the call made again. With a replica acknowledgement policy the script and a ``WAIT`` go in
one round trip on one connection, and the answer counts only once enough replicas hold what
the script wrote.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import redis
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import NoScriptError

from shared.redisconn import AsyncStateRedis, ReplicaAck, SyncStateRedis
from shared.scripts import Script

# The keys and arguments of one call, by the names its description gives them.
Named = Mapping[str, Any]


class CommandClient(Protocol):
    """A client that sends one command and answers its reply: the API's multiplexed
    connection (api/muxredis.py) for its scripts."""

    async def execute_command(self, *args: Any) -> Any: ...


def _command(script: Script, keys: Named, args: Named) -> tuple[Any, ...]:
    key_list = script.keys_of(keys)
    return ("EVALSHA", script.sha, len(key_list), *key_list, *script.args_of(args))


class AsyncRunner:
    """Scripts on one async client; ``mux`` (same server) carries them when there is one,
    for less CPU per call (``api/muxredis.py``), unless writes wait for replicas."""

    def __init__(
        self,
        redis_client: AsyncStateRedis,
        replica_ack: ReplicaAck | None = None,
        mux: CommandClient | None = None,
    ) -> None:
        self.redis = redis_client
        self.replica_ack = replica_ack
        self.mux = mux if replica_ack is None else None

    async def run(self, script: Script, keys: Named, args: Named) -> Any:
        """The script's answer, as its class (``Script.decode``)."""
        command = _command(script, keys, args)
        if self.replica_ack is not None:
            return script.decode(await self._acknowledged(self.replica_ack, script, command))
        client = self.mux or self.redis
        try:
            reply = await client.execute_command(*command)
        except NoScriptError:
            await self.redis.script_load(script.source)
            reply = await client.execute_command(*command)
        return script.decode(reply)

    async def _acknowledged(self, ack: ReplicaAck, script: Script, command: tuple[Any, ...]) -> Any:
        for _ in range(2):
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.execute_command(*command)
                pipe.wait(ack.replicas, ack.timeout_ms)
                result, acknowledged = await pipe.execute(raise_on_error=False)
            if isinstance(result, NoScriptError):
                await self.redis.script_load(script.source)
                continue
            if isinstance(result, Exception):
                raise result
            if isinstance(acknowledged, Exception):
                raise acknowledged
            if int(acknowledged) < ack.replicas and isinstance(self.redis, AsyncRedis):
                # Perhaps a master that a failover left behind: new connections ask the
                # Sentinels again where the master is.
                await self.redis.connection_pool.disconnect(inuse_connections=False)
            ack.check(acknowledged)
            return result
        raise NoScriptError(f"script {script.name} could not be loaded")


class SyncRunner:
    """Scripts on one sync client (the workers: state store or broker)."""

    def __init__(self, redis_client: SyncStateRedis) -> None:
        self.redis = redis_client

    def run(self, script: Script, keys: Named, args: Named) -> Any:
        """The script's answer, as its class (``Script.decode``)."""
        command = _command(script, keys, args)
        try:
            reply = self.redis.execute_command(*command)  # type: ignore[no-untyped-call]
        except NoScriptError:
            self.redis.script_load(script.source)
            reply = self.redis.execute_command(*command)  # type: ignore[no-untyped-call]
        return script.decode(reply)

    def run_together(self, calls: Sequence[tuple[Script, Named, Named]]) -> list[Any]:
        """Several scripts in one round trip (on a Cluster, one call each: their keys may
        live in different slots, and redis-py refuses EVALSHA in a cluster pipeline). After
        a NOSCRIPT all are loaded and all made again, so each may run twice: only for
        scripts where that is harmless."""
        if isinstance(self.redis, redis.RedisCluster):
            return [self.run(script, keys, args) for script, keys, args in calls]
        commands = [_command(script, keys, args) for script, keys, args in calls]
        for _ in range(2):
            with self.redis.pipeline(transaction=False) as pipe:
                for command in commands:
                    pipe.execute_command(*command)  # type: ignore[no-untyped-call]
                replies: list[Any] = pipe.execute(raise_on_error=False)
            if not any(isinstance(reply, NoScriptError) for reply in replies):
                for reply in replies:
                    if isinstance(reply, Exception):
                        raise reply
                return [
                    script.decode(reply)
                    for (script, _keys, _args), reply in zip(calls, replies, strict=True)
                ]
            for script, _keys, _args in calls:
                self.redis.script_load(script.source)
        raise NoScriptError("scripts could not be loaded")
