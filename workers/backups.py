"""The code jobs' safety net: a backup that comes due sends its job again, unless its email
went out (or no longer can).

Kombu's Redis transport pops a job (BRPOP) before it records it as unacknowledged, so a worker
killed in between loses that job. The API therefore files, with each code job, a backup in a
sorted set on the broker (``CODE_BACKUPS``, scored by when it comes due; api/mailqueue.py).
Every worker's main process sweeps that set now and then: it leases the backups that came due
(``backup_take.lua``: one sweeper each), reads their sends' state from Redis in one round
trip, and in one step pushes again the jobs whose email has not gone out and drops the
backups whose email went out or no longer can (``backup_settle.lua``). A backup whose send a
worker holds right now stays, leased: that worker may still lose its job (a retry it could
not publish while the broker was away), so the backup is looked at again when the lease ends,
until the send is marked or its claim has run out. A job pushed again goes through the
send's claim like any other, so an email is still sent at most once; a sweeper that dies
holding a lease leaves its backups to come due again when the lease ends.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import redis
from redis.exceptions import RedisError

from shared.clock import Clock, StoreClock
from shared.jobs import (
    CODE_BACKUPS,
    CODE_QUEUE,
    SEND_CODE_TASK,
    CodeJob,
    argsrepr_of,
    celery_message,
    job_of,
)
from shared.keys import challenge_key
from shared.redisconn import SyncStateRedis
from shared.runner import SyncRunner
from shared.scripts import SCRIPTS

log = logging.getLogger("twostep.worker")

BATCH = 500
CHALLENGE_FIELDS = ("status", "sends", "expires_at", "sent", "claim", "delivery")


def sweep_interval_seconds(delay_seconds: float) -> float:
    """How often each worker looks for due backups: a small share of the delay, so that a
    lost job goes out at most about a quarter of the delay late."""
    return max(0.5, min(5.0, delay_seconds / 4))


class Fate(Enum):
    """What a due backup's sweep does with it."""

    AGAIN = "again"  # push its job again, drop the backup
    DONE = "done"  # the email went out or no longer can: drop the backup
    HELD = "held"  # a worker holds the send: keep the backup, leased, to look again


def fate(fields: list[bytes | None], send_no: int, now: float) -> Fate:
    """The fate of send number ``send_no``'s backup, by its challenge's state.

    Done when the challenge is gone (verified, deleted, expired), was resent or locked, or its
    email was accepted or failed for good. Held while a worker's claim on it holds: that job is
    in hand, but a worker can still lose it without a mark. Otherwise its job goes again; a
    send waiting for a retry goes again once, as a second chance: the claim keeps the two from
    both sending."""
    status, sends, expires_at, sent, claim, delivery = fields
    if status is None or expires_at is None:
        return Fate.DONE
    if sent is not None and int(sent) >= send_no:
        return Fate.DONE
    if status != b"pending" or sends != str(send_no).encode():
        return Fate.DONE
    if float(expires_at) <= now or delivery == b"failed":
        return Fate.DONE
    if claim:
        _owner, _, deadline = claim.rpartition(b"|")
        if float(deadline) > now:
            return Fate.HELD
    return Fate.AGAIN


@dataclass(frozen=True, slots=True)
class Sweep:
    """What one sweep did: backups settled (dropped, their jobs pushed again or not), jobs
    pushed again among them, and backups kept because a worker held their send."""

    settled: int = 0
    sent_again: int = 0
    held: int = 0

    def __add__(self, other: Sweep) -> Sweep:
        return Sweep(
            self.settled + other.settled,
            self.sent_again + other.sent_again,
            self.held + other.held,
        )


class BackupSweeper:
    """Settles the backups that came due, a batch at a time."""

    def __init__(
        self,
        broker: redis.Redis,
        state: SyncStateRedis,
        delay_seconds: float,
        clock: Clock = time.time,
        batch: int = BATCH,
    ) -> None:
        self.broker = broker
        self.scripts = SyncRunner(broker)
        self.state = state
        self.lease_seconds = delay_seconds
        self.clock = clock
        self.batch = batch

    def sweep(self) -> Sweep:
        """Every backup due now, in batches."""
        if isinstance(self.clock, StoreClock):
            self.clock.refresh_blocking(self.state)  # the due times are the store's time
        done = Sweep()
        while True:
            leased = self.take()
            if not leased:
                return done
            done += self._settle(leased)
            if len(leased) < self.batch:
                return done

    def take(self) -> list[bytes]:
        """Lease the backups due now, at most a batch (``backup_take.lua``)."""
        now = self.clock()
        leased: list[bytes] = self.scripts.run(
            SCRIPTS["backup_take"],
            {"backups": CODE_BACKUPS},
            {"now": f"{now:.3f}", "lease_until": f"{now + self.lease_seconds:.3f}",
             "batch": self.batch},
        )  # fmt: skip
        return leased

    def _settle(self, leased: list[bytes]) -> Sweep:
        jobs: list[tuple[CodeJob, str, bytes]] = []
        settled: list[bytes] = []
        for member in leased:
            try:
                job = job_of(CodeJob, json.loads(member))
                if not isinstance(job.challenge_id, str) or not isinstance(job.send_no, int):
                    raise TypeError("not a code job")
            except Exception as exc:  # anything unreadable is dropped, never stops the sweep
                log.warning("code backup dropped, unreadable (%s)", type(exc).__name__)
                settled.append(member)
                continue
            key = challenge_key(job.challenge_id)
            if key is None:
                settled.append(member)
            else:
                jobs.append((job, key, member))
        with self.state.pipeline(transaction=False) as pipe:
            for _job, key, _member in jobs:
                pipe.hmget(key, CHALLENGE_FIELDS)
            states: list[list[bytes | None]] = pipe.execute()
        now = self.clock()
        again: list[bytes] = []
        held = 0
        for (job, _key, member), fields in zip(jobs, states, strict=True):
            decided = fate(fields, job.send_no, now)
            if decided is Fate.HELD:
                held += 1  # not settled: its lease brings it back
                continue
            settled.append(member)
            if decided is Fate.AGAIN:
                again.append(
                    celery_message(
                        SEND_CODE_TASK,
                        member.decode(),
                        CODE_QUEUE,
                        expires_at=job.expires_at,
                        argsrepr=f"{argsrepr_of(job)} backup",
                    )
                )
        self.scripts.run(
            SCRIPTS["backup_settle"],
            {"queue": CODE_QUEUE, "backups": CODE_BACKUPS},
            {"pushed": len(again), "items...": [*again, *settled]},
        )
        if again:
            log.warning(
                "code backups: %d jobs sent again (lost, or still queued after the delay)",
                len(again),
                extra={"count": len(again)},
            )
        return Sweep(settled=len(settled), sent_again=len(again), held=held)


class SweeperThread:
    """Runs a sweeper every ``interval_seconds`` in a worker's main process until stopped.
    A failed sweep (broker or state store away) is logged and tried again next time."""

    def __init__(
        self,
        build: Callable[[], BackupSweeper],
        interval_seconds: float,
        count: Callable[[Sweep], None] = lambda _: None,
    ) -> None:
        self.build = build
        self.interval_seconds = interval_seconds
        self.count = count
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="code-backups", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        sweeper: BackupSweeper | None = None
        while not self._stop.wait(self.interval_seconds):
            try:
                sweeper = sweeper or self.build()
                self.count(sweeper.sweep())
            except RedisError as exc:
                log.warning("code backups not swept this time: %s", type(exc).__name__)
            except Exception:  # a bug must not end the safety net for good: say so, go on
                log.exception("code backups not swept this time")
