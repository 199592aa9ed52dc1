"""Fixtures shared by every tier: settings, clocks, Redis (fake and real), the mail queue."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import fakeredis
import httpx
import pytest
import redis
import redis.asyncio

from shared.settings import Settings
from tests.api_calls import api_client, make_settings
from tests.fakes import FakeClock, RecordingMailQueue
from tests.processes import RedisServer
from tests.topologies import REDIS_BACKENDS, RedisCluster
from tests.webhookreceiver import Receiver


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fast",
        action="store_true",
        help="the inner loop (scripts/test --fast): leave out the integration tests, and fail "
        "any test that starts a process (it needs the integration mark)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("--fast"):
        return
    # Deselection by mark reads this at collection; an -m of the caller's own still applies.
    asked = config.option.markexpr
    config.option.markexpr = f"({asked}) and not integration" if asked else "not integration"

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(
            "this test starts a process, which the fast tier (--fast) does not: "
            "mark it (or its fixture's parameter) with pytest.mark.integration"
        )

    # Every way Python starts a program (subprocess, asyncio's subprocesses) ends here.
    subprocess.Popen._execute_child = refuse  # type: ignore[attr-defined,method-assign]


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def redis_server(log_dir: Path) -> Iterator[RedisServer]:
    server = RedisServer(log_dir)
    yield server
    server.stop()


@pytest.fixture
def clean_redis(redis_server: RedisServer) -> RedisServer:
    with redis.Redis.from_url(redis_server.url()) as client:
        client.flushall()
    return redis_server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def redis_cluster(log_dir: Path) -> Iterator[RedisCluster]:
    cluster = RedisCluster(log_dir / "cluster")
    yield cluster
    cluster.stop()


@pytest.fixture(params=REDIS_BACKENDS)
async def state_redis(request: pytest.FixtureRequest) -> AsyncIterator[redis.asyncio.Redis]:
    """The same test body runs on fakeredis, on a real redis-server and on a real three-master
    Redis Cluster: their Lua differs, and on a cluster every command must stay in one slot."""
    if request.param == "fakeredis":
        client: redis.asyncio.Redis = fakeredis.FakeAsyncRedis(decode_responses=True)
    elif request.param == "redis-server":
        server: RedisServer = request.getfixturevalue("clean_redis")
        client = redis.asyncio.Redis.from_url(server.url(), decode_responses=True)
    else:
        cluster: RedisCluster = request.getfixturevalue("redis_cluster")
        cluster.flushall()
        # Not a redis.asyncio.Redis, but it answers every command the store sends.
        client = redis.asyncio.RedisCluster.from_url(  # type: ignore[assignment]
            cluster.url(), decode_responses=True
        )
    yield client
    await client.aclose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real webhook receiver on loopback (tests/webhookreceiver.py)."""
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def mail() -> RecordingMailQueue:
    return RecordingMailQueue()


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
async def api(
    settings: Settings,
    state_redis: redis.asyncio.Redis,
    mail: RecordingMailQueue,
    clock: FakeClock,
) -> AsyncIterator[httpx.AsyncClient]:
    """The API in process, on fake or real Redis, with a recording mail queue and a fake clock."""
    async with api_client(settings, state_redis, mail, clock) as client:
        yield client
