"""Hostile bodies on every route that takes one: a 4xx problem document, never a 5xx.

Each route is first sent a body it accepts (so a refusal below is the body's doing, not a
missing account), then the same body made hostile: nested past any parser's recursion limit,
numbers too large for a float or an int, keys given twice, NaN and Infinity (not JSON), a
byte order mark, UTF-16, bytes that are not UTF-8, and escapes of lone surrogates.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import fakeredis
import httpx
import pytest
import redis.asyncio
from fastapi import FastAPI

from api.main import create_app
from tests.api_calls import make_settings

ACCOUNT = "u-1"
CHALLENGE = "ch_" + "0" * 32 + "_" + "A" * 22  # well formed, unknown
PATH_VALUES = {
    "account_id": ACCOUNT,
    "challenge_id": CHALLENGE,
    "registration_id": "wr_" + "A" * 22,  # well formed, unknown
    "key_id": "sk_" + "A" * 16,  # well formed, unknown
}

# A body each route accepts (or refuses for what it means, never for its form).
VALID: dict[tuple[str, str], dict[str, Any]] = {
    ("PUT", "/v1/accounts/{account_id}"): {"email": "u1@example.com", "locale": "en"},
    ("PUT", "/v1/accounts/{account_id}/two-step"): {"enabled": True},
    ("POST", "/v1/logins"): {"account_id": ACCOUNT, "method": "email"},
    ("POST", "/v1/challenges/{challenge_id}/resend"): {"client": None},
    ("POST", "/v1/challenges/{challenge_id}/verify"): {"code": "123456", "method": "email"},
    ("POST", "/v1/challenges/{challenge_id}/report"): {"token": "not-a-link-token"},
    ("POST", "/v1/accounts/{account_id}/totp/confirm"): {"code": "123456", "client": None},
    ("POST", "/v1/accounts/{account_id}/recovery-codes"): {"client": None},
    ("POST", "/v1/accounts/{account_id}/unlock"): {"client": None},
    ("POST", "/v1/accounts/{account_id}/two-step/reset"): {"client": None},
    ("POST", "/v1/accounts/{account_id}/webauthn/registrations/{registration_id}"): {
        "name": "My key",
        "credential": {
            "id": "AAAA",
            "rawId": "AAAA",
            "type": "public-key",
            "response": {"clientDataJSON": "AAAA", "attestationObject": "AAAA"},
        },
    },
    ("PATCH", "/v1/accounts/{account_id}/webauthn/credentials/{key_id}"): {"name": "My key"},
    ("DELETE", "/v1/accounts/{account_id}/webauthn/credentials/{key_id}"): {"client": None},
}


@pytest.fixture
async def state_redis() -> redis.asyncio.Redis:
    """Refusals of a body's form happen before any Redis call: fakeredis alone will do."""
    return fakeredis.FakeAsyncRedis(decode_responses=True)


def routes_with_a_body(app: FastAPI) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation
    }


def test_every_route_that_takes_a_body_is_covered() -> None:
    assert routes_with_a_body(create_app(make_settings())) == set(VALID)


def _text(body: dict[str, Any]) -> str:
    return json.dumps(body)


def _with_value(body: dict[str, Any], raw: str) -> bytes:
    """The body with ``raw`` (JSON text) as the value of its first field."""
    first = next(iter(body))
    rest = {key: value for key, value in body.items() if key != first}
    tail = _text(rest)[1:]  # "...}" or "}"
    joint = ", " if rest else ""
    return f'{{"{first}": {raw}{joint}{tail}'.encode()


def _with_client(body: dict[str, Any], user_agent: str) -> bytes:
    """The body with a client whose User-Agent is ``user_agent`` (JSON text), where the
    route takes a client; elsewhere, as its first field."""
    if "email" in body:
        return _with_value(body, user_agent)
    rest = {key: value for key, value in body.items() if key != "client"}
    joint = ", " if rest else ""
    return f'{_text(rest)[:-1]}{joint}"client": {{"user_agent": {user_agent}}}}}'.encode()


def _duplicated(body: dict[str, Any]) -> bytes:
    first = next(iter(body))
    again = json.dumps(body[first])
    return f'{{"{first}": {again}, {_text(body)[1:]}'.encode()


DEEP = 3000
HOSTILE: dict[str, Callable[[dict[str, Any]], bytes]] = {
    "unclosed lists": lambda body: b"[" * DEEP,
    "closed lists": lambda body: b"[" * DEEP + b"]" * DEEP,
    "nested objects": lambda body: b'{"a": ' * DEEP + b"1" + b"}" * DEEP,
    "nested in a field": lambda body: _with_value(body, "[" * DEEP + "]" * DEEP),
    "1e400": lambda body: _with_value(body, "1e400"),
    "-1e400": lambda body: _with_value(body, "-1e400"),
    "a 5000 digit int": lambda body: _with_value(body, "1" + "0" * 5000),
    "a 5000 digit int alone": lambda body: b"9" * 5000,
    "duplicate keys": _duplicated,
    "NaN": lambda body: _with_value(body, "NaN"),
    "Infinity": lambda body: _with_value(body, "Infinity"),
    "-Infinity": lambda body: _with_value(body, "-Infinity"),
    "UTF-8 BOM": lambda body: b"\xef\xbb\xbf" + _text(body).encode(),
    "UTF-16 with BOM": lambda body: _text(body).encode("utf-16"),
    "UTF-16-LE": lambda body: _text(body).encode("utf-16-le"),
    "UTF-16-BE": lambda body: _text(body).encode("utf-16-be"),
    "UTF-32": lambda body: _text(body).encode("utf-32"),
    "invalid UTF-8": lambda body: _with_value(body, '"\xff"').replace(b"\xc3\xbf", b"\xff"),
    "lone surrogate": lambda body: _with_value(body, '"\\ud800"'),
    "lone surrogate key": lambda body: b'{"\\udfff": 1, ' + _text(body)[1:].encode(),
    "NUL": lambda body: _text(body).encode() + b"\x00",
    "lone surrogate in a user agent": lambda body: _with_client(body, '"Firefox/1 \\ud800"'),
}


def _url(path: str) -> str:
    return path.format(**PATH_VALUES)


async def _ready(api: httpx.AsyncClient) -> None:
    await api.put(f"/v1/accounts/{ACCOUNT}", json={"email": "u1@example.com"})
    await api.put(f"/v1/accounts/{ACCOUNT}/two-step", json={"enabled": True})


def _is_refusal(response: httpx.Response) -> bool:
    if response.status_code != 422:
        return False
    problem = response.json()
    return (
        response.headers["content-type"] == "application/problem+json"
        and problem["code"] == "validation_error"
        and bool(problem["errors"])
        and all(error["field"].startswith("body") for error in problem["errors"])
    )


@pytest.mark.parametrize("route", sorted(VALID), ids=" ".join)
async def test_the_valid_body_is_not_refused(
    api: httpx.AsyncClient, route: tuple[str, str]
) -> None:
    await _ready(api)
    method, path = route
    response = await api.request(method, _url(path), json=VALID[route])
    assert response.status_code < 500, response.text
    assert response.status_code != 422, response.text


CASES = [
    pytest.param(route, kind, id=f"{' '.join(route)}-{kind}")
    for route in sorted(VALID)
    for kind in sorted(HOSTILE)
]


@pytest.mark.parametrize(("route", "kind"), CASES)
async def test_a_hostile_body_is_a_422_problem_never_a_5xx(
    api: httpx.AsyncClient, route: tuple[str, str], kind: str
) -> None:
    await _ready(api)
    method, path = route
    content = HOSTILE[kind](VALID[route])
    response = await api.request(
        method, _url(path), content=content, headers={"Content-Type": "application/json"}
    )
    assert _is_refusal(response), (response.status_code, response.text[:500])
