"""The mail queue seam: publishes "send code" and notice jobs to the workers' broker."""

from __future__ import annotations

from typing import Protocol

from redis.asyncio import Redis

from shared.jobs import (
    CODE_QUEUE,
    NOTICE_QUEUE,
    SEND_CODE_TASK,
    SEND_NOTICE_TASK,
    CodeJob,
    NoticeJob,
    celery_message,
    payload_of,
)

NOTICE_LIFETIME_SECONDS = 86400


class MailQueue(Protocol):
    async def publish_code(self, job: CodeJob) -> None: ...

    async def publish_notice(self, job: NoticeJob) -> None: ...


class BrokerMailQueue:
    """Pushes Celery protocol-2 messages onto the broker's Redis lists, one command each."""

    def __init__(self, broker: Redis) -> None:
        self.broker = broker

    async def publish_code(self, job: CodeJob) -> None:
        message = celery_message(
            SEND_CODE_TASK,
            payload_of(job),
            CODE_QUEUE,
            expires_at=job.expires_at,
            argsrepr=f"({job.describe()})",
        )
        await self.broker.lpush(CODE_QUEUE, message)

    async def publish_notice(self, job: NoticeJob) -> None:
        message = celery_message(
            SEND_NOTICE_TASK,
            payload_of(job),
            NOTICE_QUEUE,
            expires_at=job.occurred_at + NOTICE_LIFETIME_SECONDS,
            argsrepr=f"({job.describe()})",
        )
        await self.broker.lpush(NOTICE_QUEUE, message)
