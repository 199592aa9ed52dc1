"""Integration fixtures: a real redis-server, a real Celery worker process, a real SMTP server."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio

from api.main import create_app
from shared.jobs import CODE_QUEUE, NOTICE_QUEUE
from tests.api_calls import make_settings
from tests.integration.flow import BROKER_DB, STATE_DB, OffsetClock, running
from tests.processes import Process, RedisServer, service_env, start_worker
from tests.smtpserver import MailCatcher


@pytest.fixture(scope="session")
def catcher() -> Iterator[MailCatcher]:
    with MailCatcher() as server:
        yield server


@pytest.fixture(scope="session")
def worker(redis_server: RedisServer, catcher: MailCatcher, log_dir: Path) -> Iterator[Process]:
    env = service_env(
        redis_url=redis_server.url(STATE_DB),
        broker_url=redis_server.url(BROKER_DB),
        smtp_host=catcher.host,
        smtp_port=catcher.port,
        mail_rate_per_second=1000,
    )
    process = start_worker(env, log_dir)
    yield process
    process.stop()


@pytest.fixture
def mailbox(
    catcher: MailCatcher, worker: Process, clean_redis: RedisServer
) -> Iterator[MailCatcher]:
    """An empty mailbox, served by a running worker, over a flushed Redis. Afterwards, wait
    until the worker has finished every job, so no mail of this test lands in the next."""
    catcher.clear()
    yield catcher
    with redis.Redis.from_url(clean_redis.url(BROKER_DB)) as broker:
        deadline = time.monotonic() + 30
        while broker.llen(CODE_QUEUE) or broker.llen(NOTICE_QUEUE) or _in_hand(broker):
            assert time.monotonic() < deadline, "the worker did not drain its queues"
            time.sleep(0.02)


def _in_hand(broker: redis.Redis) -> int:
    """Jobs a worker took and has not finished. Backups held until their time (an ETA) are
    left out: they mail nothing once their send is done, and the next test flushes Redis."""
    held = 0
    for raw in broker.hvals("unacked"):
        message = json.loads(raw)[0]
        held += message["headers"].get("eta") is None
    return held


@pytest.fixture
def offset_clock() -> OffsetClock:
    return OffsetClock()


@pytest.fixture
def live_settings() -> dict[str, Any]:
    return {}


@pytest.fixture
async def live_api(
    mailbox: MailCatcher,
    redis_server: RedisServer,
    offset_clock: OffsetClock,
    live_settings: dict[str, Any],
) -> AsyncIterator[httpx.AsyncClient]:
    """The API in process, publishing to the real broker that the real worker consumes."""
    settings = make_settings(
        redis_url=redis_server.url(STATE_DB),
        broker_url=redis_server.url(live_settings.pop("broker_db", BROKER_DB)),
        **live_settings,
    )
    async with running(create_app(settings, clock=offset_clock)) as client:
        yield client


@pytest.fixture
def state(redis_server: RedisServer) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_server.url(STATE_DB), decode_responses=True) as client:
        yield client
