"""The API and a worker behind Redis Sentinel, the state and the broker each a master with a
replica under one Sentinel: a failover of either in the middle of traffic loses nothing the
API acknowledged (with TWOSTEP_REDIS_MIN_REPLICAS_ACK=1), and needs no restart."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis

from shared.keys import challenge_key
from tests.processes import Process, service_env, start_api, start_worker
from tests.smtpserver import MailCatcher
from tests.topologies import SentinelGroup
from tests.topology.flow import (
    AUTH,
    code_for,
    code_in,
    enrol,
    login,
    message_id,
    verify,
    wait_ready,
)

pytestmark = pytest.mark.integration

MASTER = "twostep-state"
BROKER_MASTER = "twostep-broker"


@dataclass
class Service:
    url: str
    catcher: MailCatcher
    group: SentinelGroup  # MASTER (the state) and BROKER_MASTER
    worker: Process


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
def service(log_dir: Path) -> Iterator[Service]:
    logs = log_dir / "sentinel"
    logs.mkdir(exist_ok=True)
    group = SentinelGroup(logs, MASTER, BROKER_MASTER)
    catcher = MailCatcher().start()
    env = service_env(
        redis_mode="sentinel",
        redis_url=group.url(0),
        redis_sentinel_master=MASTER,
        redis_min_replicas_ack=1,
        # The broker through the same Sentinel, as docs/reliability.md configures it: the API pushes
        # with redis-py's Sentinel client, the worker's kombu with master_name.
        broker_url=group.url(1),
        broker_sentinel_master=BROKER_MASTER,
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
        yield Service(url, catcher, group, worker)
    finally:
        api.stop()
        worker.stop()
        catcher.stop()
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


def test_login_email_verify_with_the_broker_behind_sentinel(service: Service) -> None:
    """The code job goes through the Sentinel-managed broker: pushed by the API on its master,
    taken from there by the worker, whose BRPOP is on that master."""
    with httpx.Client(base_url=service.url, headers=AUTH, timeout=10) as client:
        enrol(client, "sentinel-broker-flow")
        pending = login(client, "sentinel-broker-flow")
        assert pending.status_code == 201, pending.text
        challenge_id = pending.json()["challenge_id"]
        code = code_for(service.catcher, challenge_id)
        verified = verify(client, challenge_id, code)
        assert verified.status_code == 200, verified.text
    broker_master = service.group.master_port(BROKER_MASTER)
    _wait_for(lambda: _consumers_on(broker_master) >= 1, "worker blocked on the broker's master")


def test_a_failover_during_traffic_loses_nothing_acknowledged(service: Service) -> None:
    url, catcher, group = service.url, service.catcher, service.group
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


@dataclass
class Logins:
    """Every login answer: its status, and the challenge of each 201."""

    acknowledged: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _logins(url: str, accounts: list[str], seen: Logins, stop: threading.Event) -> None:
    try:
        with httpx.Client(base_url=url, headers=AUTH, timeout=10) as client:
            while not stop.is_set():
                for account in accounts:
                    answer = login(client, account)
                    with seen.lock:
                        seen.statuses.append(answer.status_code)
                        if answer.status_code == 201:
                            seen.acknowledged.append(answer.json()["challenge_id"])
    except BaseException as exc:
        with seen.lock:
            seen.errors.append(exc)
        raise


def test_a_broker_failover_during_logins_loses_no_code_email(service: Service) -> None:
    """``SENTINEL FAILOVER`` of the broker's master while logins stream in: each login the API
    answered 201 gets its code email (once), the worker carries on from the new master without
    a restart, and nothing is left waiting in the queues."""
    group, catcher = service.group, service.catcher
    threads = 3
    accounts = [[f"broker-{t}-{n}" for n in range(3)] for t in range(threads)]
    addresses = set()
    with httpx.Client(base_url=service.url, headers=AUTH, timeout=10) as client:
        for mine in accounts:
            for account in mine:
                addresses.add(enrol(client, account))
    seen = Logins()
    stop = threading.Event()
    streams = [
        threading.Thread(target=_logins, args=(service.url, mine, seen, stop), daemon=True)
        for mine in accounts
    ]
    for thread in streams:
        thread.start()
    try:
        _wait_for(lambda: len(seen.acknowledged) >= 10, "logins before the broker failover")
        old_master = group.master_port(BROKER_MASTER)
        started = time.monotonic()
        new_master = group.failover(BROKER_MASTER)
        switch_seconds = time.monotonic() - started
        # Acknowledged from here on: pushed on the new master (the old one is its replica).
        after = len(seen.acknowledged)
        _wait_for(
            lambda: len(seen.acknowledged) >= after + 10, "logins acknowledged after the failover"
        )
    finally:
        stop.set()
        for thread in streams:
            thread.join(30)
    assert not any(thread.is_alive() for thread in streams)
    assert seen.errors == []
    assert new_master != old_master
    assert set(seen.statuses) <= {201, 503}, set(seen.statuses)  # never a 500

    expected = {message_id(challenge_id): challenge_id for challenge_id in seen.acknowledged}

    def delivered() -> Counter[str]:
        """Code emails to this test's accounts (not their "two-step enabled" notices)."""
        return Counter(
            str(message["Message-ID"])
            for message in list(catcher.messages)
            if str(message["To"]) in addresses and code_in(message) is not None
        )

    _wait_for(
        lambda: expected.keys() <= delivered().keys(),
        "code email for every acknowledged login",
        timeout=30,
    )
    # The worker consumed the jobs pushed on the new master: same process, no restart.
    assert service.worker.proc.poll() is None
    _wait_for(lambda: _consumers_on(new_master) >= 1, "worker blocked on the new master")
    _wait_for(lambda: _waiting_jobs(new_master) == 0, "queues drained", timeout=30)
    counts = delivered()
    print(
        f"broker failover {old_master} -> {new_master} in {switch_seconds:.1f}s:"
        f" {len(seen.statuses)} logins, {len(seen.acknowledged)} answered 201"
        f" ({len(seen.acknowledged) - after} after the switch), {seen.statuses.count(503)}"
        f" answered 503; {sum(counts.values())} code emails for {len(counts)} challenges"
        f" ({len(counts.keys() - expected.keys())} of them answered 503)"
    )
    # No email twice: the send's claim lives in the state store, which did not fail over.
    assert {mid: n for mid, n in counts.items() if n > 1} == {}


def _consumers_on(port: int) -> int:
    """Clients of a broker node blocked on BRPOP in the broker's database: the worker."""
    with redis.Redis(port=port, decode_responses=True) as node:
        return sum(
            1 for client in node.client_list() if client["cmd"] == "brpop" and client["db"] == "1"
        )


def _waiting_jobs(port: int) -> int:
    """Jobs waiting in any queue (every priority list) of the broker's database."""
    with redis.Redis(port=port, db=1) as node:
        return sum(node.llen(key) for key in node.scan_iter() if node.type(key) == b"list")


def _wait_for(condition: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"no {what} within {timeout}s"
        time.sleep(0.05)
