"""A TCP relay in front of redis-server that counts round trips and client commands."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter


def _next_command(buffer: bytes) -> tuple[str, str, int] | None:
    """The name and first argument of the first whole RESP command in ``buffer`` and its
    length, or ``None``."""
    end = buffer.find(b"\r\n")
    if end < 0:
        return None
    if not buffer.startswith(b"*"):  # an inline command
        words = buffer[:end].split(b" ")
        first = words[1].decode(errors="replace") if len(words) > 1 else ""
        return words[0].decode().lower(), first, end + 2
    position, name, first = end + 2, "", ""
    for index in range(int(buffer[1:end])):
        end = buffer.find(b"\r\n", position)
        if end < 0:
            return None
        start = end + 2
        stop = start + int(buffer[position + 1 : end])
        if len(buffer) < stop + 2:
            return None
        if index == 0:
            name = buffer[start:stop].decode().lower()
        elif index == 1:
            first = buffer[start:stop].decode(errors="replace")
        position = stop + 2
    return name, first, position


class RoundTripProxy:
    """A round trip starts each time a client sends after its last reply (or for the first time).

    A pipeline is one round trip however many commands it holds; ``commands`` counts them.
    A round trip made only of ``background`` commands (name, first key) is a process's own
    timer, not a request's: counted apart (``background_round_trips``).
    """

    def __init__(
        self, upstream_port: int, background: frozenset[tuple[str, str]] = frozenset()
    ) -> None:
        self.upstream_port = upstream_port
        self.background = background
        self.port = 0
        self.round_trips = 0
        self.background_round_trips = 0
        self.commands: Counter[str] = Counter()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    def reset(self) -> None:
        self.round_trips = 0
        self.background_round_trips = 0
        self.commands.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        waiting = [False]  # the client has sent and not yet been answered
        kind = [""]  # this round trip's: "" (no command read yet), "background", "request"

        async def upstream() -> None:
            buffer = b""
            while data := await reader.read(65536):
                if not waiting[0]:
                    waiting[0] = True
                    kind[0] = ""
                buffer += data
                while (command := _next_command(buffer)) is not None:
                    name, first, length = command
                    buffer = buffer[length:]
                    if (name, first) in self.background and kind[0] != "request":
                        if not kind[0]:
                            self.background_round_trips += 1
                            kind[0] = "background"
                        continue
                    if kind[0] == "background":  # a request's command in the same trip
                        self.background_round_trips -= 1
                    if kind[0] != "request":
                        self.round_trips += 1
                        kind[0] = "request"
                    self.commands[name] += 1
                up_writer.write(data)
            up_writer.close()

        async def downstream() -> None:
            while data := await up_reader.read(65536):
                waiting[0] = False
                writer.write(data)
            writer.close()

        with contextlib.suppress(ConnectionError):
            await asyncio.gather(upstream(), downstream())

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
