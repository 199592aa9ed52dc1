"""The mail queue seam: publishes "send code" and notice jobs to the workers' broker."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Protocol

from redis.asyncio import Redis

from api.muxredis import MuxRedis
from api.store import InLoginJob
from shared.clock import Clock
from shared.jobs import (
    CODE_BACKUPS,
    CODE_QUEUE,
    NOTICE_LIFETIME_SECONDS,
    NOTICE_QUEUE,
    SEND_CODE_TASK,
    SEND_NOTICE_TASK,
    CodeJob,
    NoticeJob,
    argsrepr_of,
    celery_message,
    payload_of,
)
from shared.runner import AsyncRunner
from shared.scripts import SCRIPTS


class MailQueue(Protocol):
    async def publish_code(self, job: CodeJob) -> None: ...

    async def publish_notice(self, job: NoticeJob) -> None: ...


CODE_PUBLISH = SCRIPTS["code_publish"]


class BrokerMailQueue:
    """Pushes Celery protocol-2 messages onto the broker's Redis lists, one command each."""

    def __init__(
        self,
        broker: Redis,
        backup_delay_seconds: float,
        clock: Clock,
        scripts_client: MuxRedis | None = None,
    ) -> None:
        self.broker = broker
        self.backup_delay_seconds = backup_delay_seconds
        self.clock = clock
        # The code-job publish goes through the multiplexed connection when there is one.
        self.scripts = AsyncRunner(broker, mux=scripts_client)

    def prepare_code(self, job: CodeJob) -> tuple[str, str, str]:
        """A code job as it goes to the broker: its Celery message, when its backup comes
        due, and its payload (JSON), which is the backup."""
        now = self.clock()
        fields = payload_of(job)
        fields["published_at"] = now
        payload = json.dumps(fields)
        message = celery_message(
            SEND_CODE_TASK,
            payload,
            CODE_QUEUE,
            expires_at=job.expires_at,
            argsrepr=argsrepr_of(job),
        )
        return message.decode("ascii"), f"{now + self.backup_delay_seconds:.3f}", payload

    async def publish_code(self, job: CodeJob) -> None:
        """The job, and its backup due ``backup_delay_seconds`` later, in one command.

        Kombu's Redis transport pops a job (BRPOP) before it records it as unacknowledged:
        a worker killed in between loses that job for good. The backup closes that window:
        it waits in a sorted set beside the queue, and when it comes due a worker's sweeper
        (workers/backups.py) looks at the send's state in Redis and pushes the job again only
        if its email has not gone out."""
        message, due, payload = self.prepare_code(job)
        await self.scripts.run(
            CODE_PUBLISH,
            {"queue": CODE_QUEUE, "backups": CODE_BACKUPS},
            {"message": message, "due": due, "payload": payload},
        )

    async def publish_notice(self, job: NoticeJob) -> None:
        job = replace(job, published_at=self.clock())
        message = celery_message(
            SEND_NOTICE_TASK,
            payload_of(job),
            NOTICE_QUEUE,
            expires_at=job.occurred_at + NOTICE_LIFETIME_SECONDS,
            argsrepr=argsrepr_of(job),
        )
        await self.broker.lpush(NOTICE_QUEUE, message)


@dataclass(frozen=True, slots=True)
class InLoginPublish:
    """Where the broker is a database of the state store's own (standalone) server, a
    login's code job is pushed by the login script itself: the challenge and its job are one
    atomic step, and the login one round trip instead of two."""

    queue: BrokerMailQueue
    broker_db: int
    state_db: int

    def job(self, job: CodeJob) -> InLoginJob:
        message, due, payload = self.queue.prepare_code(job)
        return InLoginJob(
            CODE_QUEUE,
            CODE_BACKUPS,
            str(self.broker_db),
            str(self.state_db),
            message,
            due,
            payload,
        )
