"""The client's tests: the package from its source folder, and the real service (redis-server,
a Celery worker, a loopback SMTP server, uvicorn) for the tests marked ``integration``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The package as this checkout has it, without installing it: what CI tests is the source.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from livestack import ORIGIN, REPORT_URL, RP_ID, Service
from tests.processes import (
    API_KEY,
    Process,
    RedisServer,
    service_env,
    start_api,
    start_worker,
)
from tests.smtpserver import MailCatcher


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
