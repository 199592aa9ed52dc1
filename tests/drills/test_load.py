"""Load drill: a minute at 70% of the capacity measured a moment before, with several
workers: no errors, one email per send, nothing left in the queue."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from shared.jobs import CODE_BACKUPS, CODE_QUEUE
from tests.drills.stack import AUTH, Stack, code_mails, login_all

pytestmark = [pytest.mark.integration, pytest.mark.drill]

PROBE_LOGINS = 600
LOAD_SECONDS = 60
SHARE = 0.7


def jobs_left(broker_url: str, within: float) -> int:
    """Jobs still queued or in a worker's hands, and backups not yet settled, once they
    drain (the backups come due after their delay, and a sweeper settles them)."""
    deadline = time.monotonic() + within
    with redis.Redis.from_url(broker_url) as queue:
        while (
            left := queue.llen(CODE_QUEUE) + queue.hlen("unacked") + queue.zcard(CODE_BACKUPS)
        ) and (time.monotonic() < deadline):
            time.sleep(0.2)
    return int(left)


@pytest.fixture
def stack(log_dir: Path) -> Iterator[Stack]:
    # Backups of the jobs come due 10 s after them (half the visibility timeout), and are all
    # settled by the end.
    built = Stack(
        log_dir / "load", max_emails_per_hour=10_000, broker_visibility_timeout_seconds=20
    )
    yield built
    built.stop()


async def test_a_minute_at_seventy_percent_of_capacity(stack: Stack) -> None:
    stack.add_worker("worker-a")
    stack.add_worker("worker-b")
    url = stack.add_api()
    accounts = stack.seed_accounts("load", 1000)

    # Capacity: the slower of the API taking logins and the workers mailing them.
    started = time.monotonic()
    probe = await login_all(url, accounts[:PROBE_LOGINS], concurrency=32)
    api_rate = len(probe) / (time.monotonic() - started)
    # Only code emails in this stack (its accounts were seeded without notices): count them.
    while len(stack.catcher.messages) < len(probe):
        assert time.monotonic() - started < 120, "the probe's emails never all arrived"
        await asyncio.sleep(0.05)
    mail_rate = len(probe) / (time.monotonic() - started)
    capacity = min(api_rate, mail_rate)
    rate = SHARE * capacity
    stack.catcher.clear()

    statuses: Counter[int] = Counter()
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=10) as client:

        async def one(account: str) -> None:
            try:
                response = await client.post("/v1/logins", json={"account_id": account})
                statuses[response.status_code] += 1
            except httpx.HTTPError:
                statuses[0] += 1

        pending: set[asyncio.Task[None]] = set()
        begin = time.monotonic()
        sent = 0
        while (elapsed := time.monotonic() - begin) < LOAD_SECONDS:
            due = int(elapsed * rate) + 1
            while sent < due:  # open loop: the schedule does not wait for answers
                task = asyncio.create_task(one(accounts[sent % len(accounts)]))
                pending.add(task)
                task.add_done_callback(pending.discard)
                sent += 1
            await asyncio.sleep(0.005)
        await asyncio.gather(*pending)

    accepted = statuses[201]
    deadline = time.monotonic() + 120
    while len(stack.catcher.messages) < accepted and time.monotonic() < deadline:  # noqa: ASYNC110 - polls another thread's SMTP server
        await asyncio.sleep(0.1)
    mails = code_mails(stack.catcher)
    per_send = Counter(message["Message-ID"] for message in mails)
    left = jobs_left(stack.settings["broker_url"], within=60)
    print(
        f"\n[drill] load: capacity {capacity:.0f}/s (api {api_rate:.0f}/s, mail {mail_rate:.0f}/s),"
        f" {LOAD_SECONDS} s at {rate:.0f}/s: {sent} logins, statuses {dict(statuses)},"
        f" {len(mails)} emails, {sum(n > 1 for n in per_send.values())} sends mailed twice,"
        f" {left} jobs left"
    )
    assert sent >= rate * LOAD_SECONDS * 0.95
    assert statuses == Counter({201: sent})
    assert len(mails) == accepted
    assert set(per_send.values()) == {1}
    assert left == 0
