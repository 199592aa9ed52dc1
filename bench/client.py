"""A small HTTP/1.1 keep-alive client on asyncio streams, for sequential and paced requests.

httpx costs more CPU per request than the API does, which matters on a two-core
machine; this one writes the request in one call and reads a Content-Length body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter, float]
# uvicorn closes a keep-alive connection after 5 s idle; one idle longer is not reused.
IDLE_SECONDS = 2.0


class Client:
    """Requests to one API with one API key; connections are reused, opened as needed."""

    def __init__(self, base_url: str, api_key: str) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.api_key = api_key
        self._idle: list[Connection] = []

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Send one request; return its status and decoded JSON body (``None`` when empty)."""
        status, payload, _ = await self.exchange(method, path, body)
        return status, payload

    async def exchange(
        self, method: str, path: str, body: Any = None
    ) -> tuple[int, Any, dict[str, str]]:
        """``request``, and the response's headers (names in lower case)."""
        data = json.dumps(body).encode() if body is not None else b""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Authorization: Bearer {self.api_key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        )
        while self._idle:
            reader, writer, last_used = self._idle.pop()
            if time.monotonic() - last_used < IDLE_SECONDS:
                break
            writer.close()  # the server may be closing it already
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        writer.write(head.encode() + data)
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionError(f"the server closed the connection: {method} {path}")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
        length = int(headers.get("content-length", "0"))
        payload = await reader.readexactly(length) if length else b""
        self._idle.append((reader, writer, time.monotonic()))
        return status, json.loads(payload) if payload else None, headers

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for _, writer, _ in idle:
            writer.close()
        for _, writer, _ in idle:
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def login_body(account_id: str) -> dict[str, Any]:
    """The body of ``POST /v1/logins`` the bench sends: a browser, no trusted-browser token."""
    return {
        "account_id": account_id,
        "client": {
            "ip": "203.0.113.9",
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        },
    }


async def run_logins(client: Client, accounts: Iterable[str], lanes: int = 32) -> int:
    """One login per account id, ``lanes`` at a time; returns how many were not a 201."""
    pending = iter(accounts)
    failures = 0

    async def lane() -> None:
        nonlocal failures
        for account in pending:
            status, _ = await client.request("POST", "/v1/logins", login_body(account))
            failures += status != 201

    await asyncio.gather(*(lane() for _ in range(lanes)))
    return failures
