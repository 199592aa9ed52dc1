"""Redis work per operation: round trips and commands at the wire, and ``INFO commandstats``."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from redis.asyncio import Redis

from bench.client import Client, login_body
from bench.proxy import RoundTripProxy
from bench.seed import account_id
from bench.stack import API_KEY, Stack
from shared.jobs import CODE_QUEUE
from shared.keys import MAIL_BUCKET

WARM_UP = 50
ADMISSION_READS = frozenset({("llen", CODE_QUEUE), ("lindex", CODE_QUEUE), ("hmget", MAIL_BUCKET)})


async def commandstats(redis: Redis) -> Counter[str]:
    """Calls per command since the server started; the harness's own INFO calls left out."""
    stats: dict[str, Any] = await redis.info("commandstats")
    return Counter(
        {
            name.removeprefix("cmdstat_"): int(value["calls"])
            for name, value in stats.items()
            if name != "cmdstat_info"
        }
    )


def _per_op(counter: Counter[str], ops: int) -> dict[str, float]:
    return {name: round(n / ops, 2) for name, n in sorted(counter.items()) if n}


async def measure(
    stack: Stack, redis: Redis, prefix: str, accounts: int, ops: int
) -> dict[str, Any]:
    """``ops`` logins then ``ops`` wrong-code verifies, one at a time, through an API whose
    Redis connections (state and broker) go through the counting proxy."""
    # The admission's read of the mail queue, four times a second from each API process
    # (api/admission.py): not a request's work.
    proxy = RoundTripProxy(stack.redis_port, ADMISSION_READS)
    await proxy.start()
    # The proxy answers on this loop, so the API starts from a thread.
    api, url = await asyncio.to_thread(stack.start_api, 1, "api-roundtrips", proxy.port)
    client = Client(url, API_KEY)
    try:
        ids: list[str] = []

        async def login(number: int) -> None:
            status, body = await client.request(
                "POST", "/v1/logins", login_body(account_id(prefix, number % accounts + 1))
            )
            if status != 201:
                raise RuntimeError(f"login answered {status}: {body}")
            ids.append(body["challenge_id"])

        async def verify(challenge_id: str) -> None:
            path = f"/v1/challenges/{challenge_id}/verify"
            status, body = await client.request("POST", path, {"code": "000000"})
            if status != 400:
                raise RuntimeError(f"verify answered {status}: {body}")

        for number in range(WARM_UP):
            await login(number)
        for challenge_id in ids[:WARM_UP]:
            await verify(challenge_id)
        result: dict[str, Any] = {"ops": ops}
        for name in ("login", "verify"):
            proxy.reset()
            before = await commandstats(redis)
            if name == "login":
                for number in range(WARM_UP, WARM_UP + ops):
                    await login(number)
            else:
                for challenge_id in ids[WARM_UP : WARM_UP + ops]:
                    await verify(challenge_id)
            executed = await commandstats(redis) - before
            result[name] = {
                "round_trips": round(proxy.round_trips / ops, 2),
                "background_round_trips": round(proxy.background_round_trips / ops, 2),
                "client_commands": _per_op(proxy.commands, ops),
                "client_commands_total": round(sum(proxy.commands.values()) / ops, 2),
                "executed_commands": _per_op(executed, ops),
                "executed_commands_total": round(sum(executed.values()) / ops, 2),
            }
        return result
    finally:
        await client.close()
        stack.stop(api)
        await proxy.close()
