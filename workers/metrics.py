"""The workers' Prometheus metrics, summed over every process of a worker and served by its
main process. Labels are kinds, outcomes and queue names, never an account, address or code.

Celery's prefork children each count in files under ``PROMETHEUS_MULTIPROC_DIR``
(prometheus_client's multi-process mode); the main process reads them all at each scrape.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess, values
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger("twostep.worker")

MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
SMTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
DELIVERY_BUCKETS = (
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
)  # fmt: skip


def use_multiprocess_dir() -> str:
    """Keep metric values in files that every process of this worker writes and the main
    process reads. Call it before any worker metric exists.

    prometheus_client picks its value class from ``PROMETHEUS_MULTIPROC_DIR`` when it is
    imported; without the variable this makes a private folder, removed at exit, sets the
    variable for the children, and picks the class again."""
    path = os.environ.get(MULTIPROCESS_DIR_ENV, "")
    if not path:
        path = tempfile.mkdtemp(prefix="twostep-worker-metrics-")
        os.environ[MULTIPROCESS_DIR_ENV] = path
        atexit.register(_remove_dir, path, os.getpid())
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    return path


def _remove_dir(path: str, owner_pid: int) -> None:
    if os.getpid() == owner_pid:  # never from a forked child
        shutil.rmtree(path, ignore_errors=True)


def mark_process_dead(pid: int) -> None:
    """Forget what a finished child kept for live-only gauges (its counters stay summed)."""
    if os.environ.get(MULTIPROCESS_DIR_ENV):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


class WorkerMetrics:
    """The counters and histograms a task updates. In multi-process mode their values go to
    files; ``registry`` then serves only in-process reads (tests without the variable)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.emails = Counter(
            "twostep_emails_total",
            "Mail jobs by kind (code or notice kind) and outcome: sent, retried, failed, "
            "stale, expired, done (already sent).",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.webhook_jobs = Counter(
            "twostep_webhook_jobs_total",
            "Webhook delivery jobs by outcome: sent, nothing_new, retried, gone, disabled, failed.",
            ["outcome"],
            registry=self.registry,
        )
        self.code_backups = Counter(
            "twostep_code_backups_total",
            "Code job backups looked at by the sweeper: sent_again (the job was lost, or still "
            "queued when its backup came due), not_needed, or held (a worker held the send; "
            "looked at again later).",
            ["outcome"],
            registry=self.registry,
        )
        self.smtp_send_seconds = Histogram(
            "twostep_smtp_send_seconds",
            "Time of one SMTP exchange (connecting, when needed, included), whatever its end.",
            buckets=SMTP_BUCKETS,
            registry=self.registry,
        )
        self.delivery_seconds = Histogram(
            "twostep_email_delivery_seconds",
            "From the API publishing a job to the mail server accepting its email, by queue.",
            ["queue"],
            buckets=DELIVERY_BUCKETS,
            registry=self.registry,
        )


class QueueLengths(Collector):
    """``twostep_queue_length{queue}``: jobs waiting on the broker, read at each scrape."""

    def __init__(self, length: Callable[[str], int], queues: Sequence[str]) -> None:
        self.length = length
        self.queues = tuple(queues)

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def collect(self) -> Iterable[Metric]:
        family = self._family()
        for queue in self.queues:
            try:
                length = self.length(queue)
            except Exception as exc:  # a scrape is an edge: report the rest, log the failure
                log.warning("queue length unknown (%s): %s", queue, type(exc).__name__)
                continue
            family.add_metric([queue], float(length))
        return [family]

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "twostep_queue_length", "Jobs waiting on the broker, by queue.", labels=["queue"]
        )


def exposition_registry(length: Callable[[str], int], queues: Sequence[str]) -> CollectorRegistry:
    """Every process's values, and the queue lengths."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    registry.register(QueueLengths(length, queues))
    return registry
