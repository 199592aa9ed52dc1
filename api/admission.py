"""Admission control: a code email that would arrive too late is not sent at all.

When logins arrive faster than the workers can send, the code queue grows and every user
waits longer; past the code's lifetime the email brings a dead code. Each API process keeps
an estimate of how long a new code email would wait, read every ``REFRESH_SECONDS`` in the
background (never on a login's path: a login costs no extra round trip, whatever the
topology), and the login and resend scripts refuse an email while it is over
``TWOSTEP_MAX_MAIL_DELAY_SECONDS`` (login.lua then goes on with the app, a key or a recovery
code, or answers ``mail_delayed``).

The estimate: the code queue's depth over the rate at which all the workers take jobs (a
ring of ten one-second counts the workers keep in the mail bucket, ``take_mail_token.lua``),
and the age of the oldest job waiting. Reading the queue inside the login script was the
other choice; it holds only where the broker and the state share a server, and a 250 ms old
figure is as good against a bound of minutes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import math
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from api.metrics import Metrics
from shared.clock import Clock
from shared.jobs import CODE_QUEUE
from shared.keys import MAIL_BUCKET

log = logging.getLogger("twostep.api")

REFRESH_SECONDS = 0.25
# A read that takes longer is given up (and the figure kept): it never holds up the next.
READ_TIMEOUT_SECONDS = 2.0
# The ring of take_mail_token.lua: ten one-second slots.
MAIL_PACE_SECONDS = 10
_SLOTS = [f"p{i}" for i in range(MAIL_PACE_SECONDS)]
# The shortest time a pace is read over: the first instant of a run says little.
MIN_SPAN_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Backlog:
    """The code queue as last read: jobs waiting, the workers' recent rate (jobs taken per
    second, all workers), and how long the oldest waiting job has waited (s)."""

    depth: int = 0
    sends_per_second: float = 0.0
    oldest_age: float = 0.0

    def expected_seconds(self) -> float:
        """How long a code email published now would wait before a worker sends it."""
        if self.depth == 0:
            return 0.0
        # One job alone is the one a worker is about to take: its age says it all (in a quiet
        # hour the rate is set by demand, not by what the workers could do, and one job over
        # it would overstate the wait). Nothing moving: at least the head's age, growing.
        if self.depth == 1 or self.sends_per_second <= 0:
            return self.oldest_age
        return max(self.oldest_age, self.depth / self.sends_per_second)

    def refusal_seconds(self, bound: int) -> int:
        """0 while a new email would arrive within ``bound`` seconds (0: no bound); else the
        seconds until it would again: the backlog over the bound, drained (Retry-After)."""
        expected = self.expected_seconds()
        if bound <= 0 or expected <= bound:
            return 0
        return max(1, math.ceil(expected - bound))


def sends_per_second(slots: list[Any], now: float) -> float:
    """The workers' pace: the ring's counts over the seconds they have been taking jobs
    without a pause, up to now (at most ``MAIL_PACE_SECONDS``). A backlog keeps them busy
    every second, so this is what they can do; averaged over the whole window instead, the
    first seconds of a burst after a quiet spell would read as a tenth of it, and a queue
    the workers are about to clear would be refused."""
    second = int(now)
    counts: dict[int, int] = {}
    for slot in slots:
        text = slot.decode() if isinstance(slot, bytes) else slot
        if not text:
            continue
        at, _, count = str(text).partition("|")
        if at.isdigit() and count.isdigit() and second - MAIL_PACE_SECONDS < int(at) <= second:
            counts[int(at)] = int(count)
    # The current second may not have a send yet: the run may end with the one before.
    last = second if second in counts else second - 1
    if last not in counts:
        return 0.0
    first = last
    while first - 1 in counts:
        first -= 1
    span = max(MIN_SPAN_SECONDS, now - first)
    return sum(counts[s] for s in range(first, last + 1)) / span


def published_at(message: bytes | str | None) -> float | None:
    """When the API published a code job, from its broker message (api/mailqueue.py)."""
    if message is None:
        return None
    try:
        body = json.loads(message)["body"]
        args = json.loads(base64.b64decode(body))[0]
        value = args[0].get("published_at")
        return float(value) if value is not None else None
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None


class MailAdmission:
    """This process's view of the code queue, refreshed in the background."""

    def __init__(
        self, bound_seconds: int, state: Any, broker: Redis, clock: Clock, metrics: Metrics
    ) -> None:
        self.bound_seconds = bound_seconds
        self.state = state
        self.broker = broker
        self.clock = clock
        self.metrics = metrics
        self.backlog = Backlog()
        # Code emails this process queued since the last read: between two reads the queue
        # it sees is that much longer (else a burst would be let in for a quarter second).
        self.queued_since = 0

    def _now(self) -> Backlog:
        b = self.backlog
        return Backlog(b.depth + self.queued_since, b.sends_per_second, b.oldest_age)

    def refusal_seconds(self) -> int:
        """0 when a code email may be sent now; else its Retry-After."""
        return self._now().refusal_seconds(self.bound_seconds)

    def expected_seconds(self) -> int:
        return math.ceil(self._now().expected_seconds())

    def queued(self) -> None:
        """A code email was queued by this process."""
        self.queued_since += 1

    async def refresh(self) -> None:
        async with self.broker.pipeline(transaction=False) as pipe:
            pipe.llen(CODE_QUEUE)
            pipe.lindex(CODE_QUEUE, -1)  # the oldest: kombu pushes left and pops right
            depth, oldest = await pipe.execute()
        slots = await self.state.hmget(MAIL_BUCKET, _SLOTS)
        now = self.clock()
        published = published_at(oldest) if depth else None
        age = max(0.0, now - published) if published is not None else 0.0
        self.saw(Backlog(int(depth), sends_per_second(slots, now), age))

    def saw(self, backlog: Backlog) -> None:
        """The queue as just read: what this process queued before is in it now."""
        self.backlog = backlog
        self.queued_since = 0
        self.metrics.expected_mail_delay.set(backlog.expected_seconds())

    async def keep_fresh(self, stop: asyncio.Event) -> None:
        """Refresh every REFRESH_SECONDS until ``stop`` is set; a failed or slow read keeps
        the last figure (logged once per outage): the stores being away shows elsewhere
        (/readyz, 503s)."""
        failing = False
        while not stop.is_set():
            try:
                async with asyncio.timeout(READ_TIMEOUT_SECONDS):
                    await self.refresh()
                failing = False
            except Exception as exc:  # the loop must outlive any outage
                if not failing:
                    log.warning("mail queue not read (%s); admission keeps its last figure",
                                type(exc).__name__)  # fmt: skip
                failing = True
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REFRESH_SECONDS):
                    await stop.wait()
