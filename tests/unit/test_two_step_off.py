"""Turning two-step off, resetting it or deleting the account ends every open challenge.

Every test runs on fakeredis, a real redis-server and a real Redis Cluster. A challenge
opened before two-step went off must not sign in afterwards, nor remember a browser that
would outlive turning two-step back on.
"""

from __future__ import annotations

import httpx
import pytest
import redis.asyncio

from shared.keys import AccountKeys
from tests.api_calls import (
    ACCOUNT,
    STEP,
    app_code,
    assert_problem,
    enable_totp,
    login,
    make_settings,
    new_account,
    new_recovery_codes,
    open_challenge,
    resend,
    totp_challenge,
    verify,
    verify_recovery,
    verify_totp,
)
from tests.fakes import FakeClock, RecordingMailQueue


async def two_step(api: httpx.AsyncClient, enabled: bool) -> None:
    response = await api.put(f"/v1/accounts/{ACCOUNT}/two-step", json={"enabled": enabled})
    assert response.status_code == 200, response.text


async def live_challenges(state_redis: redis.asyncio.Redis) -> list[str]:
    prefix = AccountKeys.of(ACCOUNT).challenge_prefix
    return [key async for key in state_redis.scan_iter(match=prefix + "*", count=1000)]


@pytest.fixture
async def account(api: httpx.AsyncClient, mail: RecordingMailQueue) -> str:
    await new_account(api)
    mail.notices.clear()
    return ACCOUNT


class TestTurningTwoStepOff:
    async def test_an_email_challenge_from_before_off_does_not_verify_after_on_again(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        challenge_id, code = await open_challenge(api, mail)
        await two_step(api, False)
        await two_step(api, True)

        response = await verify(api, challenge_id, code, remember_browser=True)

        assert_problem(response, 404, "challenge_not_found")
        assert (await api.get(f"/v1/accounts/{ACCOUNT}/trusted-browsers")).json()["items"] == []

    async def test_a_totp_challenge_from_before_off_does_not_verify_after_on_again(
        self, api: httpx.AsyncClient, clock: FakeClock, account: str
    ) -> None:
        secret = await enable_totp(api, clock)
        clock.advance(2 * STEP)
        challenge_id = await totp_challenge(api)
        await two_step(api, False)
        await two_step(api, True)

        response = await verify_totp(api, challenge_id, app_code(secret, clock.now))

        assert_problem(response, 404, "challenge_not_found")

    async def test_off_ends_every_open_challenge_in_the_same_step(
        self,
        api: httpx.AsyncClient,
        mail: RecordingMailQueue,
        clock: FakeClock,
        state_redis: redis.asyncio.Redis,
        account: str,
    ) -> None:
        await enable_totp(api, clock)
        await open_challenge(api, mail, method="email")
        await open_challenge(api, mail, method="email")
        await totp_challenge(api)
        assert len(await live_challenges(state_redis)) == 3

        await two_step(api, False)

        assert await live_challenges(state_redis) == []

    async def test_off_keeps_the_hourly_email_cap(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        for _ in range(10):
            await open_challenge(api, mail)
        await two_step(api, False)
        await two_step(api, True)

        assert_problem(await login(api), 429, "send_limit")

    async def test_turning_on_an_enabled_account_ends_nothing(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        challenge_id, code = await open_challenge(api, mail)
        await two_step(api, True)

        assert (await verify(api, challenge_id, code)).status_code == 200


class TestVerifyWhileOff:
    """A challenge that outlived two-step (by any path) answers as an ended one does."""

    async def test_an_email_code_is_404_and_not_counted(
        self,
        api: httpx.AsyncClient,
        mail: RecordingMailQueue,
        state_redis: redis.asyncio.Redis,
        account: str,
    ) -> None:
        challenge_id, code = await open_challenge(api, mail)
        keys = AccountKeys.of(ACCOUNT)
        await state_redis.hset(keys.profile, "two_step", "0")

        assert_problem(await verify(api, challenge_id, code), 404, "challenge_not_found")
        response = await verify(api, challenge_id, "000000")
        assert_problem(response, 404, "challenge_not_found")
        assert await state_redis.hget(keys.guard, "fails") is None

    async def test_a_recovery_code_is_404_and_stays_unused(
        self,
        api: httpx.AsyncClient,
        mail: RecordingMailQueue,
        state_redis: redis.asyncio.Redis,
        account: str,
    ) -> None:
        made = await new_recovery_codes(api)
        challenge_id, _ = await open_challenge(api, mail)
        await state_redis.hset(AccountKeys.of(ACCOUNT).profile, "two_step", "0")

        response = await verify_recovery(api, challenge_id, made[0])

        assert_problem(response, 404, "challenge_not_found")
        assert await state_redis.hlen(AccountKeys.of(ACCOUNT).recovery) == 10

    async def test_a_resend_is_404_and_mails_nothing(
        self,
        api: httpx.AsyncClient,
        mail: RecordingMailQueue,
        clock: FakeClock,
        state_redis: redis.asyncio.Redis,
        account: str,
    ) -> None:
        challenge_id, _ = await open_challenge(api, mail)
        await state_redis.hset(AccountKeys.of(ACCOUNT).profile, "two_step", "0")
        clock.advance(60)

        assert_problem(await resend(api, challenge_id), 404, "challenge_not_found")
        assert len(mail.codes) == 1


class TestResetAndDelete:
    async def test_reset_ends_open_challenges(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        challenge_id, code = await open_challenge(api, mail)
        assert (await api.post(f"/v1/accounts/{ACCOUNT}/two-step/reset")).status_code == 200
        await two_step(api, True)

        assert_problem(await verify(api, challenge_id, code), 404, "challenge_not_found")

    async def test_delete_ends_open_challenges(
        self,
        api: httpx.AsyncClient,
        mail: RecordingMailQueue,
        clock: FakeClock,
        state_redis: redis.asyncio.Redis,
        account: str,
    ) -> None:
        await enable_totp(api, clock)
        challenge_id, code = await open_challenge(api, mail, method="email")
        await totp_challenge(api)
        assert (await api.delete(f"/v1/accounts/{ACCOUNT}")).status_code == 204

        assert_problem(await verify(api, challenge_id, code), 404, "challenge_not_found")
        assert await live_challenges(state_redis) == []


class TestCodeLifetime:
    def test_a_code_cannot_outlive_the_send_log_that_finds_its_challenge(self) -> None:
        # The hour the send log keeps is what lets "off", the reset and deleting the
        # account find an emailed challenge; a code living longer would escape them.
        assert make_settings(code_ttl_seconds=3600).code_ttl_seconds == 3600
        with pytest.raises(ValueError, match="code_ttl_seconds"):
            make_settings(code_ttl_seconds=3601)
