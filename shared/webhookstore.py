"""The workers' side of webhook delivery: an account's audit stream, read from its cursor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.keys import AccountKeys
from shared.redisconn import SyncStateRedis

# Takes the claim only when free; gives it back only to its holder.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class StreamEvent:
    event_id: str
    fields: dict[str, str]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class WebhookStore:
    def __init__(self, redis: SyncStateRedis) -> None:
        self.redis = redis
        self._release = redis.register_script(_RELEASE)

    def claim(self, tag: str, claimant: str, hold_seconds: int) -> bool:
        """One worker at a time delivers an account's events, so they go out in order."""
        return bool(
            self.redis.set(AccountKeys(tag).webhook_claim, claimant, nx=True, ex=hold_seconds)
        )

    def release(self, tag: str, claimant: str) -> None:
        self._release(keys=[AccountKeys(tag).webhook_claim], args=[claimant])

    def cursor(self, tag: str) -> str | None:
        value = self.redis.get(AccountKeys(tag).webhook_cursor)
        return None if value is None else _text(value)

    def advance(self, tag: str, event_id: str, keep_seconds: int) -> None:
        self.redis.set(AccountKeys(tag).webhook_cursor, event_id, ex=keep_seconds)

    def account_id(self, tag: str) -> str | None:
        value = self.redis.hget(AccountKeys(tag).profile, "account_id")
        return None if value is None else _text(value)

    def events_after(self, tag: str, after: str, count: int) -> list[StreamEvent]:
        raw: Any = self.redis.xrange(AccountKeys(tag).events, f"({after}", "+", count=count)
        return [
            StreamEvent(_text(event_id), {_text(k): _text(v) for k, v in fields.items()})
            for event_id, fields in raw
        ]
