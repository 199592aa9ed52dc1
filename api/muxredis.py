"""One Redis connection per API process, shared by every request in flight (multiplexed).

redis-py's asyncio client checks a connection out of its pool for each command, packs the
command in Python and waits on its own socket: on the login path that costs more CPU than
the Redis work itself (bench/README.md). Here, commands from all requests of a process go in
order down one connection, packed by hiredis and written together once per event-loop turn,
and the replies, which Redis sends in the same order, are handed back to their callers in
order. Each call still makes its own round trip: nothing is merged or reordered.

Only the API's scripts use it (``Store`` and the code-job publish), and only for a plain
``redis://`` or ``unix://`` server: Cluster, Sentinel, TLS and replica acknowledgement keep
redis-py. Errors are redis-py's own exception classes, so callers handle them as before:

- a reply error is the exception redis-py would raise (``NoScriptError``, ``ResponseError``);
- a call with no reply within ``timeout`` raises ``TimeoutError`` and closes the connection
  (a script may have run: it is never sent again), and the calls behind it in the connection
  fail with ``ConnectionError``;
- a lost connection fails every call in flight with ``ConnectionError``; the next call
  connects again.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any, cast

import hiredis
from redis._parsers import BaseParser
from redis.asyncio.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.redisconn import replica_ack
from shared.settings import RedisMode, Settings, is_sentinel_url

# How often, at most, the oldest call in flight is checked against its deadline.
WATCH_SECONDS = 0.05


def _pack(args: tuple[Any, ...]) -> bytes:
    """A command in Redis's protocol (hiredis: in C)."""
    packed: bytes = hiredis.pack_command(args)
    return packed


def _error(reply: hiredis.ReplyError) -> Exception:
    """The exception redis-py raises for the same error reply."""
    error = BaseParser.parse_error(str(reply))  # type: ignore[no-untyped-call]
    return error if isinstance(error, Exception) else ResponseError(str(reply))


class _Connection(asyncio.Protocol):
    """One socket: a queue of calls waiting for their replies, oldest first."""

    def __init__(self, loop: asyncio.AbstractEventLoop, encoding: str | None) -> None:
        self.loop = loop
        self.reader = hiredis.Reader(encoding=encoding) if encoding else hiredis.Reader()
        self.waiting: collections.deque[tuple[asyncio.Future[Any], float]] = collections.deque()
        self.outgoing: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._flush_scheduled = False
        self._watch: asyncio.TimerHandle | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's transports are not asyncio.Transport instances, but behave as one)
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        waiting = self.waiting
        while (reply := self.reader.gets()) is not False:
            if not waiting:  # a reply nobody asked for: the stream cannot be trusted
                self.close(RedisConnectionError("unexpected reply from Redis"))
                return
            future, _deadline = waiting.popleft()
            if future.done():  # its caller went away (cancelled): the reply is dropped
                continue
            if isinstance(reply, hiredis.ReplyError):
                future.set_exception(_error(reply))
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        reason = f": {exc}" if exc else ""
        self._fail_all(RedisConnectionError(f"Connection to Redis lost{reason}"))

    # calls

    def send(self, packed: bytes, timeout: float) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = self.loop.create_future()
        self.waiting.append((future, self.loop.time() + timeout))
        self.outgoing.append(packed)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)
        if self._watch is None:
            self._watch = self.loop.call_later(min(WATCH_SECONDS, timeout), self._check)
        return future

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self.outgoing and self.transport is not None and not self.closed:
            self.transport.write(b"".join(self.outgoing))
        self.outgoing.clear()

    def _check(self) -> None:
        """Time out the oldest call once its deadline passed; every call behind it waits on
        the same reply stream, so the connection goes with it."""
        self._watch = None
        if not self.waiting:
            return
        future, deadline = self.waiting[0]
        if deadline <= self.loop.time():
            if not future.done():
                future.set_exception(RedisTimeoutError("Timeout reading from Redis"))
            self.close(RedisConnectionError("Redis connection closed after a timeout"))
            return
        self._watch = self.loop.call_later(WATCH_SECONDS, self._check)

    def close(self, reason: Exception) -> None:
        self.closed = True
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        self._fail_all(reason)
        if self.transport is not None:
            self.transport.abort()

    def _fail_all(self, reason: Exception) -> None:
        while self.waiting:
            future, _deadline = self.waiting.popleft()
            if not future.done():
                future.set_exception(reason)


class MuxRedis:
    """``execute_command`` over one shared connection, made on first use and again after a
    loss. Bound to the event loop that first used it; another loop gets its own connection."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 6379,
        path: str | None = None,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        timeout: float,
        connect_timeout: float,
        decode_responses: bool = True,
    ) -> None:
        self.host, self.port, self.path, self.db = host, port, path, db
        self.username, self.password = username, password
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.encoding = "utf-8" if decode_responses else None
        self._connection: _Connection | None = None
        self._connecting: asyncio.Future[_Connection] | None = None

    @classmethod
    def from_url(
        cls, url: str, *, timeout: float, connect_timeout: float, decode_responses: bool = True
    ) -> MuxRedis | None:
        """A client for a plain ``redis://`` or ``unix://`` URL; ``None`` for anything else
        (TLS, Sentinel, a URL with options this client does not apply)."""
        if not url.startswith(("redis://", "unix://")):
            return None
        parts = parse_url(url)
        if set(parts) - {"host", "port", "path", "db", "username", "password", "connection_class"}:
            return None
        return cls(
            host=parts.get("host") or "127.0.0.1",
            port=int(parts.get("port") or 6379),
            path=parts.get("path"),
            db=int(parts.get("db") or 0),
            username=parts.get("username"),
            password=parts.get("password"),
            timeout=timeout,
            connect_timeout=connect_timeout,
            decode_responses=decode_responses,
        )

    def where(self) -> str:
        return self.path or f"{self.host}:{self.port}"

    async def execute_command(self, *args: Any) -> Any:
        connection = self._connection
        if connection is None or connection.closed or connection.loop is not _running_loop():
            connection = await self._connected()
        return await connection.send(_pack(args), self.timeout)

    async def _connected(self) -> _Connection:
        # Calls that arrive while connecting wait for the same attempt; a finished attempt
        # (its callers gone, or failed) is never reused: a new call makes a new one.
        connecting = self._connecting
        if connecting is None or connecting.done() or connecting.get_loop() is not _running_loop():
            connecting = self._connecting = asyncio.ensure_future(self._connect())
            # Its failure is its callers' to see; with none left, it is only dropped here.
            connecting.add_done_callback(_retrieve)
        try:
            connection = await asyncio.shield(connecting)
        finally:
            if connecting.done() and self._connecting is connecting:
                self._connecting = None
        if connection.closed:
            raise RedisConnectionError(f"Connection to Redis at {self.where()} lost")
        return connection

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        connection: _Connection | None = None
        try:
            async with asyncio.timeout(self.connect_timeout):
                if self.path:
                    _, connection = await loop.create_unix_connection(
                        lambda: _Connection(loop, self.encoding), self.path
                    )
                else:
                    _, connection = await loop.create_connection(
                        lambda: _Connection(loop, self.encoding), self.host, self.port
                    )
                if self.password is not None:
                    who = (self.username,) if self.username else ()
                    await connection.send(_pack(("AUTH", *who, self.password)), self.timeout)
                if self.db:
                    await connection.send(_pack(("SELECT", self.db)), self.timeout)
        except BaseException as exc:
            if connection is not None:
                connection.close(RedisConnectionError("Redis connection not set up"))
            if isinstance(exc, TimeoutError):
                raise RedisTimeoutError(f"Timeout connecting to Redis at {self.where()}") from None
            if isinstance(exc, OSError):
                raise RedisConnectionError(
                    f"Error connecting to Redis at {self.where()}: {exc.strerror or exc}"
                ) from None
            raise
        self._connection = connection
        return connection

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.closed:
            connection.close(RedisConnectionError("Redis client closed"))


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def scripts_client(settings: Settings, url: str) -> MuxRedis | None:
    """The API's multiplexed connection for its scripts on the state store (``url`` is
    ``settings.redis_url``) or the broker (``settings.broker_url``), where it can serve: a
    plain standalone server, writes not held for replicas. ``None``: scripts keep redis-py."""
    if url == settings.redis_url and settings.redis_mode is not RedisMode.STANDALONE:
        return None
    if replica_ack(settings) is not None and (url == settings.redis_url or is_sentinel_url(url)):
        return None
    return MuxRedis.from_url(
        url,
        timeout=settings.redis_timeout_seconds,
        connect_timeout=settings.redis_timeout_seconds,
    )
