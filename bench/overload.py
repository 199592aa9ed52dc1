"""The overload stage: three times the workers' email capacity, offered for a minute, with
admission control (TWOSTEP_MAX_MAIL_DELAY_SECONDS) and without it (0), in one run.

One worker sends one email at a time (``--pool solo``) to a sink that takes 20 ms per
message, so its capacity is small and known, and the API (one process) and this client have
cores to spare. Without admission the queue grows for the whole minute and the last codes
wait about two minutes; with it, a code is sent within the bound or the login is told at
once (503 mail_delayed, Retry-After).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from redis.asyncio import Redis

from bench.client import Client, login_body
from bench.mail import percentile
from bench.seed import account_id, create_accounts, email_of
from bench.stack import API_KEY, Stack
from shared.jobs import CODE_BACKUPS, CODE_QUEUE

SINK_MS = 20
OVERLOAD = 3.0


async def _drained(broker: Redis, limit_seconds: float) -> float:
    """Seconds until the code queue is empty (the jobs workers hold are not counted)."""
    started = time.monotonic()
    while await broker.llen(CODE_QUEUE):
        if time.monotonic() - started > limit_seconds:
            raise TimeoutError(f"the code queue did not drain in {limit_seconds:.0f} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def offer(
    stack: Stack, url: str, redis: Redis, broker: Redis, prefix: str, rate: float, seconds: float
) -> dict[str, Any]:
    """Open-loop logins at ``rate``/s for ``seconds``, on fresh accounts; each accepted one
    timed from its scheduled start to the sink's acceptance of its email."""
    assert stack.sink is not None
    count = max(10, round(rate * seconds))
    await create_accounts(redis, prefix, count)
    client = Client(url, API_KEY)
    mark = stack.sink.mark()
    scheduled: dict[str, float] = {}
    statuses: dict[int, int] = {}
    refusals_without_retry_after = 0
    unexpected: list[str] = []

    async def one(account: str, at: float) -> None:
        nonlocal refusals_without_retry_after
        status, body, headers = await client.exchange("POST", "/v1/logins", login_body(account))
        statuses[status] = statuses.get(status, 0) + 1
        if status == 201:
            scheduled[email_of(account)] = at
        elif status == 503 and isinstance(body, dict) and body.get("code") == "mail_delayed":
            if not headers.get("retry-after", "").isdigit():
                refusals_without_retry_after += 1
        else:
            unexpected.append(f"{status} {body}")

    tasks = []
    start = time.monotonic() + 0.05
    try:
        for number in range(1, count + 1):
            at = start + (number - 1) / rate
            if (delay := at - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(account_id(prefix, number), at)))
        await asyncio.gather(*tasks)
    finally:
        await client.close()
    stopped = time.monotonic()
    drain_seconds = await _drained(broker, 600)
    deadline = time.monotonic() + 30
    accepted: dict[str, float] = {}
    while len(accepted) < len(scheduled) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        accepted = {to: at for at, to in stack.sink.since(mark) if to in scheduled}
    delays = [accepted[to] - at for to, at in scheduled.items() if to in accepted]
    return {
        "offered_per_second": round(rate, 1),
        "logins": count,
        "accepted": statuses.get(201, 0),
        "refused_share_percent": round(100 * statuses.get(503, 0) / count, 1),
        "refusals_without_retry_after": refusals_without_retry_after,
        "unexpected_answers": len(unexpected),
        "emails_missing": len(scheduled) - len(accepted),
        "delivery_p50_s": round(percentile(delays, 0.5), 1),
        "delivery_p99_s": round(percentile(delays, 0.99), 1),
        "delivery_max_s": round(max(delays, default=0.0), 1),
        "queue_drained_after_s": round(drain_seconds, 1),
        "offer_seconds": round(stopped - start, 1),
    }


async def capacity(stack: Stack, url: str, redis: Redis, broker: Redis, seconds: float) -> float:
    """The worker's emails per second: a backlog queued at once, then sent as fast as it can."""
    assert stack.sink is not None
    count = max(50, round(seconds * 1000 / SINK_MS))
    await create_accounts(redis, "ovl-cap-", count)
    client = Client(url, API_KEY)
    mark = stack.sink.mark()
    try:
        await asyncio.gather(
            *(client.request("POST", "/v1/logins", login_body(account_id("ovl-cap-", n)))
              for n in range(1, count + 1))
        )  # fmt: skip
    finally:
        await client.close()
    deadline = time.monotonic() + 120
    times: list[float] = []
    while len(times) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        times = sorted(at for at, _to in stack.sink.since(mark))
    if len(times) < 2:
        raise RuntimeError("the worker sent nothing")
    return (len(times) - 1) / (times[-1] - times[0])


async def overload(
    stack: Stack, redis: Redis, broker: Redis, seconds: float, bound: int
) -> dict[str, Any]:
    assert stack.sink is not None
    await broker.delete(CODE_QUEUE, CODE_BACKUPS)
    without, url_without = stack.start_api(1, "api-no-admission", settings={
        "MAX_MAIL_DELAY_SECONDS": "0"})  # fmt: skip
    with_, url_with = stack.start_api(1, "api-admission", settings={
        "MAX_MAIL_DELAY_SECONDS": str(bound)})  # fmt: skip
    stack.sink.set_latency(SINK_MS)
    worker = stack.start_worker("worker-overload", "workers.app", "solo")
    try:
        per_second = await capacity(stack, url_without, redis, broker, max(2.0, seconds / 10))
        rate = OVERLOAD * per_second
        admitted = await offer(stack, url_with, redis, broker, "ovl-on-", rate, seconds)
        plain = await offer(stack, url_without, redis, broker, "ovl-off-", rate, seconds)
    finally:
        stack.sink.set_latency(0)
        for process in (worker, with_, without):
            stack.stop(process)
    return {
        "capacity_emails_per_second": round(per_second, 1),
        "bound_seconds": bound,
        "seconds": seconds,
        "with_admission": admitted,
        "without_admission": plain,
    }
