"""The portal's own Redis data: server-side sessions, and what each account changed itself
(its language, its password)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any

from redis.asyncio import Redis

from examples.portal import keys

# A visitor who has not signed in (a sign-in form's CSRF token, the language chosen) needs no
# 12-hour session: a crawler or an attacker's script would fill Redis with them.
ANONYMOUS_TTL_SECONDS = 30 * 60


class PortalStore:
    """Sessions live here, not in the cookie: the cookie holds only a random id, so ending a
    session (sign-out, a password or two-step change) really ends it."""

    def __init__(self, redis: Redis, *, secret: str, session_ttl_seconds: int) -> None:
        self.redis = redis
        self._secret = secret.encode()
        self.session_ttl_seconds = session_ttl_seconds

    def _ttl(self, data: dict[str, Any]) -> int:
        if data.get("account_id") or data.get("pending"):
            return self.session_ttl_seconds
        return min(ANONYMOUS_TTL_SECONDS, self.session_ttl_seconds)

    def _digest(self, session_id: str) -> str:
        # Keyed, so a copy of the database cannot be matched against a stolen cookie.
        return hmac.new(self._secret, session_id.encode(), hashlib.sha256).hexdigest()

    async def load(self, session_id: str) -> dict[str, Any] | None:
        raw = await self.redis.get(keys.session(self._digest(session_id)))
        if raw is None:
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    async def create(self, data: dict[str, Any]) -> str:
        session_id = secrets.token_urlsafe(32)
        key = keys.session(self._digest(session_id))
        await self.redis.set(key, json.dumps(data), ex=self._ttl(data), nx=True)
        await self._track(session_id, data)
        return session_id

    async def save(self, session_id: str, data: dict[str, Any]) -> bool:
        """Write an existing session and renew its TTL; False when it was ended meanwhile
        (``XX``: a request still running never brings back a session that was ended)."""
        key = keys.session(self._digest(session_id))
        saved = await self.redis.set(key, json.dumps(data), ex=self._ttl(data), xx=True)
        if saved:
            await self._track(session_id, data)
        return bool(saved)

    async def _track(self, session_id: str, data: dict[str, Any]) -> None:
        account_id = data.get("account_id")
        if isinstance(account_id, str):
            account = keys.account_sessions(account_id)
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.sadd(account, self._digest(session_id))
                pipe.expire(account, self.session_ttl_seconds)
                await pipe.execute()

    async def delete(self, session_id: str) -> None:
        await self.redis.delete(keys.session(self._digest(session_id)))

    async def end_sessions(self, account_id: str, keep: str | None = None) -> int:
        """End every session of the account but ``keep``; how many there were."""
        account = keys.account_sessions(account_id)
        kept = self._digest(keep) if keep else None
        members = await self.redis.smembers(account)
        others = [str(digest) for digest in members if digest != kept]
        if not others:
            return 0
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(*(keys.session(digest) for digest in others))
            pipe.srem(account, *others)
            await pipe.execute()
        return len(others)

    async def locale(self, account_id: str) -> str | None:
        value = await self.redis.get(keys.locale(account_id))
        return value if isinstance(value, str) else None

    async def set_locale(self, account_id: str, locale: str) -> None:
        await self.redis.set(keys.locale(account_id), locale)

    async def password_hash(self, account_id: str) -> str | None:
        value = await self.redis.get(keys.password(account_id))
        return value if isinstance(value, str) else None

    async def set_password_hash(self, account_id: str, password_hash: str) -> None:
        await self.redis.set(keys.password(account_id), password_hash)
