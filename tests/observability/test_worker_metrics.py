"""The workers' metrics in one process: SMTP time, publish-to-acceptance time, queue lengths."""

from __future__ import annotations

from datetime import UTC, datetime

import fakeredis
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from shared.crypto import Sealer
from shared.errors import TransientSmtpError
from shared.jobs import CODE_QUEUE, NOTICE_QUEUE, QUEUES
from shared.settings import DEFAULT_TEMPLATES_DIR
from tests.api_calls import make_settings
from tests.fakes import FakeClock
from tests.processes import SECRET_KEY
from workers.delivery import DeliveryStore
from workers.message import OutgoingMail
from workers.metrics import QueueLengths, WorkerMetrics
from workers.render import Renderer
from workers.runtime import Runtime


class Sender:
    def __init__(self) -> None:
        self.errors: list[Exception] = []
        self.sent = 0

    def send(self, mail: OutgoingMail) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.sent += 1


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def runtime(registry: CollectorRegistry, clock: FakeClock) -> Runtime:
    return Runtime(
        settings=make_settings(mail_rate_per_second=1000),
        delivery=DeliveryStore(fakeredis.FakeRedis()),
        sender=Sender(),  # type: ignore[arg-type]
        renderer=Renderer(DEFAULT_TEMPLATES_DIR),
        sealer=Sealer(SECRET_KEY),
        clock=clock,
        sleep=lambda seconds: None,
        metrics=WorkerMetrics(registry),
    )


def _notice(runtime: Runtime) -> None:
    runtime.deliver(
        "two_step_enabled",
        "en",
        "ada@example.com",
        "notice.n1",
        {
            "occurred_at": datetime.fromtimestamp(runtime.clock(), UTC),
            "client_ip": None,
            "client_label": None,
            "details": {},
        },
    )


def test_every_smtp_exchange_is_timed_whatever_its_end(
    runtime: Runtime, registry: CollectorRegistry
) -> None:
    runtime.sender.errors.append(TransientSmtpError("451"))  # type: ignore[attr-defined]
    with pytest.raises(TransientSmtpError):
        _notice(runtime)
    _notice(runtime)
    assert registry.get_sample_value("twostep_smtp_send_seconds_count") == 2
    assert registry.get_sample_value("twostep_smtp_send_seconds_sum") >= 0  # type: ignore[operator]


def test_delivery_time_runs_from_the_publish_to_the_acceptance(
    runtime: Runtime, registry: CollectorRegistry, clock: FakeClock
) -> None:
    runtime.delivered(CODE_QUEUE, clock() - 0.04)
    runtime.delivered(NOTICE_QUEUE, clock() + 3)  # a publisher's clock ahead: counted as 0
    runtime.delivered(NOTICE_QUEUE, None)  # a job queued before jobs carried the time
    code = {"queue": CODE_QUEUE}
    assert registry.get_sample_value("twostep_email_delivery_seconds_count", code) == 1
    assert (
        registry.get_sample_value("twostep_email_delivery_seconds_bucket", {**code, "le": "0.05"})
        == 1
    )
    assert (
        registry.get_sample_value("twostep_email_delivery_seconds_bucket", {**code, "le": "0.025"})
        == 0
    )
    notice = {"queue": NOTICE_QUEUE}
    assert registry.get_sample_value("twostep_email_delivery_seconds_count", notice) == 1
    assert registry.get_sample_value("twostep_email_delivery_seconds_sum", notice) == 0


def test_queue_lengths_are_read_at_each_scrape_and_a_failing_queue_is_left_out() -> None:
    lengths = {CODE_QUEUE: 3, NOTICE_QUEUE: 0}

    def length(queue: str) -> int:
        if queue not in lengths:
            raise ConnectionError("broker away")
        return lengths[queue]

    registry = CollectorRegistry()
    registry.register(QueueLengths(length, QUEUES))
    assert registry.get_sample_value("twostep_queue_length", {"queue": CODE_QUEUE}) == 3
    lengths[CODE_QUEUE] = 5
    assert registry.get_sample_value("twostep_queue_length", {"queue": CODE_QUEUE}) == 5
    del lengths[NOTICE_QUEUE]
    text = generate_latest(registry).decode()
    assert f'twostep_queue_length{{queue="{CODE_QUEUE}"}} 5.0' in text
    assert NOTICE_QUEUE not in text


def test_registering_the_queue_collector_reads_nothing() -> None:
    def length(queue: str) -> int:
        raise AssertionError("read at registration")

    CollectorRegistry().register(QueueLengths(length, QUEUES))
