"""A login without ``method`` uses the account's preferred method: the app when one is
confirmed (no email), else email; the email cap never blocks a method that sends nothing.

Every test runs on fakeredis, a real redis-server and a Redis Cluster (the ``api`` fixture).
"""

from __future__ import annotations

import httpx
import pytest
import redis
import redis.asyncio

from api.main import create_app
from shared.jobs import CODE_QUEUE
from shared.keys import AccountKeys
from tests.api_calls import (
    ACCOUNT,
    AUTH,
    EMAIL,
    app_code,
    assert_problem,
    code_of,
    enable_totp,
    login,
    make_settings,
    new_account,
    new_recovery_codes,
    resend,
    verify,
)
from tests.fakes import FakeClock, RecordingMailQueue
from tests.processes import RedisServer

CAP = 10  # the default code emails per account per rolling hour


async def fill_email_cap(api: httpx.AsyncClient, clock: FakeClock) -> None:
    for _ in range(CAP):
        response = await login(api, method="email")
        assert response.status_code == 201, response.text
        clock.advance(1)


async def test_a_user_with_an_app_signs_in_20_times_without_any_email(
    api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock
) -> None:
    await new_account(api)
    secret = await enable_totp(api, clock)
    for _ in range(20):
        clock.advance(31)  # a new app code each time
        response = await login(api)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["method"] == "totp"
        assert body["sent_to"] is None
        assert body["email_refused"] is None
        assert body["methods"] == ["email", "totp"]
        verified = await verify(
            api, body["challenge_id"], app_code(secret, clock.now), method="totp"
        )
        assert verified.status_code == 200, verified.text
    assert mail.codes == []


async def test_an_account_without_an_app_is_emailed_a_code(
    api: httpx.AsyncClient, mail: RecordingMailQueue
) -> None:
    await new_account(api)
    response = await login(api)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["method"], body["sent_to"], body["email_refused"]) == (
        "email",
        "a**@example.com",
        None,
    )
    assert len(mail.codes) == 1


async def test_email_me_a_code_instead_sends_the_first_email_of_an_app_challenge(
    api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock
) -> None:
    await new_account(api)
    await enable_totp(api, clock)
    challenge_id = (await login(api)).json()["challenge_id"]
    assert mail.codes == []

    response = await resend(api, challenge_id, method="email")
    assert response.status_code == 200, response.text
    assert (response.json()["method"], response.json()["sent_to"]) == ("email", "a**@example.com")
    assert len(mail.codes) == 1
    verified = await verify(api, challenge_id, code_of(mail.codes[0]))
    assert verified.status_code == 200, verified.text


async def test_an_explicit_email_login_still_emails_an_app_user(
    api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock
) -> None:
    await new_account(api)
    await enable_totp(api, clock)
    response = await login(api, method="email")
    assert response.status_code == 201, response.text
    assert response.json()["method"] == "email"
    assert len(mail.codes) == 1


async def test_over_the_email_cap_an_app_challenge_opens_and_says_email_is_refused(
    api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock
) -> None:
    await new_account(api)
    secret = await enable_totp(api, clock)
    await fill_email_cap(api, clock)

    for body in ({}, {"method": "email"}, {"method": "totp"}):
        response = await login(api, **body)
        assert response.status_code == 201, response.text
        pending = response.json()
        assert pending["method"] == "totp"
        assert pending["sent_to"] is None
        refused = pending["email_refused"]
        assert refused["code"] == "send_limit"
        assert 0 < refused["retry_after"] <= 3600
    assert len(mail.codes) == CAP

    # Email me a code instead: refused with the usual problem, the challenge still takes the app.
    challenge_id = pending["challenge_id"]
    problem = await resend(api, challenge_id, method="email")
    assert problem.status_code == 429
    assert problem.json()["code"] in ("send_limit", "resend_too_soon")
    assert len(mail.codes) == CAP
    clock.advance(31)
    verified = await verify(api, challenge_id, app_code(secret, clock.now), method="totp")
    assert verified.status_code == 200, verified.text


async def test_over_the_email_cap_recovery_codes_still_open_a_challenge(
    api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock
) -> None:
    await new_account(api)
    recovery = await new_recovery_codes(api)
    await fill_email_cap(api, clock)

    response = await login(api)
    assert response.status_code == 201, response.text
    pending = response.json()
    assert pending["method"] == "recovery_code"
    assert pending["methods"] == ["email", "recovery_code"]
    assert pending["email_refused"]["code"] == "send_limit"
    verified = await verify(api, pending["challenge_id"], recovery[0], method="recovery_code")
    assert verified.status_code == 200, verified.text


async def test_over_the_email_cap_an_email_only_account_is_refused(
    api: httpx.AsyncClient, clock: FakeClock
) -> None:
    await new_account(api)
    await fill_email_cap(api, clock)
    assert_problem(await login(api), 429, "send_limit")


async def test_the_preferred_method_is_kept_shown_and_used(
    api: httpx.AsyncClient,
    mail: RecordingMailQueue,
    clock: FakeClock,
    state_redis: redis.asyncio.Redis,
) -> None:
    await new_account(api)
    profile = AccountKeys.of(ACCOUNT).profile
    assert (await api.get(f"/v1/accounts/{ACCOUNT}")).json()["preferred_method"] is None
    await enable_totp(api, clock)
    without = set(await state_redis.hkeys(profile))

    body = {"email": EMAIL, "locale": "en", "preferred_method": "email"}
    response = await api.put(f"/v1/accounts/{ACCOUNT}", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["preferred_method"] == "email"
    assert (await api.get(f"/v1/accounts/{ACCOUNT}")).json()["preferred_method"] == "email"
    pending = (await login(api)).json()
    assert (pending["method"], pending["methods"]) == ("email", ["email", "totp"])
    assert len(mail.codes) == 1

    body["preferred_method"] = "totp"
    assert (await api.put(f"/v1/accounts/{ACCOUNT}", json=body)).json()[
        "preferred_method"
    ] == "totp"
    assert (await login(api)).json()["method"] == "totp"
    assert len(mail.codes) == 1

    # Left out, it is kept (a portal that saves only the language must not wipe it) ...
    response = await api.put(f"/v1/accounts/{ACCOUNT}", json={"email": EMAIL, "locale": "en"})
    assert response.json()["preferred_method"] == "totp"
    # ... and null removes it: nothing is stored for it.
    body["preferred_method"] = None
    response = await api.put(f"/v1/accounts/{ACCOUNT}", json=body)
    assert response.json()["preferred_method"] is None
    assert set(await state_redis.hkeys(profile)) == without


async def test_an_app_preferred_without_a_confirmed_app_means_email(
    api: httpx.AsyncClient, mail: RecordingMailQueue
) -> None:
    await new_account(api)
    body = {"email": EMAIL, "preferred_method": "totp"}
    assert (await api.put(f"/v1/accounts/{ACCOUNT}", json=body)).status_code == 200
    pending = (await login(api)).json()
    assert pending["method"] == "email"
    assert len(mail.codes) == 1


@pytest.mark.parametrize("value", ["recovery_code", "sms", "", None, 1])
async def test_a_preferred_method_must_be_email_or_totp(
    api: httpx.AsyncClient, value: object
) -> None:
    body = {"email": EMAIL, "preferred_method": value}
    response = await api.put(f"/v1/accounts/{ACCOUNT}", json=body)
    if value is None:
        assert response.status_code == 201, response.text
        return
    problem = assert_problem(response, 422, "validation_error")
    assert [error["field"] for error in problem["errors"]] == ["body.preferred_method"]


@pytest.mark.integration
async def test_the_login_script_queues_no_job_for_an_app_challenge(
    clean_redis: RedisServer, clock: FakeClock
) -> None:
    """Where the script pushes the code job itself (broker beside the state), an app
    challenge queues nothing, and "email me a code instead" publishes the first job."""
    settings = make_settings(redis_url=clean_redis.url(8), broker_url=clean_redis.url(9))
    app = create_app(settings, clock=clock)
    assert app.state.twostep.in_login is not None
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://twostep.test") as api,
    ):
        api.headers.update(AUTH)
        await new_account(api)
        await enable_totp(api, clock)
        with redis.Redis.from_url(clean_redis.url(9)) as broker:
            for _ in range(3):
                assert (await login(api)).json()["method"] == "totp"
            assert broker.llen(CODE_QUEUE) == 0
            challenge_id = (await login(api)).json()["challenge_id"]
            assert (await resend(api, challenge_id, method="email")).status_code == 200
            assert broker.llen(CODE_QUEUE) == 1
            assert (await login(api, method="email")).json()["method"] == "email"
            assert broker.llen(CODE_QUEUE) == 2
