"""The workers' side of webhook delivery: an account's audit stream, read from its cursor,
by one delivery job at a time (``shared/lua/webhook_*.lua``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.keys import WEBHOOKS_SINCE, AccountKeys
from shared.redisconn import SyncStateRedis
from shared.runner import SyncRunner
from shared.scripts import SCRIPTS


@dataclass(frozen=True, slots=True)
class StreamEvent:
    event_id: str
    fields: dict[str, str]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class WebhookStore:
    def __init__(self, redis: SyncStateRedis) -> None:
        self.redis = redis
        self.scripts = SyncRunner(redis)

    def claim(self, tag: str, claimant: str, hold_seconds: int) -> bool:
        """Take (or renew) the account's claim; False when another job holds it (that job
        is then told to read the stream once more before it lets go)."""
        keys = AccountKeys(tag)
        script = SCRIPTS["webhook_claim"]
        answer = self.scripts.run(
            script,
            script.account_keys(keys),
            {"claimant": claimant, "hold_seconds": hold_seconds},
        )
        return _text(answer) == "claimed"

    def advance(
        self, tag: str, claimant: str, event_id: str, hold_seconds: int, keep_seconds: int
    ) -> bool:
        """Move the cursor to a delivered event; False when the claim was lost."""
        keys = AccountKeys(tag)
        script = SCRIPTS["webhook_advance"]
        answer = self.scripts.run(
            script,
            script.account_keys(keys),
            {"claimant": claimant, "event_id": event_id, "hold_seconds": hold_seconds,
             "keep_seconds": keep_seconds},
        )  # fmt: skip
        return int(answer) == 1

    def release(self, tag: str, claimant: str, hold_seconds: int) -> str:
        """ "released", "again" (read once more, the claim is kept) or "lost"."""
        keys = AccountKeys(tag)
        script = SCRIPTS["webhook_release"]
        answer = self.scripts.run(
            script,
            script.account_keys(keys),
            {"claimant": claimant, "hold_seconds": hold_seconds},
        )
        return _text(answer)

    def cursor(self, tag: str) -> str | None:
        value = self.redis.get(AccountKeys(tag).webhook_cursor)
        return None if value is None else _text(value)

    def webhooks_since(self, start: float) -> float:
        """Since when events go to the webhook: ``start`` of the first job that ever asked,
        kept for good, so that every account has the same starting line."""
        self.redis.set(WEBHOOKS_SINCE, f"{start:.3f}", nx=True)
        value = self.redis.get(WEBHOOKS_SINCE)
        return start if value is None else float(_text(value))

    def account_id(self, tag: str) -> str | None:
        value = self.redis.hget(AccountKeys(tag).profile, "account_id")
        return None if value is None else _text(value)

    def events_after(self, tag: str, after: str, count: int) -> list[StreamEvent]:
        raw: Any = self.redis.xrange(AccountKeys(tag).events, f"({after}", "+", count=count)
        return [
            StreamEvent(_text(event_id), {_text(k): _text(v) for k, v in fields.items()})
            for event_id, fields in raw
        ]
