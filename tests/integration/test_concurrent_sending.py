"""One worker process, as docs/operations.md starts it, behind a mail server that takes its
time (0.2 s per message, where real providers take 50-200 ms): it sends on many SMTP sessions
at once, and still sends each email once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio

from api.main import create_app
from api.store import Store
from shared.jobs import CODE_QUEUE
from shared.settings import Settings
from tests.api_calls import make_settings
from tests.integration.flow import BROKER_DB, STATE_DB, running
from tests.processes import RedisServer, service_env, start_worker
from tests.smtpserver import MailCatcher

pytestmark = pytest.mark.integration

EMAILS = 300
DELAY_SECONDS = 0.2
# The worker's own concurrency: as many threads, each with its SMTP session.
SESSIONS = int(Settings.model_fields["smtp_max_sessions"].default)


@pytest.fixture
def slow_mail_server() -> Iterator[MailCatcher]:
    with MailCatcher(pipelining=True) as server:
        server.delay_seconds = DELAY_SECONDS
        yield server


async def _queue_code_emails(server: RedisServer) -> None:
    """EMAILS logins, each queuing a code email, with no worker running yet."""
    settings = make_settings(
        redis_url=server.url(STATE_DB), broker_url=server.url(BROKER_DB), resend_cooldown_seconds=0
    )
    state = redis.asyncio.Redis.from_url(server.url(STATE_DB), decode_responses=True)
    store = Store(state)
    now = time.time()
    try:
        for n in range(EMAILS):
            # Straight in the store: turning two-step on through the API would mail a notice.
            await store.upsert_profile(f"slow-{n}", f"slow-{n}@example.com", "en", now)
            await store.set_two_step(f"slow-{n}", True, now)
    finally:
        await state.aclose()
    async with running(create_app(settings)) as api:
        for n in range(EMAILS):
            response = await api.post("/v1/logins", json={"account_id": f"slow-{n}"})
            assert response.status_code == 201, response.text


async def test_one_worker_process_sends_many_emails_at_once_each_once(
    clean_redis: RedisServer, slow_mail_server: MailCatcher, log_dir: Path
) -> None:
    await _queue_code_emails(clean_redis)
    with redis.Redis.from_url(clean_redis.url(BROKER_DB)) as broker:
        assert broker.llen(CODE_QUEUE) == EMAILS
    env = service_env(
        redis_url=clean_redis.url(STATE_DB),
        broker_url=clean_redis.url(BROKER_DB),
        smtp_host=slow_mail_server.host,
        smtp_port=slow_mail_server.port,
        mail_rate_per_second=10_000,
    )
    worker = start_worker(env, log_dir, "worker-slow-provider")
    try:
        messages = slow_mail_server.wait_for(EMAILS, timeout=120)
        await asyncio.sleep(2 * DELAY_SECONDS)  # room for a second copy of any, seen below
        messages = slow_mail_server.wait_for(EMAILS)
        accepted = list(slow_mail_server.accepted_at)
    finally:
        worker.stop()
    recipients = Counter(str(message["To"]) for message in messages)
    assert len(recipients) == EMAILS
    assert set(recipients.values()) == {1}, "an email was sent twice"
    assert len({str(message["Message-ID"]) for message in messages}) == EMAILS
    # From the first acceptance back to when its send began, to the last acceptance.
    seconds = accepted[-1] - accepted[0] + DELAY_SECONDS
    one_at_a_time = EMAILS * DELAY_SECONDS
    assert seconds <= one_at_a_time / (SESSIONS / 2), (
        f"{EMAILS} emails took {seconds:.1f} s; one at a time would take {one_at_a_time:.0f} s"
    )
    assert slow_mail_server.connections <= SESSIONS  # sessions are kept and reused


async def test_codes_waiting_go_out_before_notices_that_waited_longer(
    clean_redis: RedisServer, slow_mail_server: MailCatcher, log_dir: Path
) -> None:
    """Many sends at once must not mean any order: with notices queued first and code emails
    after, every code email is sent before the first notice."""
    settings = make_settings(
        redis_url=clean_redis.url(STATE_DB), broker_url=clean_redis.url(BROKER_DB)
    )
    accounts = 40
    async with running(create_app(settings)) as api:
        for n in range(accounts):  # each turns two-step on: a notice queued
            account = f"/v1/accounts/order-{n}"
            assert (await api.put(account, json={"email": f"order-{n}@example.com"})).is_success
            assert (await api.put(f"{account}/two-step", json={"enabled": True})).is_success
        for n in range(accounts):  # then a code email each
            response = await api.post("/v1/logins", json={"account_id": f"order-{n}"})
            assert response.status_code == 201, response.text
    env = service_env(
        redis_url=clean_redis.url(STATE_DB),
        broker_url=clean_redis.url(BROKER_DB),
        smtp_host=slow_mail_server.host,
        smtp_port=slow_mail_server.port,
        mail_rate_per_second=10_000,
        smtp_max_sessions=8,
    )
    worker = start_worker(env, log_dir, "worker-order")
    try:
        messages = slow_mail_server.wait_for(2 * accounts, timeout=60)
    finally:
        worker.stop()
    kinds = ["code" if "verification code" in str(m["Subject"]) else "notice" for m in messages]
    assert kinds == ["code"] * accounts + ["notice"] * accounts
