"""Webhooks end to end: the API publishes, a real Celery worker reads the audit stream and
POSTs each event, signed, to a real HTTP receiver on loopback; a refusal is retried."""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.webhooks import SIGNATURE_HEADER, verify_signature
from tests.integration.flow import code_in
from tests.processes import Process, RedisServer, service_env, start_worker
from tests.smtpserver import MailCatcher, text_part
from tests.webhookreceiver import Receiver

pytestmark = pytest.mark.integration

STATE_DB = 0
WEBHOOK_BROKER_DB = 5  # this test's own worker listens here, with the webhook configured
SECRET = "h" * 40


@pytest.fixture
def live_settings(receiver: Receiver) -> dict[str, Any]:
    return {
        "broker_db": WEBHOOK_BROKER_DB,
        "webhook_url": receiver.url,
        "webhook_secret": SECRET,
    }


@pytest.fixture
def hook_worker(
    redis_server: RedisServer, catcher: MailCatcher, receiver: Receiver, log_dir: Path
) -> Iterator[Process]:
    env = service_env(
        redis_url=redis_server.url(STATE_DB),
        broker_url=redis_server.url(WEBHOOK_BROKER_DB),
        smtp_host=catcher.host,
        smtp_port=catcher.port,
        mail_rate_per_second=1000,
        webhook_url=receiver.url,
        webhook_secret=SECRET,
    )
    process = start_worker(env, log_dir, "hooks")
    yield process
    process.stop()


def is_code_email(message: EmailMessage) -> bool:
    lines = text_part(message).splitlines()
    return any(len(line) == 6 and line.isdigit() for line in lines)


def wait_for(receiver: Receiver, count: int, seconds: float = 20) -> list[dict[str, Any]]:
    deadline = time.monotonic() + seconds
    while len(receiver.received) < count:
        assert time.monotonic() < deadline, f"{len(receiver.received)} of {count} webhooks"
        time.sleep(0.02)
    return receiver.documents()


async def test_a_login_reaches_the_webhook_signed_and_in_order(
    hook_worker: Process, live_api: httpx.AsyncClient, mailbox: MailCatcher, receiver: Receiver
) -> None:
    await live_api.put("/v1/accounts/u-hook", json={"email": "hook@example.com"})
    await live_api.put("/v1/accounts/u-hook/two-step", json={"enabled": True})
    started = await live_api.post(
        "/v1/logins",
        json={"account_id": "u-hook", "client": {"ip": "203.0.113.7"}},
        headers={"X-Request-ID": "req-hook-1"},
    )
    challenge_id = started.json()["challenge_id"]
    # Two emails: the notice of turning two-step on, and the code (in either order).
    code = code_in(next(m for m in mailbox.wait_for(2) if is_code_email(m)))
    receiver.statuses = [503]  # the first delivery attempt of the next batch is refused
    verified = await live_api.post(
        f"/v1/challenges/{challenge_id}/verify", json={"code": code, "remember_browser": True}
    )
    assert verified.status_code == 200, verified.text

    documents = wait_for(receiver, 5, seconds=30)
    delivered = [doc for doc in documents if doc["type"]]
    # Each event once in order, except the refused one, which comes again after its retry.
    unique = list(dict.fromkeys(doc["id"] for doc in delivered))
    by_id = {doc["id"]: doc for doc in delivered}
    assert [by_id[event_id]["type"] for event_id in unique] == [
        "two_step_enabled",
        "challenge_issued",
        "verified",
        "trusted_browser_added",
    ]
    assert len(delivered) == 5
    issued = by_id[unique[1]]
    assert issued["account_id"] == "u-hook"
    assert issued["client_ip"] == "203.0.113.7"
    assert issued["request_id"] == "req-hook-1"
    assert issued["details"] == {"challenge_id": challenge_id, "method": "email"}
    for headers, body in receiver.received:
        assert verify_signature(SECRET, headers[SIGNATURE_HEADER], body, now=time.time())
    for secret in (code, verified.json()["trusted_browser"]["token"]):
        assert all(secret.encode() not in body for _headers, body in receiver.received)
