"""What the integration tests share: the databases they use on the tests' redis-server, a
clock ahead of real time, an app in process with its lifespan run, an account signed up, the
parts and code of a mail the worker sent, and oathtool's codes."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from typing import Any

import httpx
from fastapi import FastAPI

from tests.api_calls import AUTH
from tests.smtpserver import MailCatcher, html_part, mails_to, text_part

STATE_DB = 0
BROKER_DB = 1
IDLE_BROKER_DB = 3  # a broker no worker listens to: jobs stay there to be inspected


class OffsetClock:
    """Real time, plus an offset a test can move forward (the worker keeps real time)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An authenticated client of an app in process, its lifespan run around it (which
    closes the Redis clients and connections it made)."""
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://twostep.test") as client,
    ):
        client.headers.update(AUTH)
        yield client


async def enrol(
    client: httpx.AsyncClient,
    account: str,
    email: str,
    locale: str = "en",
    mailbox: MailCatcher | None = None,
) -> None:
    """Create the account and turn two-step on; with a mailbox, wait for the notice so that
    the mails that follow arrive in a known order."""
    response = await client.put(f"/v1/accounts/{account}", json={"email": email, "locale": locale})
    assert response.status_code == 201, response.text
    response = await client.put(f"/v1/accounts/{account}/two-step", json={"enabled": True})
    assert response.status_code == 200, response.text
    assert response.json()["two_step_enabled"] is True
    if mailbox is not None:
        deadline = time.monotonic() + 10
        while not mails_to(mailbox, email):
            assert time.monotonic() < deadline, "the two-step notice never arrived"
            await asyncio.sleep(0.02)


async def wait_for_delivery(
    client: httpx.AsyncClient, challenge_id: str, wanted: str, within: float = 20.0
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await client.get(f"/v1/challenges/{challenge_id}")
        body = response.json()
        if body.get("delivery") == wanted:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"delivery never became {wanted!r}: {body}")


def code_in(message: EmailMessage) -> str:
    """The code of a code email: the only line of its text part made of six digits."""
    codes = re.findall(r"^\s*(\d{6})\s*$", text_part(message), re.MULTILINE)
    assert len(codes) == 1, f"expected one code line, found {codes}"
    assert codes[0] in html_part(message)
    return codes[0]


def oathtool(secret: str, at: float) -> str:
    result = subprocess.run(
        ["oathtool", "--totp", "--base32", secret, "--now", f"@{int(at)}"],
        capture_output=True, text=True, check=True, timeout=10,
    )  # fmt: skip
    return result.stdout.strip()
