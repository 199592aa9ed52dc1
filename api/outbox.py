"""The mail the use cases send: the sealed "send code" job and the security notices."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from api.mailqueue import MailQueue
from api.metrics import Metrics
from api.schemas import Client
from shared.crypto import Sealer
from shared.jobs import CodeJob, NoticeJob, code_seal_context
from shared.requestctx import request_id
from shared.useragent import browser_label


@dataclass(frozen=True, slots=True)
class Seen:
    """What the portal told us of the end user's browser, cleaned up."""

    ip: str
    label: str

    @classmethod
    def of(cls, client: Client | None) -> Seen:
        if client is None:
            return cls("", "")
        ip = str(client.ip) if client.ip is not None else ""
        label = browser_label(client.user_agent) if client.user_agent else ""
        return cls(ip, label)


class Outbox:
    """Builds mail jobs and publishes them; codes leave here sealed, never in clear. Each job
    carries the request id, so the worker's lines about it can be found from the API's."""

    def __init__(self, mail: MailQueue, metrics: Metrics, sealer: Sealer) -> None:
        self.mail = mail
        self.metrics = metrics
        self._code_jobs = metrics.jobs.labels("code")  # the login path's, bound once
        self._sealer = sealer

    def code_job(
        self, challenge_id: str, send_no: int, code: str, expires_at: float, seen: Seen
    ) -> CodeJob:
        """The job that mails a code, the code sealed to this send."""
        sealed = self._sealer.seal(code, code_seal_context(challenge_id, send_no))
        return CodeJob(
            challenge_id=challenge_id,
            send_no=send_no,
            sealed_code=sealed,
            expires_at=expires_at,
            client_ip=seen.ip or None,
            client_label=seen.label or None,
            request_id=request_id(),
        )

    async def code(
        self, challenge_id: str, send_no: int, code: str, expires_at: float, seen: Seen
    ) -> None:
        await self.mail.publish_code(self.code_job(challenge_id, send_no, code, expires_at, seen))
        self.published_code()

    def published_code(self) -> None:
        """Count a code job published (here, or by the login script)."""
        self._code_jobs.inc()

    async def notice(
        self,
        kind: str,
        account_id: str,
        now: float,
        seen: Seen,
        details: dict[str, str] | None = None,
    ) -> None:
        """Queue a security notice to the account's owner. Like a code job it carries no
        address, so none sits on the broker: the worker reads the account's when it sends."""
        job = NoticeJob(
            notice_id=uuid.uuid4().hex,
            kind=kind,
            to="",
            locale="",
            account_id=account_id,
            occurred_at=now,
            client_ip=seen.ip or None,
            client_label=seen.label or None,
            details=details or {},
            request_id=request_id(),
        )
        await self.mail.publish_notice(job)
        self.metrics.jobs.labels(kind).inc()
