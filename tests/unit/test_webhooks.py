"""Webhook delivery: signed POSTs of an account's audit events, in order, retried, once each
in the normal case; and the signature recipe a receiver follows."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import fakeredis
import pytest

from api.store import Audit, Store
from shared.keys import AccountKeys
from shared.webhooks import SIGNATURE_HEADER, sign, verify_signature
from tests.fakes import FakeClock
from tests.webhookreceiver import Receiver
from workers.retry import RetryLater
from workers.webhooks import WebhookSender, http_post
from workers.webhookstore import WebhookStore

SECRET = "w" * 40
ACCOUNT = "u-hook"
TAG = AccountKeys.of(ACCOUNT).tag


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


def sender_for(
    server: fakeredis.FakeServer, receiver: Receiver, clock: FakeClock, claimant: str = "w1"
) -> WebhookSender:
    return WebhookSender(
        url=receiver.url,
        secret=SECRET,
        timeout_seconds=5,
        store=WebhookStore(fakeredis.FakeRedis(server=server)),
        claimant=claimant,
        clock=clock,
    )


async def account_with_events(server: fakeredis.FakeServer, clock: FakeClock) -> Store:
    store = Store(fakeredis.FakeAsyncRedis(server=server, decode_responses=True))
    await store.upsert_profile(ACCOUNT, "ada@example.com", "en", clock())
    audit = Audit(cap=100, at=clock(), ip="203.0.113.9", request_id="req-1")
    await store.set_two_step(ACCOUNT, True, clock(), audit)
    await store.unlock(ACCOUNT, clock(), Audit(cap=100, at=clock()))
    return store


class TestSignature:
    def test_a_receiver_accepts_the_signature_of_the_exact_body(self) -> None:
        body = b'{"id":"1-0"}'
        header = sign(SECRET, 1_800_000_000, body)
        assert verify_signature(SECRET, header, body, now=1_800_000_010)

    @pytest.mark.parametrize(
        ("body", "secret", "now"),
        [
            (b'{"id":"1-1"}', SECRET, 1_800_000_010),  # body changed
            (b'{"id":"1-0"}', "x" * 40, 1_800_000_010),  # another secret
            (b'{"id":"1-0"}', SECRET, 1_800_000_301),  # replayed too late
            (b'{"id":"1-0"}', SECRET, 1_799_999_699),  # from the future
        ],
        ids=["body", "secret", "late", "early"],
    )
    def test_anything_else_is_refused(self, body: bytes, secret: str, now: float) -> None:
        header = sign(SECRET, 1_800_000_000, b'{"id":"1-0"}')
        assert not verify_signature(secret, header, body, now=now)

    @pytest.mark.parametrize("header", ["", "t=abc,v1=00", "v1=00", "t=1800000000", "garbage"])
    def test_malformed_headers_are_refused(self, header: str) -> None:
        assert not verify_signature(SECRET, header, b"{}", now=1_800_000_000)


class TestDelivery:
    async def test_events_arrive_signed_in_order_with_the_account_id(
        self, server: fakeredis.FakeServer, receiver: Receiver, clock: FakeClock
    ) -> None:
        await account_with_events(server, clock)
        outcome = sender_for(server, receiver, clock).deliver(TAG, clock())

        assert outcome == "sent"
        documents = receiver.documents()
        assert [doc["type"] for doc in documents] == ["two_step_enabled", "account_unlocked"]
        first = documents[0]
        assert first["account_id"] == ACCOUNT
        assert first["client_ip"] == "203.0.113.9"
        assert first["request_id"] == "req-1"
        assert first["occurred_at"] == "2027-01-15T08:00:00Z"
        assert first["details"] == {"browsers_revoked": 0}
        for headers, body in receiver.received:
            assert headers["Content-Type"] == "application/json"
            assert verify_signature(SECRET, headers[SIGNATURE_HEADER], body, now=clock())

    async def test_a_second_job_sends_only_what_is_new(
        self, server: fakeredis.FakeServer, receiver: Receiver, clock: FakeClock
    ) -> None:
        store = await account_with_events(server, clock)
        sender = sender_for(server, receiver, clock)
        sender.deliver(TAG, clock())
        assert sender.deliver(TAG, clock()) == "nothing_new"
        await store.set_two_step(ACCOUNT, False, clock(), Audit(cap=100, at=clock()))
        assert sender.deliver(TAG, clock()) == "sent"

        assert [doc["type"] for doc in receiver.documents()] == [
            "two_step_enabled",
            "account_unlocked",
            "two_step_disabled",
        ]

    async def test_a_failing_receiver_is_retried_from_the_event_it_did_not_take(
        self, server: fakeredis.FakeServer, receiver: Receiver, clock: FakeClock
    ) -> None:
        await account_with_events(server, clock)
        sender = sender_for(server, receiver, clock)
        receiver.statuses = [200, 503]
        with pytest.raises(RetryLater):
            sender.deliver(TAG, clock())
        assert sender.deliver(TAG, clock()) == "sent"

        ids = [doc["id"] for doc in receiver.documents()]
        types = [doc["type"] for doc in receiver.documents()]
        assert types == ["two_step_enabled", "account_unlocked", "account_unlocked"]
        assert ids[1] == ids[2]  # the same event again: receivers deduplicate by id

    async def test_an_event_refused_for_good_is_skipped_not_blocking(
        self, server: fakeredis.FakeServer, receiver: Receiver, clock: FakeClock
    ) -> None:
        await account_with_events(server, clock)
        receiver.statuses = [400, 204]
        assert sender_for(server, receiver, clock).deliver(TAG, clock()) == "sent"
        assert len(receiver.received) == 2

    async def test_an_unreachable_receiver_is_retried(
        self, server: fakeredis.FakeServer, receiver: Receiver, clock: FakeClock
    ) -> None:
        await account_with_events(server, clock)
        sender = sender_for(server, receiver, clock)
        receiver.close()
        with pytest.raises(RetryLater):
            sender.deliver(TAG, clock())

    async def test_a_job_finding_the_account_taken_leaves_it_to_the_holder(
        self, server: fakeredis.FakeServer, receiver: Receiver, clock: FakeClock
    ) -> None:
        await account_with_events(server, clock)
        holder = WebhookStore(fakeredis.FakeRedis(server=server))
        assert holder.claim(TAG, "job-a", 60)
        assert sender_for(server, receiver, clock, "job-b").deliver(TAG, clock()) == "coalesced"
        assert receiver.received == []
        # The holder is told to read once more before it lets go, then lets go.
        assert holder.release(TAG, "job-a", 60) == "again"
        assert holder.release(TAG, "job-a", 60) == "released"
        assert sender_for(server, receiver, clock, "job-b").deliver(TAG, clock()) == "sent"

    async def test_a_failing_job_keeps_the_account_until_its_retry(
        self, server: fakeredis.FakeServer, receiver: Receiver, clock: FakeClock
    ) -> None:
        await account_with_events(server, clock)
        receiver.statuses = [503]
        failing = sender_for(server, receiver, clock, "job-a")
        failing.failure_retry_seconds = 10
        with pytest.raises(RetryLater) as later:
            failing.deliver(TAG, clock())
        assert later.value.delay_seconds == 10  # the job's back-off
        # Other jobs of the account fold into the retrying one instead of each retrying.
        assert sender_for(server, receiver, clock, "job-b").deliver(TAG, clock()) == "coalesced"
        assert sender_for(server, receiver, clock, "job-a").deliver(TAG, clock()) == "sent"
        assert len(receiver.received) == 3

    async def test_a_lost_claim_stops_the_cursor_from_moving(
        self, server: fakeredis.FakeServer, clock: FakeClock
    ) -> None:
        await account_with_events(server, clock)
        store = WebhookStore(fakeredis.FakeRedis(server=server))
        assert store.claim(TAG, "job-a", 60)
        assert store.advance(TAG, "job-a", "5-0", 60, 3600)
        store.redis.delete(AccountKeys(TAG).webhook_claim)
        assert store.claim(TAG, "job-b", 60)
        assert not store.advance(TAG, "job-a", "9-0", 60, 3600)
        assert store.cursor(TAG) == "5-0"
        # And the holder never moves it backwards.
        assert store.advance(TAG, "job-b", "4-0", 60, 3600)
        assert store.cursor(TAG) == "5-0"
        assert store.advance(TAG, "job-b", "5-1", 60, 3600)
        assert store.cursor(TAG) == "5-1"

    async def test_a_long_backlog_is_sent_in_turns_that_keep_the_order(
        self, server: fakeredis.FakeServer, receiver: Receiver, clock: FakeClock
    ) -> None:
        store = await account_with_events(server, clock)
        for _ in range(5):
            await store.unlock(ACCOUNT, clock(), Audit(cap=100, at=clock()))
        ticks = iter(range(0, 10_000, 9))  # each look at the clock: 9 s later
        sender = sender_for(server, receiver, clock, "job-a")
        sender.monotonic = lambda: float(next(ticks))
        delays: list[float] = []
        while True:
            try:
                outcome = sender.deliver(TAG, clock())
                break
            except RetryLater as more:
                delays.append(more.delay_seconds)
        assert outcome == "sent"
        assert delays
        assert set(delays) == {0.5}  # each turn says "continue soon", not "back off"
        ids = [doc["id"] for doc in receiver.documents()]
        assert len(ids) == 7
        assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))

    async def test_history_from_before_webhooks_is_not_replayed(
        self, server: fakeredis.FakeServer, receiver: Receiver, clock: FakeClock
    ) -> None:
        store = await account_with_events(server, clock)
        clock.advance(3600)
        await store.set_two_step(ACCOUNT, False, clock(), Audit(cap=100, at=clock()))
        clock.advance(2)  # the job runs a little after the change that published it
        sender_for(server, receiver, clock).deliver(TAG, published_at=clock() - 2)
        assert [doc["type"] for doc in receiver.documents()] == ["two_step_disabled"]

    async def test_the_starting_line_is_the_same_for_every_account_and_job(
        self, server: fakeredis.FakeServer, receiver: Receiver, clock: FakeClock
    ) -> None:
        store = await account_with_events(server, clock)
        hooks = WebhookStore(fakeredis.FakeRedis(server=server))
        assert hooks.webhooks_since(clock() - 300) == clock() - 300
        # A job published much later, for an account with no cursor, still sends everything
        # written since the starting line (say, what an earlier job could not deliver).
        clock.advance(3600)
        await store.unlock(ACCOUNT, clock(), Audit(cap=100, at=clock()))
        sender_for(server, receiver, clock).deliver(TAG, published_at=clock())
        assert [doc["type"] for doc in receiver.documents()] == [
            "two_step_enabled",
            "account_unlocked",
            "account_unlocked",
        ]

    async def test_a_deleted_account_has_nothing_to_send(
        self, server: fakeredis.FakeServer, receiver: Receiver, clock: FakeClock
    ) -> None:
        store = await account_with_events(server, clock)
        await store.delete_account(ACCOUNT)
        assert sender_for(server, receiver, clock).deliver(TAG, clock()) == "nothing_new"
        assert receiver.received == []


def test_the_documented_recipe_checks_a_real_signature() -> None:
    """The receiver's recipe printed in docs/api.md ("Audit trail, support actions and
    webhooks") works as printed."""
    document = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    recipe = document.split("To check it:\n\n```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(recipe, "docs/api.md", "exec"), namespace)
    body = b'{"id":"1-0","type":"verified"}'
    header = sign(SECRET, int(time.time()), body)

    assert namespace["verified"](SECRET, header, body)
    assert not namespace["verified"](SECRET, header, body + b" ")
    assert not namespace["verified"](SECRET, sign(SECRET, int(time.time()) - 600, body), body)


class TestHttpPost:
    def test_a_redirect_is_not_followed_and_counts_as_a_failure(self, receiver: Receiver) -> None:
        receiver.statuses = [302]
        status = http_post(receiver.url, b"{}", {"Content-Type": "application/json"}, 5)
        assert status == 302
        assert len(receiver.received) == 1

    def test_a_garbled_answer_is_a_failure_not_a_crash(self) -> None:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def garble() -> None:
            connection, _ = listener.accept()
            connection.recv(65536)
            connection.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            connection.close()

        thread = threading.Thread(target=garble, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
        try:
            assert http_post(url, b"{}", {}, 5) == 0
        finally:
            thread.join(5)
            listener.close()
