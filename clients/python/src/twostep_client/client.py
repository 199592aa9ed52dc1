"""The two clients, ``TwoStep`` (sync) and ``AsyncTwoStep`` (async): each holds a pooled httpx
client and drives an operation's exchange with it; everything else they share."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, ParamSpec, Self, TypeVar, cast

import httpx

from twostep_client.endpoints import Endpoints
from twostep_client.exchange import Outcome, Send, exchange
from twostep_client.operation import Call, Operation
from twostep_client.retry import Retry
from twostep_client.version import VERSION

P = ParamSpec("P")
T = TypeVar("T")

USER_AGENT = f"twostep-client-python/{VERSION}"


def _http_options(
    base_url: str,
    api_key: str,
    connect_timeout_seconds: float,
    read_timeout_seconds: float,
    max_connections: int,
) -> dict[str, Any]:
    """What both clients give httpx, checked up front so a wrong setting fails at once."""
    url = httpx.URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"base_url must be an http:// or https:// URL, not {base_url!r}")
    if not api_key.strip():
        raise ValueError("api_key is empty: give one of the service's TWOSTEP_API_KEYS")
    return {
        "base_url": url,
        "headers": {
            "Authorization": f"Bearer {api_key.strip()}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        },
        # Writes and waits for a pooled connection are bounded by the read timeout.
        "timeout": httpx.Timeout(read_timeout_seconds, connect=connect_timeout_seconds),
        "limits": httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        # twostep never redirects; a redirect means base_url points elsewhere.
        "follow_redirects": False,
    }


class TwoStep(Endpoints):
    """A client of one twostep service; thread-safe, and meant to be kept for the process's
    life (it pools its connections). ``transport`` replaces the network, for tests."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        connect_timeout_seconds: float = 2.0,
        read_timeout_seconds: float = 10.0,
        retry: Retry | None = None,
        max_connections: int = 20,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        options = _http_options(
            base_url, api_key, connect_timeout_seconds, read_timeout_seconds, max_connections
        )
        self._http = httpx.Client(**options, transport=transport)
        self._retry = retry or Retry()

    _sleep: Callable[[float], None] = staticmethod(time.sleep)

    def _bind(self, operation: Operation[P, T]) -> Callable[P, T]:
        def method(*args: P.args, **kwargs: P.kwargs) -> T:
            return self._run(operation.call(*args, **kwargs))

        operation.describe(method)
        return method

    def _run(self, call: Call[T]) -> T:
        steps = exchange(call, self._http, self._retry)
        outcome: Outcome = None
        try:
            while True:
                step = steps.send(outcome)
                outcome = None
                if isinstance(step, Send):
                    try:
                        outcome = self._http.send(step.request)
                    except httpx.TransportError as error:
                        outcome = error
                else:
                    self._sleep(step.seconds)
        except StopIteration as done:
            return cast(T, done.value)

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncTwoStep(Endpoints):
    """The same client for asyncio: every method is a coroutine. Keep one per event loop."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        connect_timeout_seconds: float = 2.0,
        read_timeout_seconds: float = 10.0,
        retry: Retry | None = None,
        max_connections: int = 20,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        options = _http_options(
            base_url, api_key, connect_timeout_seconds, read_timeout_seconds, max_connections
        )
        self._http = httpx.AsyncClient(**options, transport=transport)
        self._retry = retry or Retry()

    _sleep: Callable[[float], Awaitable[None]] = staticmethod(asyncio.sleep)

    def _bind(self, operation: Operation[P, T]) -> Callable[P, Coroutine[Any, Any, T]]:
        async def method(*args: P.args, **kwargs: P.kwargs) -> T:
            return await self._run(operation.call(*args, **kwargs))

        operation.describe(method)
        return method

    async def _run(self, call: Call[T]) -> T:
        steps = exchange(call, self._http, self._retry)
        outcome: Outcome = None
        try:
            while True:
                step = steps.send(outcome)
                outcome = None
                if isinstance(step, Send):
                    try:
                        outcome = await self._http.send(step.request)
                    except httpx.TransportError as error:
                        outcome = error
                else:
                    await self._sleep(step.seconds)
        except StopIteration as done:
            return cast(T, done.value)

    async def close(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()

    aclose = close

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
