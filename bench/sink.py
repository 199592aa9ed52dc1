"""The SMTP sink: accepts every message, keeps only when and to whom, and discards it.

It can hold each message before it accepts it, as a real provider does (50-200 ms): a fixed
time, or one drawn evenly from a range for each message."""

from __future__ import annotations

import asyncio
import os
import random
import time
from multiprocessing.connection import Connection
from typing import cast

import uvloop

_END_OF_DATA = b"\r\n.\r\n"


class Latency:
    """How long the sink holds each message before its 250: evenly from ``low`` to ``high``."""

    def __init__(self) -> None:
        self.low = self.high = 0.0

    def draw(self) -> float:
        return random.uniform(self.low, self.high) if self.high else 0.0


class _Session(asyncio.Protocol):
    """Just enough RFC 5321 for smtplib and the workers: EHLO, MAIL, RCPT, DATA, RSET, QUIT.

    aiosmtpd costs about a millisecond of CPU per message, as much as the workers
    under test; this answers in microseconds, so the sink is never what is measured.
    """

    def __init__(self, records: list[tuple[float, str]], latency: Latency) -> None:
        self.records = records
        self.latency = latency
        self.transport: asyncio.WriteTransport | None = None
        self.buffer = b""
        self.in_data = False
        self.recipient = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.WriteTransport, transport)  # uvloop's is no subclass
        self.transport.write(b"220 bench-sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        replies: list[bytes] = []
        accepted = ""  # the recipient of a message ended in this read, if any
        while self.buffer:
            if self.in_data:
                # The body may arrive in many reads; look for its end across the boundary.
                end = (b"\r\n" + self.buffer).find(_END_OF_DATA)
                if end < 0:
                    self.buffer = self.buffer[-4:]
                    break
                self.buffer = self.buffer[end + 3 :]
                self.in_data = False
                accepted = self.recipient
                replies.append(b"250 OK discarded\r\n")
                continue
            line, sep, rest = self.buffer.partition(b"\r\n")
            if not sep:
                break
            self.buffer = rest
            replies.append(self._command(line))
            if replies[-1].startswith(b"221"):
                break
        if not replies:
            return
        hold = self.latency.draw() if accepted else 0.0
        if hold:
            # The client waits for the 250 before it sends more: nothing is reordered.
            asyncio.get_running_loop().call_later(hold, self._reply, replies, accepted)
        else:
            self._reply(replies, accepted)

    def _reply(self, replies: list[bytes], accepted: str) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if accepted:
            self.records.append((time.monotonic(), accepted))
        self.transport.write(b"".join(replies))
        if replies[-1].startswith(b"221"):
            self.transport.close()

    def _command(self, line: bytes) -> bytes:
        verb = line[:4].upper()
        if verb == b"EHLO":
            return b"250-bench-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        if verb == b"RCPT":
            address = line.partition(b":")[2].strip().split(b" ")[0].strip(b"<>")
            if not self.recipient:
                self.recipient = address.decode("utf-8", "replace")
            return b"250 OK\r\n"
        if verb == b"DATA":
            self.in_data = True
            return b"354 End data with <CR><LF>.<CR><LF>\r\n"
        if verb in (b"MAIL", b"RSET"):
            self.recipient = ""
            return b"250 OK\r\n"
        if verb == b"QUIT":
            return b"221 Bye\r\n"
        return b"250 OK\r\n"  # HELO, NOOP and anything else


async def _serve(port: int, conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    records: list[tuple[float, str]] = []
    latency = Latency()
    server = await loop.create_server(lambda: _Session(records, latency), "127.0.0.1", port)
    stopped = asyncio.Event()

    def answer() -> None:
        # The harness asks one question at a time over the pipe; the server never waits on it.
        # The loop made the pipe non-blocking: an answer larger than the pipe's buffer (many
        # records) must wait for the harness to read it, not fail with EAGAIN.
        os.set_blocking(conn.fileno(), True)
        command = conn.recv()
        if command[0] == "mark":
            conn.send(len(records))
        elif command[0] == "since":
            conn.send(records[command[1] :])
        elif command[0] == "latency":
            latency.low, latency.high = command[1], command[2]
            conn.send("ok")
        else:
            conn.send("stopping")
            stopped.set()

    loop.add_reader(conn.fileno(), answer)
    conn.send("ready")
    await stopped.wait()
    server.close()


def serve(port: int, conn: Connection) -> None:
    """The sink process's entry point."""
    uvloop.run(_serve(port, conn))
