"""Drill: the broker's redis-server stopped while workers hold jobs, ten times, under a steady
trickle of logins and security notices. Every email arrives once, and the workers carry on
by themselves (same processes)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from shared.keys import AccountKeys
from tests import smtpserver
from tests.drills.stack import AUTH, Stack, code_mails, report, wait_for_recipients
from tests.processes import start_worker

pytestmark = [pytest.mark.integration, pytest.mark.drill]

REPETITIONS = 10
OUTAGE_SECONDS = 3.0
# Mail accepted 0.3 s after DATA: each email is a job in hand long enough for the broker to
# stop under it, before or after the server's acceptance.
SMTP_ACCEPT_SECONDS = 0.3
RESUME_WITHIN_SECONDS = 5.0


@pytest.fixture
def slow_smtp(monkeypatch: pytest.MonkeyPatch) -> None:
    handle_data: Callable[..., Awaitable[str]] = smtpserver._Handler.handle_DATA

    async def slowly(self: Any, *args: Any) -> str:
        await asyncio.sleep(SMTP_ACCEPT_SECONDS)
        return await handle_data(self, *args)

    monkeypatch.setattr(smtpserver._Handler, "handle_DATA", slowly)


@pytest.fixture
def stack(log_dir: Path, slow_smtp: None) -> Iterator[Stack]:
    # A visibility timeout of 10 s: a job whose ack was lost with the broker comes back soon
    # (and, already sent, sends nothing); its claim (2 x 2 s SMTP timeout + 10 s) is longer.
    built = Stack(log_dir / "broker-loss-drill", broker_visibility_timeout_seconds=10)
    yield built
    built.stop()


@dataclass
class Trickle:
    """Logins (code emails) and two-step switched on (notice emails), one account each."""

    url: str
    logins: list[str]
    notices: list[str]
    accepted: dict[str, float] = field(default_factory=dict)  # address -> when answered
    noticed: set[str] = field(default_factory=set)
    stopped: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, per_second: float = 6.0) -> None:
        async with httpx.AsyncClient(base_url=self.url, headers=AUTH, timeout=5) as client:
            for n, account in enumerate(self.logins):
                if self.stopped.is_set():
                    return
                await self._login(client, account)
                if n % 4 == 0 and self.notices:
                    await self._switch_on(client, self.notices.pop())
                await asyncio.sleep(1 / per_second)

    async def _login(self, client: httpx.AsyncClient, account: str) -> None:
        try:
            response = await client.post("/v1/logins", json={"account_id": account})
        except httpx.TransportError:
            return
        if response.status_code == 201:  # a 503 while Redis is away promises nothing
            self.accepted[f"{account}@example.com"] = time.monotonic()

    async def _switch_on(self, client: httpx.AsyncClient, account: str) -> None:
        try:
            response = await client.put(f"/v1/accounts/{account}/two-step", json={"enabled": True})
        except httpx.TransportError:
            return
        if response.status_code == 200:
            self.noticed.add(f"{account}@example.com")


def seed_two_step_off(stack: Stack, prefix: str, count: int) -> list[str]:
    ids = [f"{prefix}-{n}" for n in range(count)]
    with stack.state() as client, client.pipeline(transaction=False) as pipe:
        for account in ids:
            pipe.hset(
                AccountKeys.of(account).profile,
                mapping={"account_id": account, "email": f"{account}@example.com",
                         "locale": "en", "two_step": "0", "created_at": time.time()},
            )  # fmt: skip
        pipe.execute()
    return ids


async def wait_for_a_held_job(broker: redis.Redis, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not broker.hlen("unacked"):
        assert time.monotonic() < deadline, "no job in hand to lose"
        await asyncio.sleep(0.02)


async def test_workers_survive_the_broker_stopping_with_jobs_in_hand(stack: Stack) -> None:
    stack.workers.append(
        start_worker(stack.env(), stack.logs, "threads")  # as docs/operations.md starts it
    )
    stack.workers.append(start_worker(stack.env(), stack.logs, "solo", "--pool", "solo"))
    pids = [worker.proc.pid for worker in stack.workers]
    url = stack.add_api()
    trickle = Trickle(
        url, stack.seed_accounts("trickle", 1000), seed_two_step_off(stack, "notice", 200)
    )
    load = asyncio.create_task(trickle.run())
    broker = redis.Redis.from_url(stack.settings["broker_url"], socket_timeout=1)
    resumed: list[float] = []
    try:
        for _ in range(REPETITIONS):
            await wait_for_a_held_job(broker)
            stack.redis.stop()
            await asyncio.sleep(OUTAGE_SECONDS)
            stack.redis.restart()
            back = time.monotonic()
            # Resumed: a login answered after Redis came back has its email.
            while True:
                after = {a for a, at in trickle.accepted.items() if at > back}
                if after & {m["To"] for m in code_mails(stack.catcher)}:
                    break
                assert time.monotonic() - back < 20, "no email after the broker came back"
                await asyncio.sleep(0.05)
            resumed.append(round(time.monotonic() - back, 2))
            await asyncio.sleep(1.0)  # jobs flow again before the next outage
    finally:
        trickle.stopped.set()
        await load
        broker.close()
    missing = wait_for_recipients(stack.catcher, set(trickle.accepted), 60)
    # Notices are served after codes: the last ones go out once the trickle has stopped.
    deadline = time.monotonic() + 30
    while notices_missing := trickle.noticed - {m["To"] for m in stack.catcher.messages}:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    per_message = Counter(m["Message-ID"] for m in stack.catcher.messages)
    duplicates = {mid: n for mid, n in per_message.items() if n > 1}
    alive = [worker.proc.poll() is None for worker in stack.workers]
    fatal = sum(worker.logs().count("Unrecoverable error") for worker in stack.workers)
    marks_waited = sum(worker.logs().count("sent mark written after") for worker in stack.workers)
    # Retries the broker could not take, requeued instead of dropped (workers/retry.py).
    requeued = sum(worker.logs().count("reject requeue=True") for worker in stack.workers)
    report("broker stopped with jobs in hand", outages=REPETITIONS,
           code_emails=len(trickle.accepted), delivered=len(code_mails(stack.catcher)),
           notices=len(trickle.noticed), missing=len(missing),
           notices_missing=len(notices_missing), duplicates=len(duplicates),
           resumed_s=resumed, sent_marks_retried=marks_waited, retries_requeued=requeued,
           workers_alive=alive,
           unrecoverable=fatal)  # fmt: skip
    assert fatal == 0
    assert all(alive)
    assert [worker.proc.pid for worker in stack.workers] == pids
    assert len(trickle.accepted) > 100
    assert not missing
    assert not notices_missing
    assert duplicates == {}
    assert max(resumed) <= RESUME_WITHIN_SECONDS
