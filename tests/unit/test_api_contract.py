"""The HTTP contract of docs/contract.md, checked through the app in process.

Every test runs three times, through the ``api`` fixture's ``state_redis`` (see
``tests/conftest.py``): on fakeredis, on a real redis-server and on a real three-master Redis
Cluster, all started by the tests. The Lua scripts must behave the same on all three (fakeredis's
Lua is not Redis's), and on the Cluster every command must stay in one slot. The mail queue
records jobs instead of publishing them, and time is a ``FakeClock`` that the tests move;
nothing sleeps.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import redis.asyncio

from shared import codes
from shared.jobs import (
    NOTICE_TRUSTED_BROWSER_ADDED,
    NOTICE_TWO_STEP_DISABLED,
    NOTICE_TWO_STEP_ENABLED,
    payload_of,
)
from shared.keys import account_tag
from shared.settings import Settings
from tests.api_calls import (
    ACCOUNT,
    CLIENT,
    EMAIL,
    FIREFOX_LINUX,
    FULL_WIDTH_DIGITS,
    OTHER,
    OTHER_EMAIL,
    assert_problem,
    challenge,
    code_of,
    login,
    make_settings,
    new_account,
    open_challenge,
    redis_keys,
    redis_text,
    resend,
    verify,
    wrong,
)
from tests.fakes import START, FakeClock, RecordingMailQueue
from tests.processes import API_KEY

DAY = 86400
# Well formed, but no challenge or browser has them.
UNKNOWN_CHALLENGE = "ch_" + "0" * 32 + "_" + "A" * 22
UNKNOWN_BROWSER = "tb_" + "B" * 16
TOKEN_SHAPE = re.compile(r"^tb_[A-Za-z0-9_-]+\.(?P<secret>[A-Za-z0-9_-]{43,})$")
# Digits that str.isdigit() accepts but that are not a code (FULL_WIDTH_DIGITS too).
ARABIC_INDIC_DIGITS = str.maketrans("0123456789", "".join(chr(0x0660 + n) for n in range(10)))
ACCOUNT_VIEW_FIELDS = {
    "account_id",
    "email",
    "locale",
    "two_step_enabled",
    "totp_enabled",
    "recovery_codes_remaining",
    "trusted_browsers",
}


# Helpers


@pytest.fixture
def distinct_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Codes that never repeat within a test, where a repeat would prove nothing."""
    drawn = iter(f"{n:06d}" for n in range(314159, 999999, 7919))
    monkeypatch.setattr(codes, "new_code", lambda: next(drawn))


def at(offset_seconds: float) -> str:
    """The RFC 3339 ``Z`` time ``offset_seconds`` after the fake clock's start."""
    moment = datetime.fromtimestamp(START + offset_seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def assert_names_field(body: dict[str, Any], field: str) -> None:
    names = [error["field"] for error in body["errors"]]
    assert any(name == field or name.startswith(field + ".") for name in names), names


async def trust_browser(
    api: httpx.AsyncClient,
    mail: RecordingMailQueue,
    account_id: str = ACCOUNT,
    client: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Verify with "don't ask again on this browser"; return the trusted-browser grant."""
    challenge_id, code = await open_challenge(api, mail, account_id)
    response = await verify(api, challenge_id, code, remember_browser=True, client=client or CLIENT)
    assert response.status_code == 200, response.text
    grant: dict[str, Any] = response.json()["trusted_browser"]
    return grant


async def browsers(api: httpx.AsyncClient, account_id: str = ACCOUNT) -> list[dict[str, Any]]:
    response = await api.get(f"/v1/accounts/{account_id}/trusted-browsers")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


@pytest.fixture
async def account(api: httpx.AsyncClient, mail: RecordingMailQueue) -> str:
    """``ACCOUNT`` with two-step on; the notice of turning it on is forgotten."""
    await new_account(api)
    mail.notices.clear()
    return ACCOUNT


# Authentication and operations


PROTECTED = [
    ("GET", f"/v1/accounts/{ACCOUNT}", None),
    ("PUT", f"/v1/accounts/{ACCOUNT}", {"email": EMAIL}),
    ("POST", "/v1/logins", {"account_id": ACCOUNT}),
    ("DELETE", f"/v1/accounts/{ACCOUNT}", None),
    ("GET", f"/v1/challenges/{UNKNOWN_CHALLENGE}", None),
    ("GET", f"/v1/accounts/{ACCOUNT}/trusted-browsers", None),
]


class TestAuth:
    @pytest.mark.parametrize(
        "authorization",
        [
            None,
            "Bearer not-the-api-key-0123456789",
            "Bearer ",
            f"Basic {API_KEY}",
            f"Token {API_KEY}",
            API_KEY,
            f"Bearer {API_KEY}x",
        ],
        ids=["missing", "wrong", "empty", "basic", "token", "no-scheme", "longer"],
    )
    async def test_v1_without_a_valid_bearer_key_is_401(
        self,
        api: httpx.AsyncClient,
        mail: RecordingMailQueue,
        state_redis: redis.asyncio.Redis,
        authorization: str | None,
    ) -> None:
        del api.headers["Authorization"]
        headers = {} if authorization is None else {"Authorization": authorization}
        for method, url, body in PROTECTED:
            response = await api.request(method, url, json=body, headers=headers)
            assert_problem(response, 401, "unauthorized")
            assert response.headers["www-authenticate"] == "Bearer", (method, url)
        assert await redis_keys(state_redis) == []
        assert mail.codes == []

    async def test_bearer_scheme_is_case_insensitive(self, api: httpx.AsyncClient) -> None:
        del api.headers["Authorization"]
        response = await api.put(
            f"/v1/accounts/{ACCOUNT}",
            json={"email": EMAIL},
            headers={"Authorization": f"bearer {API_KEY}"},
        )
        assert response.status_code == 201, response.text

    async def test_operations_need_no_key(self, api: httpx.AsyncClient) -> None:
        del api.headers["Authorization"]
        for url in ("/healthz", "/readyz", "/metrics"):
            response = await api.get(url)
            assert response.status_code == 200, (url, response.text)


class TestOperations:
    async def test_readyz_reports_redis_and_broker(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/readyz")
        assert response.status_code == 200
        assert response.json() == {"status": "ready", "checks": {"redis": True, "broker": True}}

    async def test_metrics_count_logins_by_outcome_without_account_ids(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        await open_challenge(api, mail)
        response = await api.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        text = response.text
        assert "twostep_logins_total" in text
        assert 'twostep_logins_total{outcome="pending"} 1.0' in text
        assert ACCOUNT not in text
        assert EMAIL not in text

    async def test_openapi_schema_is_served(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/openapi.json")
        assert response.status_code == 200
        assert "/v1/logins" in response.json()["paths"]


# Accounts


class TestAccounts:
    async def test_put_creates_201_then_updates_200_with_the_account_view(
        self, api: httpx.AsyncClient
    ) -> None:
        created = await api.put(f"/v1/accounts/{ACCOUNT}", json={"email": EMAIL, "locale": "fr"})
        assert created.status_code == 201, created.text
        assert created.json() == {
            "account_id": ACCOUNT,
            "email": EMAIL,
            "locale": "fr",
            "time_zone": None,
            "preferred_method": None,
            "two_step_enabled": False,
            "totp_enabled": False,
            "recovery_codes_remaining": 0,
            "trusted_browsers": 0,
        }
        updated = await api.put(
            f"/v1/accounts/{ACCOUNT}", json={"email": OTHER_EMAIL, "locale": "es"}
        )
        assert updated.status_code == 200, updated.text
        assert updated.json() == {
            "account_id": ACCOUNT,
            "email": OTHER_EMAIL,
            "locale": "es",
            "time_zone": None,
            "preferred_method": None,
            "two_step_enabled": False,
            "totp_enabled": False,
            "recovery_codes_remaining": 0,
            "trusted_browsers": 0,
        }
        fetched = await api.get(f"/v1/accounts/{ACCOUNT}")
        assert fetched.status_code == 200
        assert fetched.json() == updated.json()

    async def test_updating_the_profile_keeps_two_step_on(
        self, api: httpx.AsyncClient, account: str
    ) -> None:
        response = await api.put(f"/v1/accounts/{ACCOUNT}", json={"email": OTHER_EMAIL})
        assert response.status_code == 200
        assert response.json()["two_step_enabled"] is True
        assert response.json()["email"] == OTHER_EMAIL

    async def test_invalid_email_is_422_naming_the_field(
        self, api: httpx.AsyncClient, state_redis: redis.asyncio.Redis
    ) -> None:
        for email in (
            "not-an-email",
            "ada@",
            "@example.com",
            "ada@example.com\n",
            "ada\n@example.com",
            "ada@example.com\r\nBcc: eve@example.org",
            "ada@exa mple.com",
            "",
        ):
            response = await api.put(f"/v1/accounts/{ACCOUNT}", json={"email": email})
            body = assert_problem(response, 422, "validation_error")
            assert_names_field(body, "body.email")
        assert await redis_keys(state_redis) == []

    async def test_locale_falls_back_to_a_supported_one(self, api: httpx.AsyncClient) -> None:
        for given, stored in [
            ("en", "en"),
            ("fr", "fr"),
            ("es", "es"),
            ("fr-CA", "fr"),
            ("FR", "fr"),
            ("es_MX", "es"),
            ("de", "en"),
            ("xx-YY", "en"),
            ("", "en"),
        ]:
            response = await api.put(
                f"/v1/accounts/{ACCOUNT}", json={"email": EMAIL, "locale": given}
            )
            assert response.status_code in (200, 201), response.text
            assert response.json()["locale"] == stored, given
            assert (await api.get(f"/v1/accounts/{ACCOUNT}")).json()["locale"] == stored

    async def test_locale_defaults_to_en(self, api: httpx.AsyncClient) -> None:
        response = await api.put(f"/v1/accounts/{ACCOUNT}", json={"email": EMAIL})
        assert response.json()["locale"] == "en"

    async def test_get_unknown_account_is_404(self, api: httpx.AsyncClient) -> None:
        assert_problem(await api.get("/v1/accounts/nobody"), 404, "account_not_found")

    @pytest.mark.parametrize(
        "account_id",
        ["bad!id", "bad%20id", "a" * 129, "%C3%BC", "u-42%0A", "a%7Cb", "%7Bt%7D"],
        ids=["bang", "space", "129-chars", "non-ascii", "trailing-newline", "pipe", "braces"],
    )
    async def test_account_id_outside_the_alphabet_is_422(
        self, api: httpx.AsyncClient, state_redis: redis.asyncio.Redis, account_id: str
    ) -> None:
        base = f"/v1/accounts/{account_id}"
        for method, url, body in [
            ("PUT", base, {"email": EMAIL}),
            ("GET", base, None),
            ("DELETE", base, None),
            ("PUT", f"{base}/two-step", {"enabled": True}),
            ("GET", f"{base}/trusted-browsers", None),
            ("DELETE", f"{base}/trusted-browsers", None),
        ]:
            response = await api.request(method, url, json=body)
            problem = assert_problem(response, 422, "validation_error")
            assert_names_field(problem, "path.account_id")
        assert await redis_keys(state_redis) == []

    async def test_account_id_of_the_whole_alphabet_is_accepted(
        self, api: httpx.AsyncClient
    ) -> None:
        for account_id in ("a" * 128, "A.z_0:9@x-Y", "1"):
            response = await api.put(f"/v1/accounts/{account_id}", json={"email": EMAIL})
            assert response.status_code == 201, response.text
            assert response.json()["account_id"] == account_id

    async def test_delete_removes_every_key_of_the_account(
        self,
        api: httpx.AsyncClient,
        mail: RecordingMailQueue,
        clock: FakeClock,
        state_redis: redis.asyncio.Redis,
        account: str,
    ) -> None:
        await new_account(api, OTHER, OTHER_EMAIL)
        await trust_browser(api, mail, OTHER)
        # Profile, a trusted browser, a pending challenge, a resent one, failure counters.
        await trust_browser(api, mail)
        pending, code = await open_challenge(api, mail)
        assert (await verify(api, pending, wrong(code))).status_code == 400
        resent, _ = await open_challenge(api, mail)
        clock.advance(30)
        assert (await resend(api, resent)).status_code == 200
        tag = f"{{{account_tag(ACCOUNT)}}}"
        before = [key for key in await redis_keys(state_redis) if tag in key]
        assert len(before) >= 6, before
        others = sorted(key for key in await redis_keys(state_redis) if tag not in key)

        response = await api.delete(f"/v1/accounts/{ACCOUNT}")

        assert response.status_code == 204
        assert response.content == b""
        assert [key for key in await redis_keys(state_redis) if tag in key] == []
        assert sorted(await redis_keys(state_redis)) == others
        assert_problem(await api.get(f"/v1/accounts/{ACCOUNT}"), 404, "account_not_found")
        assert_problem(await api.get(f"/v1/challenges/{pending}"), 404, "challenge_not_found")
        assert_problem(await verify(api, pending, code), 404, "challenge_not_found")
        assert_problem(await login(api), 404, "account_not_found")
        assert (await api.get(f"/v1/accounts/{OTHER}")).json()["trusted_browsers"] == 1

    async def test_recreated_account_starts_afresh(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        grant = await trust_browser(api, mail)
        challenge_id, code = await open_challenge(api, mail)
        assert (await api.delete(f"/v1/accounts/{ACCOUNT}")).status_code == 204
        await new_account(api)
        view = (await api.get(f"/v1/accounts/{ACCOUNT}")).json()
        assert view["trusted_browsers"] == 0
        assert_problem(await verify(api, challenge_id, code), 404, "challenge_not_found")
        response = await login(api, trusted_browser_token=grant["token"])
        assert response.status_code == 201, response.text

    async def test_delete_of_an_unknown_account_is_204(self, api: httpx.AsyncClient) -> None:
        response = await api.delete("/v1/accounts/nobody")
        assert response.status_code == 204


# The two-step switch


class TestTwoStepSwitch:
    async def test_two_step_is_off_by_default(self, api: httpx.AsyncClient) -> None:
        await new_account(api, two_step=False)
        response = await api.get(f"/v1/accounts/{ACCOUNT}")
        assert response.json()["two_step_enabled"] is False

    async def test_login_with_two_step_off_is_not_required_and_sends_nothing(
        self,
        api: httpx.AsyncClient,
        mail: RecordingMailQueue,
        state_redis: redis.asyncio.Redis,
    ) -> None:
        await new_account(api, two_step=False)
        keys_before = sorted(await redis_keys(state_redis))
        response = await login(api, client=CLIENT)
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "not_required", "reason": "two_step_disabled"}
        assert mail.codes == []
        assert sorted(await redis_keys(state_redis)) == keys_before

    async def test_enabling_returns_the_view_and_sends_one_notice(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock
    ) -> None:
        await new_account(api, two_step=False)
        clock.advance(5)
        response = await api.put(
            f"/v1/accounts/{ACCOUNT}/two-step", json={"enabled": True, "client": CLIENT}
        )
        assert response.status_code == 200, response.text
        assert set(response.json()) >= ACCOUNT_VIEW_FIELDS
        assert response.json()["two_step_enabled"] is True
        assert [notice.kind for notice in mail.notices] == [NOTICE_TWO_STEP_ENABLED]
        notice = mail.notices[0]
        assert (notice.to, notice.account_id) == ("", ACCOUNT)  # no address on the broker
        assert notice.occurred_at == START + 5
        assert notice.client_ip == CLIENT["ip"]
        assert notice.client_label == "Firefox on Linux"

    async def test_disabling_sends_one_notice(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        response = await api.put(f"/v1/accounts/{ACCOUNT}/two-step", json={"enabled": False})
        assert response.status_code == 200
        assert response.json()["two_step_enabled"] is False
        assert [notice.kind for notice in mail.notices] == [NOTICE_TWO_STEP_DISABLED]

    @pytest.mark.parametrize("enabled", [True, False])
    async def test_applying_the_same_value_again_sends_no_notice(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, enabled: bool
    ) -> None:
        await new_account(api, two_step=enabled)
        mail.notices.clear()
        response = await api.put(f"/v1/accounts/{ACCOUNT}/two-step", json={"enabled": enabled})
        assert response.status_code == 200
        assert response.json()["two_step_enabled"] is enabled
        assert mail.notices == []

    async def test_switch_of_an_unknown_account_is_404(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue
    ) -> None:
        response = await api.put("/v1/accounts/nobody/two-step", json={"enabled": True})
        assert_problem(response, 404, "account_not_found")
        assert mail.notices == []

    async def test_turning_off_revokes_every_trusted_browser(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        first = await trust_browser(api, mail)
        second = await trust_browser(api, mail)
        assert len(await browsers(api)) == 2

        response = await api.put(f"/v1/accounts/{ACCOUNT}/two-step", json={"enabled": False})
        assert response.json()["trusted_browsers"] == 0
        assert await browsers(api) == []

        await api.put(f"/v1/accounts/{ACCOUNT}/two-step", json={"enabled": True})
        assert await browsers(api) == []
        for grant in (first, second):
            response = await login(api, trusted_browser_token=grant["token"])
            assert response.status_code == 201, response.text
            assert response.json()["status"] == "pending"


# Logins


class TestLogins:
    async def test_login_opens_a_pending_challenge(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        response = await login(api, client=CLIENT)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body == {
            "status": "pending",
            "challenge_id": body["challenge_id"],
            "method": "email",
            "methods": ["email"],
            "sent_to": "a**@example.com",
            "email_refused": None,
            "expires_at": at(900),
            "resend_available_at": at(30),
            "webauthn": None,
            "expected_delivery_seconds": 0,
        }
        assert re.fullmatch(r"ch_[A-Za-z0-9_-]+", body["challenge_id"])
        assert at(900) == "2027-01-15T08:15:00Z"

    async def test_login_publishes_exactly_one_code_job(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        response = await login(api, client=CLIENT)
        assert len(mail.codes) == 1
        job = mail.codes[0]
        assert job.challenge_id == response.json()["challenge_id"]
        assert job.send_no == 1
        assert "to" not in payload_of(job)  # the worker reads the address when it sends
        assert job.expires_at == START + 900
        assert job.client_ip == CLIENT["ip"]
        assert job.client_label == "Firefox on Linux"
        assert re.fullmatch(r"[0-9]{6}", code_of(job))
        assert mail.notices == []

    async def test_each_login_gets_its_own_challenge_and_code(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        first, _ = await open_challenge(api, mail)
        second, _ = await open_challenge(api, mail)
        assert first != second

    async def test_login_of_an_unknown_account_is_404(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue
    ) -> None:
        assert_problem(await login(api, "nobody"), 404, "account_not_found")
        assert mail.codes == []

    async def test_totp_without_an_authenticator_is_409_and_opens_nothing(
        self,
        api: httpx.AsyncClient,
        mail: RecordingMailQueue,
        state_redis: redis.asyncio.Redis,
        account: str,
    ) -> None:
        keys_before = sorted(await redis_keys(state_redis))
        response = await login(api, method="totp")
        assert_problem(response, 409, "method_not_available")
        assert mail.codes == []
        assert sorted(await redis_keys(state_redis)) == keys_before


# Challenges


class TestChallenge:
    async def test_get_shows_the_pending_challenge(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        challenge_id, _ = await open_challenge(api, mail)
        assert await challenge(api, challenge_id) == {
            "challenge_id": challenge_id,
            "account_id": ACCOUNT,
            "status": "pending",
            "attempts_left": 5,
            "sends": 1,
            "expires_at": at(900),
            "resend_available_at": at(30),
            "delivery": "queued",
        }

    async def test_get_unknown_challenge_is_404(self, api: httpx.AsyncClient) -> None:
        response = await api.get(f"/v1/challenges/{UNKNOWN_CHALLENGE}")
        assert_problem(response, 404, "challenge_not_found")

    async def test_malformed_challenge_id_is_422(self, api: httpx.AsyncClient) -> None:
        for challenge_id in (
            "nope",
            "ch_123",
            UNKNOWN_CHALLENGE + "A",
            UNKNOWN_CHALLENGE[:-1] + "%21",
            UNKNOWN_CHALLENGE + "%0A",
            UNKNOWN_CHALLENGE.upper(),
        ):
            for response in (
                await api.get(f"/v1/challenges/{challenge_id}"),
                await resend(api, challenge_id),
                await verify(api, challenge_id, "123456"),
            ):
                body = assert_problem(response, 422, "validation_error")
                assert_names_field(body, "path.challenge_id")

    async def test_challenge_is_gone_once_expired(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        challenge_id, code = await open_challenge(api, mail)
        clock.advance(899)
        assert (await challenge(api, challenge_id))["status"] == "pending"
        clock.advance(1)
        assert_problem(await api.get(f"/v1/challenges/{challenge_id}"), 404, "challenge_not_found")
        assert_problem(await verify(api, challenge_id, code), 404, "challenge_not_found")
        assert_problem(await resend(api, challenge_id), 404, "challenge_not_found")


# Verifying a code


class TestVerify:
    async def test_right_code_verifies_without_trusting_the_browser(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        challenge_id, code = await open_challenge(api, mail)
        response = await verify(api, challenge_id, code)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "status": "verified",
            "account_id": ACCOUNT,
            "trusted_browser": None,
        }
        assert await browsers(api) == []
        assert mail.notices == []

    async def test_a_verified_challenge_cannot_be_used_again(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        challenge_id, code = await open_challenge(api, mail)
        assert (await verify(api, challenge_id, code)).status_code == 200
        assert_problem(await verify(api, challenge_id, code), 404, "challenge_not_found")
        assert_problem(await resend(api, challenge_id), 404, "challenge_not_found")

    @pytest.mark.usefixtures("distinct_codes")
    async def test_code_of_another_challenge_is_refused(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        _, first_code = await open_challenge(api, mail)
        second, second_code = await open_challenge(api, mail)
        assert first_code != second_code
        assert_problem(await verify(api, second, first_code), 400, "invalid_code")

    async def test_pasted_code_is_cleaned_up(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        pasted: list[Callable[[str], str]] = [
            lambda c: f"{c[:3]} {c[3:]}",
            lambda c: f"{c[:3]}-{c[3:]}",
            lambda c: f" {c}\n",
            lambda c: f"\t{c}\r\n",
            lambda c: f"  {c[:3]} {c[3:]} ",
        ]
        for typed in pasted:
            challenge_id, code = await open_challenge(api, mail)
            response = await verify(api, challenge_id, typed(code))
            assert response.status_code == 200, (typed(code), response.text)
            assert response.json()["status"] == "verified"

    async def test_malformed_code_is_422_and_not_counted(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        challenge_id, code = await open_challenge(api, mail)
        malformed = [
            code[:5],
            code + "7",
            f"{code[:2]} {code[2:4]} {code[4:]}",
            code.translate(FULL_WIDTH_DIGITS),
            "\uff11\uff12\uff13\uff14\uff15\uff16",  # "123456" typed in full width
            code.translate(ARABIC_INDIC_DIGITS),
            "abcdef",
            "",
            "      ",
            f"{code[:3]}  {code[3:]}",
            f"{code[:3]}_{code[3:]}",
            f"{code[:3]}.{code[3:]}",
            f"{code[:3]}- {code[3:]}",
            f"{code}\x00",
            f"+{code}",
        ]
        for typed in malformed:
            response = await verify(api, challenge_id, typed)
            assert response.status_code == 422, (typed, response.text)
            body = assert_problem(response, 422, "validation_error")
            assert_names_field(body, "body.code")
            state = await challenge(api, challenge_id)
            assert (state["attempts_left"], state["status"]) == (5, "pending"), typed
        assert (await verify(api, challenge_id, code)).status_code == 200

    async def test_wrong_codes_count_down_then_lock_the_challenge(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        challenge_id, code = await open_challenge(api, mail)
        for left in (4, 3, 2, 1):
            body = assert_problem(await verify(api, challenge_id, wrong(code)), 400, "invalid_code")
            assert body["attempts_left"] == left
            assert (await challenge(api, challenge_id))["attempts_left"] == left

        body = assert_problem(
            await verify(api, challenge_id, wrong(code)), 429, "too_many_attempts"
        )
        assert 0 < body["retry_after"] <= 900

        assert_problem(await verify(api, challenge_id, code), 429, "too_many_attempts")
        state = await challenge(api, challenge_id)
        assert state["status"] == "locked"
        assert state["attempts_left"] == 0

    async def test_wrong_code_with_remember_browser_trusts_nothing(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        challenge_id, code = await open_challenge(api, mail)
        response = await verify(
            api, challenge_id, wrong(code), remember_browser=True, client=CLIENT
        )
        assert_problem(response, 400, "invalid_code")
        assert "trusted_browser" not in response.json()
        assert await browsers(api) == []
        assert mail.notices == []

    async def test_verify_of_an_unknown_challenge_is_404(self, api: httpx.AsyncClient) -> None:
        response = await verify(api, UNKNOWN_CHALLENGE, "123456")
        assert_problem(response, 404, "challenge_not_found")


# Resending a code


class TestResend:
    async def test_resend_too_soon_is_429_with_the_wait(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        challenge_id, _ = await open_challenge(api, mail)
        response = await resend(api, challenge_id)
        body = assert_problem(response, 429, "resend_too_soon")
        assert body["retry_after"] == 30
        assert response.headers["retry-after"] == "30"
        clock.advance(10)
        body = assert_problem(await resend(api, challenge_id), 429, "resend_too_soon")
        assert body["retry_after"] == 20
        assert len(mail.codes) == 1
        assert (await challenge(api, challenge_id))["sends"] == 1

    @pytest.mark.usefixtures("distinct_codes")
    async def test_resend_sends_a_new_code_and_kills_the_old_one(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        challenge_id, old_code = await open_challenge(api, mail)
        clock.advance(30)
        response = await api.post(f"/v1/challenges/{challenge_id}/resend")
        assert response.status_code == 200, response.text
        assert response.json() == {
            "status": "pending",
            "challenge_id": challenge_id,
            "method": "email",
            "methods": ["email"],
            "sent_to": "a**@example.com",
            "email_refused": None,
            "expires_at": at(30 + 900),
            "resend_available_at": at(30 + 60),
            "webauthn": None,
            "expected_delivery_seconds": 0,
        }
        assert len(mail.codes) == 2
        job = mail.codes[1]
        assert (job.challenge_id, job.send_no) == (challenge_id, 2)
        new_code = code_of(job)
        assert new_code != old_code
        state = await challenge(api, challenge_id)
        assert (state["sends"], state["delivery"]) == (2, "queued")

        body = assert_problem(await verify(api, challenge_id, old_code), 400, "invalid_code")
        assert body["attempts_left"] == 4
        assert (await verify(api, challenge_id, new_code)).status_code == 200

    async def test_resend_with_a_client_mails_its_context(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        challenge_id, _ = await open_challenge(api, mail)
        clock.advance(30)
        response = await resend(api, challenge_id, client=CLIENT)
        assert response.status_code == 200, response.text
        assert mail.codes[-1].client_ip == CLIENT["ip"]
        assert mail.codes[-1].client_label == "Firefox on Linux"

    async def test_cooldown_doubles_and_the_sixth_send_hits_the_cap(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        challenge_id, _ = await open_challenge(api, mail)
        elapsed = 0
        cooldown = 30
        for send_no in (2, 3, 4, 5):
            clock.advance(cooldown - 1)
            body = assert_problem(await resend(api, challenge_id), 429, "resend_too_soon")
            assert body["retry_after"] == 1
            clock.advance(1)
            elapsed += cooldown
            cooldown *= 2
            response = await resend(api, challenge_id)
            assert response.status_code == 200, response.text
            assert response.json()["resend_available_at"] == at(elapsed + cooldown)
            assert response.json()["expires_at"] == at(elapsed + 900)
            assert mail.codes[-1].send_no == send_no
            state = await challenge(api, challenge_id)
            assert state["sends"] == send_no
            assert state["resend_available_at"] == at(elapsed + cooldown)
        assert cooldown == 480

        clock.advance(cooldown)
        assert_problem(await resend(api, challenge_id), 429, "send_limit")
        assert [job.send_no for job in mail.codes] == [1, 2, 3, 4, 5]
        assert (await challenge(api, challenge_id))["sends"] == 5

    async def test_resend_does_not_reset_attempts(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        challenge_id, code = await open_challenge(api, mail)
        for _ in range(2):
            assert_problem(await verify(api, challenge_id, wrong(code)), 400, "invalid_code")
        clock.advance(30)
        assert (await resend(api, challenge_id)).status_code == 200
        assert (await challenge(api, challenge_id))["attempts_left"] == 3
        new_code = code_of(mail.codes[-1])
        body = assert_problem(await verify(api, challenge_id, wrong(new_code)), 400, "invalid_code")
        assert body["attempts_left"] == 2

    async def test_resend_restarts_the_expiry(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        challenge_id, _ = await open_challenge(api, mail)
        clock.advance(600)
        response = await resend(api, challenge_id)
        assert response.json()["expires_at"] == at(1500)
        clock.advance(899)  # 1499 s after the login: the first code's 15 minutes are long gone
        state = await challenge(api, challenge_id)
        assert (state["status"], state["expires_at"]) == ("pending", at(1500))
        assert (await verify(api, challenge_id, code_of(mail.codes[-1]))).status_code == 200

    async def test_resend_of_a_locked_challenge_is_too_many_attempts(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        challenge_id, code = await open_challenge(api, mail)
        for _ in range(5):
            await verify(api, challenge_id, wrong(code))
        clock.advance(30)
        assert_problem(await resend(api, challenge_id), 429, "too_many_attempts")
        assert len(mail.codes) == 1

    async def test_resend_of_an_unknown_challenge_is_404(self, api: httpx.AsyncClient) -> None:
        assert_problem(await resend(api, UNKNOWN_CHALLENGE), 404, "challenge_not_found")


# Locking the account after failures in a row


class TestAccountLock:
    async def test_tenth_wrong_code_in_a_row_locks_logins_for_900_seconds(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        first, code = await open_challenge(api, mail)
        for _ in range(4):
            assert_problem(await verify(api, first, wrong(code)), 400, "invalid_code")
        assert_problem(await verify(api, first, wrong(code)), 429, "too_many_attempts")
        second, code = await open_challenge(api, mail)
        for _ in range(4):
            assert_problem(await verify(api, second, wrong(code)), 400, "invalid_code")

        tenth = await verify(api, second, wrong(code))
        assert tenth.status_code == 429
        assert_problem(tenth, 429, tenth.json()["code"])
        assert tenth.json()["code"] in ("too_many_attempts", "account_locked")

        sent = len(mail.codes)
        response = await login(api)
        body = assert_problem(response, 429, "account_locked")
        assert body["retry_after"] == 900
        assert response.headers["retry-after"] == "900"
        assert len(mail.codes) == sent
        clock.advance(899)
        assert assert_problem(await login(api), 429, "account_locked")["retry_after"] == 1
        clock.advance(1)
        assert (await login(api)).status_code == 201

    async def test_lock_that_lands_mid_challenge_answers_account_locked(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        first, first_code = await open_challenge(api, mail)
        for _ in range(3):
            assert_problem(await verify(api, first, wrong(first_code)), 400, "invalid_code")
        second, code = await open_challenge(api, mail)
        for _ in range(5):
            await verify(api, second, wrong(code))
        third, code = await open_challenge(api, mail)
        assert_problem(await verify(api, third, wrong(code)), 400, "invalid_code")  # 9th

        body = assert_problem(await verify(api, third, wrong(code)), 429, "account_locked")
        assert body["retry_after"] == 900

        # While locked, even the right code of a pending challenge is refused, uncounted.
        assert_problem(await verify(api, first, first_code), 429, "account_locked")
        assert (await challenge(api, first))["attempts_left"] == 2
        clock.advance(30)
        assert_problem(await resend(api, first), 429, "account_locked")

    async def test_second_lock_lasts_twice_as_long(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        for lock_seconds in (900, 1800):
            for _ in range(2):
                challenge_id, code = await open_challenge(api, mail)
                for _ in range(5):
                    await verify(api, challenge_id, wrong(code))
            body = assert_problem(await login(api), 429, "account_locked")
            assert body["retry_after"] == lock_seconds
            clock.advance(lock_seconds)

    async def test_a_success_resets_the_failure_count(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        first, code = await open_challenge(api, mail)
        for _ in range(5):
            await verify(api, first, wrong(code))
        second, code = await open_challenge(api, mail)
        for _ in range(4):
            await verify(api, second, wrong(code))  # 9 in a row
        assert (await verify(api, second, code)).status_code == 200

        third, code = await open_challenge(api, mail)
        body = assert_problem(await verify(api, third, wrong(code)), 400, "invalid_code")
        assert body["attempts_left"] == 4
        assert (await login(api)).status_code == 201


class TestAccountLockBackOff:
    @pytest.fixture
    def settings(self) -> Settings:
        return make_settings(account_lock_threshold=2)

    async def test_lock_doubles_each_time_up_to_a_day(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        expected = [900, 1800, 3600, 7200, 14400, 28800, 57600, 86400, 86400]
        for lock_seconds in expected:
            challenge_id, code = await open_challenge(api, mail)
            assert_problem(await verify(api, challenge_id, wrong(code)), 400, "invalid_code")
            body = assert_problem(
                await verify(api, challenge_id, wrong(code)), 429, "account_locked"
            )
            assert body["retry_after"] == lock_seconds
            assert assert_problem(await login(api), 429, "account_locked")["retry_after"] == (
                lock_seconds
            )
            clock.advance(lock_seconds - 1)
            assert assert_problem(await login(api), 429, "account_locked")["retry_after"] == 1
            clock.advance(1)


# The per-account cap on code emails


class TestHourlyEmailCap:
    async def test_eleventh_code_email_in_an_hour_is_refused_until_the_oldest_ages_out(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        challenge_id, _ = await open_challenge(api, mail)  # email 1, at 0 s
        for cooldown in (30, 60, 120):  # emails 2, 3, 4 (resends), at 30, 90, 210 s
            clock.advance(cooldown)
            assert (await resend(api, challenge_id)).status_code == 200
        for _ in range(6):  # emails 5 to 10, at 210 s
            await open_challenge(api, mail)
        assert len(mail.codes) == 10

        response = await login(api)
        body = assert_problem(response, 429, "send_limit")
        assert body["retry_after"] == 3600 - 210
        assert body["retry_after"] <= 3600

        clock.advance(240)  # the resend cooldown of the first challenge has run out
        body = assert_problem(await resend(api, challenge_id), 429, "send_limit")
        assert body["retry_after"] == 3600 - 450
        assert len(mail.codes) == 10

        clock.advance(3600 - 450 - 1)
        assert assert_problem(await login(api), 429, "send_limit")["retry_after"] == 1
        clock.advance(1)
        await open_challenge(api, mail)
        assert len(mail.codes) == 11
        assert_problem(await login(api), 429, "send_limit")

    async def test_cap_is_per_account(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        await new_account(api, OTHER, OTHER_EMAIL)
        for _ in range(10):
            await open_challenge(api, mail)
        assert_problem(await login(api), 429, "send_limit")
        await open_challenge(api, mail, OTHER)


# Trusted browsers


class TestTrustedBrowsers:
    async def test_remember_browser_returns_a_token_once_and_sends_a_notice(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        challenge_id, code = await open_challenge(api, mail)
        response = await verify(api, challenge_id, code, remember_browser=True, client=CLIENT)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["status"], body["account_id"]) == ("verified", ACCOUNT)
        grant = body["trusted_browser"]
        match = TOKEN_SHAPE.fullmatch(grant["token"])
        assert match is not None, grant["token"]
        assert len(set(match["secret"])) > 10  # random, not a constant
        assert re.fullmatch(r"tb_[A-Za-z0-9_-]+", grant["browser_id"])
        assert grant["expires_at"] == at(30 * DAY)

        assert [notice.kind for notice in mail.notices] == [NOTICE_TRUSTED_BROWSER_ADDED]
        notice = mail.notices[0]
        assert (notice.to, notice.account_id) == ("", ACCOUNT)  # no address on the broker
        assert notice.details["label"] == "Firefox on Linux"
        assert grant["token"] not in repr(notice)
        assert (await api.get(f"/v1/accounts/{ACCOUNT}")).json()["trusted_browsers"] == 1

    async def test_each_grant_is_a_new_browser_and_token(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        first = await trust_browser(api, mail)
        second = await trust_browser(api, mail)
        assert first["browser_id"] != second["browser_id"]
        assert first["token"] != second["token"]

    async def test_trusted_token_skips_the_second_step_and_records_its_use(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        grant = await trust_browser(api, mail)
        sent = len(mail.codes)
        clock.advance(3600)
        response = await login(api, trusted_browser_token=grant["token"], client=CLIENT)
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "not_required", "reason": "trusted_browser"}
        assert len(mail.codes) == sent
        [item] = await browsers(api)
        assert item["browser_id"] == grant["browser_id"]
        assert item["created_at"] == at(0)
        assert item["last_used_at"] == at(3600)
        assert item["expires_at"] == at(30 * DAY)

    async def test_list_shows_label_product_names_and_ip_of_the_browser(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        grant = await trust_browser(api, mail)
        assert await browsers(api) == [
            {
                "browser_id": grant["browser_id"],
                "label": "Firefox on Linux",
                "browser": "Firefox",
                "system": "Linux",
                "ip": "203.0.113.9",
                "created_at": at(0),
                "last_used_at": at(0),
                "expires_at": at(30 * DAY),
            }
        ]

    async def test_list_of_an_unknown_account_is_404(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/v1/accounts/nobody/trusted-browsers")
        assert_problem(response, 404, "account_not_found")

    async def test_token_is_only_good_for_its_own_account(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        await new_account(api, OTHER, OTHER_EMAIL)
        grant = await trust_browser(api, mail)
        sent = len(mail.codes)
        response = await login(api, OTHER, trusted_browser_token=grant["token"])
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "pending"
        assert len(mail.codes) == sent + 1
        assert await browsers(api, OTHER) == []

    async def test_made_up_token_opens_a_challenge(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        await trust_browser(api, mail)
        sent = len(mail.codes)
        made_up = [
            "tb_" + "A" * 16 + "." + "B" * 43,
            "garbage",
            "",
            ".",
            "tb_.",
            "tb_AAAAAAAAAAAAAAAA.short",
            "tb_AAAAAAAAAAAAAAAA." + "B" * 44,
            "tb_\u00c4AAAAAAAAAAAAAAA." + "B" * 43,
            "tb_AAAAAAAAAAAAAAAA." + "\u00e9" * 43,
            "tb_AAAAAAAAAAAAAAAA|x." + "B" * 43,
            "a.b.c",
            "tb_AAAAAAAAAAAAAAAA.\n" + "B" * 42,
            "\x00",
            "x" * 256,
        ]
        for token in made_up:
            clock.advance(400)  # stay under the hourly cap on code emails
            response = await login(api, trusted_browser_token=token)
            assert response.status_code == 201, (token, response.text)
            assert response.json()["status"] == "pending"
        assert len(mail.codes) == sent + len(made_up)

    async def test_oversized_token_opens_a_challenge(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        # A cookie the end user tampered with must not break the portal's login.
        response = await login(api, trusted_browser_token="tb_" + "A" * 1000)
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "pending"

    async def test_forged_secret_for_a_real_browser_id_opens_a_challenge(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        grant = await trust_browser(api, mail)
        clock.advance(60)
        forged = grant["browser_id"] + "." + "A" * 43
        response = await login(api, trusted_browser_token=forged)
        assert response.status_code == 201, response.text
        [item] = await browsers(api)
        assert item["last_used_at"] == at(0)

    async def test_token_expires_after_30_days(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        grant = await trust_browser(api, mail)
        clock.advance(30 * DAY - 1)
        response = await login(api, trusted_browser_token=grant["token"])
        assert response.status_code == 200, response.text
        clock.advance(1)
        response = await login(api, trusted_browser_token=grant["token"])
        assert response.status_code == 201, response.text
        assert await browsers(api) == []
        assert (await api.get(f"/v1/accounts/{ACCOUNT}")).json()["trusted_browsers"] == 0

    async def test_revoked_browser_no_longer_skips_the_step(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        revoked = await trust_browser(api, mail)
        kept = await trust_browser(api, mail)
        url = f"/v1/accounts/{ACCOUNT}/trusted-browsers/{revoked['browser_id']}"
        response = await api.delete(url)
        assert response.status_code == 204
        assert [item["browser_id"] for item in await browsers(api)] == [kept["browser_id"]]
        assert (await login(api, trusted_browser_token=revoked["token"])).status_code == 201
        assert (await login(api, trusted_browser_token=kept["token"])).status_code == 200
        assert_problem(await api.delete(url), 404, "browser_not_found")

    async def test_revoke_unknown_browser_is_404(
        self, api: httpx.AsyncClient, account: str
    ) -> None:
        url = f"/v1/accounts/{ACCOUNT}/trusted-browsers/{UNKNOWN_BROWSER}"
        assert_problem(await api.delete(url), 404, "browser_not_found")

    async def test_revoke_browser_of_another_account_is_404(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        await new_account(api, OTHER, OTHER_EMAIL)
        grant = await trust_browser(api, mail)
        url = f"/v1/accounts/{OTHER}/trusted-browsers/{grant['browser_id']}"
        assert_problem(await api.delete(url), 404, "browser_not_found")
        assert (await login(api, trusted_browser_token=grant["token"])).status_code == 200

    async def test_malformed_browser_id_is_422(self, api: httpx.AsyncClient, account: str) -> None:
        for browser_id in ("tb_short", "xx_" + "A" * 16, "tb_" + "A" * 15 + "!", "tb_" + "A" * 17):
            response = await api.delete(f"/v1/accounts/{ACCOUNT}/trusted-browsers/{browser_id}")
            body = assert_problem(response, 422, "validation_error")
            assert_names_field(body, "path.browser_id")

    async def test_revoke_all_browsers(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        grants = [await trust_browser(api, mail) for _ in range(3)]
        response = await api.delete(f"/v1/accounts/{ACCOUNT}/trusted-browsers")
        assert response.status_code == 204
        assert await browsers(api) == []
        assert (await api.get(f"/v1/accounts/{ACCOUNT}")).json()["trusted_browsers"] == 0
        for grant in grants:
            assert (await login(api, trusted_browser_token=grant["token"])).status_code == 201


class TestTrustedBrowserLimit:
    @pytest.fixture
    def settings(self) -> Settings:
        return make_settings(max_emails_per_hour=100)

    async def test_at_most_ten_browsers_and_the_oldest_goes(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        grants = []
        for _ in range(11):
            grants.append(await trust_browser(api, mail))
            clock.advance(60)
        items = await browsers(api)
        assert len(items) == 10
        listed = {item["browser_id"] for item in items}
        assert listed == {grant["browser_id"] for grant in grants[1:]}
        assert (await api.get(f"/v1/accounts/{ACCOUNT}")).json()["trusted_browsers"] == 10
        assert (await login(api, trusted_browser_token=grants[0]["token"])).status_code == 201
        assert (await login(api, trusted_browser_token=grants[1]["token"])).status_code == 200
        assert (await login(api, trusted_browser_token=grants[10]["token"])).status_code == 200


# Secrets


class TestNoSecretsLeak:
    @pytest.fixture
    def fixed_codes(self, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        """Codes whose digits appear in no timestamp of the test, so a match means a leak."""
        planned = ["739146", "582637", "946271"]
        drawn = iter(planned)
        monkeypatch.setattr(codes, "new_code", lambda: next(drawn))
        return planned

    async def test_codes_and_tokens_appear_in_no_response_and_no_redis_value(
        self,
        api: httpx.AsyncClient,
        mail: RecordingMailQueue,
        clock: FakeClock,
        state_redis: redis.asyncio.Redis,
        fixed_codes: list[str],
        account: str,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        seen: list[httpx.Response] = []

        async def call(method: str, url: str, body: Any = None) -> httpx.Response:
            response = await api.request(method, url, json=body)
            seen.append(response)
            return response

        response = await call("POST", "/v1/logins", {"account_id": ACCOUNT, "client": CLIENT})
        challenge_id = response.json()["challenge_id"]
        verify_url = f"/v1/challenges/{challenge_id}/verify"
        await call("POST", verify_url, {"code": "000001"})
        await call("GET", f"/v1/challenges/{challenge_id}")
        clock.advance(30)
        await call("POST", f"/v1/challenges/{challenge_id}/resend", {"client": CLIENT})
        await call("POST", verify_url, {"code": fixed_codes[0]})  # the old code, now dead
        await call("GET", f"/v1/challenges/{challenge_id}")
        granted = await api.post(
            verify_url, json={"code": fixed_codes[1], "remember_browser": True, "client": CLIENT}
        )
        assert granted.status_code == 200, granted.text
        token = granted.json()["trusted_browser"]["token"]
        secret = token.rpartition(".")[2]
        await call("POST", verify_url, {"code": fixed_codes[1]})
        await call("GET", f"/v1/challenges/{challenge_id}")
        await call("POST", "/v1/logins", {"account_id": ACCOUNT, "trusted_browser_token": token})
        await call("GET", f"/v1/accounts/{ACCOUNT}/trusted-browsers")
        await call("GET", f"/v1/accounts/{ACCOUNT}")
        await call("GET", "/metrics")
        assert [code_of(job) for job in mail.codes] == fixed_codes[:2]
        assert seen[-4].json()["reason"] == "trusted_browser"

        for response in [*seen, granted]:
            for code in fixed_codes[:2]:
                assert code not in response.text, response.request.url
        for response in seen:
            assert secret not in response.text, response.request.url
        stored = await redis_text(state_redis)
        logged = "\n".join(record.getMessage() for record in caplog.records)
        for needle in (*fixed_codes[:2], token, secret):
            assert needle not in stored
            assert needle not in logged


# Request validation


BAD_BODIES: list[tuple[str, str, dict[str, Any], str]] = [
    ("PUT", f"/v1/accounts/{ACCOUNT}", {"email": EMAIL, "admin": True}, "body.admin"),
    ("PUT", f"/v1/accounts/{ACCOUNT}", {"email": 42}, "body.email"),
    ("PUT", f"/v1/accounts/{ACCOUNT}", {"email": EMAIL, "locale": 5}, "body.locale"),
    ("PUT", f"/v1/accounts/{ACCOUNT}", {}, "body.email"),
    ("PUT", f"/v1/accounts/{ACCOUNT}/two-step", {"enabled": "maybe"}, "body.enabled"),
    ("PUT", f"/v1/accounts/{ACCOUNT}/two-step", {}, "body.enabled"),
    (
        "PUT",
        f"/v1/accounts/{ACCOUNT}/two-step",
        {"enabled": True, "client": {"ip": "not-an-ip"}},
        "body.client.ip",
    ),
    ("POST", "/v1/logins", {"account_id": ACCOUNT, "extra": 1}, "body.extra"),
    ("POST", "/v1/logins", {"account_id": 42}, "body.account_id"),
    ("POST", "/v1/logins", {}, "body.account_id"),
    ("POST", "/v1/logins", {"account_id": "bad id"}, "body.account_id"),
    ("POST", "/v1/logins", {"account_id": "u-42\n"}, "body.account_id"),
    ("POST", "/v1/logins", {"account_id": "a" * 129}, "body.account_id"),
    ("POST", "/v1/logins", {"account_id": ACCOUNT, "method": "sms"}, "body.method"),
    (
        "POST",
        "/v1/logins",
        {"account_id": ACCOUNT, "trusted_browser_token": 7},
        "body.trusted_browser_token",
    ),
    (
        "POST",
        "/v1/logins",
        {"account_id": ACCOUNT, "client": {"ip": "999.0.0.1"}},
        "body.client.ip",
    ),
    (
        "POST",
        "/v1/logins",
        {"account_id": ACCOUNT, "client": {"ip": "203.0.113.9\n"}},
        "body.client.ip",
    ),
    (
        "POST",
        "/v1/logins",
        {"account_id": ACCOUNT, "client": {"user_agent": "Firefox\nBcc: x@example.org"}},
        "body.client.user_agent",
    ),
    (
        "POST",
        "/v1/logins",
        {"account_id": ACCOUNT, "client": {"user_agent": "Firefox\r"}},
        "body.client.user_agent",
    ),
    (
        "POST",
        "/v1/logins",
        {"account_id": ACCOUNT, "client": {"ip": "203.0.113.9", "country": "FR"}},
        "body.client.country",
    ),
    ("POST", "/v1/logins", {"account_id": ACCOUNT, "client": "x"}, "body.client"),
    (
        "POST",
        f"/v1/challenges/{UNKNOWN_CHALLENGE}/verify",
        {"code": 123456},
        "body.code",
    ),
    ("POST", f"/v1/challenges/{UNKNOWN_CHALLENGE}/verify", {}, "body.code"),
    (
        "POST",
        f"/v1/challenges/{UNKNOWN_CHALLENGE}/verify",
        {"code": "123456", "remember_browser": "maybe"},
        "body.remember_browser",
    ),
    (
        "POST",
        f"/v1/challenges/{UNKNOWN_CHALLENGE}/verify",
        {"code": "123456", "extra": 1},
        "body.extra",
    ),
    (
        "POST",
        f"/v1/challenges/{UNKNOWN_CHALLENGE}/verify",
        {"code": "123456", "client": {"user_agent": "a\nb"}},
        "body.client.user_agent",
    ),
    (
        "POST",
        f"/v1/challenges/{UNKNOWN_CHALLENGE}/verify",
        {"code": "123456", "method": "sms"},
        "body.method",
    ),
    (
        "POST",
        f"/v1/challenges/{UNKNOWN_CHALLENGE}/resend",
        {"client": {"ip": "nope"}},
        "body.client.ip",
    ),
    (
        "POST",
        f"/v1/challenges/{UNKNOWN_CHALLENGE}/resend",
        {"extra": 1},
        "body.extra",
    ),
]


class TestRequestValidation:
    async def test_malformed_body_is_422_naming_the_field(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        for method, url, body, field in BAD_BODIES:
            response = await api.request(method, url, json=body)
            assert response.status_code == 422, (method, url, body, response.text)
            problem = assert_problem(response, 422, "validation_error")
            assert_names_field(problem, field)
            for error in problem["errors"]:
                assert isinstance(error["message"], str)
        assert mail.codes == []
        assert mail.notices == []

    @pytest.mark.parametrize("content", [b"{not json", b"[]", b"null", b"", b'"text"'])
    async def test_body_that_is_not_a_json_object_is_422(
        self, api: httpx.AsyncClient, account: str, content: bytes
    ) -> None:
        for method, url in [
            ("POST", "/v1/logins"),
            ("PUT", f"/v1/accounts/{ACCOUNT}/two-step"),
            ("PUT", f"/v1/accounts/{ACCOUNT}"),
            ("POST", f"/v1/challenges/{UNKNOWN_CHALLENGE}/verify"),
        ]:
            response = await api.request(
                method, url, content=content, headers={"Content-Type": "application/json"}
            )
            assert_problem(response, 422, "validation_error")

    async def test_ipv6_client_is_accepted(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        response = await login(api, client={"ip": "2001:db8::1", "user_agent": FIREFOX_LINUX})
        assert response.status_code == 201, response.text
        assert mail.codes[0].client_ip == "2001:db8::1"
