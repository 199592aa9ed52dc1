"""The processes under test, on loopback: redis-server, the API, Celery workers, the SMTP sink."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import sink

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
API_KEY = "bench-api-key-0123456789"
STATE_DB = 0
BROKER_DB = 1

# What the bench run changes from the defaults, and why; printed with the results.
OVERRIDES = {
    "MAX_EMAILS_PER_HOUR": ("10000", "every login must issue a code; accounts log in many times"),
    "MAX_ATTEMPTS": ("100", "wrong-code verifies must not lock the challenges they reuse"),
    "ACCOUNT_LOCK_THRESHOLD": ("1000", "wrong-code verifies must not lock the accounts"),
    "MAIL_RATE_PER_SECOND": ("1000000", "the global mail token bucket must not cap the workers"),
    "WEBAUTHN_RP_ID": ("bench.example", "the security-key stage's relying party"),
    "REPORT_URL": (
        "https://bench.example/report/{token}",
        "each code email's link, as in production",
    ),
    "WEBAUTHN_ORIGINS": ("https://bench.example", "the origin its answers were signed for"),
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before port {port} opened")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class Process:
    """A child process in its own session, its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(  # noqa: S603 (our own argument lists)
            args,
            env=env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def logs(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout)
        self._log.close()


class Sink:
    """The discard SMTP server in its own process; its records come over a pipe."""

    def __init__(self) -> None:
        self.port = free_port()
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._proc = context.Process(target=sink.serve, args=(self.port, child), daemon=True)
        self._proc.start()
        child.close()
        if not self._conn.poll(30):
            raise RuntimeError("the SMTP sink did not start")
        self._conn.recv()

    def _ask(self, *command: Any) -> Any:
        self._conn.send(command)
        return self._conn.recv()

    def mark(self) -> int:
        """Where the record of accepted messages ends now."""
        return int(self._ask("mark"))

    def since(self, mark: int) -> list[tuple[float, str]]:
        """(time.monotonic() of acceptance, recipient) of each message accepted after ``mark``."""
        return list(self._ask("since", mark))

    def set_latency(self, low_ms: float, high_ms: float | None = None) -> None:
        """Hold each message ``low_ms`` before accepting it, or from ``low_ms`` to ``high_ms``."""
        high = low_ms if high_ms is None else high_ms
        self._ask("latency", low_ms / 1000, high / 1000)

    def stop(self) -> None:
        with contextlib.suppress(OSError, EOFError):
            self._ask("stop")
        self._proc.join(5)
        if self._proc.is_alive():
            self._proc.kill()


class Stack:
    """Everything one bench run starts, and stops."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.processes: list[Process] = []
        self.redis_port = 0
        self.sink: Sink | None = None
        self.secret_key = secrets.token_urlsafe(48)

    def start_redis(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed; run scripts/setup")
        self.redis_port = free_port()
        data = self.run_dir / "redis"
        data.mkdir(exist_ok=True)
        args = [
            binary,
            "--port",
            str(self.redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data),
            # As docker-compose.yml runs it: small stream nodes for the per-account audit trails.
            "--stream-node-max-bytes",
            "1024",
        ]
        process = self._spawn("redis", args, dict(os.environ))
        wait_for_port(self.redis_port, process.proc)

    def start_sink(self) -> None:
        self.sink = Sink()

    def url(self, db: int, port: int | None = None) -> str:
        return f"redis://127.0.0.1:{port or self.redis_port}/{db}"

    def env(self, redis_port: int | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TWOSTEP_")}
        env.update(
            PYTHONPATH=str(ROOT),
            TWOSTEP_SECRET_KEY=self.secret_key,
            TWOSTEP_API_KEYS=API_KEY,
            TWOSTEP_REDIS_URL=self.url(STATE_DB, redis_port),
            TWOSTEP_BROKER_URL=self.url(BROKER_DB, redis_port),
            TWOSTEP_SMTP_PORT=str(self.sink.port if self.sink else 1),
        )
        env.update({f"TWOSTEP_{name}": value for name, (value, _why) in OVERRIDES.items()})
        return env

    def start_api(
        self,
        workers: int,
        name: str = "api",
        redis_port: int | None = None,
        settings: dict[str, str] | None = None,
    ) -> tuple[Process, str]:
        """uvicorn with ``workers`` processes; ``settings``: TWOSTEP_* of this API's own."""
        port = free_port()
        args = [
            str(BIN / "uvicorn"),
            "--factory",
            "bench.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
        ]
        env = self.env(redis_port) | {f"TWOSTEP_{k}": v for k, v in (settings or {}).items()}
        process = self._spawn(name, args, env)
        wait_for_port(port, process.proc)
        return process, f"http://127.0.0.1:{port}"

    def start_worker(self, name: str, app: str, pool: str) -> Process:
        """``celery -A <app> worker``, one process, and wait until it consumes. Pool "threads"
        is the worker as docs/operations.md starts it (its own pool and concurrency: threads,
        TWOSTEP_SMTP_MAX_SESSIONS of them); "solo" runs one job at a time."""
        chosen = [] if pool == "threads" else ["--pool", pool, "--concurrency", "1"]
        args = [
            str(BIN / "celery"),
            "-A",
            app,
            "worker",
            "--loglevel",
            "INFO",
            *chosen,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--hostname",
            f"{name}@%h",
        ]
        process = self._spawn(name, args, self.env())
        deadline = time.monotonic() + 60
        while "ready." not in process.logs():
            if process.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker {name} did not start:\n{process.logs()[-2000:]}")
            time.sleep(0.05)
        return process

    def start_baseline(self, workers: int = 4) -> tuple[Process, str]:
        """bench/baseline_app.py on ``workers`` sync gunicorn workers."""
        port = free_port()
        args = [
            str(BIN / "gunicorn"),
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--timeout",
            "60",
            "bench.baseline_app:app",
        ]
        process = self._spawn("baseline", args, self.env())
        wait_for_port(port, process.proc)
        return process, f"http://127.0.0.1:{port}"

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> Process:
        process = Process(name, args, env, self.run_dir)
        self.processes.append(process)
        return process

    def stop(self, process: Process) -> None:
        process.stop()
        self.processes.remove(process)

    def close(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
        if self.sink is not None:
            self.sink.stop()
            self.sink = None


def rss_bytes(root_pid: int) -> tuple[int, list[int]]:
    """VmRSS summed over the children of ``root_pid`` (uvicorn's workers), and each one."""
    children = Path(f"/proc/{root_pid}/task/{root_pid}/children").read_text().split()
    sizes = [_vmrss(int(pid)) for pid in children]
    return sum(sizes), sizes


def tree_rss_bytes(pid: int) -> int:
    """VmRSS of a process and its children (a Celery worker and its pool's processes, if any)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return _vmrss(pid) + sum(_vmrss(int(child)) for child in children)


def _vmrss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0
