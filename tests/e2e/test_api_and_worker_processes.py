"""End to end: the API and a worker started as docs/operations.md starts them, over HTTP."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.processes import BIN, ROOT, RedisServer, service_env, start_api, start_worker
from tests.smtpserver import MailCatcher

pytestmark = pytest.mark.integration

AUTH = {"Authorization": "Bearer test-api-key-0123456789"}


@pytest.fixture(scope="module")
def system(log_dir: Path) -> Iterator[tuple[httpx.Client, MailCatcher]]:
    redis = RedisServer(log_dir / "e2e", appendonly=True)
    catcher = MailCatcher().start()
    env = service_env(
        redis_url=redis.url(0),
        broker_url=redis.url(1),
        smtp_host=catcher.host,
        smtp_port=catcher.port,
    )
    # The worker's own pool (threads), as `celery -A workers.app worker` starts it.
    worker = start_worker(env, log_dir / "e2e", "worker-e2e")
    api, url = start_api(env, log_dir / "e2e", "--workers", "2")
    with httpx.Client(base_url=url, headers=AUTH, timeout=10) as client:
        deadline = time.monotonic() + 20
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "API never became ready"
            time.sleep(0.1)
        yield client, catcher
    api.stop()
    worker.stop()
    catcher.stop()
    redis.stop()


def _code(catcher: MailCatcher, to: str, count: int = 1) -> str:
    """The code of the ``count``-th code email to ``to`` (notices, on their own queue, may
    arrive before or after it)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = []
        for mail in [m for m in list(catcher.messages) if m["To"] == to]:
            body = mail.get_body(("plain",))
            assert body is not None
            found += re.findall(r"^\s*(\d{6})\s*$", body.get_content(), re.MULTILINE)
        if len(found) >= count:
            return str(found[count - 1])
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} code mails to {to}")


def test_login_code_trust_and_revoke_over_http(system: tuple[httpx.Client, MailCatcher]) -> None:
    client, catcher = system
    assert client.put("/v1/accounts/e2e-1", json={"email": "e2e@example.com"}).status_code == 201
    assert client.put("/v1/accounts/e2e-1/two-step", json={"enabled": True}).status_code == 200
    pending = client.post("/v1/logins", json={"account_id": "e2e-1"})
    assert pending.status_code == 201
    challenge = pending.json()["challenge_id"]
    code = _code(catcher, "e2e@example.com")
    verified = client.post(
        f"/v1/challenges/{challenge}/verify", json={"code": code, "remember_browser": True}
    )
    assert verified.status_code == 200
    token = verified.json()["trusted_browser"]["token"]
    skipped = client.post(
        "/v1/logins", json={"account_id": "e2e-1", "trusted_browser_token": token}
    )
    assert skipped.json() == {"status": "not_required", "reason": "trusted_browser"}
    assert client.delete("/v1/accounts/e2e-1/trusted-browsers").status_code == 204
    again = client.post("/v1/logins", json={"account_id": "e2e-1", "trusted_browser_token": token})
    assert again.status_code == 201
    assert client.get(f"/v1/challenges/{challenge}").json()["status"] == "verified"


def test_parallel_wrong_guesses_over_two_api_processes_lock_at_the_fifth(
    system: tuple[httpx.Client, MailCatcher],
) -> None:
    client, catcher = system
    client.put("/v1/accounts/e2e-race", json={"email": "race@example.com"})
    client.put("/v1/accounts/e2e-race/two-step", json={"enabled": True})
    challenge = client.post("/v1/logins", json={"account_id": "e2e-race"}).json()["challenge_id"]
    code = _code(catcher, "race@example.com")
    wrong = "000000" if code != "000000" else "111111"
    url = f"{client.base_url}/v1/challenges/{challenge}/verify"

    def guess(_: int) -> int:
        return httpx.post(url, json={"code": wrong}, headers=AUTH, timeout=10).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = sorted(pool.map(guess, range(20)))
    assert statuses == [400] * 4 + [429] * 16
    assert client.post(url, json={"code": code}).status_code == 429


@pytest.mark.parametrize(
    "command",
    [
        [str(BIN / "uvicorn"), "--factory", "api.main:create_app", "--port", "1"],
        [str(BIN / "celery"), "-A", "workers.app", "worker"],
    ],
    ids=["api", "worker"],
)
def test_refuses_to_start_without_a_secret_key(command: list[str]) -> None:
    env = service_env()
    del env["TWOSTEP_SECRET_KEY"]
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, timeout=60, text=True)
    assert result.returncode != 0
    assert "TWOSTEP_SECRET_KEY" in result.stderr + result.stdout


def test_redis_down_gives_503_fast_and_readyz_says_so(log_dir: Path) -> None:
    redis = RedisServer(log_dir / "down")
    api, url = start_api(
        service_env(redis_url=redis.url(0), broker_url=redis.url(1)), log_dir / "down"
    )
    try:
        with httpx.Client(base_url=url, headers=AUTH, timeout=10) as client:
            assert client.get("/readyz").status_code == 200
            redis.stop()
            started = time.monotonic()
            response = client.put("/v1/accounts/down-1", json={"email": "d@example.com"})
            elapsed = time.monotonic() - started
            assert response.status_code == 503
            assert response.json()["code"] == "unavailable"
            assert elapsed < 1.5
            assert client.get("/readyz").status_code == 503
    finally:
        api.stop()
