"""The SMTP sessions a worker process's job threads share (workers/smtp_pool.py)."""

from __future__ import annotations

import threading
import time

import pytest

from shared.errors import TransientSmtpError
from workers.message import OutgoingMail
from workers.smtp_pool import IDLE_SECONDS, SmtpPool

MAIL = OutgoingMail(sender="a@example.com", recipient="b@example.com", data=b"x", smtputf8=False)


class Session:
    """A session that takes ``seconds`` to send and checks it is never used by two at once."""

    def __init__(self, record: Record, seconds: float = 0.0) -> None:
        self.record = record
        self.seconds = seconds
        self.busy = threading.Lock()
        self.sends = 0
        self.closed = False
        self.fail_next = False

    def send(self, mail: OutgoingMail) -> None:
        if not self.busy.acquire(blocking=False):
            self.record.overlaps += 1
            return
        try:
            self.record.enter()
            time.sleep(self.seconds)
            self.sends += 1
            if self.fail_next:
                self.fail_next = False
                raise TransientSmtpError("451 try later")
        finally:
            self.record.leave()
            self.busy.release()

    def close(self) -> None:
        self.closed = True


class Record:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.overlaps = 0
        self.sessions: list[Session] = []

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1

    def opener(self, seconds: float = 0.0) -> Session:
        session = Session(self, seconds)
        self.sessions.append(session)
        return session


def _send_from_threads(pool: SmtpPool, threads: int, each: int) -> None:
    def work() -> None:
        for _ in range(each):
            pool.send(MAIL)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def test_sends_run_at_once_up_to_the_session_limit_and_never_share_a_session() -> None:
    record = Record()
    pool = SmtpPool(lambda: record.opener(0.02), max_sessions=4)
    _send_from_threads(pool, threads=12, each=5)
    assert sum(session.sends for session in record.sessions) == 60
    assert record.most == 4  # sends overlapped, but never past the limit
    assert len(record.sessions) == 4  # sessions are kept and reused, not opened per send
    assert record.overlaps == 0


def test_many_sessions_send_faster_than_one_in_proportion() -> None:
    record = Record()
    one = SmtpPool(lambda: record.opener(0.01), max_sessions=1)
    started = time.monotonic()
    _send_from_threads(one, threads=8, each=5)
    alone = time.monotonic() - started
    many = SmtpPool(lambda: record.opener(0.01), max_sessions=8)
    started = time.monotonic()
    _send_from_threads(many, threads=8, each=5)
    together = time.monotonic() - started
    assert together * 4 < alone  # eight at once: at least half of the ideal eight-fold


def test_a_quiet_pool_reuses_its_newest_session_and_closes_idle_ones() -> None:
    record = Record()
    now = [0.0]
    pool = SmtpPool(record.opener, max_sessions=4, clock=lambda: now[0])
    _send_from_threads(pool, threads=4, each=3)  # may open up to four
    opened = len(record.sessions)
    for _ in range(5):  # one at a time: always the same, newest session
        pool.send(MAIL)
    assert len(record.sessions) == opened
    now[0] += IDLE_SECONDS + 1
    pool.send(MAIL)  # every session is past its idle time: all closed, a new one opened
    assert len(record.sessions) == opened + 1
    assert all(session.closed for session in record.sessions[:opened])
    assert not record.sessions[-1].closed


def test_a_failed_send_keeps_the_session_for_the_next_send() -> None:
    record = Record()
    pool = SmtpPool(record.opener, max_sessions=2)
    pool.send(MAIL)
    record.sessions[0].fail_next = True
    with pytest.raises(TransientSmtpError):
        pool.send(MAIL)
    pool.send(MAIL)
    assert len(record.sessions) == 1
    assert record.sessions[0].sends == 3


def test_close_says_quit_on_every_idle_session() -> None:
    record = Record()
    pool = SmtpPool(record.opener, max_sessions=3)
    _send_from_threads(pool, threads=3, each=2)
    pool.close()
    assert record.sessions
    assert all(session.closed for session in record.sessions)
