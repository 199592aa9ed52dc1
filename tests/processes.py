"""Real processes for tests: a redis-server, a Celery worker and the API, on loopback ports."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from examples.portal.passwords import hash_password

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECRET_KEY = "test-secret-key-0123456789abcdefghijklmnop"
API_KEY = "test-api-key-0123456789"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(
    port: int, timeout: float = 15.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before port {port} opened")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class Process:
    """A child process whose output goes to a log file the test can read."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        try:
            self.proc = subprocess.Popen(
                args,
                env=env,
                cwd=ROOT,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except BaseException:
            self._log.close()
            raise

    def logs(self) -> str:
        """Everything it wrote so far (all of it, once stopped)."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout)
        self._log.close()


class RedisServer:
    """A private redis-server: never the machine's own on 6379."""

    def __init__(self, log_dir: Path, *, appendonly: bool = False) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed; run `make setup` (see README)")
        self.port = free_port()
        self.log_dir = log_dir
        data = log_dir / f"redis-{self.port}"
        data.mkdir(parents=True, exist_ok=True)
        self.args = [
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--dir", str(data), "--appendonly", "yes" if appendonly else "no",
            # With append-only on, every write is on disk before it is acknowledged.
            *(["--appendfsync", "always"] if appendonly else []),
        ]  # fmt: skip
        self.restarts = 0
        self.process = self._start()

    def _start(self) -> Process:
        process = Process(
            f"redis-{self.port}-{self.restarts}", self.args, dict(os.environ), self.log_dir
        )
        wait_for_port(self.port, proc=process.proc)
        return process

    def restart(self) -> None:
        """Start again on the same port and data folder (after ``stop``)."""
        self.restarts += 1
        self.process = self._start()

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.process.stop(sig)


def service_env(**settings: object) -> dict[str, str]:
    """The environment of a twostep process: ``TWOSTEP_*`` from keyword arguments."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWOSTEP_")}
    env["TWOSTEP_SECRET_KEY"] = SECRET_KEY
    env["TWOSTEP_API_KEYS"] = API_KEY
    env["PYTHONPATH"] = str(ROOT)
    # No test process opens the workers' fixed metrics port unless a test asks for one.
    env["TWOSTEP_WORKER_METRICS_PORT"] = "0"
    for key, value in settings.items():
        env[f"TWOSTEP_{key.upper()}"] = str(value)
    return env


def start_worker(env: dict[str, str], log_dir: Path, name: str = "worker", *extra: str) -> Process:
    """``celery -A workers.app worker``, as docs/operations.md starts it (its own pool and
    concurrency: TWOSTEP_SMTP_MAX_SESSIONS threads), and wait until it consumes. ``extra``
    adds arguments (``--pool solo`` for one job at a time; ``--pool prefork`` is not one:
    Celery reads the app's ``worker_pool`` over it)."""
    worker = Process(
        name,
        [
            str(BIN / "celery"),
            "-A",
            "workers.app",
            "worker",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            f"{name}@%h",
            *extra,
        ],
        env,
        log_dir,
    )
    deadline = time.monotonic() + 30
    while "ready." not in worker.logs():
        if worker.proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"worker did not start:\n{worker.logs()}")
        time.sleep(0.1)
    return worker


def start_api(
    env: dict[str, str], log_dir: Path, *extra: str, port: int | None = None
) -> tuple[Process, str]:
    """``uvicorn --factory api.main:create_app``, as docs/operations.md starts it; on ``port``
    when its address must be known before (a link the workers put in emails)."""
    port = port or free_port()
    api = Process(
        "api",
        [
            str(BIN / "uvicorn"),
            "--factory",
            "api.main:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *extra,
        ],
        env,
        log_dir,
    )
    wait_for_port(port, proc=api.proc)
    return api, f"http://127.0.0.1:{port}"


PORTAL_PASSWORD = "correct horse battery staple"


def start_portal(
    env: dict[str, str],
    log_dir: Path,
    api_url: str,
    portal_redis_url: str,
    names: list[str],
    account_prefix: str,
    port: int,
) -> Process:
    """The reference portal (``uvicorn --factory examples.portal.app:create_app``) on
    ``port``, speaking to the API at ``api_url``, with one user per name:
    ``<name>@example.com``, password ``PORTAL_PASSWORD``, account ``<prefix><name>``."""
    users = [
        {
            "email": f"{name}@example.com",
            "password_hash": hash_password(PORTAL_PASSWORD),
            "locale": "en",
            "account_id": f"{account_prefix}{name}",
            "name": name.capitalize(),
        }
        for name in names
    ]
    portal_env = {
        **env,
        "PORTAL_TWOSTEP_URL": api_url,
        "PORTAL_TWOSTEP_API_KEY": API_KEY,
        "PORTAL_SESSION_SECRET": "browser-test-session-secret-0123456789",
        "PORTAL_REDIS_URL": portal_redis_url,
        "PORTAL_USERS": json.dumps(users),
    }
    portal = Process(
        "portal",
        [str(BIN / "uvicorn"), "--factory", "examples.portal.app:create_app",
         "--host", "127.0.0.1", "--port", str(port)],
        portal_env,
        log_dir,
    )  # fmt: skip
    wait_for_port(port, proc=portal.proc)
    return portal
