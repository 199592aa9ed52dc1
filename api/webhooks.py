"""Tells the workers that an account has new audit events for the webhook."""

from __future__ import annotations

import uuid
from typing import Protocol

from redis.asyncio import Redis

from shared.jobs import celery_message
from shared.webhooks import DELIVER_WEBHOOKS_TASK, WEBHOOK_QUEUE

# A webhook event is retried for a day, like a security notice.
WEBHOOK_LIFETIME_SECONDS = 86400


class Announcer(Protocol):
    async def announce(self, tag: str, now: float) -> None: ...


class WebhookQueue:
    """One small job per audited change: "account <tag> has news". The worker that runs it
    reads the account's audit stream from its webhook cursor, so the events themselves are
    never copied onto the broker."""

    def __init__(self, broker: Redis) -> None:
        self.broker = broker

    async def announce(self, tag: str, now: float) -> None:
        message = celery_message(
            DELIVER_WEBHOOKS_TASK,
            {"tag": tag, "published_at": now, "job": uuid.uuid4().hex},
            WEBHOOK_QUEUE,
            expires_at=now + WEBHOOK_LIFETIME_SECONDS,
            argsrepr=f"(account={tag[:8]})",
        )
        await self.broker.lpush(WEBHOOK_QUEUE, message)
