"""Timing: how close a wrong code or a wrong API key is must not show in the time taken."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable

import httpx
import pytest

from shared.settings import Settings
from tests.api_calls import AUTH, code_of, make_settings
from tests.fakes import RecordingMailQueue

ROUNDS = 400
TOLERANCE = 0.25  # medians within 25%: the noise of a shared machine, not a leak


@pytest.fixture
def settings() -> Settings:
    # Hundreds of wrong codes: no lock may end the measurement (challenges are renewed).
    return make_settings(max_attempts=100, account_lock_threshold=1000, max_emails_per_hour=1000)


def _other(character: str) -> str:
    return "x" if character != "x" else "y"


async def _medians(
    near: Callable[[], Awaitable[int]], far: Callable[[], Awaitable[int]], expected: int
) -> tuple[float, float]:
    """Interleaved tries, so drift in the machine's speed hits both alike."""
    samples: dict[str, list[float]] = {"near": [], "far": []}
    for round_no in range(ROUNDS):
        for which in ("near", "far") if round_no % 2 else ("far", "near"):
            started = time.perf_counter()
            status = await (near if which == "near" else far)()
            samples[which].append(time.perf_counter() - started)
            assert status == expected
    return statistics.median(samples["near"]), statistics.median(samples["far"])


@pytest.mark.integration
@pytest.mark.parametrize("state_redis", ["redis-server"], indirect=True)
async def test_a_nearly_right_api_key_takes_as_long_as_a_wrong_one(api: httpx.AsyncClient) -> None:
    key = AUTH["Authorization"].removeprefix("Bearer ")
    near_key, far_key = key[:-1] + _other(key[-1]), _other(key[0]) + key[1:]

    async def call(presented: str) -> int:
        headers = {"Authorization": f"Bearer {presented}"}
        return (await api.get("/v1/accounts/timing", headers=headers)).status_code

    near, far = await _medians(lambda: call(near_key), lambda: call(far_key), 401)
    print(f"\nAPI key: nearly right {near * 1e6:.0f} us, wrong from the start {far * 1e6:.0f} us")
    assert abs(near - far) / max(near, far) < TOLERANCE


@pytest.mark.integration
@pytest.mark.parametrize("state_redis", ["redis-server"], indirect=True)
async def test_a_nearly_right_code_takes_as_long_as_a_wrong_one(
    api: httpx.AsyncClient, mail: RecordingMailQueue
) -> None:
    await api.put("/v1/accounts/timing", json={"email": "timing@example.com"})
    await api.put("/v1/accounts/timing/two-step", json={"enabled": True})
    state: dict[str, str] = {}
    calls = 0

    async def renew() -> None:
        response = await api.post("/v1/logins", json={"account_id": "timing"})
        code = code_of(mail.codes[-1])
        state["url"] = f"/v1/challenges/{response.json()['challenge_id']}/verify"
        state["near"] = code[:-1] + str((int(code[-1]) + 1) % 10)  # one digit off, at the end
        state["far"] = str((int(code[0]) + 1) % 10) + code[1:]  # one digit off, at the start

    async def call(which: str) -> int:
        nonlocal calls
        if calls % 90 == 0:
            await renew()
        calls += 1
        return (await api.post(state["url"], json={"code": state[which]})).status_code

    near, far = await _medians(lambda: call("near"), lambda: call("far"), 400)
    print(f"\ncode: one digit off at the end {near * 1e6:.0f} us, at the start {far * 1e6:.0f} us")
    assert abs(near - far) / max(near, far) < TOLERANCE
