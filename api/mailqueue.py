"""The mail queue seam: publishes "send code" and notice jobs to the workers' broker."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from shared import scripts
from shared.jobs import (
    CODE_BACKUPS,
    CODE_QUEUE,
    NOTICE_QUEUE,
    SEND_CODE_TASK,
    SEND_NOTICE_TASK,
    CodeJob,
    NoticeJob,
    argsrepr_of,
    celery_message,
    payload_of,
)
from shared.muxredis import MuxRedis

NOTICE_LIFETIME_SECONDS = 86400
Clock = Callable[[], float]


class MailQueue(Protocol):
    async def publish_code(self, job: CodeJob) -> None: ...

    async def publish_notice(self, job: NoticeJob) -> None: ...


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
        self.scripts_client = scripts_client
        self._publish_sha = scripts.sha("code_publish")

    async def publish_code(self, job: CodeJob) -> None:
        """The job, and its backup due ``backup_delay_seconds`` later, in one command.

        Kombu's Redis transport pops a job (BRPOP) before it records it as unacknowledged:
        a worker killed in between loses that job for good. The backup closes that window:
        it waits in a sorted set beside the queue, and when it comes due a worker's sweeper
        (workers/backups.py) looks at the send's state in Redis and pushes the job again only
        if its email has not gone out."""
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
        due = f"{now + self.backup_delay_seconds:.3f}"
        command = ("EVALSHA", self._publish_sha, 2, CODE_QUEUE, CODE_BACKUPS, message, due, payload)
        client = self.scripts_client or self.broker
        try:
            await client.execute_command(*command)
        except NoScriptError:  # a broker that lost its scripts (restart, failover)
            await self.broker.script_load(scripts.source("code_publish"))
            await client.execute_command(*command)

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
