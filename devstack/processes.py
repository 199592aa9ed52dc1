"""The stack's child processes: starting one, echoing its output, and stopping a set of them."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

STOP_TIMEOUT_SECONDS = 8.0
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@dataclass
class Child:
    """One process of the stack; ``ready_line`` is output that says it is ready."""

    name: str
    args: list[str]
    env: dict[str, str]
    ready_line: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    saw_ready_line: threading.Event = field(default_factory=threading.Event)
    reader: threading.Thread | None = None


class Console:
    """Writes every process's output a line at a time, each with its name in front."""

    def __init__(self, width: int) -> None:
        self._lock = threading.Lock()
        self._width = width

    def line(self, name: str, text: str) -> None:
        self.write(f"{name:<{self._width}} | {text}\n")

    def write(self, text: str) -> None:
        with self._lock, contextlib.suppress(OSError, ValueError):
            # A closed stdout (`| head`) must not stop the children's output from draining.
            sys.stdout.write(text)
            sys.stdout.flush()


@functools.cache
def _die_with_launcher() -> Callable[[], None] | None:
    """On Linux, a ``preexec_fn`` after which the kernel sends the child SIGTERM when the
    launcher dies, even by SIGKILL, when nothing is left to stop the child in order."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = [ctypes.c_int, *[ctypes.c_ulong] * 4]
    prctl.restype = ctypes.c_int
    launcher = os.getpid()
    sigterm = int(signal.SIGTERM)

    def set_death_signal() -> None:
        # Runs in the child between fork and exec: the function was looked up before the fork.
        prctl(_PR_SET_PDEATHSIG, sigterm, 0, 0, 0)
        if os.getppid() != launcher:  # the launcher died before the line above took effect
            os._exit(1)

    return set_death_signal


def launch(child: Child, cwd: Path, console: Console) -> None:
    """Start ``child`` and a thread that echoes its output to ``console``.

    Call it from the main thread: the death signal follows the thread that forked the child.
    """
    # A session of its own: the terminal's Ctrl-C reaches only the launcher, which then
    # stops the children in order, and killing the group leaves no grandchild behind.
    child.proc = subprocess.Popen(  # noqa: S603 (argv built by the plan, no shell)
        child.args,
        env=child.env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_launcher(),
    )
    child.reader = threading.Thread(target=_pump, args=(child, console), daemon=True)
    child.reader.start()


def _pump(child: Child, console: Console) -> None:
    assert child.proc is not None
    assert child.proc.stdout is not None
    for raw in child.proc.stdout:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if child.ready_line is not None and child.ready_line in line:
            child.saw_ready_line.set()
        console.line(child.name, line)


def signal_group(pid: int, sig: int) -> None:
    """Send ``sig`` to the process group ``pid`` leads, if it is still there."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def terminate(children: list[Child], say: Callable[[str], None], hurry: Callable[[], bool]) -> None:
    """SIGTERM the children's groups, wait for them (unless in a ``hurry``), then SIGKILL."""
    for child in children:
        assert child.proc is not None
        signal_group(child.proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while time.monotonic() < deadline and not hurry():
        if all(child.proc is None or child.proc.poll() is not None for child in children):
            break
        time.sleep(0.05)
    for child in children:
        assert child.proc is not None
        if child.proc.poll() is None:
            say(f"{child.name} did not stop in {STOP_TIMEOUT_SECONDS:.0f} s; killing it")
        # Also ends whatever the child left in its group, a Celery pool process say.
        signal_group(child.proc.pid, signal.SIGKILL)
        child.proc.wait()
