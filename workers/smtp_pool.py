"""SMTP sessions shared by a worker process's job threads: many sends in flight at once.

A provider takes 50-200 ms to accept a message; one session sending one message at a time
would bound a process at 1 / latency (10 emails/s at 100 ms) whatever its CPU. The worker
runs its jobs on Celery's threads pool, and each send borrows a session of its own here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from workers.message import OutgoingMail

# A session left unused this long is closed (QUIT) rather than reused: providers drop idle
# connections after some seconds to minutes, and a send on a dropped one costs a reconnect
# anyway (SmtpSender retries it once). Sessions are reused newest first, so a quiet worker
# keeps a few warm and lets the others go.
IDLE_SECONDS = 30.0


class Session(Protocol):
    """One SMTP session (workers/smtp.py SmtpSender): sends one message at a time."""

    def send(self, mail: OutgoingMail) -> None: ...

    def close(self) -> None: ...


class SmtpPool:
    """At most ``max_sessions`` sessions, each used by one thread at a time, opened as they
    are needed and kept between sends. A thread that finds them all busy waits for one."""

    def __init__(
        self,
        open_session: Callable[[], Session],
        max_sessions: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._open_session = open_session
        self.max_sessions = max_sessions
        self._slots = threading.BoundedSemaphore(max_sessions)
        self._lock = threading.Lock()
        self._idle: list[tuple[float, Session]] = []  # (last used, session); newest last
        self._clock = clock
        self.opened = 0  # sessions made so far, for tests and the log

    def send(self, mail: OutgoingMail) -> None:
        """Send on a session of this thread's own; raises what the session raises. A session
        whose send failed is kept: SmtpSender drops a connection it cannot trust and opens a
        new one on its next send."""
        with self._slots:
            session = self._borrow()
            try:
                session.send(mail)
            finally:
                with self._lock:
                    self._idle.append((self._clock(), session))

    def close(self) -> None:
        """QUIT every idle session (at shutdown; a session in use is closed by its send)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for _, session in idle:
            session.close()

    def _borrow(self) -> Session:
        stale: list[Session] = []
        with self._lock:
            now = self._clock()
            # The oldest sit at the front: those past their idle time go.
            while self._idle and now - self._idle[0][0] > IDLE_SECONDS:
                stale.append(self._idle.pop(0)[1])
            session = self._idle.pop()[1] if self._idle else None
            if session is None:
                self.opened += 1
        for old in stale:
            old.close()
        return session if session is not None else self._open_session()
