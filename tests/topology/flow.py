"""What the topology tests do over HTTP: enrol, log in, read the emailed code, verify."""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

import httpx

from tests.smtpserver import MailCatcher

AUTH = {"Authorization": "Bearer test-api-key-0123456789"}
CLIENT = {"ip": "203.0.113.9", "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"}


def wait_ready(client: httpx.Client, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "the API never became ready"
        time.sleep(0.1)


def enrol(client: httpx.Client, account: str) -> str:
    email = f"{account}@example.com"
    response = client.put(f"/v1/accounts/{account}", json={"email": email})
    assert response.status_code in (200, 201), response.text
    response = client.put(f"/v1/accounts/{account}/two-step", json={"enabled": True})
    assert response.status_code == 200, response.text
    return email


def login(client: httpx.Client, account: str, **extra: Any) -> httpx.Response:
    return client.post("/v1/logins", json={"account_id": account, "client": CLIENT, **extra})


def verify(client: httpx.Client, challenge_id: str, code: str) -> httpx.Response:
    return client.post(
        f"/v1/challenges/{challenge_id}/verify", json={"code": code, "remember_browser": True}
    )


def code_for(catcher: MailCatcher, challenge_id: str, timeout: float = 20.0) -> str:
    """The code of the first email of a challenge, found by its Message-ID."""
    digest = hashlib.sha256(f"{challenge_id}.1".encode()).hexdigest()[:32]
    message_id = f"<twostep.{digest}@localhost>"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in list(catcher.messages):
            if message["Message-ID"] == message_id:
                part = message.get_body(("plain",))
                assert part is not None
                [code] = re.findall(r"^\s*(\d{6})\s*$", part.get_content(), re.MULTILINE)
                return str(code)
        time.sleep(0.02)
    raise AssertionError(f"no code email for {challenge_id} within {timeout}s")
