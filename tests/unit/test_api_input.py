"""Hostile or sloppy input: refused with a clear problem, never a 5xx, nothing stored."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import redis.asyncio

from tests.fakes import RecordingMailQueue


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


ZONED_IPS = [
    "fe80::1%eth0",
    "fe80::1%If this was not you, reply to this mail with the code above.",
    "fe80::1%a|Firefox on Linux",
    "fe80::1%" + "x" * 20_000,
    "::ffff:1.2.3.4%1",
]
NOT_IPS = [
    "",
    " 203.0.113.9",
    "203.0.113.9\n",
    "203.0.113.9/32",
    "2001:db8::/64",
    "203.000.113.9",
    "0x7f.0.0.1",
    "localhost",
    "[2001:db8::1]",
    "2001:db8::1" + " " * 40,
    "1" * 46,
]


async def _enabled_account(api: httpx.AsyncClient) -> None:
    await api.put("/v1/accounts/u-1", json={"email": "u1@example.com"})
    await api.put("/v1/accounts/u-1/two-step", json={"enabled": True})


def _calls_with_a_client(client: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """A call of each kind that takes a client: the hot login route and FastAPI's own."""
    return [
        ("POST", "/v1/logins", {"account_id": "u-1", "client": client}),
        ("PUT", "/v1/accounts/u-1/two-step", {"enabled": True, "client": client}),
        ("POST", "/v1/accounts/u-1/unlock", {"client": client}),
    ]


@pytest.mark.parametrize("ip", ZONED_IPS + NOT_IPS)
async def test_a_client_ip_must_be_a_plain_address(
    api: httpx.AsyncClient, mail: RecordingMailQueue, ip: str
) -> None:
    await _enabled_account(api)
    for method, path, body in _calls_with_a_client({"ip": ip, "user_agent": "Firefox/133.0"}):
        response = await api.request(method, path, json=body)
        assert response.status_code == 422, (path, response.text[:300])
        problem = response.json()
        assert problem["code"] == "validation_error"
        assert [error["field"] for error in problem["errors"]] == ["body.client.ip"]
    assert mail.codes == []
    events = (await api.get("/v1/accounts/u-1/events")).json()["items"]
    assert all(event["client_ip"] is None for event in events)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("::FFFF:cb00:7109", "203.0.113.9"),
        ("0000:0000:0000:0000:0000:ffff:255.255.255.255", "255.255.255.255"),
        ("fe80::1", "fe80::1"),
        ("::", "::"),
    ],
)
async def test_a_client_ip_is_kept_normalised(
    api: httpx.AsyncClient, mail: RecordingMailQueue, given: str, kept: str
) -> None:
    await _enabled_account(api)
    response = await api.post("/v1/logins", json={"account_id": "u-1", "client": {"ip": given}})
    assert response.status_code == 201, response.text
    assert mail.codes[-1].client_ip == kept
    issued = (await api.get("/v1/accounts/u-1/events?limit=1")).json()["items"][0]
    assert issued["client_ip"] == kept


async def test_the_schema_says_what_a_client_ip_is(api: httpx.AsyncClient) -> None:
    schemas = (await api.get("/openapi.json")).json()["components"]["schemas"]
    ip = schemas["Client"]["properties"]["ip"]["anyOf"][0]
    assert ip["maxLength"] == 45
    assert "%" not in ip["pattern"]
    assert ip["anyOf"] == [{"format": "ipv4"}, {"format": "ipv6"}]


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


async def test_an_error_locates_a_field_whose_name_holds_a_dot(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/logins", json={"account_id": "u-1", "client.ip": "x"})
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "body.client.ip"  # for people
    assert error["location"] == ["body", "client.ip"]  # for programs
