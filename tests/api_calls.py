"""The API in process as the tests call it: settings with the tests' keys, an authenticated
client on a given Redis, mail queue and clock, the code a published job carries, and the
requests that several test modules make of it (accounts, logins and challenges, authenticator
apps and recovery codes), each checking the answer it expects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pyotp
import redis.asyncio

from api.main import create_app
from shared.jobs import CodeJob
from shared.settings import Settings
from tests.fakes import FakeClock, RecordingMailQueue
from tests.processes import API_KEY, SECRET_KEY

AUTH = {"Authorization": f"Bearer {API_KEY}"}

ACCOUNT = "u-42"
OTHER = "u-43"
EMAIL = "ada@example.com"
OTHER_EMAIL = "bob@example.org"
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CLIENT = {"ip": "203.0.113.9", "user_agent": FIREFOX_LINUX}
PROBLEM_JSON = "application/problem+json"
# Digits that str.isdigit() accepts but that are not a code.
FULL_WIDTH_DIGITS = str.maketrans("0123456789", "".join(chr(0xFF10 + n) for n in range(10)))

STEP = 30
# Well formed, but never one of a drawn set (the odds of a clash are about 2**-75).
NOT_A_RECOVERY_CODE = "2222-3333-4444-5555"


def make_settings(**overrides: Any) -> Settings:
    return Settings(secret_key=SECRET_KEY, api_keys=(API_KEY,), **overrides)


@asynccontextmanager
async def api_client(
    settings: Settings,
    state_redis: redis.asyncio.Redis,
    mail: RecordingMailQueue,
    clock: FakeClock,
) -> AsyncIterator[httpx.AsyncClient]:
    """An authenticated client of the API in process, on the given Redis, mail queue and clock."""
    app = create_app(settings, redis=state_redis, broker=state_redis, mail=mail, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://twostep.test") as client:
        client.headers.update(AUTH)
        yield client


def code_of(job: CodeJob) -> str:
    """The plaintext code of a published job, opened as a worker would."""
    from shared.crypto import Sealer
    from shared.jobs import code_seal_context

    return Sealer(SECRET_KEY).open(
        job.sealed_code, code_seal_context(job.challenge_id, job.send_no)
    )


# Accounts, logins and challenges


def wrong(code: str) -> str:
    """A well-formed code that is certainly not ``code``."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """An RFC 9457 problem document with this status and code; 429s carry Retry-After."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0].strip() == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    for member in ("type", "title", "detail"):
        assert isinstance(body[member], str)
        assert body[member]
    if status == 429:
        assert isinstance(body["retry_after"], int)
        assert body["retry_after"] >= 1
        assert response.headers["retry-after"] == str(body["retry_after"])
    return body


async def new_account(
    api: httpx.AsyncClient,
    account_id: str = ACCOUNT,
    email: str = EMAIL,
    *,
    two_step: bool = True,
) -> None:
    response = await api.put(f"/v1/accounts/{account_id}", json={"email": email, "locale": "en"})
    assert response.status_code == 201, response.text
    if two_step:
        response = await api.put(f"/v1/accounts/{account_id}/two-step", json={"enabled": True})
        assert response.status_code == 200, response.text


async def login(api: httpx.AsyncClient, account_id: str = ACCOUNT, **body: Any) -> httpx.Response:
    return await api.post("/v1/logins", json={"account_id": account_id, **body})


async def open_challenge(
    api: httpx.AsyncClient, mail: RecordingMailQueue, account_id: str = ACCOUNT, **body: Any
) -> tuple[str, str]:
    """Start a login that needs a code; return the challenge id and the emailed code."""
    before = len(mail.codes)
    response = await login(api, account_id, **body)
    assert response.status_code == 201, response.text
    assert len(mail.codes) == before + 1
    return response.json()["challenge_id"], code_of(mail.codes[-1])


async def verify(
    api: httpx.AsyncClient, challenge_id: str, code: str, **body: Any
) -> httpx.Response:
    return await api.post(f"/v1/challenges/{challenge_id}/verify", json={"code": code, **body})


async def resend(api: httpx.AsyncClient, challenge_id: str, **body: Any) -> httpx.Response:
    return await api.post(f"/v1/challenges/{challenge_id}/resend", json=body)


async def challenge(api: httpx.AsyncClient, challenge_id: str) -> dict[str, Any]:
    response = await api.get(f"/v1/challenges/{challenge_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def redis_keys(client: redis.asyncio.Redis) -> list[str]:
    return [key async for key in client.scan_iter(count=1000)]


async def redis_text(client: redis.asyncio.Redis) -> str:
    """Every key and every value Redis holds (hash fields, set and zset members, stream
    entries), as text."""
    parts: list[str] = []
    for key in await redis_keys(client):
        parts.append(key)
        kind = await client.type(key)
        if kind == "string":
            parts.append(str(await client.get(key)))
        elif kind == "hash":
            for field, value in (await client.hgetall(key)).items():
                parts += [field, value]
        elif kind == "zset":
            for member, score in await client.zrange(key, 0, -1, withscores=True):
                parts += [member, repr(score)]
        elif kind == "set":
            parts += list(await client.smembers(key))
        elif kind == "list":
            parts += list(await client.lrange(key, 0, -1))
        elif kind == "stream":
            for entry_id, fields in await client.xrange(key):
                parts.append(entry_id)
                for field, value in fields.items():
                    parts += [field, value]
        else:
            raise AssertionError(f"unexpected Redis type {kind} for {key}")
    return "\n".join(parts)


# Authenticator apps and recovery codes


def app_code(secret: str, moment: float) -> str:
    """What an authenticator app (pyotp's defaults: SHA-1, 6 digits, 30 s) shows at ``moment``."""
    return pyotp.TOTP(secret).at(int(moment))


def wrong_totp(secret: str, now: float) -> str:
    """A six-digit code that matches none of the steps the API accepts at ``now``."""
    taken = {app_code(secret, now + offset) for offset in (-STEP, 0, STEP)}
    return next(code for code in (f"{n:06d}" for n in range(1_000_000)) if code not in taken)


async def enrol(api: httpx.AsyncClient, account_id: str = ACCOUNT) -> dict[str, Any]:
    response = await api.post(f"/v1/accounts/{account_id}/totp")
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def confirm(api: httpx.AsyncClient, code: Any, account_id: str = ACCOUNT) -> httpx.Response:
    return await api.post(f"/v1/accounts/{account_id}/totp/confirm", json={"code": code})


async def enable_totp(api: httpx.AsyncClient, clock: FakeClock, account_id: str = ACCOUNT) -> str:
    """Enrol and confirm with the code of the current step; return the secret."""
    secret: str = (await enrol(api, account_id))["secret"]
    response = await confirm(api, app_code(secret, clock.now), account_id)
    assert response.status_code == 200, response.text
    return secret


async def totp_challenge(api: httpx.AsyncClient, account_id: str = ACCOUNT) -> str:
    response = await login(api, account_id, method="totp")
    assert response.status_code == 201, response.text
    challenge_id: str = response.json()["challenge_id"]
    return challenge_id


async def verify_totp(api: httpx.AsyncClient, challenge_id: str, code: Any) -> httpx.Response:
    return await verify(api, challenge_id, code, method="totp")


async def verify_recovery(api: httpx.AsyncClient, challenge_id: str, code: str) -> httpx.Response:
    return await verify(api, challenge_id, code, method="recovery_code")


async def new_recovery_codes(api: httpx.AsyncClient, account_id: str = ACCOUNT) -> list[str]:
    response = await api.post(f"/v1/accounts/{account_id}/recovery-codes")
    assert response.status_code == 201, response.text
    made: list[str] = response.json()["codes"]
    return made
