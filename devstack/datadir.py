"""The data directory: its lock, and ``run.json``, the record of a running stack's processes."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import time
from pathlib import Path
from typing import IO

from devstack.errors import StackError
from devstack.processes import STOP_TIMEOUT_SECONDS, signal_group

RUN_FILE = "run.json"
# Set in every child's environment: how a later run knows a live pid is one of ours.
DATA_DIR_VARIABLE = "DEVSTACK_DATA_DIR"


def create(data_dir: Path) -> None:
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    # The directory holds keys and state: keep it out of every commit, whatever .gitignore says.
    (data_dir / ".gitignore").write_text("*\n")


def lock(data_dir: Path) -> IO[str]:
    """An exclusive hold on ``data_dir`` until the returned file is closed."""
    handle = (data_dir / "lock").open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StackError(f"another devstack is using {data_dir}; stop it first") from None
    return handle


def write_run_file(data_dir: Path, pids: dict[str, int], urls: dict[str, str]) -> None:
    # Start times tell a recorded pid from a later process that reuses it.
    started = {name: _start_time(pid) for name, pid in pids.items()}
    record = {"launcher": os.getpid(), "pids": pids, "started": started, "urls": urls}
    (data_dir / RUN_FILE).write_text(json.dumps(record))


def remove_run_file(data_dir: Path) -> None:
    (data_dir / RUN_FILE).unlink(missing_ok=True)


def stop_leftovers(data_dir: Path) -> str | None:
    """Stop what a launcher killed before it could clean up left running; say what it was.

    Call it holding the lock. Pids get reused, so a recorded group counts only while its
    leader is the very process recorded (same start time) or a live member carries this data
    directory in its environment (Redis overwrites its own). Without /proc neither can be
    checked, so a live group stops the start with a message saying what to do.
    """
    run_file = data_dir / RUN_FILE
    try:
        record = json.loads(run_file.read_text())
        groups = {int(pid): str(name) for name, pid in record["pids"].items()}
        started = record.get("started", {})
        leaders = {int(pid): started.get(name) for name, pid in record["pids"].items()}
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, AttributeError):
        groups, leaders = {}, {}
    if not Path("/proc/self/environ").exists():
        alive = [pid for pid in groups if _group_alive(pid)]
        if alive:
            which = ", ".join(f"{groups[pid]} (pid {pid})" for pid in alive)
            how = " ".join(f"-{pid}" for pid in alive)
            raise StackError(
                f"an earlier run may have left {which} running; stop them"
                f" (kill -TERM -- {how}) and delete {run_file}"
            )
        run_file.unlink()
        return None
    ours = {group: leaders[group] for group in sorted(_running(leaders, data_dir))}
    for group in ours:
        signal_group(group, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while _running(ours, data_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    for group in ours:
        signal_group(group, signal.SIGKILL)
    run_file.unlink()
    if not ours:
        return None
    return "stopped what an earlier, killed run left running: " + ", ".join(
        f"{groups[group]} (pid {group})" for group in ours
    )


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # another user's: not a process this stack started
    return True


def _running(leaders: dict[int, int | None], data_dir: Path) -> set[int]:
    """The groups (keys of ``leaders``, their leaders' start times) still running ours."""
    marker = f"{DATA_DIR_VARIABLE}={data_dir.resolve()}".encode()
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        fields = _stat(entry.name) if entry.name.isdigit() else None
        if fields is None or fields[0] in ("Z", "X"):
            continue
        group = int(fields[2])
        if group not in leaders or group in found:
            continue
        if int(entry.name) == group and leaders[group] == int(fields[19]):
            found.add(group)
            continue
        with contextlib.suppress(OSError):
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.add(group)
    return found


def _stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat from the third (state) on, or None."""
    try:
        # The command name (field 2) is in parentheses and may hold spaces and parentheses.
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _start_time(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[19]) if fields else None
