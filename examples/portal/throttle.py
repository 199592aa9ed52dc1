"""The password step's throttle: per account and per client IP, in Redis, with back-off."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from pathlib import Path

from redis.asyncio import Redis

from examples.portal import keys

LUA = Path(__file__).parent / "lua"


class Throttle:
    """Counts password attempts; past the free ones, each starts a doubling wait.

    The account is keyed by the email typed (known or not), so guessing at an unknown
    address is throttled the same way and tells nothing.
    """

    def __init__(
        self,
        redis: Redis,
        clock: Callable[[], float],
        *,
        free_per_account: int = 5,
        free_per_ip: int = 20,
        longest_wait_seconds: int = 15 * 60,
        window_seconds: int = 15 * 60,
    ) -> None:
        self._attempt = redis.register_script((LUA / "throttle_attempt.lua").read_text())
        self._success = redis.register_script((LUA / "throttle_success.lua").read_text())
        self._clock = clock
        self._args = [free_per_account, free_per_ip, longest_wait_seconds * 1000, window_seconds]

    @staticmethod
    def _keys(email: str, ip: str | None) -> list[str]:
        email_digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        return [keys.throttle_account(email_digest), keys.throttle_ip(ip or "unknown")]

    async def attempt(self, email: str, ip: str | None) -> int:
        """0 when this attempt may be checked (and is counted), else the seconds to wait."""
        now_ms = int(self._clock() * 1000)
        wait_ms = int(await self._attempt(keys=self._keys(email, ip), args=[now_ms, *self._args]))
        return math.ceil(wait_ms / 1000)

    async def succeeded(self, email: str, ip: str | None) -> None:
        await self._success(keys=self._keys(email, ip))
