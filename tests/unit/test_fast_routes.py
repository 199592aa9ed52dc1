"""The hot routes (api/fastbody.py) answer bad input exactly as FastAPI's own routes would."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Path

from api import problems
from api.fastbody import StrictJsonRoute
from api.metrics import Metrics
from api.schemas import LoginIn, VerifyIn
from shared.keys import CHALLENGE_ID_PATTERN
from tests.api_calls import AUTH

CHALLENGE = "ch_abcdefgh_0123456789abcdef"

# (method, path, raw body, content type)
BAD: list[tuple[str, bytes | None, str | None]] = [
    ("/v1/logins", b"", "application/json"),
    ("/v1/logins", None, None),
    ("/v1/logins", b"{", "application/json"),
    ("/v1/logins", b'{"account_id": "u-1",}', "application/json"),
    ("/v1/logins", b"\xff\xfe", "application/json"),
    ("/v1/logins", b"[]", "application/json"),
    ("/v1/logins", b"null", "application/json"),
    ("/v1/logins", b'"u-1"', "application/json"),
    ("/v1/logins", b"{}", "application/json"),
    ("/v1/logins", b'{"account_id": "u-1"}', "text/plain"),
    ("/v1/logins", b'{"account_id": "u-1"}', None),
    ("/v1/logins", b'{"account_id": "u-1"}', "application/x-www-form-urlencoded"),
    ("/v1/logins", b'{"account_id": "bad id", "method": "sms", "extra": 1}', "application/json"),
    ("/v1/logins", b'{"account_id": "u-1", "client": {"ip": "999.1.1.1"}}', "application/json"),
    ("/v1/logins", b'{"account_id": "u-1", "client": {"ip": 7}}', "application/json"),
    ("/v1/logins", b'{"account_id": "u-1", "client": []}', "application/json"),
    ("/v1/logins", b'{"account_id": 5}', "application/problem+json; charset=utf-8"),
    # Hostile bodies: refused by the same reading (fastbody.read_json) on either route kind.
    ("/v1/logins", b"[" * 3000, "application/json"),
    ("/v1/logins", b'{"account_id": "u-1", "client": ' + b"[" * 3000, "application/json"),
    ("/v1/logins", b'{"account_id": ' + b"1" * 5000 + b"}", "application/json"),
    ("/v1/logins", b'{"account_id": 1e400}', "application/json"),
    ("/v1/logins", b'{"account_id": "u-1", "account_id": "u-2"}', "application/json"),
    ("/v1/logins", b'{"account_id": "u-1", "client": {"ip": NaN}}', "application/json"),
    ("/v1/logins", b'{"account_id": -Infinity}', "application/json"),
    ("/v1/logins", b'\xef\xbb\xbf{"account_id": "u-1"}', "application/json"),
    ("/v1/logins", '{"account_id": "u-1"}'.encode("utf-16"), "application/json"),
    ("/v1/logins", '{"account_id": "u-1"}'.encode("utf-16-le"), "application/json"),
    ("/v1/logins", b'{"account_id": "\xed\xa0\x80"}', "application/json"),
    ("/v1/logins", b'{"account_id": "u-1", "client": {"ip": "fe80::1%eth0"}}', "application/json"),
    (f"/v1/challenges/{CHALLENGE}/verify", b'{"code": "1", "code": "2"}', "application/json"),
    (f"/v1/challenges/{CHALLENGE}/verify", b"[" * 3000, "application/json"),
    (f"/v1/challenges/{CHALLENGE}/verify", b"", "application/json"),
    (f"/v1/challenges/{CHALLENGE}/verify", b"{", "application/json"),
    (f"/v1/challenges/{CHALLENGE}/verify", b"{}", "application/json"),
    (f"/v1/challenges/{CHALLENGE}/verify", b'{"code": ""}', "application/json"),
    (f"/v1/challenges/{CHALLENGE}/verify", b'{"code": 123456}', "application/json"),
    (f"/v1/challenges/{CHALLENGE}/verify", b'{"code": "1", "remember_browser": 1}', None),
    (
        f"/v1/challenges/{CHALLENGE}/verify",
        b'{"code": "123456", "remember_browser": "yes", "method": "x"}',
        "application/json",
    ),
    ("/v1/challenges/nope/verify", b'{"code": "123456"}', "application/json"),
    ("/v1/challenges/nope/verify", b"{}", "application/json"),
    ("/v1/challenges/nope/verify", b"{", "application/json"),
    ("/v1/challenges/nope/verify", None, None),
]


def reference_app() -> FastAPI:
    """FastAPI's own handling of the same declarations, as the routes had them before (with
    the route class every other route has, which reads the body as the hot routes do)."""
    app = FastAPI()
    problems.install(app, Metrics())
    router = APIRouter(route_class=StrictJsonRoute)

    @router.post("/v1/logins")
    async def start_login(body: LoginIn) -> dict[str, Any]:
        return {}

    @router.post("/v1/challenges/{challenge_id}/verify")
    async def verify(
        challenge_id: Annotated[str, Path(pattern=CHALLENGE_ID_PATTERN)], body: VerifyIn
    ) -> dict[str, Any]:
        return {}

    app.include_router(router)
    return app


async def send(client: httpx.AsyncClient, path: str, body: bytes | None, ctype: str | None) -> Any:
    headers = dict(AUTH)
    if ctype is not None:
        headers["Content-Type"] = ctype
    response = await client.post(path, content=body, headers=headers)
    return response.status_code, response.headers.get("content-type"), response.json()


@pytest.mark.parametrize(("path", "body", "ctype"), BAD, ids=lambda value: str(value)[:40])
async def test_bad_input_is_answered_as_fastapi_answers_it(
    api: httpx.AsyncClient, path: str, body: bytes | None, ctype: str | None
) -> None:
    transport = httpx.ASGITransport(app=reference_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://ref.test") as reference:
        expected = await send(reference, path, body, ctype)
    assert expected[0] == 422
    assert await send(api, path, body, ctype) == expected


@pytest.mark.parametrize("path", ["/v1/logins", f"/v1/challenges/{CHALLENGE}/verify"])
async def test_the_key_is_checked_before_the_body(api: httpx.AsyncClient, path: str) -> None:
    del api.headers["Authorization"]
    response = await api.post(path, content=b"{", headers={"Content-Type": "application/json"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_openapi_still_describes_the_hot_routes(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    login = paths["/v1/logins"]["post"]
    assert login["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LoginIn"
    }
    assert set(login["responses"]) == {"200", "201", "401", "404", "409", "422", "429"}
    verify = paths["/v1/challenges/{challenge_id}/verify"]["post"]
    assert verify["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/VerifyIn"
    }
    assert verify["parameters"][0]["schema"]["pattern"] == CHALLENGE_ID_PATTERN


def _routes(routes: list[Any]) -> list[Any]:
    """Every route of the app, those of included routers too (FastAPI keeps them apart)."""
    found = []
    for route in routes:
        included = getattr(route, "original_router", None)
        found.extend(_routes(included.routes) if included is not None else [route])
    return found


def test_each_hot_route_has_one_implementation_that_serves_and_documents() -> None:
    from fastapi.routing import APIRoute

    from api.main import create_app
    from tests.api_calls import make_settings

    app = create_app(make_settings())
    for path in ("/v1/logins", "/v1/challenges/{challenge_id}/verify"):
        serving = [
            route
            for route in _routes(app.routes)
            if getattr(route, "path", None) == path and "POST" in getattr(route, "methods", ())
        ]
        assert len(serving) == 1, path  # no second, documentation-only route behind it
        [route] = serving
        assert isinstance(route, APIRoute)
        assert route.include_in_schema
        assert route.get_route_handler().__qualname__.startswith("_fast_")
