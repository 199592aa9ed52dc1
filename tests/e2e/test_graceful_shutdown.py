"""Graceful shutdown, as a scale-down or a rollout does it: SIGTERM to the main process only.

A worker finishes the emails it is sending (one per SMTP session, several at once) and hands
back every job it holds but has not started; a fresh worker then sends those, each email once.
The API finishes the request in flight, refuses new connections, and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from aiosmtpd.controller import Controller

from shared.jobs import CODE_BACKUPS, CODE_QUEUE, NOTICE_QUEUE
from shared.keys import AccountKeys
from tests.processes import (
    API_KEY,
    Process,
    RedisServer,
    free_port,
    service_env,
    start_api,
    start_worker,
)

pytestmark = pytest.mark.integration

AUTH = {"Authorization": f"Bearer {API_KEY}"}
LOGINS = 6
SESSIONS = 3  # the worker's threads, each with an SMTP session: three emails in flight at once
HELD_DATA = 3  # the worker sends two emails freely; from the third on, they wait in flight
# Short, so each code job's backup (due at half of it) comes due within the test and the
# test sees that it mails nothing a second time.
VISIBILITY_TIMEOUT_SECONDS = 16


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting until {what}")
        time.sleep(0.02)


class GatedMailServer:
    """A real SMTP server (aiosmtpd) that holds every DATA from the ``hold_at``-th on until
    ``release()``; ``holding`` is set once ``held`` of them wait."""

    def __init__(self, hold_at: int, held: int) -> None:
        self.hold_at = hold_at
        self.held = held
        self.messages: list[EmailMessage] = []
        self.data_commands = 0
        self.holding = threading.Event()
        self._released = threading.Event()
        self._lock = threading.Lock()
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> GatedMailServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self._controller.stop()

    def release(self) -> None:
        self._released.set()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.data_commands += 1
            number = self.data_commands
        if number >= self.hold_at and not self._released.is_set():
            if number == self.hold_at + self.held - 1:
                self.holding.set()
            # Held in a thread of the server's loop, at most a minute, until the test says.
            await asyncio.get_running_loop().run_in_executor(None, self._released.wait, 60)
        message = BytesParser(policy=default_policy).parsebytes(envelope.original_content)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.messages.append(message)
        return "250 OK queued"

    def message_ids(self) -> Counter[str]:
        with self._lock:
            return Counter(str(message["Message-ID"]) for message in self.messages)


def task_ids(broker: redis.Redis, queue: str) -> set[str]:
    return {json.loads(raw)["headers"]["id"] for raw in broker.lrange(queue, 0, -1)}


def unacked_task_ids(broker: redis.Redis) -> set[str]:
    return {json.loads(raw)[0]["headers"]["id"] for raw in broker.hvals("unacked")}


def queued_or_unacked(broker: redis.Redis) -> int:
    return int(broker.llen(CODE_QUEUE) + broker.llen(NOTICE_QUEUE) + broker.hlen("unacked"))


@pytest.fixture
def redis_for_test(log_dir: Path) -> Iterator[RedisServer]:
    server = RedisServer(log_dir / "graceful")
    yield server
    server.stop()


def test_sigterm_lets_a_worker_finish_its_email_and_hand_back_the_rest(
    redis_for_test: RedisServer, log_dir: Path
) -> None:
    logs = log_dir / "graceful"
    broker = redis.Redis.from_url(redis_for_test.url(1))
    with GatedMailServer(hold_at=HELD_DATA, held=SESSIONS) as smtp:
        env = service_env(
            redis_url=redis_for_test.url(0),
            broker_url=redis_for_test.url(1),
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_timeout_seconds=30,
            mail_rate_per_second=1000,
            smtp_max_sessions=SESSIONS,
            broker_visibility_timeout_seconds=VISIBILITY_TIMEOUT_SECONDS,
        )
        api, url = start_api(env, logs)
        first: Process | None = None
        second: Process | None = None
        try:
            with httpx.Client(base_url=url, headers=AUTH, timeout=10) as client:
                for n in range(LOGINS):
                    account = f"/v1/accounts/grace-{n}"
                    assert client.put(account, json={"email": f"g{n}@example.com"}).is_success
                    assert client.put(f"{account}/two-step", json={"enabled": True}).is_success
                    login = client.post("/v1/logins", json={"account_id": f"grace-{n}"})
                    assert login.status_code == 201, login.text
            jobs = queued_or_unacked(broker)
            # A code job per login, and a notice per account (two-step on); each code job's
            # backup waits beside the queue.
            assert jobs == 2 * LOGINS
            assert broker.zcard(CODE_BACKUPS) == LOGINS

            # The worker as production runs it (its threads pool), SIGTERM to its process.
            first = start_worker(env, logs, "worker-grace-1")
            wait_until(smtp.holding.is_set, 30, "three emails are in flight")
            held_back = unacked_task_ids(broker)
            sent_before = smtp.message_ids()
            assert len(sent_before) == HELD_DATA - 1

            os.kill(first.proc.pid, signal.SIGTERM)
            wait_until(lambda: "Warm shutdown" in first.logs(), 10, "the worker starts to stop")
            assert first.proc.poll() is None, "the worker quit with an email in flight"
            smtp.release()
            assert first.proc.wait(timeout=30) == 0, first.logs()

            # The emails in flight were finished, and acknowledged: they are not handed back.
            in_flight = set(smtp.message_ids()) - set(sent_before)
            assert len(in_flight) == SESSIONS
            assert broker.hlen("unacked") == 0, "jobs held by the stopped worker were not restored"
            waiting = task_ids(broker, CODE_QUEUE) | task_ids(broker, NOTICE_QUEUE)
            # It held the emails in flight (and what it had prefetched), and gave every one
            # back but those it finished.
            assert held_back
            assert len(held_back - waiting) == SESSIONS
            assert len(waiting) == jobs - (HELD_DATA - 1) - SESSIONS

            second = start_worker(env, logs, "worker-grace-2")
            # Every job is done, and every backup came due (within the visibility timeout) and
            # was settled by a sweeper without mailing anything a second time.
            wait_until(lambda: queued_or_unacked(broker) == 0, 40, "the second worker is done")
            wait_until(lambda: broker.zcard(CODE_BACKUPS) == 0, 40, "the backups are settled")
            assert queued_or_unacked(broker) == 0
            sent = smtp.message_ids()
            assert len(sent) == 2 * LOGINS, sent
            assert set(sent.values()) == {1}, f"an email was sent twice: {sent}"
        finally:
            for process in (second, first, api):
                if process is not None:
                    process.stop()
            broker.close()


def _connection_refused(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_sigterm_lets_the_api_finish_the_request_in_flight(log_dir: Path) -> None:
    logs = log_dir / "graceful-api"
    state = RedisServer(logs)
    broker_server = RedisServer(logs)
    # Long Redis timeouts: the held request must wait for the broker, not give up on it.
    env = service_env(
        redis_url=state.url(0), broker_url=broker_server.url(1), redis_timeout_seconds=15
    )
    api, url = start_api(env, logs)
    port = int(url.rsplit(":", 1)[1])
    broker = redis.Redis.from_url(broker_server.url(1))
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        with httpx.Client(base_url=url, headers=AUTH, timeout=20) as client:
            assert client.put("/v1/accounts/held", json={"email": "h@example.com"}).is_success
            assert client.put("/v1/accounts/held/two-step", json={"enabled": True}).is_success
        jobs_before = broker.llen(CODE_QUEUE)
        # Writes to the broker wait: the login will be held at its job push, after its state
        # change. Reads (ours) go on.
        broker.execute_command("CLIENT", "PAUSE", 20_000, "WRITE")
        login: Future[httpx.Response] = pool.submit(
            httpx.post,
            f"{url}/v1/logins",
            json={"account_id": "held"},
            headers=AUTH,
            timeout=30,
        )
        challenges = AccountKeys.of("held").challenge_prefix + "*"
        with redis.Redis.from_url(state.url(0)) as state_client:
            # The login script has run: the request is in the middle of its work.
            wait_until(
                lambda: bool(state_client.keys(challenges)) or login.done(),
                10,
                "the login is in flight",
            )
        assert not login.done(), login.result().text

        api.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: _connection_refused(port), 10, "the API stops accepting connections")
        assert not login.done(), "the request in flight ended before the broker answered"
        assert api.proc.poll() is None, "the API exited with a request in flight"

        broker.execute_command("CLIENT", "UNPAUSE")
        response = login.result(timeout=20)
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "pending"
        assert broker.llen(CODE_QUEUE) == jobs_before + 1
        assert broker.zcard(CODE_BACKUPS) == 1  # filed in the same step as the job
        # After its graceful shutdown, uvicorn (0.29 on) raises again the signal it caught, so
        # the parent sees it: "killed by SIGTERM" here, exit 0 as a container's PID 1 (which
        # the kernel spares a signal's default action).
        assert api.proc.wait(timeout=15) in (0, -signal.SIGTERM), api.logs()
        assert "Application shutdown complete" in api.logs()
        assert _connection_refused(port)
    finally:
        with contextlib.suppress(redis.RedisError):
            broker.execute_command("CLIENT", "UNPAUSE")
        pool.shutdown(wait=True, cancel_futures=True)
        broker.close()
        api.stop()
        broker_server.stop()
        state.stop()
