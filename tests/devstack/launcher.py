"""``python -m devstack`` started as users start it, on free ports, for the tests that drive
the one-command run."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from devstack.datadir import RUN_FILE
from devstack.plan import BANNER_TITLE
from devstack.secrets import SECRETS_FILE
from tests.processes import ROOT, free_port


class Launcher:
    """``python -m devstack`` on free ports, its output collected; without the portal unless
    asked for (it adds a process and seconds)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        portal: bool = False,
        command: tuple[str, ...] = (sys.executable, "-m", "devstack"),
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.api_port, self.mailbox_port, self.portal_port = free_port(), free_port(), free_port()
        args = ["--data-dir", str(data_dir), "--smtp-port", str(free_port())]
        args += ["--api-port", str(self.api_port), "--mailbox-port", str(self.mailbox_port)]
        args += ["--portal-port", str(self.portal_port)] if portal else ["--no-portal"]
        self.proc = subprocess.Popen(
            [*command, *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 45
        while not any(BANNER_TITLE in line for line in self.lines):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop(signal.SIGKILL)
                raise AssertionError("the stack did not start:\n" + self.output)
            time.sleep(0.1)
        state = json.loads((data_dir / RUN_FILE).read_text())
        self.pids: dict[str, int] = state["pids"]
        keys = (data_dir / SECRETS_FILE).read_text()
        found = re.search(r"^TWOSTEP_API_KEYS=(.+)$", keys, re.MULTILINE)
        assert found is not None
        self.api = httpx.Client(
            base_url=f"http://127.0.0.1:{self.api_port}",
            headers={"Authorization": f"Bearer {found[1]}"},
            timeout=10,
        )
        self.mailbox = httpx.Client(base_url=f"http://127.0.0.1:{self.mailbox_port}", timeout=10)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def code_for(self, to: str) -> str:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for mail in self.mailbox.get("/api/messages").json():
                found = re.search(r"^\s*(\d{6})\s*$", mail["text"], re.MULTILINE)
                if mail["to"] == to and found:
                    return found[1]
            time.sleep(0.1)
        raise AssertionError(f"no code mail to {to}:\n{self.output}")

    def stop(self, sig: int = signal.SIGINT) -> int:
        """Signal the launcher, wait for it to exit, and return its exit code."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        try:
            code = self.proc.wait(30)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            self._reader.join(5)
            assert self.proc.stdout is not None
            self.proc.stdout.close()
            if hasattr(self, "api"):
                self.api.close()
                self.mailbox.close()
        return code
