"""Hostile or sloppy input: refused with a clear problem, never a 5xx, nothing stored."""

from __future__ import annotations

import httpx
import pytest
import redis.asyncio


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


@pytest.mark.parametrize("locale", ["fr\r\nBcc: x@evil.test", "fr\n", "en\x00", "es\t"])
async def test_a_locale_with_a_control_character_is_refused(
    api: httpx.AsyncClient, locale: str
) -> None:
    response = await api.put("/v1/accounts/u-1", json={"email": "u1@example.com", "locale": locale})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.locale"


@pytest.mark.parametrize("agent", ["Firefox\x00", "Firefox\u2028Bcc: x", "Firefox\x7f"])
async def test_a_user_agent_with_a_control_character_never_becomes_a_label(
    api: httpx.AsyncClient, agent: str
) -> None:
    await api.put("/v1/accounts/u-1", json={"email": "u1@example.com"})
    await api.put("/v1/accounts/u-1/two-step", json={"enabled": True})
    response = await api.post(
        "/v1/logins", json={"account_id": "u-1", "client": {"user_agent": agent}}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.client.user_agent"


@pytest.mark.parametrize(
    "challenge_id",
    ["ch_", "x" * 500, "ch_" + "0" * 32 + "_" + "A" * 22 + "%0a", "../../etc", "ch_" + "{" * 58],
)
async def test_a_malformed_challenge_id_is_a_422_never_a_500(
    api: httpx.AsyncClient, challenge_id: str
) -> None:
    for response in (
        await api.get(f"/v1/challenges/{challenge_id}"),
        await api.post(f"/v1/challenges/{challenge_id}/verify", json={"code": "123456"}),
        await api.post(f"/v1/challenges/{challenge_id}/resend"),
    ):
        assert response.status_code in (404, 422), response.text


async def test_the_scripts_are_loaded_again_after_redis_forgets_them(
    api: httpx.AsyncClient, state_redis: redis.asyncio.Redis
) -> None:
    assert (await api.put("/v1/accounts/u-1", json={"email": "u1@example.com"})).status_code == 201
    await state_redis.script_flush()  # as after a restart or a failover
    response = await api.put("/v1/accounts/u-1/two-step", json={"enabled": True})
    assert response.status_code == 200
    assert response.json()["two_step_enabled"] is True
