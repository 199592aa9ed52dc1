"""One call's exchange with the service, without doing any I/O: the request it sends (with
its request id), when to send it again, and the answer read or the error raised.

``exchange`` is a generator that yields what to do next (``Send`` a request, ``Wait`` a
while) and is sent what came of it; the sync and the async client each drive it with their
own transport and sleep, so both follow exactly the same rules.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pydantic

from twostep_client.errors import (
    TwoStepError,
    Unauthorized,
    Unavailable,
    UnexpectedResponse,
    UnsupportedOperation,
    error_class,
)
from twostep_client.operation import Call
from twostep_client.retry import Retry, retry_after_seconds

T = TypeVar("T")

REQUEST_ID = "X-Request-ID"
_REQUEST_ID_SHAPE = re.compile(r"[A-Za-z0-9._-]{1,64}")


@dataclass(frozen=True)
class Send:
    request: httpx.Request


@dataclass(frozen=True)
class Wait:
    seconds: float


Step = Send | Wait
Outcome = httpx.Response | httpx.TransportError | None


def exchange(
    call: Call[T], http: httpx.Client | httpx.AsyncClient, retry: Retry
) -> Generator[Step, Outcome, T]:
    request_id = call.request_id or uuid.uuid4().hex
    if not _REQUEST_ID_SHAPE.fullmatch(request_id):
        # The service would replace it with one of its own; say so rather than lose it.
        raise ValueError("request_id must be 1 to 64 of A-Z a-z 0-9 . _ -")
    request = http.build_request(
        call.method,
        call.url,
        json=dict(call.json) if call.json is not None else None,
        params=dict(call.params) if call.params else None,
        headers={REQUEST_ID: request_id},
    )
    tries = 0
    while True:
        outcome = yield Send(request)
        tries += 1
        if outcome is None:
            raise RuntimeError("a Send is answered with a response or a transport error")
        if isinstance(outcome, httpx.Response) and _is_answer(call, outcome):
            break
        delay = retry.delay(call.method, tries, outcome)
        if delay is None:
            break
        yield Wait(delay)
    if isinstance(outcome, httpx.TransportError):
        raise _unreachable(request, outcome, request_id) from outcome
    request_id = outcome.headers.get(REQUEST_ID, request_id)
    if not _is_answer(call, outcome):
        raise refusal(request, outcome, request_id)
    try:
        return call.reader.read(outcome)
    except ValueError as exc:  # not JSON, or not the model's shape (pydantic's errors too)
        if not outcome.is_success:
            # A status that may be an answer (/readyz's 503) held a problem document instead.
            raise refusal(request, outcome, request_id) from None
        raise UnexpectedResponse(
            f"{_where(request)} answered {outcome.status_code} with {_unreadable(exc)}: is "
            "base_url a twostep API, and is this client as new as the server?",
            status=outcome.status_code,
            request_id=request_id,
        ) from exc


def _unreadable(error: ValueError) -> str:
    """What is wrong with a body, without its values (they may be secrets: a token, a code)."""
    if isinstance(error, pydantic.ValidationError):
        first = error.errors()[0]
        if first["type"] != "json_invalid":
            where = ".".join(str(part) for part in first["loc"]) or "the body"
            return f"a body not of the expected shape ({where}: {first['msg']})"
    return "a body that is not JSON"


def _is_answer(call: Call[Any], response: httpx.Response) -> bool:
    return response.is_success or response.status_code in call.reader.models


def _where(request: httpx.Request) -> str:
    return f"{request.method} {request.url.copy_with(query=None)}"


def _unreachable(
    request: httpx.Request, error: httpx.TransportError, request_id: str
) -> Unavailable:
    if isinstance(error, httpx.TimeoutException) and not isinstance(error, httpx.ConnectTimeout):
        what = (
            f"no answer within the timeout ({type(error).__name__}); a POST may still have "
            "taken effect"
        )
    else:
        what = (
            f"could not reach the service ({type(error).__name__}: {error}); is base_url "
            "right, and is twostep running?"
        )
    return Unavailable(f"{_where(request)}: {what}", request_id=request_id)


def _problem(response: httpx.Response) -> Mapping[str, Any] | None:
    """The RFC 9457 problem document of an answer, or None when it holds none."""
    try:
        document = json.loads(response.content)
    except ValueError:
        return None
    if isinstance(document, dict) and isinstance(document.get("code"), str):
        return document
    return None


def refusal(request: httpx.Request, response: httpx.Response, request_id: str) -> TwoStepError:
    """The error for an answer that is not a success: by its problem code when it has one."""
    status = response.status_code
    retry_after = retry_after_seconds(response.headers.get("retry-after"))
    problem = _problem(response)
    if problem is None:
        content_type = response.headers.get("content-type", "no content type")
        if status == 401:
            cls: type[TwoStepError] = Unauthorized
        elif status >= 500:
            cls = Unavailable
        else:
            cls = UnexpectedResponse
        detail = (
            f"{_where(request)} answered {status} ({content_type}), not a twostep problem "
            "document: is base_url the root of a twostep API?"
        )
        if cls is Unauthorized:
            detail = f"{_where(request)} answered 401: {_UNAUTHORIZED}"
        return cls(detail, status=status, request_id=request_id, retry_after_header=retry_after)
    code = problem["code"]
    cls = error_class(status, code)
    detail = str(problem.get("detail") or problem.get("title") or code)
    if cls is Unauthorized:
        detail = _UNAUTHORIZED
    elif cls is UnsupportedOperation:
        detail = (
            f"{detail} ({_where(request)}): is base_url the root of the twostep API, and is "
            "the server new enough for this call?"
        )
    return cls(
        detail,
        status=status,
        code=code,
        request_id=request_id,
        problem=problem,
        retry_after_header=retry_after,
    )


_UNAUTHORIZED = (
    "twostep refused the API key: the client's api_key must be one of the service's "
    "TWOSTEP_API_KEYS"
)
