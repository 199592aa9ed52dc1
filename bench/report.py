"""The results: the issue's targets judged as same-run ratios, one printed table, and JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    measured: float
    limit: float
    at_least: bool  # True: measured must be >= limit; False: <= limit (or < for growth)
    unit: str

    @property
    def met(self) -> bool:
        return self.measured >= self.limit if self.at_least else self.measured <= self.limit

    def row(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": "PASS" if self.met else "MISS"}


def _get(results: dict[str, Any], *path: str) -> float | None:
    value: Any = results
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return float(value) if isinstance(value, int | float) else None


def targets(results: dict[str, Any]) -> list[Target]:
    """The issue's targets that this run has numbers for."""
    found: list[Target] = []

    def add(
        name: str, measured: float | None, limit: float | None, at_least: bool, unit: str
    ) -> None:
        if measured is not None and limit is not None:
            found.append(Target(name, round(measured, 2), round(limit, 2), at_least, unit))

    redis_rate = _get(results, "baselines", "redis", "requests_per_second")
    bound = None if redis_rate is None else 0.8 * redis_rate
    add(
        "logins/s >= 0.8 x one-Redis-call endpoint",
        _get(results, "logins", "requests_per_second"),
        bound,
        True,
        "req/s",
    )
    add(
        "verifies/s >= 0.8 x one-Redis-call endpoint",
        _get(results, "verifies", "requests_per_second"),
        bound,
        True,
        "req/s",
    )
    add(
        "Redis round trips per login <= 2",
        _get(results, "redis_commands", "login", "round_trips"),
        2,
        False,
        "",
    )
    add(
        "Redis round trips per verify <= 1",
        _get(results, "redis_commands", "verify", "round_trips"),
        1,
        False,
        "",
    )
    noop = _get(results, "workers", "celery_noop", "tasks_per_second")
    add(
        "emails/s per worker >= 0.5 x Celery no-op tasks/s",
        _get(results, "workers", "twostep", "emails_per_second_per_worker"),
        None if noop is None else 0.5 * noop,
        True,
        "/s",
    )
    add(
        "emails/s of one worker process at 100 ms >= 100",
        _get(results, "workers", "latency", "100 ms", "emails_per_second"),
        100,
        True,
        "/s",
    )
    add(
        "RSS of that process (and children) <= 250 MiB",
        _get(results, "workers", "latency", "100 ms", "peak_rss_mib_per_worker"),
        250,
        False,
        "MiB",
    )
    baseline = _get(results, "baseline_100ms", "emails_per_second")
    add(
        "end-to-end emails/s at 100 ms >= 5 x email-in-request",
        _get(results, "end_to_end_100ms", "capacity_emails_per_second"),
        None if baseline is None else 5 * baseline,
        True,
        "/s",
    )
    add(
        "end-to-end p99 at 100 ms, half capacity <= 500 ms",
        _get(results, "end_to_end_100ms", "half_capacity", "p99_ms"),
        500,
        False,
        "ms",
    )
    add(
        "end-to-end p99 at half capacity <= 100 ms",
        _get(results, "end_to_end", "p99_ms"),
        100,
        False,
        "ms",
    )
    bound_s = _get(results, "overload", "bound_seconds")
    add(
        "overload 3x: p99 delivery of accepted logins <= bound + 10 s",
        _get(results, "overload", "with_admission", "delivery_p99_s"),
        None if bound_s is None else bound_s + 10,
        False,
        "s",
    )
    add(
        "overload 3x: refusals without Retry-After = 0",
        _get(results, "overload", "with_admission", "refusals_without_retry_after"),
        0,
        False,
        "",
    )
    add(
        "overload 3x: queue drained within the bound after the offer",
        _get(results, "overload", "with_admission", "queue_drained_after_s"),
        bound_s,
        False,
        "s",
    )
    add(
        "Redis bytes per pending challenge <= 600",
        _get(results, "memory", "redis", "pending_challenge_bytes"),
        600,
        False,
        "B",
    )
    add(
        "Redis bytes per trusted browser <= 400",
        _get(results, "memory", "redis", "trusted_browser_bytes"),
        400,
        False,
        "B",
    )
    add(
        "API RSS growth, first to second count, < 10 %",
        _get(results, "memory", "api_rss", "growth_percent"),
        9.99,
        False,
        "%",
    )
    return found


def _line(label: str, value: str) -> str:
    return f"  {label:<52} {value}"


def _load(row: dict[str, Any] | None) -> str:
    if not row:
        return "(not measured)"
    return (
        f"{row['requests_per_second']:>9,.0f} req/s   p50 {row['p50_ms']:>7.2f} ms"
        f"   p99 {row['p99_ms']:>7.2f} ms   errors {row['errors']}"
        + ("   rounds " + "/".join(f"{r:,.0f}" for r in row["rounds_per_second"]))
    )


def _http(results: dict[str, Any]) -> list[str]:
    baselines = results.get("baselines", {})
    rows = (
        ("GET /bench/bare (baseline)", baselines.get("bare")),
        ("GET /bench/redis, one async GET (baseline)", baselines.get("redis")),
        ("GET /bench/redis-mux, the same on the scripts' client", baselines.get("redis_mux")),
        ("POST /v1/logins (code issued and published)", results.get("logins")),
        ("POST /v1/challenges/{id}/verify (wrong code)", results.get("verifies")),
        ("POST .../verify, wrong app code (three steps checked)", results.get("app_verifies")),
        ("POST .../verify, security key (ES256, then its counter)", results.get("key_verifies")),
    )
    return ["HTTP (wrk, same uvicorn processes and settings)"] + [
        _line(label, _load(row)) for label, row in rows
    ]


def _redis(results: dict[str, Any]) -> list[str]:
    out = ["Redis per operation (one at a time, 1 API process behind a counting proxy)"]
    for op in ("login", "verify"):
        row = results.get("redis_commands", {}).get(op)
        if not row:
            continue
        trips = f"{row['round_trips']} / {row['client_commands_total']}"
        out.append(
            _line(f"{op}: round trips / client commands", f"{trips}  {row['client_commands']}")
        )
        executed = f"{row['executed_commands_total']}  {row['executed_commands']}"
        out.append(_line(f"{op}: executed, script calls included", executed))
    return out


def _workers(results: dict[str, Any]) -> list[str]:
    found = results.get("workers", {})
    out = ["Workers (a burst of queued code emails; the SMTP sink accepts and discards)"]
    if "twostep" in found:
        w = found["twostep"]
        rate = f"{w['emails_per_second']:,.0f} emails/s, {w['emails_per_second_per_worker']:,.0f}"
        count = (
            f"{w['emails_accepted']}/{w['emails_queued']} sent, {w['duplicates']} twice,"
            f" {w.get('broker_messages', '?')} broker messages"
        )
        out.append(_line(f"twostep, {w['workers']} x {w['pool']}", f"{rate} per worker ({count})"))
    for label, row in found.get("latency", {}).items():
        out.append(
            _line(
                f"1 worker process, provider takes {label}",
                f"{row['emails_per_second']:,.0f} emails/s, peak RSS"
                f" {row['peak_rss_mib_per_worker']} MiB ({row['emails_accepted']}/"
                f"{row['emails_queued']} sent, {row['duplicates']} twice)",
            )
        )
    if "celery_noop" in found:
        rate = f"{found['celery_noop']['tasks_per_second']:,.0f} tasks/s"
        out.append(_line("Celery no-op task, 1 worker", rate))
    if "smtplib" in found:
        rate = f"{found['smtplib']['emails_per_second']:,.0f} emails/s"
        out.append(_line("plain smtplib loop, one connection", rate))
    return out


def _end_to_end(results: dict[str, Any]) -> list[str]:
    e2e = results.get("end_to_end")
    if not e2e:
        return []
    rate = f"{e2e['rate_per_second']:,.0f}"
    times = f"{e2e['p50_ms']} / {e2e['p99_ms']} / {e2e['max_ms']} ms"
    count = f"{e2e['logins']} logins, {e2e['login_failures']} failed"
    return [
        f"End to end: login request to SMTP acceptance, open loop at {rate} logins/s",
        _line("p50 / p99 / max", f"{times} ({count}, {e2e['emails_missing']} emails missing)"),
        _line(
            "the login request alone, p50 / p99",
            f"{e2e['login_p50_ms']} / {e2e['login_p99_ms']} ms",
        ),
    ]


def _slow_provider(results: dict[str, Any]) -> list[str]:
    slow = results.get("end_to_end_100ms")
    base = results.get("baseline_100ms")
    out = []
    if slow:
        full, half = slow["offered"], slow["half_capacity"]
        out += [
            "End to end behind a provider that takes 100 ms per message",
            _line(
                f"offered {full['rate_per_second']:,.0f} logins/s: sent",
                f"{slow['capacity_emails_per_second']:,.0f} emails/s (the capacity;"
                f" {full['emails_missing']} missing)",
            ),
            _line(
                f"at half of it, {half['rate_per_second']:,.0f}/s: p50 / p99 / max",
                f"{half['p50_ms']} / {half['p99_ms']} / {half['max_ms']} ms"
                f" ({half['emails_missing']} missing)",
            ),
        ]
    if base:
        ratio = ""
        if slow and base["emails_per_second"]:
            ratio = (
                f"; twostep {slow['capacity_emails_per_second'] / base['emails_per_second']:.1f} x"
            )
        out.append(
            _line(
                "email sent inside the request (4 sync gunicorn workers)",
                f"{base['emails_per_second']:,.0f} emails/s, login p50 {base['login_p50_ms']} ms,"
                f" p99 {base['login_p99_ms']} ms ({base['clients']} clients){ratio}",
            )
        )
    return out


def _overload(results: dict[str, Any]) -> list[str]:
    found = results.get("overload")
    if not found:
        return []
    out = [
        f"Overload: {found['with_admission']['offered_per_second']:,.0f} logins/s for"
        f" {found['seconds']:g} s, 3 x one worker's {found['capacity_emails_per_second']:,.0f}"
        f" emails/s (solo, sink at 20 ms); bound {found['bound_seconds']} s"
    ]
    for label, key in (("with admission", "with_admission"), ("without", "without_admission")):
        run = found[key]
        out.append(
            _line(
                f"{label}: delivery p50 / p99 / max",
                f"{run['delivery_p50_s']} / {run['delivery_p99_s']} / {run['delivery_max_s']} s;"
                f" {run['refused_share_percent']} % refused, queue empty"
                f" {run['queue_drained_after_s']} s after ({run['emails_missing']} missing)",
            )
        )
    return out


def _memory(results: dict[str, Any]) -> list[str]:
    found = results.get("memory", {})
    out = ["Memory"]
    if "redis" in found:
        m = found["redis"]
        alone = f"(the challenge hash alone {m['challenge_hash_bytes']} B)"
        out += [
            _line(
                "Redis per pending challenge, all keys a login adds",
                f"{m['pending_challenge_bytes']} B {alone}",
            ),
            _line("Redis per trusted browser", f"{m['trusted_browser_bytes']} B"),
            _line(
                "Redis per mailed code's \"This wasn't me\" link (kept a day)",
                f"{m.get('report_link_bytes', '-')} B",
            ),
            _line("Redis per idle account, before any login", f"{m['idle_account_bytes']} B"),
        ]
    if "api_rss" in found:
        r = found["api_rss"]
        out.append("  API RSS, summed over the uvicorn workers:")
        out += [_line(f"  after {k}", f"{v / 2**20:.1f} MiB") for k, v in r["rss_bytes"].items()]
        out.append(_line("  growth, first to second count", f"{r['growth_percent']} %"))
    return out


def _targets(results: dict[str, Any]) -> list[str]:
    out = ["Targets (ratios within this run)"]
    for t in results.get("targets", []):
        value = f"{t['measured']:,} {t['unit']}".strip()
        out.append(f"  {t['verdict']:<5} {t['name']:<52} {value} (limit {t['limit']:,})")
    # Not a target: the same ratios against the one-call endpoint on the multiplexed
    # connection the scripts use, which redis-py's baseline does not have.
    mux = _get(results, "baselines", "redis_mux", "requests_per_second")
    if mux:
        ratios = [
            f"{op} {rate / mux:.2f} x"
            for op, rate in (
                ("logins", _get(results, "logins", "requests_per_second")),
                ("verifies", _get(results, "verifies", "requests_per_second")),
                ("app verifies", _get(results, "app_verifies", "requests_per_second")),
                ("key verifies", _get(results, "key_verifies", "requests_per_second")),
            )
            if rate is not None
        ]
        out.append(f"  (for reference, against GET /bench/redis-mux: {', '.join(ratios)})")
    one_call = _get(results, "baselines", "redis", "requests_per_second")
    rates = [
        f"{name} {rate / one_call:.2f} x"
        for name, rate in (
            ("email", _get(results, "verifies", "requests_per_second")),
            ("app", _get(results, "app_verifies", "requests_per_second")),
            ("security key", _get(results, "key_verifies", "requests_per_second")),
        )
        if rate is not None and one_call
    ]
    if rates:
        out.append(
            f"  (verifies against the one-Redis-call endpoint: {', '.join(rates)}; a security"
            " key's takes two round trips: its key and challenge read, then the script)"
        )
    return out


def table(results: dict[str, Any]) -> str:
    """The one table the bench prints."""
    out = [f"twostep bench: {results['config']['summary']}", ""]
    sections = (_http, _redis, _workers, _end_to_end, _slow_provider, _overload, _memory, _targets)
    for section in sections:
        lines = section(results)
        if lines:
            out += [*lines, ""]
    out.append("Bench settings that are not the defaults:")
    out += [f"  {override}" for override in results["config"]["overrides"]]
    busy = {k: v for k, v in results.get("other_cpu_percent", {}).items() if v >= 5}
    if busy:
        stages = ", ".join(f"{stage} {percent} %" for stage, percent in busy.items())
        out.append(f"WARNING: other processes used the CPUs during: {stages}; rerun when idle.")
    for stage, problem in results.get("failures", {}).items():
        out.append(f"STAGE FAILED: {stage}: {problem}")
    for stage, errors in results.get("errors", {}).items():
        out.append(f"note: {stage}: {errors} errors (unexpected statuses or socket errors)")
    return "\n".join(out)


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
