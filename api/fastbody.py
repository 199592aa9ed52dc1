"""How every route reads its JSON body, and the hot routes' checks without FastAPI's machinery.

``POST /v1/logins`` and ``POST /v1/challenges/{id}/verify`` are each served by one plain
handler (``api/routes.py``, through ``served_by`` below): FastAPI's dependency solving, body
and response validation cost as much CPU as the login itself. The route is still a FastAPI
route, so ``/openapi.json`` describes it from its declaration; only its handler is this
module's. This module does the same checks for them, with the same outcome, so that a client
cannot tell the difference:

- the body is read as FastAPI reads it (JSON only for an ``application/json`` or ``+json``
  content type; a JSON syntax error is a ``json_invalid`` error at ``body.<position>``; a
  body that is not UTF-8 is the framework's 400, which ``api/problems.py`` turns into 422),
  but strictly, as RFC 8259 has JSON: UTF-8 without a byte order mark (so no UTF-16 or -32),
  no ``NaN`` or ``Infinity``, no key twice in an object (a proxy that reads the first and a
  parser that keeps the last would see two requests), and nesting too deep for the parser,
  or an integer too long to convert, is a ``json_invalid`` error at ``body``, never a 500,
- it is validated by the same pydantic model, in Python mode as FastAPI does, and every error
  is raised as a ``RequestValidationError`` whose locations start with ``body`` (or
  ``path``), so ``api/problems.py`` writes the same problem document,
- path parameters are checked against the same patterns as the ``Path(pattern=...)`` of the
  other routes.

The other routes read their bodies with the same ``read_json``: ``StrictJsonRoute`` is their
route class, so every route refuses the same bodies the same way.
``tests/unit/test_fast_routes.py`` compares the answers to bad input with FastAPI's own.
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, StringConstraints, TypeAdapter, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

M = TypeVar("M", bound=BaseModel)

JSON = "application/json"
NO_BODY: Any = object()  # an empty body, unlike a JSON ``null``, is a missing one


def _is_json(content_type: str) -> bool:
    if content_type == JSON:  # what every client sends: skip the header parsing
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


def _located(exc: ValidationError, *prefix: str | int) -> list[Any]:
    return [{**error, "loc": (*prefix, *error["loc"])} for error in exc.errors(include_url=False)]


class _NotJson(Exception):
    """Valid syntax for Python's parser, but not JSON we take (the reason is the message)."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise _NotJson("A key appears twice in an object")
    return value


def _constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON value")


_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_constant)


def _refused(reason: str) -> RequestValidationError:
    error = {"type": "json_invalid", "loc": ("body",), "msg": reason, "input": {}}
    return RequestValidationError([error])


async def read_json(request: Request) -> Any:
    """The body as FastAPI reads it: parsed JSON, raw bytes, or ``NO_BODY``."""
    raw = await request.body()
    if not raw:
        return NO_BODY
    if not _is_json(request.headers.get("content-type", "")):
        return raw
    try:
        text = raw.decode()  # UTF-8 only: json.loads would also guess UTF-16 and UTF-32
    except UnicodeDecodeError as exc:
        raise HTTPException(400, "There was an error parsing the body") from exc
    try:
        return _DECODER.decode(text)
    except _NotJson as exc:
        raise _refused(str(exc)) from None
    except RecursionError:
        raise _refused("JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        error = {
            "type": "json_invalid",
            "loc": ("body", exc.pos),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": exc.msg},
        }
        raise RequestValidationError([error], body=exc.doc) from exc
    except ValueError:  # the one other: an integer past Python's 4300 digits
        raise _refused("A number too long to read") from None


def validate_body(model: type[M], value: Any, errors: list[Any]) -> M | None:
    """``value`` as ``model``; its errors, located in ``body``, are added to ``errors``."""
    if value is NO_BODY:
        errors.append({"type": "missing", "loc": ("body",), "msg": "Field required", "input": None})
        return None
    try:
        return model.model_validate(value, from_attributes=True)  # as FastAPI validates
    except ValidationError as exc:
        errors.extend(_located(exc, "body"))
        return None


class PathParam:
    """A path parameter checked as ``Path(pattern=...)`` checks it."""

    def __init__(self, name: str, pattern: str) -> None:
        self.name = name
        self._adapter: TypeAdapter[str] = TypeAdapter(
            Annotated[str, StringConstraints(pattern=pattern)]
        )

    def validate(self, request: Request, errors: list[Any]) -> str:
        """The parameter; when it does not match, its error is added to ``errors``."""
        value: str = request.path_params[self.name]
        try:
            return self._adapter.validate_python(value)
        except ValidationError as exc:
            errors.extend(_located(exc, "path", self.name))
            return value


def json_response(model: BaseModel, status_code: int) -> Response:
    """The model as FastAPI's ``response_model`` would send it (compact JSON, UTF-8)."""
    return Response(model.model_dump_json(), status_code=status_code, media_type=JSON)


class _ReadRequest(Request):
    """The request, with the body ``read_json`` already read and accepted."""

    def __init__(self, request: Request, raw: bytes, value: Any) -> None:
        super().__init__(request.scope, request.receive)
        self._raw = raw
        self._value = value

    async def body(self) -> bytes:
        return self._raw

    async def json(self) -> Any:
        return self._value


class StrictJsonRoute(APIRoute):
    """A FastAPI route whose JSON body is read by ``read_json``: refused as the hot routes
    refuse it, and parsed once. Without a JSON body, FastAPI reads the request itself."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        if self.body_field is None:
            return handle

        async def strict(request: Request) -> Response:
            value = await read_json(request)
            if value is NO_BODY or isinstance(value, bytes):
                return await handle(request)
            return await handle(_ReadRequest(request, await request.body(), value))

        return strict


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def served_by(handler: Handler) -> type[APIRoute]:
    """A route class for one hot route: documented like any FastAPI route (its endpoint's
    signature and the decorator's arguments make its ``/openapi.json`` entry), and served by
    ``handler``, which reads, validates and answers with the functions above, without
    FastAPI's per-request machinery. The endpoint is never called: ``handler`` is the route's
    one implementation."""

    class ServedBy(APIRoute):
        def get_route_handler(self) -> Handler:
            return handler

    return ServedBy
