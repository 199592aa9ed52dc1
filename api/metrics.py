"""The API's Prometheus metrics. Labels are outcomes and methods, never accounts or codes."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, multiprocess

# prometheus_client's own variable: where every process of a multi-process server keeps its
# values, so that one scrape sums them (``uvicorn --workers N``). Empty it before a start.
MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.logins = Counter(
            "twostep_logins_total",
            "Second-step decisions at login, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.verifications = Counter(
            "twostep_verifications_total",
            "Code checks, by method and outcome.",
            ["method", "outcome"],
            registry=self.registry,
        )
        self.resends = Counter(
            "twostep_resends_total",
            "Requests for a new code, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.locks = Counter(
            "twostep_locks_total",
            "Locks set by wrong codes, by scope: a challenge, or an account's second step.",
            ["scope"],
            registry=self.registry,
        )
        self.jobs = Counter(
            "twostep_jobs_published_total",
            "Mail jobs handed to the workers, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.reports = Counter(
            "twostep_reports_total",
            '"This wasn\'t me" reports of a sign-in, by outcome: reported, already_reported,'
            " not_found. A wave of them is a credential-stuffing campaign past the password.",
            ["outcome"],
            registry=self.registry,
        )
        # "livemax": with several API processes, the highest figure of those alive (they all
        # read the same queue, a quarter of a second apart).
        self.expected_mail_delay = Gauge(
            "twostep_expected_mail_delay_seconds",
            "How long a code email published now would wait in the mail queue (admission).",
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        self.admission_refusals = Counter(
            "twostep_admission_refusals_total",
            "Code emails not sent because the mail queue would deliver them too late, by route"
            " (login, resend) and outcome: refused (503 mail_delayed) or other_method (the"
            " login went on with the app, a key or a recovery code).",
            ["route", "outcome"],
            registry=self.registry,
        )
        self.problems = Counter(
            "twostep_http_problems_total",
            "Error responses, by problem code.",
            ["code"],
            registry=self.registry,
        )


def exposition_registry(metrics: Metrics) -> CollectorRegistry:
    """What ``/metrics`` serves: every process's values when ``PROMETHEUS_MULTIPROC_DIR`` is
    set (prometheus_client then keeps them in files there), else this process's own."""
    if not os.environ.get(MULTIPROCESS_DIR_ENV):
        return metrics.registry
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry
