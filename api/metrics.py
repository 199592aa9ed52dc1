"""The API's Prometheus metrics. Labels are outcomes and methods, never accounts or codes."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


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
        self.jobs = Counter(
            "twostep_jobs_published_total",
            "Mail jobs handed to the workers, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.problems = Counter(
            "twostep_http_problems_total",
            "Error responses, by problem code.",
            ["code"],
            registry=self.registry,
        )
