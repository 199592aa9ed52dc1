"""The security-key verify stage's material: accounts with a key, a challenge each, and an
answer to each signed in advance by a software authenticator (tests/softauthn.py).

Each answer carries a signature counter of 1 while the key's stored counter is far ahead:
the API checks it in full (py_webauthn: CBOR, origin, relying party, challenge, ES256
signature), then the verify script refuses it as a counter that went back. So, like the
wrong-code verifies, every request does a whole check and one script call, and the
challenge survives to be used again.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from redis.asyncio import Redis

from api.passkey_store import PasskeyStore, StoredKey
from api.passkeys import KeyRecord, key_id_of
from api.store import Audit, Store
from bench.seed import account_id, create_accounts, each_number
from shared import codes
from shared import results as r
from tests.softauthn import SoftAuthenticator, b64url

RP_ID = "bench.example"
ORIGIN = "https://bench.example"
PREFIX = "key-"
FAR_AHEAD = 1_000_000_000  # the stored counter: every answer's 1 has gone back


async def prepare(redis: Redis, count: int, path: Path) -> int:
    """``count`` accounts with a key and an open challenge; writes one line per challenge,
    "<challenge id> <verify body>", to ``path``. Returns how many were written."""
    await create_accounts(redis, PREFIX, count)
    store = Store(redis)
    keys = PasskeyStore(store)
    now = time.time()
    lines: list[str] = []

    async def one(number: int) -> None:
        account = account_id(PREFIX, number)
        device = SoftAuthenticator(transports=("usb",))
        device.create(
            {"rp": {"id": RP_ID}, "user": {"id": b64url(number.to_bytes(8, "big"))},
             "challenge": b64url(b"bench")},
            ORIGIN,
        )  # fmt: skip
        held = device.credentials[0]
        credential_id = b64url(held.credential_id)
        record = KeyRecord("bench key", b64url(held.cose_public_key()), ["usb"], now, False)
        stored = StoredKey(credential_id, record.dumps(), f"{FAR_AHEAD}||usb")
        added = await keys.add(account, stored, key_id_of(credential_id), 10, now, Audit())
        assert isinstance(added, r.Made), added
        challenge_id = codes.new_challenge_id(account)
        webauthn_challenge = codes.new_webauthn_challenge()
        opened = await store.open_login(
            account_id=account, challenge_id=challenge_id, code_digest="", method="webauthn",
            browser_id="", token_digest="", client_ip="", client_label="", now=now,
            code_ttl_seconds=3600, resend_cooldown_seconds=30, max_emails_per_hour=10_000,
            webauthn_challenge=webauthn_challenge,
        )  # fmt: skip
        assert isinstance(opened, r.Opened), opened
        assert opened.method == "webauthn", opened
        options = {"rpId": RP_ID, "challenge": webauthn_challenge,
                   "allowCredentials": [{"id": credential_id, "type": "public-key"}]}  # fmt: skip
        body = {"method": "webauthn", "credential": device.get(options, ORIGIN)}
        lines.append(f"{challenge_id} {json.dumps(body, separators=(',', ':'))}")

    await each_number(count, one)
    await asyncio.to_thread(path.write_text, "\n".join(lines) + "\n")
    return len(lines)
