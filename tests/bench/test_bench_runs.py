"""The benchmark runs end to end in its quick mode and writes every section as numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration

REDIS_FIELDS = ("round_trips", "client_commands_total", "executed_commands_total")
SECTIONS = {
    ("baselines", "bare"): ("requests_per_second", "p50_ms", "p99_ms", "errors"),
    ("baselines", "redis"): ("requests_per_second", "p50_ms", "p99_ms", "errors"),
    ("baselines", "redis_mux"): ("requests_per_second", "p50_ms", "p99_ms", "errors"),
    ("logins",): ("requests_per_second", "p50_ms", "p99_ms", "errors"),
    ("verifies",): ("requests_per_second", "p50_ms", "p99_ms", "errors"),
    ("app_verifies",): ("requests_per_second", "p50_ms", "p99_ms", "errors"),
    ("key_verifies",): ("requests_per_second", "p50_ms", "p99_ms", "errors"),
    ("redis_commands", "login"): REDIS_FIELDS,
    ("redis_commands", "verify"): REDIS_FIELDS,
    ("workers", "twostep"): ("emails_per_second", "emails_per_second_per_worker", "duplicates"),
    ("workers", "celery_noop"): ("tasks_per_second",),
    ("workers", "smtplib"): ("emails_per_second",),
    ("workers", "latency", "100 ms"): (
        "emails_per_second",
        "peak_rss_mib_per_worker",
        "duplicates",
    ),
    ("workers", "latency", "50-200 ms"): ("emails_per_second", "duplicates"),
    ("end_to_end",): ("rate_per_second", "p50_ms", "p99_ms", "emails_missing"),
    ("end_to_end_100ms",): ("capacity_emails_per_second",),
    ("end_to_end_100ms", "half_capacity"): ("p99_ms", "emails_missing"),
    ("baseline_100ms",): ("emails_per_second", "login_p50_ms", "login_failures"),
    ("overload",): ("capacity_emails_per_second", "bound_seconds"),
    ("overload", "with_admission"): (
        "delivery_p99_s",
        "refused_share_percent",
        "queue_drained_after_s",
    ),
    ("overload", "without_admission"): ("delivery_p99_s", "queue_drained_after_s"),
    ("memory", "redis"): ("pending_challenge_bytes", "trusted_browser_bytes"),
    ("memory", "api_rss"): ("growth_percent",),
}


def _section(results: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    found: Any = results
    for part in path:
        found = found[part]
    assert isinstance(found, dict)
    return found


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=420,
    )
    assert done.returncode == 0, f"the bench failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    assert "Targets (ratios within this run)" in done.stdout
    return json.loads(out.read_text())


def test_every_section_has_numbers(results: dict[str, Any]) -> None:
    for path, fields in SECTIONS.items():
        section = _section(results, path)
        for field in fields:
            value = section[field]
            assert isinstance(value, int | float), (path, field)
            assert not isinstance(value, bool), (path, field)


def test_work_was_done_and_no_stage_failed(results: dict[str, Any]) -> None:
    assert results["failures"] == {}
    assert results["logins"]["requests_per_second"] > 0
    assert results["workers"]["twostep"]["emails_accepted"] > 0
    assert results["workers"]["twostep"]["duplicates"] == 0
    for row in results["workers"]["latency"].values():
        assert row["emails_accepted"] == row["emails_queued"]
        assert row["duplicates"] == 0
    assert results["baseline_100ms"]["emails_per_second"] > 0
    assert len(results["memory"]["api_rss"]["rss_bytes"]) == 3
    for run in results["overload"].values():
        if isinstance(run, dict):  # with and without admission: every answer one of the two
            assert run["unexpected_answers"] == 0
            assert run["emails_missing"] == 0
            assert run["refusals_without_retry_after"] == 0
    assert results["overload"]["without_admission"]["refused_share_percent"] == 0


def test_every_target_is_judged(results: dict[str, Any]) -> None:
    assert len(results["targets"]) == 16
    assert {target["verdict"] for target in results["targets"]} <= {"PASS", "MISS"}
