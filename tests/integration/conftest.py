"""Integration fixtures: a real redis-server, a real Celery worker process, a real SMTP server."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio
from fastapi import FastAPI

from api.main import create_app
from shared.jobs import CODE_QUEUE, NOTICE_QUEUE
from tests.api_calls import AUTH, make_settings
from tests.processes import Process, RedisServer, service_env, start_worker
from tests.smtpserver import MailCatcher

STATE_DB = 0
BROKER_DB = 1
IDLE_BROKER_DB = 3  # a broker no worker listens to: jobs stay there to be inspected


class OffsetClock:
    """Real time, plus an offset a test can move forward (the worker keeps real time)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


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


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An authenticated client of an app in process, its lifespan run around it (which
    closes the Redis clients and connections it made)."""
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://twostep.test") as client,
    ):
        client.headers.update(AUTH)
        yield client


@pytest.fixture
def state(redis_server: RedisServer) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_server.url(STATE_DB), decode_responses=True) as client:
        yield client


def text_part(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None, "no text/plain part"
    return str(part.get_content())  # type: ignore[attr-defined]


def html_part(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None, "no text/html part"
    return str(part.get_content())  # type: ignore[attr-defined]


def code_in(message: EmailMessage) -> str:
    """The code of a code email: the only line of its text part made of six digits."""
    codes = re.findall(r"^\s*(\d{6})\s*$", text_part(message), re.MULTILINE)
    assert len(codes) == 1, f"expected one code line, found {codes}"
    assert codes[0] in html_part(message)
    return codes[0]


def mails_to(catcher: MailCatcher, address: str) -> list[EmailMessage]:
    return [m for m in list(catcher.messages) if m["To"] == address]


async def wait_for_delivery(
    client: httpx.AsyncClient, challenge_id: str, wanted: str, within: float = 20.0
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await client.get(f"/v1/challenges/{challenge_id}")
        body = response.json()
        if body.get("delivery") == wanted:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"delivery never became {wanted!r}: {body}")
