"""The security notice mailed when failures in a row lock the account (issue 13, point 3).

Every test runs on fakeredis, a real redis-server and a Redis Cluster (the ``api`` fixture).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shared.settings import Settings
from shared.times import rfc3339
from tests.api_calls import (
    ACCOUNT,
    CLIENT,
    assert_problem,
    login,
    make_settings,
    new_account,
    open_challenge,
    verify,
    wrong,
)
from tests.fakes import FakeClock, RecordingMailQueue

ACCOUNT_LOCKED = "account_locked"


@pytest.fixture
async def account(api: httpx.AsyncClient, mail: RecordingMailQueue) -> str:
    """``ACCOUNT`` with two-step on; the notice of turning it on is forgotten."""
    await new_account(api)
    mail.notices.clear()
    return ACCOUNT


def lock_notices(mail: RecordingMailQueue) -> list[Any]:
    return [notice for notice in mail.notices if notice.kind == ACCOUNT_LOCKED]


async def fail(api: httpx.AsyncClient, challenge_id: str, code: str) -> httpx.Response:
    return await verify(api, challenge_id, wrong(code), client=CLIENT)


class TestLockNotice:
    @pytest.fixture
    def settings(self) -> Settings:
        return make_settings(account_lock_threshold=3)

    async def test_the_failure_that_locks_the_account_mails_one_notice(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        challenge_id, code = await open_challenge(api, mail)
        for _ in range(2):
            assert_problem(await fail(api, challenge_id, code), 400, "invalid_code")
        assert lock_notices(mail) == []

        assert_problem(await fail(api, challenge_id, code), 429, "account_locked")

        [notice] = lock_notices(mail)
        assert (notice.account_id, notice.to, notice.locale) == (ACCOUNT, "", "")  # no address
        assert notice.occurred_at == clock.now
        assert notice.client_ip == CLIENT["ip"]
        assert notice.client_label == "Firefox on Linux"
        assert notice.details == {"seconds": "900", "locked_until": rfc3339(clock.now + 900)}

    async def test_refusals_while_locked_mail_nothing_more(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        challenge_id, code = await open_challenge(api, mail)
        for _ in range(3):
            await fail(api, challenge_id, code)
        assert len(lock_notices(mail)) == 1

        assert_problem(await fail(api, challenge_id, code), 429, "account_locked")
        assert_problem(await login(api), 429, "account_locked")
        clock.advance(100)
        assert_problem(await verify(api, challenge_id, code), 429, "account_locked")

        assert len(lock_notices(mail)) == 1

    async def test_the_next_lock_mails_again_with_its_doubled_length(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        challenge_id, code = await open_challenge(api, mail)
        for _ in range(3):
            await fail(api, challenge_id, code)
        clock.advance(900)
        challenge_id, code = await open_challenge(api, mail)
        for _ in range(3):
            await fail(api, challenge_id, code)

        assert [notice.details["seconds"] for notice in lock_notices(mail)] == ["900", "1800"]
        assert lock_notices(mail)[1].details["locked_until"] == rfc3339(clock.now + 1800)

    async def test_the_notice_says_what_the_audit_trail_says(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        challenge_id, code = await open_challenge(api, mail)
        for _ in range(3):
            await fail(api, challenge_id, code)

        page = (await api.get(f"/v1/accounts/{ACCOUNT}/events?limit=50")).json()
        [event] = [item for item in page["items"] if item["type"] == "account_locked"]
        [notice] = lock_notices(mail)
        assert event["details"] == {"seconds": int(notice.details["seconds"])}
        assert event["occurred_at"] == rfc3339(notice.occurred_at)
        assert event["client_ip"] == notice.client_ip


class TestLockNoticeWithTheChallengeLock:
    @pytest.fixture
    def settings(self) -> Settings:
        # The fifth wrong code locks the challenge and the account in the same check.
        return make_settings(account_lock_threshold=5)

    async def test_a_lock_that_also_ends_the_challenge_mails_the_notice(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        challenge_id, code = await open_challenge(api, mail)
        for _ in range(4):
            assert_problem(await fail(api, challenge_id, code), 400, "invalid_code")

        assert_problem(await fail(api, challenge_id, code), 429, "too_many_attempts")

        [notice] = lock_notices(mail)
        assert notice.details == {"seconds": "900", "locked_until": rfc3339(clock.now + 900)}
        assert_problem(await login(api), 429, "account_locked")
