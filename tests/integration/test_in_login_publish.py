"""When the broker is a database of the state store's own server, the login script pushes the
code job and files its backup itself: one round trip, and one atomic step with the challenge."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis

from api.main import create_app
from shared.crypto import Sealer
from shared.jobs import CODE_BACKUPS, CODE_QUEUE, code_seal_context
from shared.redisconn import broker_beside_state
from shared.settings import Settings
from tests.api_calls import make_settings
from tests.integration.flow import running
from tests.processes import SECRET_KEY, RedisServer

pytestmark = pytest.mark.integration

# Databases no test worker listens to (the integration workers consume db 1).
STATE_DB, BROKER_DB = 8, 9


@pytest.fixture
async def api(clean_redis: RedisServer) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(
        redis_url=clean_redis.url(STATE_DB), broker_url=clean_redis.url(BROKER_DB)
    )
    app = create_app(settings)
    assert app.state.twostep.in_login is not None
    async with running(app) as client:
        yield client


async def _account(api: httpx.AsyncClient, account: str, two_step: bool = True) -> None:
    response = await api.put(f"/v1/accounts/{account}", json={"email": f"{account}@example.com"})
    assert response.status_code == 201
    response = await api.put(f"/v1/accounts/{account}/two-step", json={"enabled": two_step})
    assert response.status_code == 200


def _payload(raw: bytes) -> dict[str, Any]:
    [[payload], _kwargs, _embed] = json.loads(base64.b64decode(json.loads(raw)["body"]))
    return payload  # type: ignore[no-any-return]


async def test_the_login_script_queues_the_job_and_its_backup_on_the_broker_database(
    api: httpx.AsyncClient, clean_redis: RedisServer
) -> None:
    await _account(api, "u-1")
    response = await api.post("/v1/logins", json={"account_id": "u-1"})
    assert response.status_code == 201
    challenge_id = response.json()["challenge_id"]
    with (
        redis.Redis.from_url(clean_redis.url(BROKER_DB)) as broker,
        redis.Redis.from_url(clean_redis.url(STATE_DB)) as state,
    ):
        [raw] = broker.lrange(CODE_QUEUE, 0, -1)
        [backup] = broker.zrange(CODE_BACKUPS, 0, -1)
        # Nothing of the job landed in the state's own database.
        assert not state.exists(CODE_QUEUE, CODE_BACKUPS)
    payload = _payload(raw)
    assert json.loads(backup) == payload
    assert payload["challenge_id"] == challenge_id
    assert payload["send_no"] == 1
    code = Sealer(SECRET_KEY).open(payload["sealed_code"], code_seal_context(challenge_id, 1))
    # The job opens to the code the challenge checks: the right code verifies.
    verified = await api.post(f"/v1/challenges/{challenge_id}/verify", json={"code": code})
    assert verified.status_code == 200, verified.text
    # The login's connection still works on the state's database (Redis keeps the caller's
    # database whatever a script selects): the verify above ran its script there.
    assert (await api.get("/v1/accounts/u-1")).json()["email"] == "u-1@example.com"


async def test_a_login_that_mails_nothing_queues_nothing(
    api: httpx.AsyncClient, clean_redis: RedisServer
) -> None:
    await _account(api, "off", two_step=False)
    await _account(api, "on")
    assert (await api.post("/v1/logins", json={"account_id": "off"})).status_code == 200
    assert (await api.post("/v1/logins", json={"account_id": "nobody"})).status_code == 404
    totp = await api.post("/v1/logins", json={"account_id": "on", "method": "totp"})
    assert totp.status_code == 409  # no app enrolled: refused before any challenge
    with redis.Redis.from_url(clean_redis.url(BROKER_DB)) as broker:
        assert broker.llen(CODE_QUEUE) == 0
        assert broker.zcard(CODE_BACKUPS) == 0


def test_with_replica_acknowledgement_the_job_is_queued_after_the_login(
    clean_redis: RedisServer,
) -> None:
    settings = make_settings(
        redis_url=clean_redis.url(STATE_DB),
        broker_url=clean_redis.url(BROKER_DB),
        redis_min_replicas_ack=1,
    )
    assert create_app(settings).state.twostep.in_login is None


@pytest.mark.parametrize(
    ("redis_url", "broker_url", "mode", "expected"),
    [
        ("redis://r:6379/0", "redis://r:6379/1", "standalone", (0, 1)),
        ("redis://r:6379", "redis://r:6379/3", "standalone", (0, 3)),
        ("redis://u:p@r:6379/2", "redis://u:p@r:6379/2", "standalone", (2, 2)),
        ("redis://r:6379/0", "redis://q:6379/1", "standalone", None),
        ("redis://r:6379/0", "redis://r:6380/1", "standalone", None),
        ("redis://u:p@r:6379/0", "redis://u:x@r:6379/1", "standalone", None),
        ("rediss://r:6379/0", "rediss://r:6379/1", "standalone", None),
        ("redis://r:6379/0", "redis://b:6379/1", "cluster", None),
    ],
)
def test_which_settings_put_the_broker_beside_the_state(
    redis_url: str, broker_url: str, mode: str, expected: tuple[int, int] | None
) -> None:
    settings: Settings = make_settings(redis_url=redis_url, broker_url=broker_url, redis_mode=mode)
    assert broker_beside_state(settings) == expected
