"""Brute force: what an attacker who knows the password can get out of the API in a day."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pyotp
import pytest

from api import guessing
from shared.settings import Settings
from tests.api_calls import make_settings
from tests.fakes import FakeClock

DAY = 86400
CODE_SPACE = 10**6
# An app code is checked against the codes of three time steps (now, one either side).
APP_STEPS = 3
RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
RECOVERY_SPACE = len(RECOVERY_ALPHABET) ** 16
RECOVERY_CODES = 10
CHANCE = {
    "email": 1 / CODE_SPACE,
    "totp": APP_STEPS / CODE_SPACE,
    "recovery_code": RECOVERY_CODES / RECOVERY_SPACE,
}
# Failures a wrong code counts toward the account lock, as docs/reliability.md states.
WEIGHT = {"email": 1, "totp": APP_STEPS, "recovery_code": 1}

# How the attacker picks the method of its next guess, from the failures it has caused
# since the last account lock (it can count them: each wrong code's weight is documented),
# the lock threshold and the number of its guesses so far.
Strategy = Callable[[int, int, int], str]


def _alternating(fails: int, threshold: int, turn: int) -> str:
    """Email, app and recovery codes in turn, as issue 12 puts it."""
    return ("email", "totp", "recovery_code")[turn % 3]


def _best_mix(fails: int, threshold: int, turn: int) -> str:
    """Single codes while they fit under the lock, then one app code to end the round on
    the guess that tests the most codes."""
    return "totp" if fails >= threshold - 1 else "email"


def _only(method: str) -> Strategy:
    return lambda fails, threshold, turn: method


STRATEGIES: dict[str, Strategy] = {
    "email": _only("email"),
    "totp": _only("totp"),
    "recovery_code": _only("recovery_code"),
    "alternating": _alternating,
    "best_mix": _best_mix,
}


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.mark.parametrize("strategy", list(STRATEGIES))
async def test_a_day_of_guessing_gives_less_than_one_chance_in_ten_thousand(
    api: httpx.AsyncClient, clock: FakeClock, settings: Settings, strategy: str
) -> None:
    """The attacker signs in (it knows the password), guesses email, app or recovery codes,
    asks for new challenges, and waits exactly as long as each refusal says, for a simulated
    24 hours. The victim has two-step, an authenticator app and recovery codes."""
    await _victim(api, clock)
    pick = STRATEGIES[strategy]
    rng = random.Random(7)
    start = clock.now
    checked: Counter[str] = Counter()  # guesses the service actually checked, per method
    requests = turn = fails = 0
    challenge: str | None = None
    while clock.now - start < DAY:
        method = pick(fails, settings.account_lock_threshold, turn)
        if challenge is None:
            requests += 1
            login = {"account_id": "victim", "method": "totp" if method == "totp" else "email"}
            response = await api.post("/v1/logins", json=login)
            if response.status_code == 429:
                if response.json()["code"] == "account_locked":
                    fails = 0  # the lock that ended the round came with a challenge's own
                clock.advance(response.json()["retry_after"])
                continue
            challenge = response.json()["challenge_id"]
        before = await _attempts_left(api, challenge)
        requests += 1
        answer = await api.post(
            f"/v1/challenges/{challenge}/verify",
            json={"code": _guess(rng, method), "method": method},
        )
        body: dict[str, Any] = answer.json()
        after = await _attempts_left(api, challenge)
        if before is not None and (after is None or after < before):
            checked[method] += 1
            fails += WEIGHT[method]
            turn += 1
        if answer.status_code == 200:
            pytest.fail("a random guess got in; the odds of that are a few in a million")
        if answer.status_code == 429 and body["code"] == "account_locked":
            fails = 0
            clock.advance(body["retry_after"])
        elif answer.status_code in (404, 429):
            challenge = None  # locked or expired: open another
            clock.advance(1)
        else:
            clock.advance(1)
    chance = -math.expm1(sum(n * math.log1p(-CHANCE[method]) for method, n in checked.items()))
    bound = guessing.chance_per_day(settings, tuple(checked))
    print(f"\nbrute force, 24 h, {strategy}: {requests} requests, guesses checked "
          f"{dict(checked)}, chance of success {chance:.2e} "
          f"(computed bound {bound:.2e}, limit 1.00e-04)")  # fmt: skip
    assert sum(checked.values()) > 0
    assert chance <= bound * (1 + 1e-9)
    assert chance < 1e-4


async def _victim(api: httpx.AsyncClient, clock: FakeClock) -> None:
    await api.put("/v1/accounts/victim", json={"email": "victim@example.com"})
    await api.put("/v1/accounts/victim/two-step", json={"enabled": True})
    secret = (await api.post("/v1/accounts/victim/totp")).json()["secret"]
    code = pyotp.TOTP(secret).at(int(clock.now))
    response = await api.post("/v1/accounts/victim/totp/confirm", json={"code": code})
    assert response.status_code == 200, response.text
    assert (await api.post("/v1/accounts/victim/recovery-codes")).status_code == 201


def _guess(rng: random.Random, method: str) -> str:
    if method == "recovery_code":
        return "".join(rng.choice(RECOVERY_ALPHABET) for _ in range(16))
    return f"{rng.randrange(CODE_SPACE):06d}"


async def _attempts_left(api: httpx.AsyncClient, challenge: str) -> int | None:
    response = await api.get(f"/v1/challenges/{challenge}")
    return int(response.json()["attempts_left"]) if response.status_code == 200 else None
