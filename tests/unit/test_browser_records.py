"""Trusted-browser records: user data cannot split them, the records an earlier version
wrote ("digest|created|last_used|ip|label") are still read, and still trusted, after an
upgrade, and the list names each one's browser and system. On fakeredis, a real redis-server
and a Redis Cluster (their Lua differs)."""

from __future__ import annotations

import httpx
import pytest
import redis.asyncio

from api.store import Store, browser_record
from shared import codes
from shared.keys import AccountKeys
from tests.api_calls import code_of
from tests.fakes import START, FakeClock, RecordingMailQueue

DAY = 86_400


async def _account(api: httpx.AsyncClient) -> None:
    await api.put("/v1/accounts/u-1", json={"email": "u1@example.com"})
    await api.put("/v1/accounts/u-1/two-step", json={"enabled": True})


async def _store_record(
    state_redis: redis.asyncio.Redis, record: str, expires_at: float
) -> tuple[str, str]:
    """A trusted browser written straight into Redis; its id and token."""
    browser_id = codes.new_browser_id()
    token = codes.new_browser_token(browser_id)
    keys = AccountKeys.of("u-1")
    await state_redis.hset(
        keys.browsers, browser_id, record.format(digest=codes.token_digest(token))
    )
    await state_redis.zadd(keys.browser_expiry, {browser_id: expires_at})
    return browser_id, token


async def _login_with(api: httpx.AsyncClient, token: str) -> httpx.Response:
    return await api.post("/v1/logins", json={"account_id": "u-1", "trusted_browser_token": token})


OLD_RECORDS = [
    # (as stored by the earlier version, the label and ip it meant)
    ("{digest}|%d|%d|203.0.113.9|Firefox on Linux", "Firefox on Linux", "203.0.113.9"),
    ("{digest}|%d|%d||Unknown browser", "Unknown browser", None),
    ("{digest}|%d|%d|2001:db8::1|", "Unknown browser", "2001:db8::1"),
    ("{digest}|%d|%d||", "Unknown browser", None),
    # A zone id with a "|" in it split the old record; the label is still the last part,
    # and what is left is no address the API would take today.
    ("{digest}|%d|%d|fe80::1%%a|b|Chrome on Windows", "Chrome on Windows", None),
    ("{digest}|%d|%d|fe80::1%%x|Safari on macOS", "Safari on macOS", None),
]


@pytest.mark.parametrize(("stored", "label", "ip"), OLD_RECORDS)
async def test_a_record_of_the_earlier_format_is_still_listed_and_trusted(
    api: httpx.AsyncClient,
    state_redis: redis.asyncio.Redis,
    clock: FakeClock,
    stored: str,
    label: str,
    ip: str | None,
) -> None:
    await _account(api)
    created = START - 2 * DAY
    browser_id, token = await _store_record(
        state_redis, stored % (created, created + DAY), created + 30 * DAY
    )
    [listed] = (await api.get("/v1/accounts/u-1/trusted-browsers")).json()["items"]
    assert (listed["browser_id"], listed["label"], listed["ip"]) == (browser_id, label, ip)
    assert listed["created_at"] == "2027-01-13T08:00:00Z"
    assert listed["last_used_at"] == "2027-01-14T08:00:00Z"

    clock.advance(60)
    response = await _login_with(api, token)
    assert response.json() == {"status": "not_required", "reason": "trusted_browser"}
    [used] = (await api.get("/v1/accounts/u-1/trusted-browsers")).json()["items"]
    assert (used["label"], used["ip"]) == (label, ip)
    assert used["created_at"] == "2027-01-13T08:00:00Z"
    assert used["last_used_at"] == "2027-01-15T08:01:00Z"


@pytest.mark.parametrize(
    ("ip", "label"),
    [
        ("203.0.113.9|evil", "Firefox|on|Linux"),
        ('"}, {"ip": "x', '\\"|\\\\'),
        ("", "a\u2028b|c"),
        ("{", "}"),
    ],
)
async def test_user_data_cannot_split_a_record(
    api: httpx.AsyncClient,
    state_redis: redis.asyncio.Redis,
    clock: FakeClock,
    ip: str,
    label: str,
) -> None:
    await _account(api)
    # _store_record puts the digest in with str.format: the record's own braces are doubled.
    record = browser_record("\0", START, ip, label).replace("{", "{{").replace("}", "}}")
    record = record.replace("\0", "{digest}")
    browser_id, token = await _store_record(state_redis, record, START + 30 * DAY)
    store = Store(state_redis)
    [listed] = await store.list_browsers("u-1", START)
    assert (listed.browser_id, listed.ip, listed.label) == (browser_id, ip, label)
    assert listed.created_at == listed.last_used_at == START

    clock.advance(60)
    assert (await _login_with(api, token)).json()["reason"] == "trusted_browser"
    [used] = await store.list_browsers("u-1", START + 60)
    assert (used.ip, used.label, used.created_at, used.last_used_at) == (
        ip, label, START, START + 60
    )  # fmt: skip


async def test_a_remembered_browser_is_listed_with_its_ip_and_label(
    api: httpx.AsyncClient, mail: RecordingMailQueue
) -> None:
    await _account(api)
    client = {"ip": "::ffff:203.0.113.9", "user_agent": "Mozilla/5.0 (X11; Linux) Firefox/133.0"}
    login = await api.post("/v1/logins", json={"account_id": "u-1", "client": client})
    code = code_of(mail.codes[-1])
    verified = await api.post(
        f"/v1/challenges/{login.json()['challenge_id']}/verify",
        json={"code": code, "remember_browser": True, "client": client},
    )
    assert verified.status_code == 200, verified.text
    [listed] = (await api.get("/v1/accounts/u-1/trusted-browsers")).json()["items"]
    assert (listed["label"], listed["ip"]) == ("Firefox on Linux", "203.0.113.9")


@pytest.mark.parametrize(
    ("user_agent", "label", "browser", "system"),
    [
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7_1) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/18.1 Safari/605.1.15",
            "Safari on macOS",
            "Safari",
            "macOS",
        ),
        ("Mozilla/5.0 (X11; Linux x86_64)", "Browser on Linux", None, "Linux"),
        ("curl/8.5.0", "curl", "curl", None),
        ("something odd", "Unknown browser", None, None),
        (None, "Unknown browser", None, None),
    ],
)
async def test_a_listed_browser_names_its_browser_and_system_for_the_portal_to_phrase(
    api: httpx.AsyncClient,
    mail: RecordingMailQueue,
    user_agent: str | None,
    label: str,
    browser: str | None,
    system: str | None,
) -> None:
    await _account(api)
    client = {"user_agent": user_agent} if user_agent is not None else {}
    login = await api.post("/v1/logins", json={"account_id": "u-1", "client": client})
    verified = await api.post(
        f"/v1/challenges/{login.json()['challenge_id']}/verify",
        json={"code": code_of(mail.codes[-1]), "remember_browser": True, "client": client},
    )
    grant = verified.json()["trusted_browser"]
    [listed] = (await api.get("/v1/accounts/u-1/trusted-browsers")).json()["items"]

    assert (listed["label"], listed["browser"], listed["system"]) == (label, browser, system)
    # The portal tells the current browser by the id its token starts with.
    assert grant["token"].startswith(f"{listed['browser_id']}.")


async def test_a_label_twostep_did_not_make_names_no_browser_or_system(
    api: httpx.AsyncClient, state_redis: redis.asyncio.Redis
) -> None:
    await _account(api)
    record = browser_record("{digest}", START, "203.0.113.9", "Netscape on BeOS")
    await _store_record(
        state_redis,
        record.replace("{", "{{").replace("}", "}}").replace("{{digest}}", "{digest}"),
        START + DAY,
    )
    [listed] = (await api.get("/v1/accounts/u-1/trusted-browsers")).json()["items"]

    assert listed["label"] == "Netscape on BeOS"
    assert (listed["browser"], listed["system"]) == (None, None)
