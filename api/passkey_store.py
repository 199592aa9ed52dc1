"""Security keys and passkeys (WebAuthn) in Redis: an account's keys, their use, and the
registrations in progress. One script per state change (``shared/lua/webauthn_*.lua``)."""

from __future__ import annotations

from dataclasses import dataclass

from api.store import Audit, Store
from shared import results as r
from shared.keys import AccountKeys, tag_of_challenge


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


BeginResult = r.NotFound | r.TooManyKeys | r.KeyRegistration
AddResult = r.NotFound | r.KeyExists | r.TooManyKeys | r.Made


@dataclass(frozen=True, slots=True)
class StoredKey:
    """One key as Redis holds it: its record (JSON) and its use: "<sign count>|<last used,
    epoch s, "" if never>|<transports>"."""

    credential_id: str
    record: str
    use: str


class PasskeyStore:
    """The WebAuthn part of the state store: its scripts run through the store's own
    ``run_script`` (keys by name, the audit's arguments), on its Redis client."""

    def __init__(self, store: Store) -> None:
        self.redis = store.redis
        self._run = store.run_script

    async def begin(
        self,
        account_id: str,
        registration_id: str,
        user_handle: str,
        challenge: str,
        ttl_seconds: int,
        max_keys: int,
    ) -> BeginResult:
        keys = AccountKeys.of(account_id)
        begun: BeginResult = await self._run(
            "webauthn_begin",
            keys,
            {"user_handle": user_handle, "challenge": challenge,
             "registration_ttl": ttl_seconds, "max_keys": max_keys},
            {"registration": keys.registration(registration_id)},
        )  # fmt: skip
        return begun

    async def take(self, account_id: str, registration_id: str) -> r.NotFound | r.Registration:
        keys = AccountKeys.of(account_id)
        taken: r.NotFound | r.Registration = await self._run(
            "webauthn_take", keys, {}, {"registration": keys.registration(registration_id)}
        )
        return taken

    async def add(
        self,
        account_id: str,
        key: StoredKey,
        key_id: str,
        max_keys: int,
        now: float,
        audit: Audit,
    ) -> AddResult:
        added: AddResult = await self._run(
            "webauthn_add",
            AccountKeys.of(account_id),
            {"credential_id": key.credential_id, "record": key.record, "use": key.use,
             "max_keys": max_keys, "key_id": key_id},
            audit=audit,
            now=now,
        )  # fmt: skip
        return added

    async def keys(self, account_id: str) -> list[StoredKey]:
        """The account's keys, oldest first is not promised: callers sort."""
        keys = AccountKeys.of(account_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.webauthn)
            pipe.hgetall(keys.webauthn_use)
            records, uses = await pipe.execute()
        uses = {_text(k): _text(v) for k, v in uses.items()}
        return [
            StoredKey(_text(k), _text(v), uses.get(_text(k), "0||")) for k, v in records.items()
        ]

    async def of_challenge(self, challenge_id: str, credential_id: str) -> tuple[str, str]:
        """For checking an answer: the WebAuthn challenge of a twostep challenge ("" when it
        has none), and the record of the account's key ``credential_id`` ("" when the
        account has no such key). One round trip: both keys are in the account's slot."""
        tag = tag_of_challenge(challenge_id)
        if tag is None:
            return "", ""
        keys = AccountKeys(tag)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hget(keys.challenge(challenge_id), "wa")
            pipe.hget(keys.webauthn, credential_id)
            challenge, record = await pipe.execute()
        return _text(challenge), _text(record)

    async def rename(self, account_id: str, credential_id: str, record: str) -> bool:
        renamed = await self._run(
            "webauthn_rename",
            AccountKeys.of(account_id),
            {"credential_id": credential_id, "record": record},
        )
        return isinstance(renamed, r.Made)

    async def remove(
        self, account_id: str, credential_id: str, key_id: str, now: float, audit: Audit
    ) -> bool:
        removed = await self._run(
            "webauthn_remove",
            AccountKeys.of(account_id),
            {"credential_id": credential_id, "key_id": key_id},
            audit=audit,
            now=now,
        )
        return isinstance(removed, r.Made)
