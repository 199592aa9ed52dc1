"""StoreClock: the local clock set to the state store's, and kept so through an outage."""

from __future__ import annotations

import asyncio
from typing import Any

import fakeredis
import pytest

from shared.clock import RESYNC_SECONDS, StoreClock, keep_in_step


class Store:
    """Answers the time script with a clock of its own; can be made to fail."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.failing = False

    async def eval(self, script: str, numkeys: int, *keys_and_args: Any) -> list[int]:
        if self.failing:
            raise ConnectionError("away")
        return [int(self.now), round((self.now % 1) * 1_000_000)]


async def test_the_clock_runs_on_the_stores_time_from_its_first_reading() -> None:
    local = iter([1000.0, 1000.2, 1500.0])  # before, after the reading; then a call
    clock = StoreClock(local=lambda: next(local))
    await clock.sync(Store(now=1030.1))
    assert clock.synced
    assert clock() == pytest.approx(1530.0)  # 30 s ahead of this machine, as the store is


async def test_the_time_script_runs_on_real_lua() -> None:
    client = fakeredis.FakeAsyncRedis()
    clock = StoreClock()
    await clock.sync(client)
    assert abs(clock.offset) < 1
    await client.aclose()


async def test_an_outage_keeps_the_last_offset_and_the_next_reading_comes_a_second_later() -> None:
    store = Store(now=2000.0)
    clock = StoreClock(local=lambda: 1990.0)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        store.failing = len(waits) == 1  # the first reading after start fails
        if len(waits) == 3:
            raise asyncio.CancelledError

    await clock.sync(store)
    with pytest.raises(asyncio.CancelledError):
        await keep_in_step(clock, store, sleep)
    assert waits == [RESYNC_SECONDS, 1.0, RESYNC_SECONDS]
    assert clock.offset == pytest.approx(10.0)


class SyncStore:
    """The time script's answers for a worker's (blocking) client."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.readings = 0
        self.failing = False

    def eval(self, script: str, numkeys: int, *keys_and_args: Any) -> list[int]:
        self.readings += 1
        if self.failing:
            raise ConnectionError("away")
        return [int(self.now), 0]


def test_a_workers_clock_reads_the_store_once_a_minute_and_a_second_after_a_failure() -> None:
    local = [5000.0]
    clock = StoreClock(local=lambda: local[0])
    store = SyncStore(now=5020.0)
    clock.refresh_blocking(store)  # the first job reads it
    assert (store.readings, clock()) == (1, 5020.0)
    local[0] += RESYNC_SECONDS - 1
    clock.refresh_blocking(store)
    assert store.readings == 1
    local[0] += 1
    store.failing = True
    clock.refresh_blocking(store)
    assert (store.readings, clock.offset) == (2, 20.0)  # the last offset holds
    clock.refresh_blocking(store)
    assert store.readings == 2
    local[0] += 1
    store.failing = False
    clock.refresh_blocking(store)
    assert store.readings == 3


def test_the_worker_runtime_and_the_backup_sweeper_run_on_the_stores_clock() -> None:
    from tests.api_calls import make_settings
    from workers.backups import BackupSweeper
    from workers.metrics import WorkerMetrics
    from workers.runtime import Runtime

    runtime = Runtime.build(make_settings(), WorkerMetrics())
    assert isinstance(runtime.clock, StoreClock)
    state = fakeredis.FakeRedis()
    clock = StoreClock(local=lambda: 0.0)  # a machine clock far off
    BackupSweeper(fakeredis.FakeRedis(), state, 45.0, clock=clock).sweep()
    assert clock.synced
    assert clock.offset > 1_700_000_000  # the due times it compares are the store's time
