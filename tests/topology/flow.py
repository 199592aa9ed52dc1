"""What the topology tests do over HTTP: enrol, log in, read the emailed code, verify."""

from __future__ import annotations

import hashlib
import re
import time
from email.message import EmailMessage
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


def message_id(challenge_id: str, send_no: int = 1) -> str:
    """The Message-ID of a challenge's code email (the same for every attempt of one send)."""
    digest = hashlib.sha256(f"{challenge_id}.{send_no}".encode()).hexdigest()[:32]
    return f"<twostep.{digest}@localhost>"


def code_in(message: EmailMessage) -> str | None:
    """The code a code email carries; ``None`` for any other email (a notice)."""
    part = message.get_body(("plain",))
    assert part is not None
    found = re.findall(r"^\s*(\d{6})\s*$", part.get_content(), re.MULTILINE)
    assert len(found) <= 1, found
    return str(found[0]) if found else None


def code_for(catcher: MailCatcher, challenge_id: str, timeout: float = 20.0) -> str:
    """The code of the first email of a challenge, found by its Message-ID."""
    wanted = message_id(challenge_id)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in list(catcher.messages):
            if message["Message-ID"] == wanted:
                code = code_in(message)
                assert code is not None
                return code
        time.sleep(0.02)
    raise AssertionError(f"no code email for {challenge_id} within {timeout}s")
