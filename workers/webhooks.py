"""Webhook delivery: POST each new audit event of an account, signed, in order, with retries."""

from __future__ import annotations

import http.client
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.clock import Clock
from shared.webhooks import SIGNATURE_HEADER, body_of, event_document, sign
from workers.retry import RetryLater, backoff_seconds
from workers.runtime import Runtime
from workers.webhookstore import StreamEvent, WebhookStore

log = logging.getLogger("twostep.worker.webhooks")

BATCH = 50
# One job delivers for at most this long, then hands over to its own next run, so that a
# slow receiver never holds a worker (and the code emails behind it) for long.
RUN_BUDGET_SECONDS = 20.0
# The cursor outlives the audit stream's useful life; an idle account's cursor goes away.
CURSOR_KEEP_SECONDS = 30 * 86400
EVENT_LIFETIME_SECONDS = 86400
# Webhooks start with the change that published the first job, and a little before it.
FIRST_LOOK_BACK_SECONDS = 300


Post = Callable[[str, bytes, dict[str, str], float], int]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirected POST would arrive as a GET without its body: a 3xx is a failure."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST with the standard library; returns the status code (0 when none came back)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, http.client.HTTPException, OSError):
        return 0


def claim_seconds(timeout_seconds: float) -> int:
    """How long a claim holds without news: a run's budget plus one POST, with room."""
    return int(RUN_BUDGET_SECONDS + timeout_seconds) + 30


@dataclass
class WebhookSender:
    url: str
    secret: str
    timeout_seconds: float
    store: WebhookStore
    claimant: str
    clock: Clock
    post: Post = http_post
    monotonic: Callable[[], float] = time.monotonic
    # The job's back-off: when it runs again after the receiver failed.
    failure_retry_seconds: float = 0.0

    def deliver(self, tag: str, published_at: float) -> str:
        """Deliver the account's events after its cursor. Returns what happened.

        A job that finds another holding the account finishes at once ("coalesced"): the
        holder reads the stream again before it lets go. A job whose receiver fails keeps
        the claim until its retry, so the account's other jobs coalesce into it instead of
        each retrying on its own."""
        hold = claim_seconds(self.timeout_seconds)
        if not self.store.claim(tag, self.claimant, hold):
            return "coalesced"
        started = self.monotonic()
        sent = 0
        try:
            while True:
                sent += self._drain(tag, started, hold, published_at)
                state = self.store.release(tag, self.claimant, hold)
                if state != "again":
                    return "sent" if sent else ("nothing_new" if state == "released" else state)
        except RetryLater as later:
            self.store.claim(tag, self.claimant, int(later.delay_seconds) + hold)
            raise

    def _drain(self, tag: str, started: float, hold: int, published_at: float) -> int:
        account_id = self.store.account_id(tag)
        if account_id is None:
            return 0  # the account was deleted, and its trail with it
        cursor = self.store.cursor(tag)
        # No cursor yet: this account's history from before webhooks were on is not sent.
        not_before = 0.0
        if cursor is None:
            not_before = self.store.webhooks_since(published_at - FIRST_LOOK_BACK_SECONDS)
        cursor = cursor or "0-0"
        sent = 0
        while events := self.store.events_after(tag, cursor, BATCH):
            for event in events:
                if self.monotonic() - started > RUN_BUDGET_SECONDS:
                    raise RetryLater(0.5, "run budget used, continuing")
                if float(event.fields.get("at", "0") or 0) >= not_before:
                    self._send(tag, account_id, event)
                    sent += 1
                cursor = event.event_id
                if not self.store.advance(tag, self.claimant, cursor, hold, CURSOR_KEEP_SECONDS):
                    log.warning("webhook claim lost; another job carries on")
                    return sent
        return sent

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
        raise RetryLater(
            self.failure_retry_seconds, f"webhook receiver answered {status or 'nothing'}"
        )


def deliver_webhooks(runtime: Runtime, payload: dict[str, object], retries: int) -> str:
    """The task: deliver an account's new audit events to ``TWOSTEP_WEBHOOK_URL``."""
    settings = runtime.settings
    if runtime.webhooks is None or not settings.webhook_url or settings.webhook_secret is None:
        return "disabled"  # published while webhooks were on; they are off now
    tag, job_id, published_at = payload.get("tag"), payload.get("job"), payload.get("published_at")
    if not isinstance(tag, str) or not isinstance(published_at, int | float):
        log.error("webhook job without an account, dropped")
        return "failed"
    sender = WebhookSender(
        url=settings.webhook_url,
        secret=settings.webhook_secret.get_secret_value(),
        timeout_seconds=settings.webhook_timeout_seconds,
        store=runtime.webhooks,
        # The job's own id, the same on each of its retries, so a retry finds its claim.
        claimant=job_id if isinstance(job_id, str) and job_id else runtime.claimant,
        clock=runtime.clock,
        failure_retry_seconds=backoff_seconds(retries),
    )
    return sender.deliver(tag, float(published_at))
