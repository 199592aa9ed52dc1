"""The mail queue seam: publishes "send code" and notice jobs to the workers' broker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
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
    celery_messages,
    payload_of,
)

NOTICE_LIFETIME_SECONDS = 86400
Clock = Callable[[], float]


def _argsrepr(job: CodeJob | NoticeJob) -> str:
    """What Celery logs and shows of a job's arguments: ids, never the address or the code.
    The request id lets the worker's "received" line, logged before the job is opened, be
    tied to the request (workers/app.py reads it back)."""
    rid = f" request_id={job.request_id}" if job.request_id else ""
    return f"({job.describe()}{rid})"


def backup_delay_seconds(visibility_timeout_seconds: int) -> float:
    """When a job's backup comes due: well after the job itself normally went out, and
    before the broker would hand the held backup to another worker (visibility timeout)."""
    return min(45.0, visibility_timeout_seconds / 2)


class MailQueue(Protocol):
    async def publish_code(self, job: CodeJob) -> None: ...

    async def publish_notice(self, job: NoticeJob) -> None: ...


class BrokerMailQueue:
    """Pushes Celery protocol-2 messages onto the broker's Redis lists, one command each."""

    def __init__(self, broker: Redis, backup_delay_seconds: float, clock: Clock) -> None:
        self.broker = broker
        self.backup_delay_seconds = backup_delay_seconds
        self.clock = clock

    async def publish_code(self, job: CodeJob) -> None:
        """The job, and a backup of it due ``backup_delay_seconds`` later, in one LPUSH.

        Kombu's Redis transport pops a job (BRPOP) before it records it as unacknowledged:
        a worker killed in between loses that job for good. The backup closes that window:
        when it comes due, the send's claim in Redis says whether the email went out
        ("done": dropped at once) or not (then the backup sends it)."""
        job = replace(job, published_at=self.clock())
        payload = payload_of(job)
        argsrepr = _argsrepr(job)
        first, backup = celery_messages(
            SEND_CODE_TASK,
            payload,
            CODE_QUEUE,
            expires_at=job.expires_at,
            copies=[
                (argsrepr, None),
                (f"{argsrepr} backup", self.clock() + self.backup_delay_seconds),
            ],
        )
        # BRPOP takes from the right: the first job is served first.
        await self.broker.lpush(CODE_QUEUE, first, backup)

    async def publish_notice(self, job: NoticeJob) -> None:
        job = replace(job, published_at=self.clock())
        message = celery_message(
            SEND_NOTICE_TASK,
            payload_of(job),
            NOTICE_QUEUE,
            expires_at=job.occurred_at + NOTICE_LIFETIME_SECONDS,
            argsrepr=_argsrepr(job),
        )
        await self.broker.lpush(NOTICE_QUEUE, message)
