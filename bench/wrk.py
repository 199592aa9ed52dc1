"""Drives load with ``wrk`` and a Lua script from ``bench/lua``; reads back its JSON summary."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

LUA = Path(__file__).resolve().parent / "lua"


@dataclass(frozen=True, slots=True)
class Load:
    """What one wrk run measured. ``errors`` are socket errors plus unexpected statuses."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    statuses: dict[str, int]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def row(self) -> dict[str, float | int | dict[str, int]]:
        return {
            "requests_per_second": round(self.rate, 1),
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "requests": self.requests,
            "errors": self.errors,
            "statuses": self.statuses,
        }


def wrk_binary() -> str:
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk (see scripts/setup)")
    return binary


def run(
    url: str,
    script: str,
    args: list[str],
    *,
    threads: int,
    connections: int,
    seconds: float,
    expected: frozenset[int] = frozenset({200}),
) -> Load:
    """Run ``wrk`` against ``url`` with ``lua/summary.lua`` + ``lua/<script>.lua``."""
    source = (LUA / "summary.lua").read_text() + "\n" + (LUA / f"{script}.lua").read_text()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix=f"bench-{script}-") as lua:
        lua.write(source)
        lua.flush()
        command = [
            wrk_binary(),
            "--threads", str(threads),
            "--connections", str(max(connections, threads)),
            "--duration", f"{max(1, round(seconds))}s",
            "--timeout", "10s",
            "--latency",
            "--script", lua.name,
            url, "--", *args,
        ]  # fmt: skip
        done = subprocess.run(  # noqa: S603 (our own argument list)
            command, capture_output=True, text=True, check=False
        )
    lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH_JSON ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    raw = json.loads(lines[-1].removeprefix("BENCH_JSON "))
    statuses = {str(k): int(v) for k, v in sorted(raw["statuses"].items())}
    unexpected = sum(n for status, n in statuses.items() if int(status) not in expected)
    return Load(
        requests=int(raw["requests"]),
        seconds=raw["duration_us"] / 1e6,
        p50_ms=round(raw["p50_us"] / 1000, 2),
        p99_ms=round(raw["p99_us"] / 1000, 2),
        errors=int(raw["socket_errors"]) + unexpected,
        statuses=statuses,
    )
