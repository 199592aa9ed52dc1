"""The fakes the unit tests hand in where a real part would wait or send: a clock the test
moves, a mail queue that keeps what the API publishes, and a sender that keeps what the
worker would mail."""

from __future__ import annotations

from email.message import EmailMessage
from typing import TYPE_CHECKING

from shared.jobs import CodeJob, NoticeJob

if TYPE_CHECKING:
    from workers.message import OutgoingMail

START = 1_800_000_000.0  # 2027-01-15T08:00:00Z


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingMailQueue:
    """Keeps the jobs the API publishes, in order."""

    def __init__(self) -> None:
        self.codes: list[CodeJob] = []
        self.notices: list[NoticeJob] = []

    async def publish_code(self, job: CodeJob) -> None:
        self.codes.append(job)

    async def publish_notice(self, job: NoticeJob) -> None:
        self.notices.append(job)


class FakeSender:
    """Records messages; raises the queued errors first."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []  # as a receiving server parses them
        self.errors: list[Exception] = []

    def send(self, mail: OutgoingMail) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(mail.as_message())

    def close(self) -> None:
        pass
