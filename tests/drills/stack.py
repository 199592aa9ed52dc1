"""A whole twostep on loopback for the drills: its own redis-server (append-only, so it can be
restarted without losing data), a real SMTP server, workers and API processes; what the drills
count in the mail it caught, and the line each drill prints of its counts."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import redis

from shared.keys import AccountKeys
from tests.processes import API_KEY, Process, RedisServer, service_env, start_api, start_worker
from tests.smtpserver import MailCatcher

AUTH = {"Authorization": f"Bearer {API_KEY}"}


class Stack:
    def __init__(self, logs: Path, **settings: Any) -> None:
        self.logs = logs
        self.redis = RedisServer(logs, appendonly=True)
        # PIPELINING offered: the drills drive the pipelined send (workers/smtp.py) too.
        self.catcher = MailCatcher(pipelining=True).start()
        self.settings = {
            "redis_url": self.redis.url(0),
            "broker_url": self.redis.url(1),
            "smtp_host": self.catcher.host,
            "smtp_port": self.catcher.port,
            "smtp_timeout_seconds": 2,
            "mail_rate_per_second": 10_000,
            **settings,
        }
        self.workers: list[Process] = []
        self.apis: list[Process] = []

    def env(self, **overrides: Any) -> dict[str, str]:
        return service_env(**{**self.settings, **overrides})

    def add_worker(self, name: str | None = None, **overrides: Any) -> Process:
        worker = start_worker(
            self.env(**overrides), self.logs, name or f"worker-{len(self.workers)}"
        )
        self.workers.append(worker)
        return worker

    def add_api(self, **overrides: Any) -> str:
        api, url = start_api(self.env(**overrides), self.logs)
        self.apis.append(api)
        return url

    def state(self) -> redis.Redis:
        return redis.Redis.from_url(self.settings["redis_url"], decode_responses=True)

    def seed_accounts(self, prefix: str, count: int) -> list[str]:
        """Accounts with two-step on, written straight to Redis (no notice emails)."""
        ids = [f"{prefix}-{n}" for n in range(count)]
        with self.state() as client, client.pipeline(transaction=False) as pipe:
            for account in ids:
                pipe.hset(
                    AccountKeys.of(account).profile,
                    mapping={"account_id": account, "email": f"{account}@example.com",
                             "locale": "en", "two_step": "1", "created_at": time.time()},
                )  # fmt: skip
            pipe.execute()
        return ids

    def stop(self) -> None:
        for process in [*self.apis, *self.workers]:
            process.stop()
        self.catcher.stop()
        self.redis.stop()


async def login_all(url: str, accounts: list[str], concurrency: int = 32) -> dict[str, str]:
    """Log every account in; returns account -> challenge id (only for 201 answers)."""
    challenges: dict[str, str] = {}
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=10) as client:

        async def one(account: str) -> None:
            async with limit:
                response = await client.post("/v1/logins", json={"account_id": account})
            if response.status_code == 201:
                challenges[account] = response.json()["challenge_id"]

        await asyncio.gather(*(one(account) for account in accounts))
    return challenges


def code_mails(catcher: MailCatcher) -> list[EmailMessage]:
    found = []
    for message in list(catcher.messages):
        body = message.get_body(("plain",))
        if body is not None and re.search(r"^\s*\d{6}\s*$", body.get_content(), re.MULTILINE):
            found.append(message)
    return found


def wait_for_recipients(catcher: MailCatcher, wanted: set[str], within: float) -> set[str]:
    """Wait until a code email reached every address in ``wanted``; return those missing."""
    deadline = time.monotonic() + within
    missing = set(wanted)
    while time.monotonic() < deadline:
        missing = wanted - {m["To"] for m in code_mails(catcher)}
        if not missing:
            break
        time.sleep(0.2)
    return missing


def duplicates(catcher: MailCatcher) -> dict[str, int]:
    """Message-IDs (one per send of one challenge) that arrived more than once."""
    counts = Counter(m["Message-ID"] for m in code_mails(catcher))
    return {mid: n for mid, n in counts.items() if n > 1}


def report(name: str, **counts: object) -> None:
    print(f"\n[drill] {name}: " + ", ".join(f"{key}={value}" for key, value in counts.items()))
