"""The code jobs' safety net: each published job files a backup beside the queue, and the
sweeper pushes a job again when its backup comes due only if its email has not gone out."""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import fakeredis
import pytest
import redis
import redis.asyncio
from redis.exceptions import ConnectionError as RedisConnectionError

from api.mailqueue import BrokerMailQueue
from api.store import Store
from shared import codes
from shared.crypto import Sealer
from shared.jobs import CODE_BACKUPS, CODE_QUEUE, CodeJob, code_seal_context
from shared.keys import challenge_key
from shared.results import NotToSend, Opened, Resent
from tests.fakes import FakeClock
from tests.processes import SECRET_KEY, RedisServer
from tests.topologies import REDIS_BACKENDS, RedisCluster
from workers.backups import BackupSweeper, Fate, Sweep, SweeperThread, fate
from workers.delivery import DeliveryStore

DELAY = 45.0
# Databases no test worker listens to (the integration workers consume db 1).
STATE_DB, BROKER_DB = 8, 9


@dataclass
class Parts:
    store: Store
    queue: BrokerMailQueue
    delivery: DeliveryStore
    broker: redis.Redis
    state: redis.Redis
    clock: FakeClock

    def sweeper(self, batch: int = 500) -> BackupSweeper:
        return BackupSweeper(self.broker, self.state, DELAY, clock=self.clock, batch=batch)

    def claim(self, challenge_id: str, send_no: int, claimant: str, now: float, hold: int) -> str:
        """What a worker's claim on a send answers (the mail rate left out of the way)."""
        claim, _wait = self.delivery.claim_code_send_paced(
            challenge_id, send_no, claimant, now, hold, 1000.0, 1000.0
        )
        return claim.status if isinstance(claim, NotToSend) else "send"

    def queued(self) -> list[dict[str, Any]]:
        """The messages on the code queue, first to be served first."""
        return [json.loads(raw) for raw in reversed(self.broker.lrange(CODE_QUEUE, 0, -1))]

    def lose_the_jobs(self) -> None:
        """What a worker killed between the broker's pop and its record of the job does."""
        self.broker.delete(CODE_QUEUE)

    async def challenge(self, account: str) -> tuple[str, CodeJob]:
        """A login's challenge and its published code job."""
        now = self.clock()
        await self.store.upsert_profile(account, f"{account}@example.com", "en", now)
        await self.store.set_two_step(account, True, now)
        challenge_id = codes.new_challenge_id(account)
        outcome = await self.store.open_login(
            account_id=account, challenge_id=challenge_id, code_digest="d" * 64, method="email",
            browser_id="", token_digest="", client_ip="", client_label="", now=now,
            code_ttl_seconds=900, resend_cooldown_seconds=30, max_emails_per_hour=10,
        )  # fmt: skip
        assert isinstance(outcome, (Opened, Resent))
        sealed = Sealer(SECRET_KEY).seal("246810", code_seal_context(challenge_id, 1))
        job = CodeJob(challenge_id, 1, sealed, now + 900)
        await self.queue.publish_code(job)
        return challenge_id, job


@pytest.fixture(params=REDIS_BACKENDS)
async def parts(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[Parts]:
    """The broker is never a cluster; the state may be (then its reads are one per slot)."""
    if request.param == "redis-cluster":
        cluster: RedisCluster = request.getfixturevalue("redis_cluster")
        cluster.flushall()
        real: RedisServer = request.getfixturevalue("clean_redis")
        async_state = redis.asyncio.RedisCluster.from_url(cluster.url(), decode_responses=True)  # type: ignore[assignment]
        async_broker = redis.asyncio.Redis.from_url(real.url(BROKER_DB))
        state = redis.RedisCluster.from_url(cluster.url())  # type: ignore[assignment]
        broker = redis.Redis.from_url(real.url(BROKER_DB))
    elif request.param == "fakeredis":
        server = fakeredis.FakeServer()
        async_state: redis.asyncio.Redis = fakeredis.FakeAsyncRedis(
            server=server, db=STATE_DB, decode_responses=True
        )
        async_broker: redis.asyncio.Redis = fakeredis.FakeAsyncRedis(server=server, db=BROKER_DB)
        state: redis.Redis = fakeredis.FakeRedis(server=server, db=STATE_DB)
        broker: redis.Redis = fakeredis.FakeRedis(server=server, db=BROKER_DB)
    else:
        real = request.getfixturevalue("clean_redis")
        async_state = redis.asyncio.Redis.from_url(real.url(STATE_DB), decode_responses=True)
        async_broker = redis.asyncio.Redis.from_url(real.url(BROKER_DB))
        state = redis.Redis.from_url(real.url(STATE_DB))
        broker = redis.Redis.from_url(real.url(BROKER_DB))
    yield Parts(
        store=Store(async_state),
        queue=BrokerMailQueue(async_broker, DELAY, clock),
        delivery=DeliveryStore(state),
        broker=broker,
        state=state,
        clock=clock,
    )
    await async_state.aclose()
    await async_broker.aclose()
    state.close()
    broker.close()


def _payload(message: dict[str, Any]) -> dict[str, Any]:
    [[payload], _kwargs, _embed] = json.loads(base64.b64decode(message["body"]))
    return payload  # type: ignore[no-any-return]


async def test_a_published_job_has_its_backup_filed_beside_it_due_later(parts: Parts) -> None:
    _, job = await parts.challenge("u-1")
    [message] = parts.queued()
    [(member, due)] = parts.broker.zrange(CODE_BACKUPS, 0, -1, withscores=True)
    assert due == pytest.approx(parts.clock() + DELAY, abs=0.001)
    # The backup is the job's own payload, sealed code included, never the code in clear.
    assert json.loads(member) == _payload(message)
    assert _payload(message)["sealed_code"] == job.sealed_code
    assert b"246810" not in member


async def test_a_backup_not_yet_due_is_left_alone(parts: Parts) -> None:
    await parts.challenge("u-1")
    parts.lose_the_jobs()
    parts.clock.advance(DELAY - 1)
    assert parts.sweeper().sweep() == Sweep()
    assert parts.broker.zcard(CODE_BACKUPS) == 1
    assert parts.queued() == []


async def test_a_lost_job_goes_again_when_its_backup_comes_due(parts: Parts) -> None:
    challenge_id, _ = await parts.challenge("u-1")
    [original] = parts.queued()
    parts.lose_the_jobs()
    parts.clock.advance(DELAY)
    assert parts.sweeper().sweep() == Sweep(settled=1, sent_again=1)
    [again] = parts.queued()
    assert _payload(again) == _payload(original)
    assert again["headers"]["id"] != original["headers"]["id"]
    assert again["headers"]["eta"] is None  # runs at once
    assert again["headers"]["expires"] == original["headers"]["expires"]
    assert again["headers"]["argsrepr"] == f"{original['headers']['argsrepr']} backup"
    assert again["properties"]["delivery_info"] == original["properties"]["delivery_info"]
    assert parts.broker.zcard(CODE_BACKUPS) == 0
    # The job pushed again is claimed like any other: it sends, once.
    now = parts.clock()
    assert parts.claim(challenge_id, 1, "w", now, 30) == "send"


async def test_a_backup_whose_email_went_out_is_dropped(parts: Parts) -> None:
    challenge_id, _ = await parts.challenge("u-1")
    parts.lose_the_jobs()
    assert parts.claim(challenge_id, 1, "w", parts.clock(), 30) == "send"
    parts.delivery.finish_code_send(challenge_id, 1, "sent", "w")
    parts.clock.advance(DELAY)
    assert parts.sweeper().sweep() == Sweep(settled=1, sent_again=0)
    assert parts.queued() == []
    assert parts.broker.zcard(CODE_BACKUPS) == 0


async def test_a_send_a_live_worker_holds_is_left_to_it_and_an_abandoned_one_goes_again(
    parts: Parts,
) -> None:
    challenge_id, _ = await parts.challenge("held")
    abandoned, _ = await parts.challenge("abandoned")
    parts.lose_the_jobs()
    now = parts.clock()
    assert parts.claim(challenge_id, 1, "w1", now + DELAY - 5, 60) == "send"
    assert parts.claim(abandoned, 1, "w2", now, 30) == "send"
    parts.clock.advance(DELAY)
    assert parts.sweeper().sweep() == Sweep(settled=1, sent_again=1, held=1)
    [again] = parts.queued()
    assert _payload(again)["challenge_id"] == abandoned
    assert parts.broker.zcard(CODE_BACKUPS) == 1  # the held one's, looked at again later


async def test_a_held_send_keeps_its_backup_which_goes_again_if_the_holder_lost_its_job(
    parts: Parts,
) -> None:
    # A worker claims the send, then loses its job without a mark (its retry could not be
    # published with the broker away, say): the backup must outlive the claim.
    challenge_id, _ = await parts.challenge("u-1")
    parts.lose_the_jobs()
    now = parts.clock()
    hold = int(DELAY * 1.5)
    assert parts.claim(challenge_id, 1, "w", now + DELAY - 1, hold) == "send"
    parts.clock.advance(DELAY)
    assert parts.sweeper().sweep() == Sweep(held=1)
    assert parts.queued() == []
    assert parts.broker.zcard(CODE_BACKUPS) == 1
    parts.clock.advance(DELAY)  # the lease ends; the claim still holds
    assert parts.sweeper().sweep() == Sweep(held=1)
    parts.clock.advance(DELAY)  # the lease and the claim have ended, no mark
    assert parts.sweeper().sweep() == Sweep(settled=1, sent_again=1)
    assert len(parts.queued()) == 1
    assert parts.broker.zcard(CODE_BACKUPS) == 0


async def test_a_held_send_that_went_out_drops_its_backup_next_time(parts: Parts) -> None:
    challenge_id, _ = await parts.challenge("u-1")
    parts.lose_the_jobs()
    assert parts.claim(challenge_id, 1, "w", parts.clock() + DELAY - 1, 60) == "send"
    parts.clock.advance(DELAY)
    assert parts.sweeper().sweep() == Sweep(held=1)
    parts.delivery.finish_code_send(challenge_id, 1, "sent", "w")
    parts.clock.advance(DELAY)
    assert parts.sweeper().sweep() == Sweep(settled=1)
    assert parts.queued() == []
    assert parts.broker.zcard(CODE_BACKUPS) == 0


async def test_backups_of_sends_that_can_no_longer_go_are_dropped(parts: Parts) -> None:
    verified, _ = await parts.challenge("verified")
    deleted, _ = await parts.challenge("deleted")
    failed, _ = await parts.challenge("failed")
    resent, _ = await parts.challenge("resent")
    parts.lose_the_jobs()
    parts.state.hset(challenge_key(verified) or "", "status", "verified")
    parts.state.delete(challenge_key(deleted) or "")
    assert parts.claim(failed, 1, "w", parts.clock(), 30) == "send"
    parts.delivery.finish_code_send(failed, 1, "failed", "w")
    parts.state.hset(challenge_key(resent) or "", "sends", "2")
    parts.clock.advance(DELAY)
    assert parts.sweeper().sweep() == Sweep(settled=4, sent_again=0)
    assert parts.queued() == []


async def test_a_backup_due_after_its_code_expired_is_dropped(parts: Parts) -> None:
    await parts.challenge("u-1")
    parts.lose_the_jobs()
    parts.clock.advance(900)
    assert parts.sweeper().sweep() == Sweep(settled=1, sent_again=0)
    assert parts.queued() == []


async def test_a_sweep_takes_every_due_backup_a_batch_at_a_time(parts: Parts) -> None:
    for n in range(7):
        await parts.challenge(f"u-{n}")
    parts.lose_the_jobs()
    parts.clock.advance(DELAY)
    assert parts.sweeper(batch=3).sweep() == Sweep(settled=7, sent_again=7)
    assert len(parts.queued()) == 7
    assert parts.broker.zcard(CODE_BACKUPS) == 0


async def test_a_lease_keeps_a_backup_to_one_sweeper_and_ends_if_that_sweeper_dies(
    parts: Parts,
) -> None:
    await parts.challenge("u-1")
    parts.lose_the_jobs()
    parts.clock.advance(DELAY)
    # A sweeper that took the backup and died before deciding it.
    dead = parts.sweeper()
    assert len(dead.take()) == 1
    assert parts.sweeper().sweep() == Sweep()
    parts.clock.advance(DELAY)  # the lease ends
    assert parts.sweeper().sweep() == Sweep(settled=1, sent_again=1)
    assert len(parts.queued()) == 1


async def test_unreadable_backups_are_dropped_and_logged_and_the_rest_still_go(
    parts: Parts, caplog: pytest.LogCaptureFixture
) -> None:
    await parts.challenge("u-1")
    parts.lose_the_jobs()
    junk = [b"not json", b"[]", b"null", b'{"challenge_id": 7, "send_no": "1"}']
    parts.broker.zadd(CODE_BACKUPS, dict.fromkeys(junk, parts.clock() - 1))
    parts.clock.advance(DELAY)
    with caplog.at_level(logging.WARNING, logger="twostep.worker"):
        assert parts.sweeper().sweep() == Sweep(settled=5, sent_again=1)
    assert caplog.text.count("unreadable") == len(junk)
    assert parts.broker.zcard(CODE_BACKUPS) == 0
    assert len(parts.queued()) == 1


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ([b"pending", b"1", b"2000", None, None, b"queued"], Fate.AGAIN),
        ([b"pending", b"1", b"2000", None, b"w|999", b"retrying"], Fate.AGAIN),
        ([b"pending", b"1", b"2000", None, b"w|1001", b"queued"], Fate.HELD),
        ([b"pending", b"1", b"2000", b"1", None, b"sent"], Fate.DONE),
        ([b"pending", b"2", b"2000", b"1", None, b"queued"], Fate.DONE),
        ([b"pending", b"1", b"2000", None, None, b"failed"], Fate.DONE),
        ([b"pending", b"1", b"1000", None, None, b"queued"], Fate.DONE),
        ([b"verified", b"1", b"2000", None, None, b"queued"], Fate.DONE),
        ([None, None, None, None, None, None], Fate.DONE),
    ],
    ids=[
        "never-sent", "waiting-retry", "held", "sent", "resent", "failed", "expired", "verified",
        "gone",
    ],
)  # fmt: skip
def test_the_fate_of_a_due_backup(fields: list[bytes | None], expected: Fate) -> None:
    assert fate(fields, 1, now=1000.0) is expected


def test_the_sweeper_thread_sweeps_again_after_a_failure_and_stops_when_asked() -> None:
    swept = threading.Event()
    attempts: list[str] = []

    class Sweeper:
        def sweep(self) -> Sweep:
            attempts.append("sweep")
            if len(attempts) == 1:
                raise RedisConnectionError("broker away")
            if len(attempts) == 2:
                raise KeyError("a bug")  # logged; the safety net goes on
            swept.set()
            return Sweep(settled=2, sent_again=1)

    counted: list[Sweep] = []
    thread = SweeperThread(lambda: Sweeper(), 0.01, counted.append)  # type: ignore[arg-type, return-value]
    thread.start()
    assert swept.wait(5)
    thread.stop()
    assert attempts[:3] == ["sweep", "sweep", "sweep"]
    assert counted[0] == Sweep(settled=2, sent_again=1)
    assert not thread._thread.is_alive()
