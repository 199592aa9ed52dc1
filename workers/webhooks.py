"""Webhook delivery: POST each new audit event of an account, signed, in order, with retries."""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from shared.errors import TwostepError
from shared.webhooks import SIGNATURE_HEADER, body_of, event_document, sign
from shared.webhookstore import StreamEvent, WebhookStore
from workers.runtime import Runtime
from workers.tasks import RetryLater, backoff_seconds

log = logging.getLogger("twostep.worker.webhooks")

BATCH = 50
CLAIM_SECONDS = 60
# The cursor outlives the audit stream's useful life; an idle account's cursor goes away.
CURSOR_KEEP_SECONDS = 30 * 86400
# Without a cursor yet (a new account, or webhooks just turned on), start a little before
# the change that published the job, not at the beginning of the account's history.
FIRST_LOOK_BACK_SECONDS = 300
EVENT_LIFETIME_SECONDS = 86400


class WebhookRetry(TwostepError):
    """The receiver did not take an event; try the account again later."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)


Post = Callable[[str, bytes, dict[str, str], float], int]


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST with the standard library; returns the status code (0 when none came back)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return 0


@dataclass
class WebhookSender:
    url: str
    secret: str
    timeout_seconds: float
    store: WebhookStore
    claimant: str
    clock: Callable[[], float]
    post: Post = http_post

    def deliver(self, tag: str, published_at: float) -> str:
        """Deliver the account's events after its cursor. Returns what happened."""
        if not self.store.claim(tag, self.claimant, CLAIM_SECONDS):
            # Another worker is delivering; it may have read the stream before this job's
            # event was added, so look again shortly rather than drop the job.
            raise WebhookRetry("another worker is delivering this account's events")
        try:
            return self._deliver(tag, published_at)
        finally:
            self.store.release(tag, self.claimant)

    def _deliver(self, tag: str, published_at: float) -> str:
        account_id = self.store.account_id(tag)
        if account_id is None:
            return "gone"  # the account was deleted, and its trail with it
        cursor = self.store.cursor(tag)
        # No cursor: skip the history older than shortly before this job's change (by the
        # events' own times, which come from the same clock as ``published_at``).
        not_before = published_at - FIRST_LOOK_BACK_SECONDS if cursor is None else 0.0
        cursor = cursor or "0-0"
        sent = 0
        while events := self.store.events_after(tag, cursor, BATCH):
            for event in events:
                if float(event.fields.get("at", "0") or 0) >= not_before:
                    self._send(tag, account_id, event)
                    sent += 1
                cursor = event.event_id
                self.store.advance(tag, cursor, CURSOR_KEEP_SECONDS)
        return "sent" if sent else "nothing_new"

    def _send(self, tag: str, account_id: str, event: StreamEvent) -> None:
        fields = dict(event.fields)
        kind = fields.pop("type", "")
        occurred_at = float(fields.pop("at", "0") or 0)
        document = event_document(
            event_id=event.event_id,
            account_id=account_id,
            tag=tag,
            kind=kind,
            occurred_at=occurred_at,
            ip=fields.pop("ip", ""),
            request_id=fields.pop("rid", ""),
            details=fields,
        )
        body = body_of(document)
        now = self.clock()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "twostep-webhooks/1",
            SIGNATURE_HEADER: sign(self.secret, int(now), body),
        }
        status = self.post(self.url, body, headers, self.timeout_seconds)
        if 200 <= status < 300:
            log.info("webhook delivered", extra={"event_type": kind, "status": status})
            return
        if now - occurred_at > EVENT_LIFETIME_SECONDS:
            log.error("webhook event dropped after a day of refusals", extra={"event_type": kind})
            return
        if 400 <= status < 500 and status not in (408, 409, 425, 429):
            # The receiver refuses this event for good: skip it, keep the others flowing.
            log.error("webhook refused for good", extra={"event_type": kind, "status": status})
            return
        raise WebhookRetry(f"webhook receiver answered {status or 'nothing'}")


def deliver_webhooks(runtime: Runtime, payload: dict[str, object], retries: int) -> str:
    """The task: deliver an account's new audit events to ``TWOSTEP_WEBHOOK_URL``."""
    settings = runtime.settings
    if runtime.webhooks is None or not settings.webhook_url or settings.webhook_secret is None:
        return "disabled"  # published while webhooks were on; they are off now
    sender = WebhookSender(
        url=settings.webhook_url,
        secret=settings.webhook_secret.get_secret_value(),
        timeout_seconds=settings.webhook_timeout_seconds,
        store=runtime.webhooks,
        claimant=runtime.claimant,
        clock=runtime.clock,
    )
    tag, published_at = payload.get("tag"), payload.get("published_at")
    if not isinstance(tag, str) or not isinstance(published_at, int | float):
        log.error("webhook job without an account, dropped")
        return "failed"
    try:
        return sender.deliver(tag, float(published_at))
    except WebhookRetry as exc:
        raise RetryLater(backoff_seconds(retries), str(exc)) from None
