"""How the use cases record an audited change: the stream entry's context and the webhook."""

from __future__ import annotations

import logging

from api.outbox import Seen
from api.store import Audit
from api.webhooks import Announcer
from shared.requestctx import request_id
from shared.settings import Settings

log = logging.getLogger("twostep.api")


class AuditTrail:
    def __init__(self, settings: Settings, webhooks: Announcer | None) -> None:
        self.cap = settings.audit_max_events
        self.keep_seconds = settings.audit_retention_days * 86400
        self.webhooks = webhooks

    def entry(self, now: float, seen: Seen) -> Audit:
        """What the script records with the change: when, from which IP, in which request."""
        return Audit(
            cap=self.cap,
            keep_seconds=self.keep_seconds,
            at=now,
            ip=seen.ip,
            request_id=request_id(),
        )

    async def recorded(self, tag: str, now: float) -> None:
        """After a change that recorded events (and after its email was queued): wake the
        webhook delivery, if there is one. Best effort: the change is made and its event is
        in the trail whatever happens here, so a broker that fails now costs the webhook a
        delay (the account's next change sends it), never the caller an error."""
        if self.webhooks is None:
            return
        try:
            await self.webhooks.announce(tag, now)
        except Exception as exc:  # the answer must not depend on the webhook queue
            log.warning("webhook delivery not queued (%s); it goes with the next change", exc)
