"""The mail stages: Celery's no-op rate, the workers' email rate, smtplib's, and end to end."""

from __future__ import annotations

import asyncio
import email.policy
import smtplib
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import httpx
from redis.asyncio import Redis

from bench.client import Client, login_body, run_logins
from bench.seed import account_id, create_accounts, email_of
from bench.stack import Process, Stack, tree_rss_bytes
from shared.jobs import CODE_BACKUPS, CODE_QUEUE, celery_message
from shared.settings import DEFAULT_TEMPLATES_DIR
from workers.render import Renderer

NOOP_TASK = "bench.noop"  # the task of bench/noop_app.py
HOLD_QUEUE = "bench.hold"
UNACKED = "unacked"  # kombu's Redis transport: messages delivered and not yet acknowledged
PAYLOAD: dict[str, object] = {
    "challenge_id": "ch_" + "0" * 32 + "_" + "A" * 22,
    "send_no": 1,
    "to": "someone@bench.example",
    "locale": "en",
    "sealed_code": "A" * 60,
    "expires_at": 0.0,
    "client_ip": "203.0.113.9",
    "client_label": "Firefox on Linux",
}


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values`` (any order); 0 when there are none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


async def _drained(broker: Redis, limit_seconds: float) -> None:
    deadline = time.monotonic() + limit_seconds
    while await broker.llen(CODE_QUEUE) or await broker.hlen(UNACKED):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the queue did not drain within {limit_seconds:.0f} s")
        await asyncio.sleep(0.005)


async def noop_rate(stack: Stack, broker: Redis, count: int, pool: str) -> dict[str, Any]:
    """One ``bench.noop_app`` worker drains ``count`` no-op tasks with a code job's payload."""
    worker = await asyncio.to_thread(stack.start_worker, "worker-noop", "bench.noop_app", pool)
    try:
        payload = {**PAYLOAD, "expires_at": time.time() + 900}
        messages = [
            celery_message(
                NOOP_TASK, payload, CODE_QUEUE, expires_at=time.time() + 900, argsrepr=""
            )
            for _ in range(count)
        ]
        started = time.monotonic()
        for at in range(0, count, 1000):
            await broker.lpush(CODE_QUEUE, *messages[at : at + 1000])
        await _drained(broker, 30 + count / 20)
        seconds = time.monotonic() - started
    finally:
        await asyncio.to_thread(stack.stop, worker)
    return {
        "tasks": count,
        "seconds": round(seconds, 3),
        "tasks_per_second": round(count / seconds, 1),
    }


async def worker_rate(
    stack: Stack, client: Client, redis: Redis, broker: Redis, count: int, workers: int, pool: str
) -> tuple[dict[str, Any], list[Process]]:
    """The workers send ``count`` code emails queued by logins before they started."""
    assert stack.sink is not None
    await broker.delete(CODE_QUEUE, HOLD_QUEUE, CODE_BACKUPS)
    await create_accounts(redis, "mail-", count)
    failures = await run_logins(client, (account_id("mail-", n) for n in range(1, count + 1)))
    # One broker message per code email; its backup waits beside the queue (api/mailqueue.py)
    # and comes due long after the stage.
    messages = int(await broker.llen(CODE_QUEUE))
    queued = count - failures
    # Hide the burst while the workers start, then hand it over at once.
    await broker.rename(CODE_QUEUE, HOLD_QUEUE)
    processes = [
        await asyncio.to_thread(stack.start_worker, f"worker-{n}", "workers.app", pool)
        for n in range(workers)
    ]
    mark = stack.sink.mark()
    await broker.rename(HOLD_QUEUE, CODE_QUEUE)
    deadline = time.monotonic() + 30 + queued / 10
    records = stack.sink.since(mark)
    rss = 0
    while len(records) < queued and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        rss = max(rss, sum(tree_rss_bytes(process.pid) for process in processes))
        records = stack.sink.since(mark)
    times = sorted(at for at, _ in records)
    seconds = times[-1] - times[0] if len(times) > 1 else 0.0
    rate = (len(times) - 1) / seconds if seconds else 0.0
    recipients = [to for _, to in records]
    return {
        "workers": workers,
        "pool": pool,
        "emails_queued": queued,
        "broker_messages": messages,
        "emails_accepted": len(records),
        "duplicates": len(recipients) - len(set(recipients)),
        "login_failures": failures,
        "seconds": round(seconds, 3),
        "emails_per_second": round(rate, 1),
        "emails_per_second_per_worker": round(rate / workers, 1),
        "peak_rss_mib_per_worker": round(rss / workers / 2**20, 1),
    }, processes


# Provider latencies the workers stage sends at (ms: fixed, or a range drawn per message).
LATENCIES = (("0 ms", 0, 0), ("20 ms", 20, 20), ("100 ms", 100, 100), ("200 ms", 200, 200),
             ("50-200 ms", 50, 200))  # fmt: skip


async def latency_rates(
    stack: Stack, client: Client, redis: Redis, broker: Redis, count: int, pool: str
) -> dict[str, Any]:
    """One worker process, as docs/operations.md starts it, sending ``count`` queued code
    emails behind each provider latency: emails/s and its peak RSS."""
    assert stack.sink is not None
    found: dict[str, Any] = {}
    try:
        for label, low, high in LATENCIES:
            stack.sink.set_latency(low, high)
            row, processes = await worker_rate(stack, client, redis, broker, count, 1, pool)
            for process in processes:
                await asyncio.to_thread(stack.stop, process)
            found[label] = row
    finally:
        stack.sink.set_latency(0)
    return found


async def baseline(
    stack: Stack, redis: Redis, latency_ms: float, seconds: float, lanes: int = 64
) -> dict[str, Any]:
    """bench/baseline_app.py (the email sent inside the request, four sync gunicorn workers)
    under ``lanes`` clients at once for ``seconds``: emails/s and the login's own time."""
    assert stack.sink is not None
    await create_accounts(redis, "base-", 5000)
    process, url = await asyncio.to_thread(stack.start_baseline)
    stack.sink.set_latency(latency_ms)
    times: list[float] = []
    failures = 0
    numbers = iter(range(1, 10**9))
    try:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            stop_at = time.monotonic() + seconds

            async def lane() -> None:
                nonlocal failures
                while time.monotonic() < stop_at:
                    account = account_id("base-", next(numbers) % 5000 + 1)
                    started = time.monotonic()
                    # A new connection each time: gunicorn's sync workers close every one.
                    response = await http.post(
                        "/v1/logins", json=login_body(account), headers={"Connection": "close"}
                    )
                    times.append(time.monotonic() - started)
                    failures += response.status_code != 201

            started = time.monotonic()
            await asyncio.gather(*(lane() for _ in range(lanes)))
            elapsed = time.monotonic() - started
    finally:
        stack.sink.set_latency(0)
        await asyncio.to_thread(stack.stop, process)
    sent = len(times) - failures
    return {
        "server": "gunicorn, 4 sync workers, the email sent inside the request",
        "latency_ms": latency_ms,
        "clients": lanes,
        "logins": len(times),
        "login_failures": failures,
        "emails_per_second": round(sent / elapsed, 1),
        "login_p50_ms": round(1000 * percentile(times, 0.5), 1),
        "login_p99_ms": round(1000 * percentile(times, 0.99), 1),
    }


def smtplib_rate(port: int, count: int) -> dict[str, Any]:
    """A real code email, built once, sent ``count`` times over one smtplib connection."""
    context = {
        "code": "123456",
        "expires_at": datetime.now(UTC),
        "ttl_minutes": 15,
        "client_ip": "203.0.113.9",
        "client_label": "Firefox on Linux",
        "to": "someone@bench.example",
    }
    rendered = Renderer(DEFAULT_TEMPLATES_DIR).render("code", "en", context)
    # Built with the standard library, once: this loop measures SMTP, not message building.
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = "twostep <no-reply@localhost>"
    message["To"] = "someone@bench.example"
    message["Subject"] = rendered.subject
    message["Message-ID"] = "<bench.1@localhost>"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    raw = message.as_bytes()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as connection:
        started = time.monotonic()
        for _ in range(count):
            connection.sendmail("no-reply@localhost", ["someone@bench.example"], raw)
        seconds = time.monotonic() - started
    return {
        "emails": count,
        "bytes_per_email": len(raw),
        "emails_per_second": round(count / seconds, 1),
    }


async def end_to_end(
    stack: Stack, client: Client, redis: Redis, rate: float, seconds: float
) -> dict[str, Any]:
    """Open-loop logins at ``rate``/s on fresh accounts; each from its scheduled start to the
    sink's acceptance of its email (so a late send is never hidden by a late request)."""
    assert stack.sink is not None
    count = max(10, round(rate * seconds))
    await create_accounts(redis, "e2e-", count)
    mark = stack.sink.mark()
    scheduled: dict[str, float] = {}
    http_ms: list[float] = []
    failures = 0

    async def one(account: str, at: float) -> None:
        nonlocal failures
        status, _ = await client.request("POST", "/v1/logins", login_body(account))
        http_ms.append((time.monotonic() - at) * 1000)
        failures += status != 201

    tasks = []
    start = time.monotonic() + 0.05
    for number in range(1, count + 1):
        account = account_id("e2e-", number)
        at = start + (number - 1) / rate
        if (delay := at - time.monotonic()) > 0:
            await asyncio.sleep(delay)
        scheduled[email_of(account)] = at
        tasks.append(asyncio.create_task(one(account, at)))
    await asyncio.gather(*tasks)
    deadline = time.monotonic() + 30
    accepted: dict[str, float] = {}
    while len(accepted) < count - failures and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        accepted = {to: at for at, to in stack.sink.since(mark) if to in scheduled}
    latencies = [(accepted[to] - at) * 1000 for to, at in scheduled.items() if to in accepted]
    times = sorted(accepted.values())
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    return {
        "emails_per_second": round((len(times) - 1) / span, 1) if span else 0.0,
        "rate_per_second": round(rate, 1),
        "logins": count,
        "login_failures": failures,
        "emails_missing": count - failures - len(accepted),
        "login_p50_ms": round(percentile(http_ms, 0.5), 2),
        "login_p99_ms": round(percentile(http_ms, 0.99), 2),
        "p50_ms": round(percentile(latencies, 0.5), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "max_ms": round(max(latencies, default=0.0), 2),
    }
