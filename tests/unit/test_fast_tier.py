"""The fast tier (``scripts/test --fast``, ``pytest --fast``): no real server, no process.

These tests run pytest itself, in processes of their own, so they belong to the full run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _pytest(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_fast_tier_collects_no_run_on_a_real_server() -> None:
    fast = _pytest("--fast", "--collect-only", "-q")
    assert fast.returncode == 0, fast.stdout + fast.stderr
    ids = [line for line in fast.stdout.splitlines() if "::" in line]
    assert any("[fakeredis" in line for line in ids)
    assert not [line for line in ids if "redis-server" in line or "redis-cluster" in line]
    full = _pytest("--collect-only", "-q")
    assert len([line for line in full.stdout.splitlines() if "::" in line]) > len(ids)


def test_a_test_that_starts_a_process_fails_in_the_fast_tier(tmp_path: Path) -> None:
    (tmp_path / "test_starts_one.py").write_text(
        "import subprocess\n\n"
        "def test_starts_a_process():\n"
        "    subprocess.run(['true'], check=True)\n"
    )
    args = ("-p", "tests.conftest", "--rootdir", str(tmp_path), "-c", "/dev/null", str(tmp_path))
    # Our conftest as a plugin (python -m pytest puts this checkout first on the path).
    plain = _pytest(*args)
    assert plain.returncode == 0, plain.stdout
    fast = _pytest("--fast", *args)
    assert fast.returncode == 1, fast.stdout
    assert "mark it (or its fixture's parameter) with pytest.mark.integration" in fast.stdout
