"""The API and a worker on a real three-master Redis Cluster (the broker on its own Redis)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from shared.keys import account_tag
from tests.processes import RedisServer, service_env, start_api, start_worker
from tests.smtpserver import MailCatcher
from tests.topologies import RedisCluster
from tests.topology.flow import AUTH, code_for, enrol, login, verify, wait_ready

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def service(
    redis_cluster: RedisCluster, log_dir: Path
) -> Iterator[tuple[httpx.Client, MailCatcher]]:
    logs = log_dir / "cluster-flow"
    logs.mkdir(exist_ok=True)
    redis_cluster.flushall()
    broker = RedisServer(logs)
    catcher = MailCatcher().start()
    env = service_env(
        redis_mode="cluster",
        redis_url=redis_cluster.url(),
        broker_url=broker.url(1),
        smtp_host=catcher.host,
        smtp_port=catcher.port,
        mail_rate_per_second=1000,
    )
    worker = start_worker(env, logs, "worker-cluster")
    api, url = start_api(env, logs)
    try:
        with httpx.Client(base_url=url, headers=AUTH, timeout=10) as client:
            wait_ready(client)
            yield client, catcher
    finally:
        api.stop()
        worker.stop()
        catcher.stop()
        broker.stop()


def test_login_email_verify_and_trusted_browser_on_a_cluster(
    service: tuple[httpx.Client, MailCatcher], redis_cluster: RedisCluster
) -> None:
    client, catcher = service
    accounts = [f"cluster-{n}" for n in range(6)]  # spread over the three masters
    for account in accounts:
        enrol(client, account)
        pending = login(client, account)
        assert pending.status_code == 201, pending.text
        challenge_id = pending.json()["challenge_id"]
        verified = verify(client, challenge_id, code_for(catcher, challenge_id))
        assert verified.status_code == 200, verified.text
        token = verified.json()["trusted_browser"]["token"]
        again = login(client, account, trusted_browser_token=token)
        assert again.status_code == 200, again.text
        assert again.json()["reason"] == "trusted_browser"
        delivery = client.get(f"/v1/challenges/{challenge_id}")
        assert delivery.status_code in (200, 404), delivery.text

    # Every key of an account is in one slot, and the accounts are not all on one master.
    masters_used = set()
    for account in accounts:
        tag = account_tag(account)
        keys: dict[str, int] = {}
        for port in redis_cluster.ports:
            with redis.Redis(port=port, decode_responses=True) as node:
                for key in node.scan_iter(match=f"*{{{tag}}}*", count=1000):
                    keys[key] = port
        assert len(keys) >= 5, keys  # profile, guard, sends, browsers, browser expiry, ...
        assert len(set(keys.values())) == 1, keys
        port = next(iter(keys.values()))
        masters_used.add(port)
        with redis.Redis(port=port, decode_responses=True) as node:
            slots = {node.cluster("keyslot", key) for key in keys}
            assert len(slots) == 1, slots
            [slot] = slots
            in_slot = node.cluster("getkeysinslot", slot, 10_000)
            assert set(keys) <= set(in_slot)
            assert node.cluster("countkeysinslot", slot) == len(in_slot)
    assert len(masters_used) >= 2


def test_worker_and_api_see_the_same_cluster_state(
    service: tuple[httpx.Client, MailCatcher],
) -> None:
    """The worker records the delivery on the cluster; the API reads it back from there."""
    client, catcher = service
    enrol(client, "cluster-delivery")
    pending = login(client, "cluster-delivery")
    assert pending.status_code == 201, pending.text
    challenge_id = pending.json()["challenge_id"]
    code_for(catcher, challenge_id)
    deadline = time.monotonic() + 20
    while (body := client.get(f"/v1/challenges/{challenge_id}").json())["delivery"] != "sent":
        assert time.monotonic() < deadline, body
        time.sleep(0.05)
