"""Accounts and challenges made straight in Redis, with twostep's own store and scripts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from api.store import Store
from shared.keys import AccountKeys

BATCH = 256


def account_id(prefix: str, number: int) -> str:
    return f"{prefix}{number}"


def email_of(account: str) -> str:
    return f"{account}@bench.example"


async def each_number(count: int, one: Callable[[int], Awaitable[None]]) -> None:
    """``one(1)`` .. ``one(count)``, ``BATCH`` at a time."""
    for start in range(1, count + 1, BATCH):
        await asyncio.gather(*(one(n) for n in range(start, min(start + BATCH, count + 1))))


async def create_accounts(redis: Redis, prefix: str, count: int) -> None:
    """Accounts ``<prefix>1`` .. ``<prefix><count>``, each with two-step on."""
    store = Store(redis)
    now = time.time()

    async def one(number: int) -> None:
        account = account_id(prefix, number)
        await store.upsert_profile(account, email_of(account), "en", now)
        await store.set_two_step(account, True, now)

    await each_number(count, one)


async def challenge_ids(redis: Redis, limit: int) -> list[str]:
    """Ids of up to ``limit`` challenges in Redis, rebuilt from their key names."""
    ids: list[str] = []
    async for key in redis.scan_iter(match="twostep:{*}:ch:*", count=1000):
        name = key.decode() if isinstance(key, bytes) else str(key)
        tag = name[name.index("{") + 1 : name.index("}")]
        ids.append(f"ch_{tag}_{name.rsplit(':', 1)[1]}")
        if len(ids) >= limit:
            break
    return ids


def account_keys(account: str) -> list[str]:
    return AccountKeys.of(account).all_fixed()
