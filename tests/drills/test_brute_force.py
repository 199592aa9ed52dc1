"""Brute force: what an attacker who knows the password can get out of the API in a day."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest

from shared.settings import Settings
from tests.conftest import FakeClock, make_settings

DAY = 86400
CODE_SPACE = 10**6


@pytest.fixture
def settings() -> Settings:
    return make_settings()


async def test_a_day_of_guessing_gives_less_than_one_chance_in_ten_thousand(
    api: httpx.AsyncClient, clock: FakeClock
) -> None:
    """The attacker signs in (it knows the password), guesses, asks for new challenges and
    new codes, and waits exactly as long as each refusal says, for a simulated 24 hours."""
    await api.put("/v1/accounts/victim", json={"email": "victim@example.com"})
    await api.put("/v1/accounts/victim/two-step", json={"enabled": True})
    rng = random.Random(7)
    start = clock.now
    guesses = 0  # guesses the service actually checked against a code
    requests = 0
    challenge: str | None = None
    while clock.now - start < DAY:
        if challenge is None:
            requests += 1
            response = await api.post("/v1/logins", json={"account_id": "victim"})
            if response.status_code == 429:
                clock.advance(response.json()["retry_after"])
                continue
            challenge = response.json()["challenge_id"]
        before = await _attempts_left(api, challenge)
        requests += 1
        answer = await api.post(
            f"/v1/challenges/{challenge}/verify", json={"code": f"{rng.randrange(CODE_SPACE):06d}"}
        )
        body: dict[str, Any] = answer.json()
        after = await _attempts_left(api, challenge)
        if before is not None and (after is None or after < before):
            guesses += 1
        if answer.status_code == 200:
            pytest.fail("a random guess got in; the odds of that are one in a million")
        if answer.status_code == 429:
            if body["code"] == "too_many_attempts":
                challenge = None  # this challenge is dead: open another
            clock.advance(body["retry_after"] if body["code"] == "account_locked" else 1)
        else:
            clock.advance(1)
    chance = 1 - (1 - 1 / CODE_SPACE) ** guesses
    print(f"\nbrute force, 24 h: {requests} requests, {guesses} guesses checked, "
          f"chance of success {chance:.2e} (limit 1.00e-04)")  # fmt: skip
    assert guesses > 0
    assert chance < 1e-4


async def _attempts_left(api: httpx.AsyncClient, challenge: str) -> int | None:
    response = await api.get(f"/v1/challenges/{challenge}")
    return int(response.json()["attempts_left"]) if response.status_code == 200 else None
