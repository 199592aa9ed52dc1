"""One clock for every process: the local clock, set to the state store's.

Locks, cooldowns, expiries and the backups' due times are all reckoned from the ``now`` a
process hands its scripts. Taken from each machine's own clock, two API replicas whose clocks
disagree by 30 s would shorten or lengthen each other's locks by 30 s. So each process reads
the time of one Redis (``TIME``, in a script on one fixed key, so that every process of a
Cluster asks the same master) at start and every minute after, and runs on its local clock
plus the difference. A reading is off by at most half its round trip, and a local clock drifts
by well under a millisecond a minute, so processes agree to within a few milliseconds, however
far apart their machines' clocks are. The hot path still reads only the local clock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from shared.keys import CLOCK

Clock = Callable[[], float]

# The state store's time in seconds, as TIME gives it (seconds, microseconds). A script on a
# key, not a bare TIME: on a Cluster every process must read the same node's clock.
TIME_SCRIPT = "local t = redis.call('TIME') return {t[1], t[2]}"
RESYNC_SECONDS = 60.0
log = logging.getLogger("twostep.clock")


class _AsyncEval(Protocol):
    def eval(self, script: str, numkeys: int, *keys_and_args: Any) -> Awaitable[Any]: ...


class _SyncEval(Protocol):
    def eval(self, script: str, numkeys: int, *keys_and_args: Any) -> Any: ...


def _seconds(reply: Any) -> float:
    seconds, micros = reply
    return int(seconds) + int(micros) / 1_000_000


class StoreClock:
    """A callable clock: ``local()`` plus the offset last measured against the state store.

    Until the first reading it is the local clock (a process that starts while Redis is away
    cannot use Redis anyway)."""

    def __init__(self, local: Clock = time.time) -> None:
        self.local = local
        self.offset = 0.0
        self.synced = False
        self.next_reading_at = 0.0  # local time; for refresh_blocking

    def __call__(self) -> float:
        return self.local() + self.offset

    def _adopt(self, before: float, server: float, after: float) -> None:
        # The server read its clock somewhere between our two readings: assume the middle.
        self.offset = server - (before + after) / 2
        self.synced = True
        self.next_reading_at = after + RESYNC_SECONDS

    async def sync(self, redis: _AsyncEval) -> None:
        before = self.local()
        reply = await redis.eval(TIME_SCRIPT, 1, CLOCK)
        self._adopt(before, _seconds(reply), self.local())

    def sync_blocking(self, redis: _SyncEval) -> None:
        before = self.local()
        reply = redis.eval(TIME_SCRIPT, 1, CLOCK)
        self._adopt(before, _seconds(reply), self.local())

    def refresh_blocking(self, redis: _SyncEval) -> None:
        """For a worker, which has no event loop to keep it in step: a new reading when the
        last is a minute old; a failure is logged, keeps the offset and is tried again a
        second later (the caller's own Redis call will fail and say so)."""
        if self.local() < self.next_reading_at:
            return
        try:
            self.sync_blocking(redis)
        except Exception as exc:  # any failure of the reading, logged by its kind
            log.warning("could not read the state store's time: %s", type(exc).__name__)
            self.next_reading_at = self.local() + 1.0


async def sync_or_log(clock: StoreClock, redis: _AsyncEval) -> bool:
    """One reading; a failure keeps the last offset (the clock must outlive an outage)."""
    try:
        await clock.sync(redis)
    except Exception as exc:  # any failure of the reading, logged by its kind
        log.warning("could not read the state store's time: %s", type(exc).__name__)
        return False
    return True


async def keep_in_step(
    clock: StoreClock, redis: _AsyncEval, sleep: Callable[[float], Awaitable[None]]
) -> None:
    """A new reading every ``RESYNC_SECONDS`` until cancelled, every second after a failure."""
    synced = True
    while True:
        await sleep(RESYNC_SECONDS if synced else 1.0)
        synced = await sync_or_log(clock, redis)
