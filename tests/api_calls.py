"""The API in process as the tests call it: settings with the tests' keys, an authenticated
client on a given Redis, mail queue and clock, and the code a published job carries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import redis.asyncio

from api.main import create_app
from shared.jobs import CodeJob
from shared.settings import Settings
from tests.fakes import FakeClock, RecordingMailQueue
from tests.processes import API_KEY, SECRET_KEY

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def make_settings(**overrides: Any) -> Settings:
    return Settings(secret_key=SECRET_KEY, api_keys=(API_KEY,), **overrides)


@asynccontextmanager
async def api_client(
    settings: Settings,
    state_redis: redis.asyncio.Redis,
    mail: RecordingMailQueue,
    clock: FakeClock,
) -> AsyncIterator[httpx.AsyncClient]:
    """An authenticated client of the API in process, on the given Redis, mail queue and clock."""
    app = create_app(settings, redis=state_redis, broker=state_redis, mail=mail, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://twostep.test") as client:
        client.headers.update(AUTH)
        yield client


def code_of(job: CodeJob) -> str:
    """The plaintext code of a published job, opened as a worker would."""
    from shared.crypto import Sealer
    from shared.jobs import code_seal_context

    return Sealer(SECRET_KEY).open(
        job.sealed_code, code_seal_context(job.challenge_id, job.send_no)
    )
