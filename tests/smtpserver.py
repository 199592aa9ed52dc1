"""A real SMTP server on loopback for tests: aiosmtpd in a thread, with scripted failures."""

from __future__ import annotations

import asyncio
import email
import email.policy
import errno
import random
import socket
import threading
import time
import weakref
from collections import deque
from email.message import EmailMessage
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

_HOST = "127.0.0.1"
_DROP = 0  # a scripted "code" meaning: cut the connection instead of answering


def _free_port() -> int:
    # aiosmtpd's Controller needs a concrete port, so borrow one from the kernel.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((_HOST, 0))
        return int(probe.getsockname()[1])


class _Controller(Controller):  # type: ignore[misc]
    def __init__(self, catcher: MailCatcher, **kwargs: Any) -> None:
        super().__init__(_Handler(catcher), **kwargs)
        self._catcher = catcher

    def factory(self) -> SMTP:
        # create_server calls the factory once per accepted connection.
        smtp = super().factory()
        self._catcher._connection_opened(smtp)
        return smtp


class _Handler:
    def __init__(self, catcher: MailCatcher) -> None:
        self._catcher = catcher

    async def handle_EHLO(
        self, server: SMTP, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self._catcher.pipelining:  # aiosmtpd reads pipelined commands in order anyway
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        refusal = self._catcher._next_refusal("MAIL")
        if refusal is not None:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        refusal = self._catcher._next_refusal("RCPT")
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        if self._catcher.delay_seconds:
            # A provider's time to accept; each connection waits on its own.
            await asyncio.sleep(self._catcher.delay_seconds)
        action = self._catcher._next_action()
        if action is None:
            self._catcher._accept(envelope.original_content)
            return "250 OK queued"
        code, text = action
        if code == _DROP:
            server.transport.abort()
            # connection_lost cancels this coroutine; never answering is the point.
            await asyncio.Event().wait()
        return f"{code} {text}"


class MailCatcher:
    """Collects every message it accepts; can refuse or cut DATA on demand.

    Usable as a context manager. ``stop()`` then ``start()`` restarts it on the same
    port, which is how tests simulate a mail server restart.
    """

    def __init__(self, *, auth: tuple[str, str] | None = None, pipelining: bool = False) -> None:
        self.host = _HOST
        # Whether EHLO offers PIPELINING (RFC 2920), as most mail servers do.
        self.pipelining = pipelining
        # How long each DATA waits before its answer, as a real provider's 50-200 ms does.
        self.delay_seconds = 0.0
        self.accepted_at: list[float] = []  # time.monotonic() of each acceptance
        self._refusals: dict[str, deque[str]] = {"MAIL": deque(), "RCPT": deque()}
        self.port = 0
        self.messages: list[EmailMessage] = []
        self.refused = 0
        self.connections = 0
        self._auth = auth
        self._lock = threading.Condition()
        self._script: deque[tuple[int, str]] = deque()
        self._random: tuple[int, str, float, random.Random] | None = None
        self._live: weakref.WeakSet[SMTP] = weakref.WeakSet()
        self._controller: _Controller | None = None

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> MailCatcher:
        if self._controller is not None:
            raise RuntimeError("MailCatcher already running")
        fixed_port = self.port != 0
        last_error: OSError | None = None
        for _ in range(10):
            port = self.port if fixed_port else _free_port()
            controller = _Controller(self, **self._controller_options(port))
            try:
                controller.start()
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                last_error = exc
                time.sleep(0.05)
                continue
            self.port = port
            self._controller = controller
            with self._lock:
                # The controller's own readiness probe opened one connection.
                self.connections -= 1
            return self
        raise RuntimeError(f"no free port for the SMTP server: {last_error}")

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is None:
            return
        # Close the client sessions inside the loop so no socket outlives it.
        future = asyncio.run_coroutine_threadsafe(self._close_sessions(), controller.loop)
        future.result(timeout=5)
        controller.stop()

    async def _close_sessions(self) -> None:
        for smtp in list(self._live):
            if smtp.transport is not None:
                smtp.transport.close()
        for _ in range(3):
            await asyncio.sleep(0)

    def __enter__(self) -> MailCatcher:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _controller_options(self, port: int) -> dict[str, Any]:
        options: dict[str, Any] = {"hostname": self.host, "port": port, "ready_timeout": 5.0}
        if self._auth is not None:
            # Plain-text AUTH is fine on loopback; the sender's TLS is not under test here.
            options.update(authenticator=self._authenticate, auth_require_tls=False)
        return options

    def _authenticate(
        self, server: SMTP, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword) or self._auth is None:
            return AuthResult(success=False, handled=False)
        login, password = self._auth
        ok = auth_data.login == login.encode() and auth_data.password == password.encode()
        return AuthResult(success=ok, handled=False)

    # -- scripting -------------------------------------------------------------

    def fail_next(self, code: int, count: int = 1, text: str = "scripted failure") -> None:
        """Answer the next ``count`` DATA commands with ``code`` instead of 250."""
        with self._lock:
            self._script.extend([(code, text)] * count)

    def fail_randomly(
        self, code: int, probability: float, seed: int, text: str = "random failure"
    ) -> None:
        """From now on, refuse each DATA with ``code`` with the given probability."""
        with self._lock:
            self._random = (code, text, probability, random.Random(seed))

    def refuse_next(self, command: str, code: int, text: str = "scripted refusal") -> None:
        """Answer the next MAIL or RCPT command with ``code``."""
        with self._lock:
            self._refusals[command].append(f"{code} {text}")

    def _next_refusal(self, command: str) -> str | None:
        with self._lock:
            refusals = self._refusals[command]
            return refusals.popleft() if refusals else None

    def drop_connection_next(self) -> None:
        """Cut the connection on the next DATA, without answering it."""
        with self._lock:
            self._script.append((_DROP, ""))

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.accepted_at.clear()
            self.delay_seconds = 0.0
            self._script.clear()
            self._random = None
            self.refused = 0
            self.connections = 0

    # -- reading ---------------------------------------------------------------

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """Block until at least ``count`` messages arrived; return a copy of them."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    subjects = [str(message["Subject"]) for message in self.messages]
                    raise AssertionError(
                        f"expected {count} messages within {timeout} s, got"
                        f" {len(self.messages)}: {subjects}"
                    )
                self._lock.wait(remaining)
            return list(self.messages)

    # -- called from the server thread -----------------------------------------

    def _connection_opened(self, smtp: SMTP) -> None:
        with self._lock:
            self.connections += 1
            self._live.add(smtp)

    def _next_action(self) -> tuple[int, str] | None:
        with self._lock:
            if self._script:
                action = self._script.popleft()
            elif self._random is not None and self._random[3].random() < self._random[2]:
                action = (self._random[0], self._random[1])
            else:
                return None
            if action[0] != _DROP:
                self.refused += 1
            return action

    def _accept(self, raw: bytes) -> None:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.messages.append(message)
            self.accepted_at.append(time.monotonic())
            self._lock.notify_all()


# Reading what a catcher caught, as a mailbox shows it.


def text_part(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None, "no text/plain part"
    return str(part.get_content())  # type: ignore[attr-defined]


def html_part(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None, "no text/html part"
    return str(part.get_content())  # type: ignore[attr-defined]


def mails_to(catcher: MailCatcher, address: str) -> list[EmailMessage]:
    return [m for m in list(catcher.messages) if m["To"] == address]
