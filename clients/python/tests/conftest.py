"""The client's tests: the package from its source folder, and the real service (redis-server,
a Celery worker, a loopback SMTP server, uvicorn) for the tests marked ``integration``."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# The package as this checkout has it, without installing it: what CI tests is the source.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from tests.processes import (
    API_KEY,
    Process,
    RedisServer,
    service_env,
    start_api,
    start_worker,
)
from tests.smtpserver import MailCatcher

RP_ID = "portal.test"
ORIGIN = "https://portal.test"
REPORT_URL = "https://portal.test/report/{token}"


@dataclass
class Service:
    """twostep as a portal meets it: its URL and key, and the mailbox its emails land in."""

    url: str
    api_key: str
    mailbox: MailCatcher

    def codes_to(self, address: str, count: int = 1, within: float = 20.0) -> list[str]:
        """The codes of the first ``count`` code emails to ``address``, waiting for them."""
        deadline = time.monotonic() + within
        while True:
            found = [
                code
                for text in self._texts_to(address)
                for code in re.findall(r"^\s*(\d{6})\s*$", text, re.MULTILINE)
            ]
            if len(found) >= count:
                return found
            assert time.monotonic() < deadline, f"fewer than {count} code emails to {address}"
            time.sleep(0.05)

    def report_tokens_to(self, address: str, within: float = 20.0) -> list[str]:
        """The tokens of the "This wasn't me" links in the emails to ``address``."""
        pattern = re.escape(REPORT_URL).replace(re.escape("{token}"), r"([A-Za-z0-9._~-]+)")
        deadline = time.monotonic() + within
        while True:
            found = [t for text in self._texts_to(address) for t in re.findall(pattern, text)]
            if found:
                return found
            assert time.monotonic() < deadline, f"no report link in the emails to {address}"
            time.sleep(0.05)

    def _texts_to(self, address: str) -> list[str]:
        texts = []
        for message in list(self.mailbox.messages):
            if message["To"] == address:
                part = message.get_body(("plain",))
                assert part is not None
                texts.append(str(part.get_content()))  # type: ignore[attr-defined]
        return texts


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The service started as docs/operations.md starts it, for the whole session."""
    logs = tmp_path_factory.mktemp("client-logs")
    redis = RedisServer(logs)
    mailbox = MailCatcher().start()
    processes: list[Process] = []
    try:
        env = service_env(
            redis_url=redis.url(0),
            broker_url=redis.url(1),
            smtp_host=mailbox.host,
            smtp_port=mailbox.port,
            mail_rate_per_second=1000,
            # Small numbers, so that a lock and a used-up challenge take a few calls.
            resend_cooldown_seconds=0,
            max_attempts=3,
            account_lock_threshold=4,
            webauthn_rp_id=RP_ID,
            webauthn_origins=ORIGIN,
            report_url=REPORT_URL,
        )
        processes.append(start_worker(env, logs, "client-worker"))
        api, url = start_api(env, logs)
        processes.append(api)
        yield Service(url, API_KEY, mailbox)
    finally:
        for process in reversed(processes):
            process.stop()
        mailbox.stop()
        redis.stop()
