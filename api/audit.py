"""How the use cases record an audited change: the stream entry's context and the webhook."""

from __future__ import annotations

from api.outbox import Seen
from api.webhooks import Announcer
from shared.requestctx import request_id
from shared.settings import Settings
from shared.store import Audit


class AuditTrail:
    def __init__(self, settings: Settings, webhooks: Announcer | None) -> None:
        self.cap = settings.audit_max_events
        self.webhooks = webhooks

    def entry(self, now: float, seen: Seen) -> Audit:
        """What the script records with the change: when, from which IP, in which request."""
        return Audit(cap=self.cap, at=now, ip=seen.ip, request_id=request_id())

    async def recorded(self, tag: str, now: float) -> None:
        """After a change that recorded events: wake the webhook delivery, if there is one."""
        if self.webhooks is not None:
            await self.webhooks.announce(tag, now)
