"""One clock: two API processes whose machines' clocks are 30 s apart give the same locks,
cooldowns and expiries, since both run on the state store's time (shared/clock.py)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import datetime

import httpx
import pytest

from api.main import create_app
from shared.clock import StoreClock
from tests.api_calls import make_settings
from tests.fakes import RecordingMailQueue
from tests.integration.flow import running
from tests.processes import RedisServer

pytestmark = pytest.mark.integration

SKEW_SECONDS = 30.0
STATE_DB = 10  # a database no test worker consumes


@pytest.fixture
async def replicas(
    clean_redis: RedisServer,
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Two API replicas on one state store: the second's machine clock is 30 s fast."""
    settings = make_settings(redis_url=clean_redis.url(STATE_DB))
    clocks = (StoreClock(), StoreClock(local=lambda: time.time() + SKEW_SECONDS))
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                running(create_app(settings, mail=RecordingMailQueue(), clock=clock))
            )
            for clock in clocks
        ]
        assert all(clock.synced for clock in clocks), "each read the store's time at start"
        yield clients[0], clients[1]


async def _two_step_on(api: httpx.AsyncClient, account: str) -> None:
    assert (await api.put(f"/v1/accounts/{account}", json={"email": "a@example.com"})).is_success
    enabled = await api.put(f"/v1/accounts/{account}/two-step", json={"enabled": True})
    assert enabled.is_success


def _at(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def test_a_resend_cooldown_started_on_one_replica_holds_on_the_other(
    replicas: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    slow, fast = replicas
    await _two_step_on(slow, "u-1")
    login = await slow.post("/v1/logins", json={"account_id": "u-1"})
    assert login.status_code == 201
    resend = await fast.post(f"/v1/challenges/{login.json()['challenge_id']}/resend")
    assert resend.status_code == 429, resend.text
    assert resend.json()["code"] == "resend_too_soon"
    assert 29 <= int(resend.headers["Retry-After"]) <= 31


async def test_an_account_lock_set_on_one_replica_lasts_as_long_on_the_other(
    replicas: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    slow, fast = replicas
    await _two_step_on(slow, "u-2")
    for _ in range(2):  # 5 wrong codes lock a challenge, 10 in a row the account
        login = await slow.post("/v1/logins", json={"account_id": "u-2"})
        for _ in range(5):
            wrong = await slow.post(
                f"/v1/challenges/{login.json()['challenge_id']}/verify", json={"code": "000000"}
            )
            assert wrong.status_code in (400, 422, 429), wrong.text
    locked = await fast.post("/v1/logins", json={"account_id": "u-2"})
    assert locked.status_code == 429, locked.text
    assert locked.json()["code"] == "account_locked"
    assert 899 <= int(locked.headers["Retry-After"]) <= 901


async def test_challenges_made_on_either_replica_expire_at_the_same_time(
    replicas: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    slow, fast = replicas
    for api, account in ((slow, "u-3"), (fast, "u-4")):
        await _two_step_on(api, account)
    first = await slow.post("/v1/logins", json={"account_id": "u-3"})
    second = await fast.post("/v1/logins", json={"account_id": "u-4"})
    assert first.status_code == second.status_code == 201
    gap = _at(second.json()["expires_at"]) - _at(first.json()["expires_at"])
    assert 0 <= gap <= 1, f"{SKEW_SECONDS} s of skew moved an expiry by {gap} s"
