"""The app-code verify stage's material: accounts with a confirmed authenticator app, and an
open app challenge each. The stage sends a wrong app code: checked against every step of the
window (three HMACs), then counted by the verify script, so the challenge survives as the
email wrong-code verifies' does."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from redis.asyncio import Redis

from api import totp
from api.authenticators import totp_context
from api.store import Store
from bench.seed import account_id, create_accounts, each_number
from shared import codes
from shared import results as r
from shared.crypto import Sealer
from shared.keys import account_tag

PREFIX = "app-"


async def prepare(redis: Redis, secret_key: str, count: int, path: Path) -> int:
    """``count`` accounts with an app and an open app challenge; writes their ids to
    ``path``, one per line. Returns how many were written."""
    await create_accounts(redis, PREFIX, count)
    store = Store(redis)
    sealer = Sealer(secret_key, "totp-secret")
    now = time.time()
    ids: list[str] = []

    async def one(number: int) -> None:
        account = account_id(PREFIX, number)
        secret = totp.new_secret()
        sealed = sealer.seal(secret, totp_context(account_tag(account)))
        assert await store.enrol_totp(account, sealed, now + 900, 900)
        step = totp.matching_step(secret, totp.code_at(secret, now), now)
        confirmed = await store.confirm_totp(account, sealed, step, now, 5)
        assert isinstance(confirmed, r.Done), confirmed
        challenge_id = codes.new_challenge_id(account)
        opened = await store.open_login(
            account_id=account, challenge_id=challenge_id, code_digest="", method="totp",
            browser_id="", token_digest="", client_ip="", client_label="", now=now,
            code_ttl_seconds=3600, resend_cooldown_seconds=30, max_emails_per_hour=10_000,
        )  # fmt: skip
        assert isinstance(opened, r.Opened), opened
        ids.append(challenge_id)

    await each_number(count, one)
    await asyncio.to_thread(path.write_text, "\n".join(ids) + "\n")
    return len(ids)
