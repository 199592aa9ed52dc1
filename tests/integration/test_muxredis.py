"""The API's multiplexed Redis connection, against a real redis-server: each caller gets its
own reply, errors are redis-py's, and timeouts and lost connections fail fast and recover."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import redis
import uvloop
from redis.exceptions import AuthenticationError, NoScriptError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from api.muxredis import MuxRedis
from tests.processes import RedisServer, free_port

pytestmark = pytest.mark.integration


Body = Callable[[], Coroutine[Any, Any, None]]


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Callable[[Body], None]:
    """Runs a test's body on asyncio's own event loop, and on uvloop's, which the API uses."""
    runner = uvloop.run if request.param == "uvloop" else asyncio.run
    return lambda body: runner(body())


def mux(url: str, timeout: float = 2.0) -> MuxRedis:
    client = MuxRedis.from_url(url, timeout=timeout, connect_timeout=timeout)
    assert client is not None
    return client


def test_concurrent_callers_each_get_their_own_reply(
    clean_redis: RedisServer, run: Callable[[Body], None]
) -> None:
    async def body() -> None:
        client = mux(clean_redis.url())
        script = "return {ARGV[1], redis.call('INCR', KEYS[1])}"

        async def one(n: int) -> None:
            assert await client.execute_command("SET", f"k{n}", f"v{n}") == "OK"
            assert await client.execute_command("GET", f"k{n}") == f"v{n}"
            echoed, _count = await client.execute_command("EVAL", script, 1, "counter", n)
            assert echoed == str(n)

        await asyncio.gather(*(one(n) for n in range(2000)))
        assert await client.execute_command("GET", "counter") == "2000"
        await client.aclose()

    run(body)


def test_error_replies_are_redis_py_errors_and_the_connection_goes_on(
    clean_redis: RedisServer, run: Callable[[Body], None]
) -> None:
    async def body() -> None:
        client = mux(clean_redis.url())
        with pytest.raises(NoScriptError):
            await client.execute_command("EVALSHA", "0" * 40, 0)
        await client.execute_command("LPUSH", "a-list", "x")
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            await client.execute_command("GET", "a-list")
        assert await client.execute_command("PING") == "PONG"
        await client.aclose()

    run(body)


def test_the_database_of_the_url_is_selected(
    clean_redis: RedisServer, run: Callable[[Body], None]
) -> None:
    async def body() -> None:
        client = mux(clean_redis.url(5))
        await client.execute_command("SET", "where", "five")
        with (
            redis.Redis.from_url(clean_redis.url(5)) as five,
            redis.Redis.from_url(clean_redis.url(0)) as zero,
        ):
            assert five.get("where") == b"five"
            assert zero.get("where") is None
        await client.aclose()

    run(body)


def test_credentials_of_the_url_are_used_and_wrong_ones_refused(
    clean_redis: RedisServer, run: Callable[[Body], None]
) -> None:
    async def body() -> None:
        with redis.Redis.from_url(clean_redis.url()) as admin:
            admin.acl_setuser("twostep-mux", enabled=True, passwords=["+s3cret"], keys=["*"],
                              commands=["+@all"])  # fmt: skip
        try:
            good = mux(clean_redis.url().replace("//", "//twostep-mux:s3cret@"))
            assert await good.execute_command("ACL", "WHOAMI") == "twostep-mux"
            await good.aclose()
            bad = mux(clean_redis.url().replace("//", "//twostep-mux:wrong@"))
            with pytest.raises(AuthenticationError):
                await bad.execute_command("PING")
            await bad.aclose()
        finally:
            with redis.Redis.from_url(clean_redis.url()) as admin:
                admin.acl_deluser("twostep-mux")

    run(body)


def test_a_late_reply_times_out_and_the_next_call_gets_a_fresh_connection(
    clean_redis: RedisServer, run: Callable[[Body], None]
) -> None:
    async def body() -> None:
        client = mux(clean_redis.url(), timeout=0.2)
        first_id = await client.execute_command("CLIENT", "ID")
        with redis.Redis.from_url(clean_redis.url()) as admin:
            admin.execute_command("CLIENT", "PAUSE", 700, "ALL")
        started = time.monotonic()
        with pytest.raises(RedisTimeoutError):
            await client.execute_command("PING")
        assert time.monotonic() - started < 0.5
        await asyncio.sleep(0.7)
        assert await client.execute_command("CLIENT", "ID") != first_id
        await client.aclose()

    run(body)


def test_a_lost_connection_fails_the_calls_in_flight_and_comes_back(
    clean_redis: RedisServer, run: Callable[[Body], None]
) -> None:
    async def body() -> None:
        client = mux(clean_redis.url(), timeout=5)
        connection_id = await client.execute_command("CLIENT", "ID")
        waiting = asyncio.ensure_future(client.execute_command("BLPOP", "never-filled", 4))
        await asyncio.sleep(0.1)
        with redis.Redis.from_url(clean_redis.url()) as admin:
            admin.execute_command("CLIENT", "KILL", "ID", connection_id)
        started = time.monotonic()
        with pytest.raises(RedisConnectionError):
            await waiting
        assert time.monotonic() - started < 1
        assert await client.execute_command("PING") == "PONG"
        await client.aclose()

    run(body)


def test_a_cancelled_call_drops_its_reply_and_the_next_caller_gets_its_own(
    clean_redis: RedisServer, run: Callable[[Body], None]
) -> None:
    async def body() -> None:
        client = mux(clean_redis.url(), timeout=2)
        cancelled = asyncio.ensure_future(client.execute_command("BLPOP", "never-filled", 0.3))
        await asyncio.sleep(0.05)
        cancelled.cancel()
        # Queued behind the BLPOP on the same connection: answered once the BLPOP times out.
        assert await client.execute_command("ECHO", "mine") == "mine"
        assert cancelled.cancelled()
        await client.aclose()

    run(body)


def test_a_connect_whose_callers_all_went_away_is_not_reused_after_a_loss(
    clean_redis: RedisServer, run: Callable[[Body], None]
) -> None:
    async def body() -> None:
        client = mux(clean_redis.url(), timeout=2)
        abandoned = asyncio.ensure_future(client.execute_command("CLIENT", "ID"))
        await asyncio.sleep(0)  # the connect has started
        abandoned.cancel()
        await asyncio.sleep(0.2)  # and finished, with no caller left
        connection_id = await client.execute_command("CLIENT", "ID")
        with redis.Redis.from_url(clean_redis.url()) as admin:
            admin.execute_command("CLIENT", "KILL", "ID", connection_id)
        await asyncio.sleep(0.1)
        started = time.monotonic()
        assert await client.execute_command("PING") == "PONG"
        assert time.monotonic() - started < 0.5  # a new connection, not a timeout
        await client.aclose()

    run(body)


def test_nothing_listening_is_a_quick_connection_error(run: Callable[[Body], None]) -> None:
    async def body() -> None:
        client = mux(f"redis://127.0.0.1:{free_port()}/0")
        started = time.monotonic()
        with pytest.raises(RedisConnectionError):
            await client.execute_command("PING")
        assert time.monotonic() - started < 1

    run(body)


def test_a_client_closed_in_one_event_loop_connects_again_in_another(
    clean_redis: RedisServer,
) -> None:
    client = mux(clean_redis.url())

    async def connection_id() -> int:
        try:
            return int(await client.execute_command("CLIENT", "ID"))
        finally:
            await client.aclose()

    first, second = asyncio.run(connection_id()), asyncio.run(connection_id())
    assert first != second


@pytest.mark.parametrize(
    ("url", "served"),
    [
        ("redis://127.0.0.1:6380/2", True),
        ("redis://user:pw@redis:6379", True),
        ("unix:///run/redis.sock?db=1", True),
        ("rediss://127.0.0.1:6380/2", False),
        ("sentinel://127.0.0.1:26379/0", False),
        ("redis://127.0.0.1:6380/2?socket_keepalive=true", False),
    ],
)
def test_only_plain_urls_are_served(url: str, served: bool) -> None:
    client = MuxRedis.from_url(url, timeout=1, connect_timeout=1)
    assert (client is not None) is served
    if "unix" in url and client is not None:
        assert (client.path, client.db) == ("/run/redis.sock", 1)
    if "user:pw" in url and client is not None:
        assert (client.username, client.password, client.host, client.port) == (
            "user", "pw", "redis", 6379,
        )  # fmt: skip
