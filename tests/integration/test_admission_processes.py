"""Admission control with real processes: the API (uvicorn) and redis-server, the workers
away at first, so that the code queue grows as under a load the workers cannot carry. Once a
new code would wait longer than the bound, logins are refused with 503 mail_delayed and a
Retry-After; when a worker comes, the queue drains, every accepted code is mailed once, and
logins are taken again."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import redis

from shared.jobs import CODE_QUEUE
from shared.keys import AccountKeys
from tests.integration.flow import BROKER_DB, STATE_DB
from tests.processes import API_KEY, RedisServer, service_env, start_api, start_worker
from tests.smtpserver import MailCatcher

pytestmark = pytest.mark.integration

BOUND_SECONDS = 3
ACCOUNTS = 80


def _seed(server: RedisServer) -> None:
    """Accounts with two-step on, straight in Redis: through the API each would mail a notice."""
    state = redis.Redis.from_url(server.url(STATE_DB), decode_responses=True)
    for n in range(ACCOUNTS):
        state.hset(AccountKeys.of(f"late-{n}").profile, mapping={
            "account_id": f"late-{n}", "email": f"late-{n}@example.com", "locale": "en",
            "two_step": "1", "created_at": "0", "updated_at": "0"})  # fmt: skip
    state.close()


def test_logins_are_refused_while_codes_would_be_late_and_taken_again_once_mail_flows(
    log_dir: Path, clean_redis: RedisServer
) -> None:
    logs = log_dir / "admission"
    logs.mkdir(exist_ok=True)
    _seed(clean_redis)
    with MailCatcher() as catcher:
        env = service_env(
            redis_url=clean_redis.url(STATE_DB),
            broker_url=clean_redis.url(BROKER_DB),
            smtp_host=catcher.host,
            smtp_port=catcher.port,
            max_mail_delay_seconds=BOUND_SECONDS,
        )
        api, url = start_api(env, logs)
        broker = redis.Redis.from_url(clean_redis.url(BROKER_DB))
        headers = {"Authorization": f"Bearer {API_KEY}"}
        accepted: list[str] = []
        refused: list[httpx.Response] = []
        try:
            with httpx.Client(base_url=url, headers=headers) as client:
                started = time.monotonic()
                for n in range(ACCOUNTS // 2):
                    response = client.post("/v1/logins", json={"account_id": f"late-{n}"})
                    if response.status_code == 201:
                        accepted.append(f"late-{n}@example.com")
                        assert response.json()["expected_delivery_seconds"] <= BOUND_SECONDS
                    else:
                        refused.append(response)
                    time.sleep(0.2)
                took = time.monotonic() - started

                # Nothing sends: the oldest code waits past the bound within about 3.5 s.
                assert took > BOUND_SECONDS + 2
                assert len(accepted) >= BOUND_SECONDS / 0.2 - 2
                assert len(refused) >= 5
                for response in refused:
                    assert response.status_code == 503, response.text
                    assert response.json()["code"] == "mail_delayed"
                    assert int(response.headers["Retry-After"]) >= 1
                    assert response.json()["retry_after"] == int(response.headers["Retry-After"])
                assert broker.llen(CODE_QUEUE) == len(accepted)  # a refusal queued nothing
                metrics = client.get("/metrics").text
                assert "twostep_expected_mail_delay_seconds" in metrics

                worker = start_worker(env, logs, "worker-admission")
                try:
                    deadline = time.monotonic() + 60
                    while len(catcher.messages) < len(accepted):
                        assert time.monotonic() < deadline, "the queue did not drain"
                        time.sleep(0.1)
                    time.sleep(0.5)  # a refresh of the API's figure, and nothing more arrives
                    mailed = Counter(str(m["To"]) for m in catcher.messages)
                    assert sorted(mailed) == sorted(accepted)
                    assert set(mailed.values()) == {1}
                    again = client.post("/v1/logins", json={"account_id": f"late-{ACCOUNTS - 1}"})
                    assert again.status_code == 201, again.text
                finally:
                    worker.stop()
        finally:
            broker.close()
            api.stop()
