"""The audit trail and the support staff's actions: every audited change is an event of the
account's stream, with time, IP and request id; unlock and reset do what they say."""

from __future__ import annotations

from typing import Any

import httpx
import pyotp
import pytest
import redis.asyncio

from shared.jobs import NOTICE_TWO_STEP_RESET
from shared.keys import AccountKeys
from shared.settings import Settings
from tests.api_calls import api_client, code_of, make_settings
from tests.fakes import START, FakeClock, RecordingMailQueue

ACCOUNT = "u-audit"
EMAIL = "ada@example.com"
CLIENT = {"ip": "203.0.113.9", "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}


async def new_account(api: httpx.AsyncClient, account_id: str = ACCOUNT) -> None:
    response = await api.put(f"/v1/accounts/{account_id}", json={"email": EMAIL})
    assert response.status_code == 201, response.text
    response = await api.put(f"/v1/accounts/{account_id}/two-step", json={"enabled": True})
    assert response.status_code == 200, response.text


async def events(api: httpx.AsyncClient, account_id: str = ACCOUNT, **params: Any) -> Any:
    response = await api.get(f"/v1/accounts/{account_id}/events", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def types(api: httpx.AsyncClient, account_id: str = ACCOUNT) -> list[str]:
    page = await events(api, account_id, limit=200)
    return [event["type"] for event in reversed(page["items"])]


async def login(api: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await api.post("/v1/logins", json={"account_id": ACCOUNT, **body})


async def verify(api: httpx.AsyncClient, challenge_id: str, code: str, **body: Any) -> Any:
    return await api.post(f"/v1/challenges/{challenge_id}/verify", json={"code": code, **body})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def lock_the_account(
    api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock | None = None
) -> None:
    """Ten wrong codes in a row, five on each of two challenges: the account locks."""
    for _ in range(2):
        challenge_id = (await login(api)).json()["challenge_id"]
        for _ in range(5):
            await verify(api, challenge_id, wrong(code_of(mail.codes[-1])))
        if clock is not None:
            clock.advance(1)


class TestTrail:
    async def test_an_email_login_is_told_step_by_step_with_ip_and_request_id(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock
    ) -> None:
        await new_account(api)
        started = await api.post(
            "/v1/logins",
            json={"account_id": ACCOUNT, "client": CLIENT},
            headers={"X-Request-ID": "req-login-1"},
        )
        challenge_id = started.json()["challenge_id"]
        clock.advance(5)
        failed = await verify(api, challenge_id, wrong(code_of(mail.codes[0])), client=CLIENT)
        assert failed.status_code == 400
        passed = await api.post(
            f"/v1/challenges/{challenge_id}/verify",
            json={"code": code_of(mail.codes[0]), "remember_browser": True, "client": CLIENT},
            headers={"X-Request-ID": "req-verify-2"},
        )
        assert passed.status_code == 200, passed.text
        browser_id = passed.json()["trusted_browser"]["browser_id"]

        page = await events(api)
        newest_first = [event["type"] for event in page["items"]]
        assert newest_first == [
            "trusted_browser_added",
            "verified",
            "verification_failed",
            "challenge_issued",
            "two_step_enabled",
        ]
        added, verified, failed_event, issued, enabled = page["items"]
        assert issued["details"] == {"challenge_id": challenge_id, "method": "email"}
        assert issued["client_ip"] == "203.0.113.9"
        assert issued["request_id"] == "req-login-1"
        assert issued["occurred_at"] == "2027-01-15T08:00:00Z"
        assert failed_event["details"] == {
            "challenge_id": challenge_id,
            "method": "email",
            "attempts_left": 4,
        }
        assert failed_event["occurred_at"] == "2027-01-15T08:00:05Z"
        assert verified["details"] == {"challenge_id": challenge_id, "method": "email"}
        assert verified["request_id"] == "req-verify-2"
        assert added["details"] == {"browser_id": browser_id}
        assert enabled["client_ip"] is None
        assert enabled["details"] == {"browsers_revoked": 0}
        assert page["next_cursor"] is None

    async def test_trusted_browser_use_and_revocation_are_recorded(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue
    ) -> None:
        await new_account(api)
        challenge_id = (await login(api)).json()["challenge_id"]
        grant = (
            await verify(api, challenge_id, code_of(mail.codes[0]), remember_browser=True)
        ).json()["trusted_browser"]
        skipped = await login(api, trusted_browser_token=grant["token"])
        assert skipped.json()["reason"] == "trusted_browser"
        revoked = await api.delete(f"/v1/accounts/{ACCOUNT}/trusted-browsers/{grant['browser_id']}")
        assert revoked.status_code == 204
        again = await api.delete(f"/v1/accounts/{ACCOUNT}/trusted-browsers/{grant['browser_id']}")
        assert again.status_code == 404

        items = (await events(api, limit=3))["items"]
        assert [event["type"] for event in items] == [
            "trusted_browser_revoked",
            "trusted_browser_used",
            "trusted_browser_added",
        ]
        assert items[0]["details"] == {"browser_id": grant["browser_id"]}
        assert items[1]["details"] == {"browser_id": grant["browser_id"]}

    async def test_locks_resends_and_switches_are_recorded(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock
    ) -> None:
        await new_account(api)
        challenge_id = (await login(api)).json()["challenge_id"]
        clock.advance(31)
        resent = await api.post(f"/v1/challenges/{challenge_id}/resend")
        assert resent.status_code == 200, resent.text
        for _ in range(5):
            await verify(api, challenge_id, wrong(code_of(mail.codes[-1])))
        await api.put(f"/v1/accounts/{ACCOUNT}/two-step", json={"enabled": False})
        await api.put(f"/v1/accounts/{ACCOUNT}/two-step", json={"enabled": False})

        trail = await types(api)
        assert trail == [
            "two_step_enabled",
            "challenge_issued",
            "code_resent",
            *["verification_failed"] * 5,
            "challenge_locked",
            "two_step_disabled",
        ]
        page = await events(api, limit=200)
        resend = next(e for e in page["items"] if e["type"] == "code_resent")
        assert resend["details"] == {"challenge_id": challenge_id, "send": 2}
        last_failure = next(e for e in page["items"] if e["type"] == "verification_failed")
        assert last_failure["details"]["attempts_left"] == 0

    async def test_account_lock_is_recorded_with_its_length(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock
    ) -> None:
        await new_account(api)
        await lock_the_account(api, mail, clock)

        page = await events(api, limit=200)
        locks = [e for e in page["items"] if e["type"] == "account_locked"]
        assert [lock["details"] for lock in locks] == [{"seconds": 900}]
        # Ten wrong codes: two challenges locked, and the account with the tenth.
        exposition = (await api.get("/metrics")).text
        assert 'twostep_locks_total{scope="challenge"} 2.0' in exposition
        assert 'twostep_locks_total{scope="account"} 1.0' in exposition

    async def test_totp_and_recovery_codes_are_recorded(
        self, api: httpx.AsyncClient, clock: FakeClock
    ) -> None:
        await new_account(api)
        secret = (await api.post(f"/v1/accounts/{ACCOUNT}/totp")).json()["secret"]
        confirmed = await api.post(
            f"/v1/accounts/{ACCOUNT}/totp/confirm",
            json={"code": pyotp.TOTP(secret).at(int(clock.now))},
        )
        assert confirmed.status_code == 200, confirmed.text
        made = (await api.post(f"/v1/accounts/{ACCOUNT}/recovery-codes")).json()["codes"]
        challenge_id = (await login(api, method="totp")).json()["challenge_id"]
        used = await verify(api, challenge_id, made[0], method="recovery_code")
        assert used.status_code == 200, used.text
        assert (await api.delete(f"/v1/accounts/{ACCOUNT}/totp")).status_code == 204

        page = await events(api, limit=200)
        assert [event["type"] for event in reversed(page["items"])] == [
            "two_step_enabled",
            "totp_enabled",
            "recovery_codes_created",
            "challenge_issued",
            "verified",
            "recovery_code_used",
            "totp_disabled",
        ]
        by_type = {event["type"]: event for event in page["items"]}
        assert by_type["recovery_codes_created"]["details"] == {"count": 10}
        assert by_type["recovery_code_used"]["details"] == {"remaining": 9}
        assert by_type["totp_enabled"]["details"] == {"replaced": False}
        assert by_type["verified"]["details"]["method"] == "recovery_code"

    async def test_no_event_holds_a_code_token_or_digest(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, state_redis: redis.asyncio.Redis
    ) -> None:
        await new_account(api)
        challenge_id = (await login(api)).json()["challenge_id"]
        code = code_of(mail.codes[0])
        token = (await verify(api, challenge_id, code, remember_browser=True)).json()[
            "trusted_browser"
        ]["token"]
        made = (await api.post(f"/v1/accounts/{ACCOUNT}/recovery-codes")).json()["codes"]

        stream = await state_redis.xrange(AccountKeys.of(ACCOUNT).events)
        stored = repr(stream)
        page = repr(await events(api, limit=200))
        for secret in (code, token, token.split(".")[-1], *made):
            assert secret not in stored
            assert secret not in page
        challenge_hash = await state_redis.hgetall(AccountKeys.of(ACCOUNT).challenge(challenge_id))
        assert challenge_hash  # the digest field exists, and is not in the trail
        assert all(len(value) < 40 for _id, fields in stream for value in fields.values())


class TestPages:
    async def test_pages_go_back_in_time_without_gaps_or_repeats(
        self, api: httpx.AsyncClient, clock: FakeClock
    ) -> None:
        await new_account(api)
        for _ in range(11):
            await login(api, method="email")
            clock.advance(3600)
        everything = (await events(api, limit=200))["items"]
        assert len(everything) == 12

        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params: dict[str, Any] = {"limit": 5}
            if cursor:
                params["before"] = cursor
            page = await events(api, **params)
            seen += [event["event_id"] for event in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages == 3
        assert seen == [event["event_id"] for event in everything]

    @pytest.mark.parametrize(
        "params",
        [
            {"limit": 0},
            {"limit": 201},
            {"limit": "x"},
            {"before": "x"},
            {"before": "1-2-3"},
            {"before": "18446744073709551616-0"},
            {"before": "1-18446744073709551616"},
            {"before": "10000000000000000000-0"},
        ],
    )
    async def test_bad_paging_is_a_422(self, api: httpx.AsyncClient, params: Any) -> None:
        await new_account(api)
        response = await api.get(f"/v1/accounts/{ACCOUNT}/events", params=params)
        assert response.status_code == 422
        assert response.json()["code"] == "validation_error"

    @pytest.mark.parametrize(
        "before",
        ["0-0", "00-0", "0-00", "000-000", "0-1", "9999999999999999999-9999999999999999999"],
    )
    async def test_edge_cursors_answer_a_page(self, api: httpx.AsyncClient, before: str) -> None:
        await new_account(api)
        page = await events(api, before=before)
        expected = ["two_step_enabled"] if before.startswith("9999") else []
        assert [event["type"] for event in page["items"]] == expected
        assert page["next_cursor"] is None

    async def test_unknown_account_is_a_404(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/v1/accounts/nobody/events")
        assert response.status_code == 404
        assert response.json()["code"] == "account_not_found"

    async def test_the_trail_is_capped_and_deleted_with_the_account(
        self,
        state_redis: redis.asyncio.Redis,
        mail: RecordingMailQueue,
        clock: FakeClock,
    ) -> None:
        settings = make_settings(audit_max_events=10, max_emails_per_hour=10000)
        async with api_client(settings, state_redis, mail, clock) as api:
            await new_account(api)
            for _ in range(400):
                assert (await login(api)).status_code == 201
            length = await state_redis.xlen(AccountKeys.of(ACCOUNT).events)
            # MAXLEN ~: Redis trims whole stream nodes (100 entries), never below the cap.
            assert 10 <= length <= 110
            # A quiet account's trail goes after TWOSTEP_AUDIT_RETENTION_DAYS (90).
            ttl = await state_redis.ttl(AccountKeys.of(ACCOUNT).events)
            assert 89 * 86400 < ttl <= 90 * 86400
            assert (await api.delete(f"/v1/accounts/{ACCOUNT}")).status_code == 204
            assert await state_redis.exists(AccountKeys.of(ACCOUNT).events) == 0


class TestUnlock:
    async def test_unlock_lifts_the_lock_and_forgets_the_back_off(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock
    ) -> None:
        await new_account(api)
        await lock_the_account(api, mail)
        locked = await login(api)
        assert locked.status_code == 429
        assert locked.json()["code"] == "account_locked"

        unlocked = await api.post(f"/v1/accounts/{ACCOUNT}/unlock", json={"client": CLIENT})
        assert unlocked.status_code == 200, unlocked.text
        assert unlocked.json() == {"account_id": ACCOUNT, "was_locked": True}
        challenge_id = (await login(api)).json()["challenge_id"]
        assert (await verify(api, challenge_id, code_of(mail.codes[-1]))).status_code == 200

        # The back-off is forgotten: the next lock is the first one's length again.
        await lock_the_account(api, mail)
        relocked = await login(api)
        assert relocked.status_code == 429
        assert relocked.json()["retry_after"] == 900

        page = await events(api, limit=200)
        unlock = next(e for e in page["items"] if e["type"] == "account_unlocked")
        assert unlock["details"] == {"was_locked": True}
        assert unlock["client_ip"] == "203.0.113.9"

    async def test_unlocking_an_unlocked_account_says_so(self, api: httpx.AsyncClient) -> None:
        await new_account(api)
        response = await api.post(f"/v1/accounts/{ACCOUNT}/unlock")
        assert response.json() == {"account_id": ACCOUNT, "was_locked": False}

    async def test_unknown_account_is_a_404_and_needs_a_key(self, api: httpx.AsyncClient) -> None:
        assert (await api.post("/v1/accounts/nobody/unlock")).status_code == 404
        anonymous = await api.post(f"/v1/accounts/{ACCOUNT}/unlock", headers={"Authorization": ""})
        assert anonymous.status_code == 401


class TestReset:
    async def test_reset_removes_every_way_in_and_tells_the_owner(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock
    ) -> None:
        await new_account(api)
        secret = (await api.post(f"/v1/accounts/{ACCOUNT}/totp")).json()["secret"]
        await api.post(
            f"/v1/accounts/{ACCOUNT}/totp/confirm",
            json={"code": pyotp.TOTP(secret).at(int(clock.now))},
        )
        await api.post(f"/v1/accounts/{ACCOUNT}/recovery-codes")
        challenge_id = (await login(api, method="email")).json()["challenge_id"]
        token = (
            await verify(api, challenge_id, code_of(mail.codes[-1]), remember_browser=True)
        ).json()["trusted_browser"]["token"]
        mail.notices.clear()

        reset = await api.post(f"/v1/accounts/{ACCOUNT}/two-step/reset", json={"client": CLIENT})
        assert reset.status_code == 200, reset.text
        assert reset.json() == {
            "account_id": ACCOUNT,
            "email": EMAIL,
            "locale": "en",
            "time_zone": None,
            "preferred_method": None,
            "two_step_enabled": False,
            "totp_enabled": False,
            "recovery_codes_remaining": 0,
            "trusted_browsers": 0,
        }
        assert [notice.kind for notice in mail.notices] == [NOTICE_TWO_STEP_RESET]
        assert (mail.notices[0].to, mail.notices[0].account_id) == ("", ACCOUNT)  # no address

        # Turned back on, none of the old ways in works: no app, no codes, no browser.
        await api.put(f"/v1/accounts/{ACCOUNT}/two-step", json={"enabled": True})
        trusted = await login(api, trusted_browser_token=token)
        assert trusted.status_code == 201
        assert trusted.json()["methods"] == ["email"]
        assert (await login(api, method="totp")).status_code == 409

        page = await events(api, limit=3)
        reset_event = page["items"][2]
        assert reset_event["type"] == "two_step_reset"
        assert reset_event["details"] == {
            "was_enabled": True,
            "totp_removed": True,
            "recovery_codes_removed": 10,
            "browsers_revoked": 1,
            "security_keys_removed": 0,
        }

    async def test_challenges_open_at_the_reset_die_with_it(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue
    ) -> None:
        await new_account(api)
        by_email = (await login(api)).json()["challenge_id"]
        by_app = (await login(api, method="totp")).status_code
        assert by_app == 409  # no app yet: only the email challenge is open
        assert (await api.post(f"/v1/accounts/{ACCOUNT}/two-step/reset")).status_code == 200

        late = await verify(api, by_email, code_of(mail.codes[-1]), remember_browser=True)
        assert late.status_code == 404
        assert (await api.get(f"/v1/challenges/{by_email}")).status_code == 404
        assert (await api.get(f"/v1/accounts/{ACCOUNT}")).json()["trusted_browsers"] == 0

    async def test_unknown_account_is_a_404(self, api: httpx.AsyncClient) -> None:
        assert (await api.post("/v1/accounts/nobody/two-step/reset")).status_code == 404


class RecordingAnnouncer:
    def __init__(self) -> None:
        self.tags: list[str] = []

    async def announce(self, tag: str, now: float) -> None:
        self.tags.append(tag)


class TestWebhookAnnouncements:
    async def test_each_audited_change_wakes_the_webhook_and_nothing_else_does(
        self,
        state_redis: redis.asyncio.Redis,
        mail: RecordingMailQueue,
        clock: FakeClock,
    ) -> None:
        settings: Settings = make_settings(
            webhook_url="http://127.0.0.1:9/hook", webhook_secret="s" * 32
        )
        announcer = RecordingAnnouncer()
        async with api_client(settings, state_redis, mail, clock) as api:
            api_app: Any = api._transport.app  # type: ignore[attr-defined]
            api_app.state.twostep.trail.webhooks = announcer
            response = await api.put(f"/v1/accounts/{ACCOUNT}", json={"email": EMAIL})
            assert response.status_code == 201
            assert announcer.tags == []  # profile changes are not audit events
            await api.put(f"/v1/accounts/{ACCOUNT}/two-step", json={"enabled": True})
            await api.put(f"/v1/accounts/{ACCOUNT}/two-step", json={"enabled": True})
            challenge_id = (await login(api)).json()["challenge_id"]
            await api.get(f"/v1/challenges/{challenge_id}")
            await verify(api, challenge_id, code_of(mail.codes[0]))

            tag = AccountKeys.of(ACCOUNT).tag
            assert announcer.tags == [tag, tag, tag]
            assert len(await types(api)) == 3


def test_start_is_the_fake_clock_start() -> None:
    # The expected times above are START, 2027-01-15T08:00:00Z.
    assert START == 1_800_000_000.0


class FailingAnnouncer:
    def __init__(self) -> None:
        self.calls = 0

    async def announce(self, tag: str, now: float) -> None:
        self.calls += 1
        raise ConnectionError("broker away")


async def test_a_broker_that_cannot_take_the_webhook_job_fails_no_call(
    state_redis: redis.asyncio.Redis, mail: RecordingMailQueue, clock: FakeClock
) -> None:
    settings = make_settings(webhook_url="http://127.0.0.1:9/hook", webhook_secret="s" * 32)
    failing = FailingAnnouncer()
    async with api_client(settings, state_redis, mail, clock) as api:
        api_app: Any = api._transport.app  # type: ignore[attr-defined]
        api_app.state.twostep.trail.webhooks = failing
        await new_account(api)
        started = await login(api)
        assert started.status_code == 201
        assert len(mail.codes) == 1  # the code job went out before the webhook's
        passed = await verify(api, started.json()["challenge_id"], code_of(mail.codes[0]),
                              remember_browser=True)  # fmt: skip
        assert passed.status_code == 200
        assert passed.json()["trusted_browser"]["token"]
        assert failing.calls == 3
        assert await types(api) == [
            "two_step_enabled",
            "challenge_issued",
            "verified",
            "trusted_browser_added",
        ]
