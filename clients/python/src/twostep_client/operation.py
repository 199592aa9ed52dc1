"""An operation of the API, declared once for both clients: its HTTP method and path, how its
arguments become a request, and how its answer is read.

Each operation is a function that takes the caller's arguments and returns a ``Request``,
decorated with ``@operation(method, path, reader)``. The decorator makes it an ``Operation``,
a descriptor: read from a ``TwoStep`` it is a method that sends the request and returns the
answer; read from an ``AsyncTwoStep``, the same method as a coroutine. That is why the sync
and the async client share every signature, docstring and parser, and differ only in how a
request travels (``client.py``); it is also the table the drift test reads (``OPERATIONS``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Self, TypeVar, overload
from urllib.parse import quote

import httpx

from twostep_client.models import Answer, ClientInfo

if TYPE_CHECKING:
    from twostep_client.client import AsyncTwoStep, TwoStep

P = ParamSpec("P")
T = TypeVar("T")
U = TypeVar("U")
A = TypeVar("A", bound=Answer)
B = TypeVar("B", bound=Answer)


@dataclass(frozen=True)
class Reader(Generic[T]):
    """How a successful answer is read. ``models`` names the model each status holds (None:
    no JSON body), for the drift test and to tell an answer from an error (``/readyz``
    answers 503 with a body, not a problem)."""

    models: Mapping[int, type[Answer] | None]
    read: Callable[[httpx.Response], T]

    def then(self, convert: Callable[[T], U]) -> Reader[U]:
        """The same answer, handed to the caller as ``convert`` makes it."""
        read = self.read
        return Reader(self.models, lambda response: convert(read(response)))


def model(cls: type[A], *statuses: int) -> Reader[A]:
    """A JSON answer read as ``cls``, at each of ``statuses`` (200 when none are given)."""
    return Reader(
        dict.fromkeys(statuses or (200,), cls),
        lambda response: cls.model_validate_json(response.content),
    )


def either(first: tuple[int, type[A]], second: tuple[int, type[B]]) -> Reader[A | B]:
    """A JSON answer whose model depends on its status."""
    by_status: dict[int, type[A] | type[B]] = {first[0]: first[1], second[0]: second[1]}

    def read(response: httpx.Response) -> A | B:
        cls = by_status.get(response.status_code)
        if cls is None:
            raise ValueError(f"status {response.status_code} is not one of {sorted(by_status)}")
        return cls.model_validate_json(response.content)

    return Reader(dict(by_status), read)


NOTHING: Reader[None] = Reader({204: None}, lambda response: None)
TEXT: Reader[str] = Reader({200: None}, lambda response: response.text)


@dataclass(frozen=True)
class Request:
    """What an operation's arguments make: the path's values, the body and the query."""

    path: Mapping[str, str] = field(default_factory=dict)
    json: Mapping[str, Any] | None = None
    params: Mapping[str, str | int] | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request, ready to send, and how to read its answer."""

    method: str
    url: str
    reader: Reader[T]
    json: Mapping[str, Any] | None
    params: Mapping[str, str | int] | None
    request_id: str | None


def body(client: ClientInfo | None = None, **members: Any) -> dict[str, Any] | None:
    """A request body of the members given (None values left out: the service's default
    applies), or no body at all when none is."""
    found = {name: value for name, value in members.items() if value is not None}
    if client is not None:
        found["client"] = client.model_dump(exclude_none=True)
    return found or None


class Operation(Generic[P, T]):
    """One operation of the API; a method of both clients (see the module's docstring)."""

    def __init__(
        self, method: str, template: str, reader: Reader[T], build: Callable[P, Request]
    ) -> None:
        self.method = method
        self.template = template
        self.reader = reader
        self.build = build
        self.name = build.__name__
        self.__doc__ = build.__doc__
        # What the caller passes; what it gets back depends on the client (T, or a coroutine).
        self.__signature__ = inspect.signature(build).replace(
            return_annotation=inspect.Signature.empty
        )

    def __repr__(self) -> str:
        return f"<operation {self.name}: {self.method} {self.template}>"

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    def call(self, *args: P.args, **kwargs: P.kwargs) -> Call[T]:
        request = self.build(*args, **kwargs)
        # Each value is one path segment, whatever it holds: never another route or a query.
        url = self.template.format_map(
            {key: quote(value, safe="") for key, value in request.path.items()}
        )
        return Call(self.method, url, self.reader, request.json, request.params, request.request_id)

    def describe(self, bound: Callable[..., Any]) -> None:
        """Give a method made from this operation its name, docstring and signature."""
        functools.update_wrapper(bound, self.build)
        del bound.__wrapped__  # type: ignore[attr-defined]
        bound.__signature__ = self.__signature__  # type: ignore[attr-defined]

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, instance: TwoStep, owner: type[Any]) -> Callable[P, T]: ...
    @overload
    def __get__(
        self, instance: AsyncTwoStep, owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, instance: TwoStep | AsyncTwoStep | None, owner: type[Any]) -> Any:
        if instance is None:
            return self
        return instance._bind(self)


def operation(
    method: str, template: str, reader: Reader[T]
) -> Callable[[Callable[P, Request]], Operation[P, T]]:
    """Declare an operation: ``method`` and ``template`` as ``/openapi.json`` names them."""

    def declare(build: Callable[P, Request]) -> Operation[P, T]:
        return Operation(method, template, reader, build)

    return declare
