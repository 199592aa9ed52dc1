"""When a call is sent again, and after how long: the retry policy and the Retry-After header."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

# Sending one of these twice leaves the service as sending it once. A POST does not: a second
# login opens a second challenge (and emails a second code), a second verify counts an
# attempt. Those are never sent again; the caller decides.
IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "DELETE"})

# Failures where the request never reached the service, or reached it on a connection the
# server had already closed (its keep-alive timeout racing our pool): safe to send again. A
# read timeout is not among them: the service may be slow rather than down.
CONNECTION_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.RemoteProtocolError,
)


@dataclass(frozen=True)
class Retry:
    """Retries of GET, PUT and DELETE after a connection error or a 503, never of a POST.

    ``attempts`` counts the first try. The n-th wait is drawn at random between zero and
    ``backoff_seconds * 2**(n-1)`` (at most ``max_backoff_seconds``): "full jitter", so that
    clients that failed together do not come back together. A 503 with ``Retry-After`` waits
    that long (plus the jitter) when it is at most ``max_retry_after_seconds``; a longer one
    is not waited for: the error is raised with its ``retry_after``.
    """

    attempts: int = 3
    backoff_seconds: float = 0.1
    max_backoff_seconds: float = 2.0
    max_retry_after_seconds: float = 5.0
    random: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts counts the first try: at least 1")

    def delay(
        self, method: str, tries: int, outcome: httpx.Response | httpx.TransportError
    ) -> float | None:
        """Seconds to wait before sending again after ``tries`` tries, or None: do not."""
        if method not in IDEMPOTENT_METHODS or tries >= self.attempts:
            return None
        jitter = self.random.uniform(
            0, min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (tries - 1))
        )
        if isinstance(outcome, httpx.TransportError):
            return jitter if isinstance(outcome, CONNECTION_ERRORS) else None
        if outcome.status_code != 503:
            return None
        asked = retry_after_seconds(outcome.headers.get("retry-after"))
        if asked is None:
            return jitter
        return asked + jitter if asked <= self.max_retry_after_seconds else None


NO_RETRY = Retry(attempts=1)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> int | None:
    """A Retry-After header as seconds: whole seconds, or an HTTP date (RFC 9110)."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return int(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0, round((moment - (now or datetime.now(UTC))).total_seconds()))
