"""Hostile or sloppy input: refused with a clear problem, never a 5xx, nothing stored."""

from __future__ import annotations

import httpx
import pytest


async def test_a_one_megabyte_body_is_refused_with_413(api: httpx.AsyncClient) -> None:
    response = await api.put(
        "/v1/accounts/u-big",
        content=b'{"email": "' + b"a" * 1_000_000 + b'@example.com"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "payload_too_large"
    assert (await api.get("/v1/accounts/u-big")).status_code == 404


async def test_a_body_larger_than_its_content_length_claims_is_refused(
    api: httpx.AsyncClient,
) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(100):
            yield b"x" * 10_000

    response = await api.put(
        "/v1/accounts/u-big", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    "email",
    ["Ada <ada@example.com>", "ada@example.com\r\nBcc: x@evil.test", "ada @example.com",
     "ada@example.com\x00", '"ada"@example.com'],
)  # fmt: skip
async def test_an_email_with_a_name_or_a_line_break_is_refused(
    api: httpx.AsyncClient, email: str
) -> None:
    response = await api.put("/v1/accounts/u-1", json={"email": email})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.email"
    assert (await api.get("/v1/accounts/u-1")).status_code == 404


@pytest.mark.parametrize("enabled", ["yes", 1, "true", None])
async def test_the_two_step_switch_takes_only_true_or_false(
    api: httpx.AsyncClient, enabled: object
) -> None:
    await api.put("/v1/accounts/u-1", json={"email": "u1@example.com"})
    response = await api.put("/v1/accounts/u-1/two-step", json={"enabled": enabled})
    assert response.status_code == 422
    assert (await api.get("/v1/accounts/u-1")).json()["two_step_enabled"] is False


async def test_a_bad_client_ip_names_the_field_plainly(api: httpx.AsyncClient) -> None:
    await api.put("/v1/accounts/u-1", json={"email": "u1@example.com"})
    response = await api.post(
        "/v1/logins", json={"account_id": "u-1", "client": {"ip": "999.1.1.1"}}
    )
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["body.client.ip"]


@pytest.mark.parametrize("body", [b"{", b"[]", b'"text"', b"\xff\xfe", b""])
async def test_malformed_json_is_a_422_not_a_500(api: httpx.AsyncClient, body: bytes) -> None:
    response = await api.post(
        "/v1/logins", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
