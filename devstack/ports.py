"""Ports: picking free ones for the stack, and asking whether a server answers on one."""

from __future__ import annotations

import contextlib
import socket
import urllib.request

from devstack.errors import StackError

LOOPBACK = "127.0.0.1"
DEFAULT_PORTS = {"api": 8080, "portal": 8000, "mailbox": 8025, "smtp": 1025, "redis": 0}


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


def port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def redis_ready(port: int) -> bool:
    # While Redis replays its append-only file it answers -LOADING, not +PONG.
    with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), 0.5) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")
    return False


def http_ok(url: str) -> bool:
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
        return int(response.status) == 200
    return False
