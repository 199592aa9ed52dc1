"""The one-command development stack: Redis, a mail catcher, the API, Celery workers, the portal."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from devstack import datadir
from devstack.errors import StackError
from devstack.plan import ROOT, Plan, find_redis_server
from devstack.ports import DEFAULT_PORTS, LOOPBACK, choose_port, http_ok, port_open, redis_ready
from devstack.processes import Console, launch, terminate
from devstack.secrets import load_secrets

READY_TIMEOUT_SECONDS = 60.0


class _Interrupted(Exception):
    pass


class _ChildExited(Exception):
    def __init__(self, name: str, code: int) -> None:
        super().__init__(name, code)
        self.name = name
        self.code = code


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
        try:
            self._start()
            pids = {child.name: child.proc.pid for child in self.children if child.proc}
            urls: dict[str, str] = {
                name: self.plan.url(name)
                for name in ("api", "mailbox", "portal")
                if name in self.plan.ports
            }
            datadir.write_run_file(self.plan.data_dir, pids, urls)
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
            datadir.remove_run_file(self.plan.data_dir)
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
            "redis": lambda: redis_ready(ports["redis"]),
            "mailbox": lambda: (
                port_open(connect_host, ports["mailbox"]) and port_open(LOOPBACK, ports["smtp"])
            ),
            "api": lambda: http_ok(f"{self.plan.url('api')}/readyz"),
            "portal": lambda: port_open(connect_host, ports["portal"]),
        }
        # Redis and the mail catcher first: the API's /readyz and the workers need Redis.
        for stage in (
            ["redis", "mailbox"],
            [n for n in self.names if n not in ("redis", "mailbox")],
        ):
            for name in stage:
                launch(by_name[name], ROOT, self.console)
            for name in stage:
                child = by_name[name]
                ready = checks.get(name, child.saw_ready_line.is_set)
                self._wait_until(name, ready)

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
        for group in (
            [child for child in started if child.name != "redis"],
            [child for child in started if child.name == "redis"],
        ):
            terminate(group, self.say, lambda: self._hurry)
        for child in started:
            if child.reader is not None:
                child.reader.join(timeout=2)


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
        keys=load_secrets(options.data_dir),
        redis_server=redis_server,
        data_dir=options.data_dir,
        host=options.host,
        workers=options.workers,
        portal=not options.no_portal,
    )
    return plan, notes


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    try:
        datadir.create(options.data_dir)
        with datadir.lock(options.data_dir):
            # Before the ports are chosen: what a killed run left behind still holds its ports.
            leftovers = datadir.stop_leftovers(options.data_dir)
            plan, notes = prepare(options)
            stack = Stack(plan)
            for note in [leftovers, *notes]:
                if note:
                    stack.say(note)
            return stack.run()
    except StackError as exc:
        print(f"devstack: {exc}", file=sys.stderr)
        return 1
