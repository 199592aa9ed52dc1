"""What one worker process holds: its Redis client, SMTP sessions, templates and keys.

Its job threads share it (Celery's threads pool): each part is safe to use from several
threads at once (the Redis client's pool, the sessions lent one per send, Jinja)."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.clock import Clock, StoreClock
from shared.crypto import Sealer
from shared.redisconn import sync_client
from shared.settings import Settings
from workers.delivery import DeliveryStore
from workers.message import build_message, make_message_id
from workers.metrics import WorkerMetrics
from workers.render import Renderer
from workers.smtp import SmtpSender
from workers.smtp_pool import Session, SmtpPool
from workers.webhookstore import WebhookStore

Sleep = Callable[[float], None]


@dataclass
class Runtime:
    """The seams a task uses. Built once per worker process, after the fork."""

    settings: Settings
    delivery: DeliveryStore
    sender: Session
    renderer: Renderer
    sealer: Sealer
    clock: Clock = time.time
    sleep: Sleep = time.sleep
    metrics: WorkerMetrics = field(default_factory=WorkerMetrics)
    webhooks: WebhookStore | None = None
    process_name: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    )

    @property
    def claimant(self) -> str:
        """Who holds a claim on a send: this job thread of this process. A claim is its
        claimant's again when asked twice (a script run again after a NOSCRIPT), so two
        threads of one process must never share a name: both would send the email."""
        return f"{self.process_name}:{threading.get_ident()}"

    @classmethod
    def build(cls, settings: Settings, metrics: WorkerMetrics) -> Runtime:
        redis = sync_client(settings.redis_url, settings)
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None

        def session() -> SmtpSender:
            return SmtpSender(
                host=settings.smtp_host,
                port=settings.smtp_port,
                security=settings.smtp_security,
                username=settings.smtp_username,
                password=password,
                timeout_seconds=settings.smtp_timeout_seconds,
            )

        sender = SmtpPool(session, settings.smtp_max_sessions)
        return cls(
            settings=settings,
            delivery=DeliveryStore(redis),
            sender=sender,
            renderer=Renderer(settings.templates_dir, settings.product_name),
            sealer=Sealer(settings.secret_key.get_secret_value()),
            clock=StoreClock(),
            metrics=metrics,
            webhooks=WebhookStore(redis) if settings.webhook_url else None,
        )

    def keep_clock(self) -> None:
        """Keep a store clock in step (a minute between readings), before a job reads it."""
        if isinstance(self.clock, StoreClock):
            self.clock.refresh_blocking(self.delivery.redis)

    def deliver(
        self,
        kind: str,
        locale: str,
        to: str,
        message_key: str,
        context: dict[str, object],
        token_wait: float | None = None,
    ) -> None:
        """Render one email, wait for the global mail rate, and hand it to the mail server.

        ``message_key`` names the send, so that every attempt of it has one Message-ID.
        ``token_wait`` is what an earlier ask of the mail bucket answered (0: a token was
        taken); without it, the bucket is asked here.
        """
        rendered = self.renderer.render(kind, locale, {**context, "to": to})
        message = build_message(
            rendered,
            mail_from=self.settings.mail_from,
            to=to,
            message_id=make_message_id(message_key, self.settings.mail_from),
            now=datetime.fromtimestamp(self.clock(), UTC),
        )
        if token_wait is None:
            self.pace()
        elif token_wait > 0:
            self.sleep(token_wait)
            self.pace()
        started = time.perf_counter()
        try:
            self.sender.send(message)
        finally:
            self.metrics.smtp_send_seconds.observe(time.perf_counter() - started)

    def delivered(self, queue: str, published_at: float | None) -> None:
        """Count the time from the API's publish to the mail server's acceptance."""
        if published_at is not None:
            # Two machines' clocks: a small negative difference is skew, not time travel.
            self.metrics.delivery_seconds.labels(queue).observe(
                max(0.0, self.clock() - published_at)
            )

    def mail_rate(self) -> tuple[float, float]:
        """The global mail rate shared by every worker: tokens per second, and the burst."""
        rate = self.settings.mail_rate_per_second
        return rate, max(1.0, rate)

    def pace(self) -> None:
        """Wait for a token of the global mail rate shared by every worker."""
        rate, burst = self.mail_rate()
        while (wait := self.delivery.take_mail_token(rate, burst)) > 0:
            self.sleep(wait)
