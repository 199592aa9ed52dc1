"""The hot routes' request reading, without FastAPI's per-request machinery.

``POST /v1/logins`` and ``POST /v1/challenges/{id}/verify`` are served by plain Starlette
routes (``api/routes.py``): FastAPI's dependency solving, body and response validation cost
as much CPU as the login itself. This module does the same checks for them, with the same
outcome, so that a client cannot tell the difference:

- the body is read as FastAPI reads it (JSON only for an ``application/json`` or ``+json``
  content type; a JSON syntax error is a ``json_invalid`` error at ``body.<position>``; a
  body that is not UTF-8 is the framework's 400, which ``api/problems.py`` turns into 422),
- it is validated by the same pydantic model, in Python mode as FastAPI does, and every error
  is raised as a ``RequestValidationError`` whose locations start with ``body`` (or
  ``path``), so ``api/problems.py`` writes the same problem document,
- path parameters are checked against the same patterns as the ``Path(pattern=...)`` of the
  other routes.

``tests/unit/test_fast_routes.py`` compares the answers to bad input with FastAPI's own.
"""

from __future__ import annotations

import email.message
import json
from typing import Annotated, Any, TypeVar

from fastapi.exceptions import RequestValidationError
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


async def read_json(request: Request) -> Any:
    """The body as FastAPI reads it: parsed JSON, raw bytes, or ``NO_BODY``."""
    raw = await request.body()
    if not raw:
        return NO_BODY
    if not _is_json(request.headers.get("content-type", "")):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        error = {
            "type": "json_invalid",
            "loc": ("body", exc.pos),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": exc.msg},
        }
        raise RequestValidationError([error], body=exc.doc) from exc
    except ValueError as exc:  # not UTF-8: the framework's "error parsing the body"
        raise HTTPException(400, "There was an error parsing the body") from exc


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
