"""The API and a worker behind Redis Sentinel: a failover in the middle of traffic loses
nothing the API acknowledged (with TWOSTEP_REDIS_MIN_REPLICAS_ACK=1), and needs no restart."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis

from shared.keys import challenge_key
from tests.processes import RedisServer, service_env, start_api, start_worker
from tests.smtpserver import MailCatcher
from tests.topologies import SentinelGroup
from tests.topology.flow import AUTH, code_for, enrol, login, verify, wait_ready

pytestmark = pytest.mark.integration

MASTER = "twostep-state"


@dataclass
class Acknowledged:
    """What the API answered 2xx to, and every status it answered."""

    logins: list[str] = field(default_factory=list)
    verified: dict[str, str] = field(default_factory=dict)  # challenge id -> code
    tokens: dict[str, str] = field(default_factory=dict)  # token -> account
    uncertain: set[str] = field(default_factory=set)  # challenges whose verify was a 503
    errors: list[BaseException] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw(self, response: httpx.Response) -> httpx.Response:
        with self.lock:
            self.statuses.append(response.status_code)
        return response


@pytest.fixture(scope="module")
def service(log_dir: Path) -> Iterator[tuple[str, MailCatcher, SentinelGroup]]:
    logs = log_dir / "sentinel"
    logs.mkdir(exist_ok=True)
    group = SentinelGroup(logs, MASTER)
    broker = RedisServer(logs)
    catcher = MailCatcher().start()
    env = service_env(
        redis_mode="sentinel",
        redis_url=group.url(0),
        redis_sentinel_master=MASTER,
        redis_min_replicas_ack=1,
        broker_url=broker.url(1),
        smtp_host=catcher.host,
        smtp_port=catcher.port,
        mail_rate_per_second=1000,
        max_emails_per_hour=10000,
        max_sends_per_challenge=100,
    )
    worker = start_worker(env, logs, "worker-sentinel")
    api, url = start_api(env, logs)
    try:
        with httpx.Client(base_url=url, headers=AUTH, timeout=10) as client:
            wait_ready(client)
        yield url, catcher, group
    finally:
        api.stop()
        worker.stop()
        catcher.stop()
        broker.stop()
        group.stop()


def _traffic(
    url: str, catcher: MailCatcher, accounts: list[str], done: Acknowledged, stop: threading.Event
) -> None:
    """Log in, verify with the emailed code, trust the browser, log in with it: over and over.
    A 503 is allowed (the request is not acknowledged); anything the API acknowledged is noted."""
    try:
        _cycle(url, catcher, accounts, done, stop)
    except BaseException as exc:
        with done.lock:
            done.errors.append(exc)
        raise


def _cycle(
    url: str, catcher: MailCatcher, accounts: list[str], done: Acknowledged, stop: threading.Event
) -> None:
    with httpx.Client(base_url=url, headers=AUTH, timeout=10) as client:
        while not stop.is_set():
            for account in accounts:
                pending = done.saw(login(client, account))
                if pending.status_code != 201:
                    continue
                challenge_id = pending.json()["challenge_id"]
                with done.lock:
                    done.logins.append(challenge_id)
                code = code_for(catcher, challenge_id)
                verified = done.saw(verify(client, challenge_id, code))
                if verified.status_code != 200:
                    with done.lock:
                        done.uncertain.add(challenge_id)
                    continue
                token = verified.json()["trusted_browser"]["token"]
                with done.lock:
                    done.verified[challenge_id] = code
                    done.tokens[token] = account
                done.saw(login(client, account, trusted_browser_token=token))


def test_a_failover_during_traffic_loses_nothing_acknowledged(
    service: tuple[str, MailCatcher, SentinelGroup],
) -> None:
    url, catcher, group = service
    threads = 3
    accounts = [[f"sentinel-{t}-{n}" for n in range(3)] for t in range(threads)]
    with httpx.Client(base_url=url, headers=AUTH, timeout=10) as client:
        for group_accounts in accounts:
            for account in group_accounts:
                enrol(client, account)
    done = Acknowledged()
    stop = threading.Event()
    workers = [
        threading.Thread(target=_traffic, args=(url, catcher, mine, done, stop), daemon=True)
        for mine in accounts
    ]
    for thread in workers:
        thread.start()
    try:
        _wait_for(lambda: len(done.verified) >= 10, "traffic before the failover")
        old_master = group.master_port()
        before = len(done.verified)
        new_master = group.failover()
        assert new_master != old_master
        during = len(done.verified) - before
        # The service carries on against the new master, without a restart.
        after = len(done.verified)
        _wait_for(lambda: len(done.verified) >= after + 10, "traffic after the failover")
    finally:
        stop.set()
        for thread in workers:
            thread.join(60)
    assert not any(thread.is_alive() for thread in workers)
    assert done.errors == []

    statuses = set(done.statuses)
    assert statuses <= {200, 201, 503}, statuses  # never a 500
    print(
        f"failover {old_master} -> {new_master}: {len(done.logins)} logins and"
        f" {len(done.verified)} verifies acknowledged ({during} during the switch),"
        f" {done.statuses.count(503)} answers were 503"
    )

    with (
        redis.Redis(port=new_master, decode_responses=True) as state,
        httpx.Client(base_url=url, headers=AUTH, timeout=10) as client,
    ):
        for challenge_id in done.logins:
            key = challenge_key(challenge_id)
            assert key is not None
            fields = state.hgetall(key)
            assert fields, f"acknowledged challenge {challenge_id} lost"
            if challenge_id in done.verified:
                # An acknowledged verify stays used: its code does not work again.
                assert fields["status"] != "pending", fields
                again = verify(client, challenge_id, done.verified[challenge_id])
                assert again.status_code in (404, 409, 429), again.text
            elif challenge_id not in done.uncertain:
                # A challenge not verified yet still takes its emailed code. (One whose verify
                # answered 503 may or may not have been used: a 503 promises nothing.)
                assert fields["status"] == "pending", fields
                answer = verify(client, challenge_id, code_for(catcher, challenge_id))
                assert answer.status_code == 200, answer.text
        for token, account in done.tokens.items():
            answer = login(client, account, trusted_browser_token=token)
            assert answer.status_code == 200, answer.text
            assert answer.json()["reason"] == "trusted_browser"


def _wait_for(condition: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"no {what} within {timeout}s"
        time.sleep(0.05)
