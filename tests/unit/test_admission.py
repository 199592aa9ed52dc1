"""Admission control (api/admission.py): how late a new code email would be, read from the
real queue and the workers' real pace, and what a login or resend does when it is too late:
on fakeredis, a real redis-server and a real Cluster (``state_redis``)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import redis.asyncio

from api.admission import Backlog, MailAdmission, published_at, sends_per_second
from api.mailqueue import BrokerMailQueue
from api.metrics import Metrics
from shared.jobs import CODE_QUEUE, CodeJob
from shared.keys import MAIL_BUCKET
from shared.runner import AsyncRunner
from shared.scripts import SCRIPTS
from shared.settings import Settings
from tests.api_calls import (
    ACCOUNT,
    assert_problem,
    enable_totp,
    login,
    make_settings,
    new_account,
    new_recovery_codes,
    open_challenge,
    resend,
)
from tests.fakes import FakeClock, RecordingMailQueue

CHALLENGE = "ch_" + "0" * 32 + "_" + "A" * 22
BOUND = 120


@pytest.fixture
def settings() -> Settings:
    return make_settings(max_mail_delay_seconds=BOUND)


def admission_of(api: httpx.AsyncClient) -> MailAdmission:
    app: Any = api._transport.app  # type: ignore[attr-defined]
    admission: MailAdmission = app.state.twostep.admission
    return admission


# The estimate


@pytest.mark.parametrize(
    ("backlog", "expected"),
    [
        (Backlog(0, 0.0, 0.0), 0.0),  # nothing waits
        (Backlog(1, 0.1, 0.2), 0.2),  # a quiet hour: one job, just published
        (Backlog(600, 5.0, 30.0), 120.0),  # a backlog: depth over the workers' pace
        (Backlog(50, 5.0, 90.0), 90.0),  # the head waited longer than the depth says
        (Backlog(40, 0.0, 200.0), 200.0),  # workers gone: the head's age, growing
    ],
)
def test_the_expected_wait(backlog: Backlog, expected: float) -> None:
    assert backlog.expected_seconds() == pytest.approx(expected)


def test_an_email_is_refused_only_over_the_bound_and_told_when_to_come_back() -> None:
    assert Backlog(600, 5.0, 30.0).refusal_seconds(120) == 0  # 120 s: just in time
    assert Backlog(700, 5.0, 30.0).refusal_seconds(120) == 20  # 140 s: 20 s over
    assert Backlog(601, 5.0, 30.0).refusal_seconds(120) == 1  # at least a second
    assert Backlog(7000, 5.0, 30.0).refusal_seconds(0) == 0  # 0: no bound


def test_the_pace_is_read_over_the_seconds_the_workers_have_been_busy() -> None:
    now = 1_800_000_000.5
    ten = [f"{1_800_000_000 - i}|10" for i in range(10)]  # 10 a second for ten seconds
    assert sends_per_second(ten, now) == pytest.approx(100 / 9.5)
    # A burst after a quiet spell: 300 in the last 1.5 s, one lone send 6 s before.
    burst = ["1799999994|1", "1799999999|120", "1800000000|180"]
    assert sends_per_second(burst, now) == pytest.approx(300 / 1.5)
    # The current second without a send yet: the run ends with the one before.
    assert sends_per_second(["1799999998|40", "1799999999|40"], now) == pytest.approx(80 / 2.5)
    # Nothing sent for two seconds: nothing moves.
    assert sends_per_second(["1799999997|40"], now) == 0.0
    stale = ["1799999980|500", None, b"", b"1800000000|20", "nonsense"]
    assert sends_per_second(stale, now) == 20.0  # 20 in its first half second: read over 1 s


def test_the_publish_time_is_read_from_the_message_the_api_pushes() -> None:
    queue = BrokerMailQueue(None, 45.0, lambda: 1_800_000_123.25)  # type: ignore[arg-type]
    message, _, _ = queue.prepare_code(CodeJob(CHALLENGE, 1, "sealed", 1_800_000_999.0))
    assert published_at(message) == 1_800_000_123.25
    assert published_at(message.encode()) == 1_800_000_123.25
    assert published_at(None) is None
    assert published_at(b'{"body": "not base64 json"}') is None


async def test_the_estimate_reads_the_real_queue_and_the_workers_pace(
    state_redis: redis.asyncio.Redis,
) -> None:
    """Jobs queued as the API queues them, the oldest 40 s ago; the workers took 50 jobs in
    the last seconds through the real take_mail_token.lua."""
    take = AsyncRunner(state_redis)
    for _ in range(50):
        wait = await take.run(SCRIPTS["take_mail_token"], {"bucket": MAIL_BUCKET},
                              {"rate": 1000, "burst": 1000})  # fmt: skip
        assert int(wait) == 0
    now = time.time()  # the ring is kept on Redis's clock: the estimate's clock must be one
    for age in range(40, 0, -1):  # pushed left, oldest first: the oldest ends on the right
        queue = BrokerMailQueue(state_redis, 45.0, lambda age=age: now - age)  # type: ignore[misc]
        message, _, _ = queue.prepare_code(CodeJob(CHALLENGE, 1, "sealed", now + 900))
        await state_redis.lpush(CODE_QUEUE, message)
    admission = MailAdmission(30, state_redis, state_redis, lambda: now, Metrics())

    await admission.refresh()

    assert admission.backlog.depth == 40
    assert admission.backlog.sends_per_second == pytest.approx(50, rel=0.1)  # over 1 s at least
    assert admission.backlog.oldest_age == pytest.approx(40, abs=0.01)
    assert admission.expected_seconds() == 40  # max(40 s old, 40 jobs at 50/s)
    assert admission.refusal_seconds() == 10
    assert await state_redis.pttl(MAIL_BUCKET) > 10_000  # the ring outlives its window


# What a login and a resend do


async def test_over_the_bound_an_email_only_account_is_told_to_come_back(
    api: httpx.AsyncClient, mail: RecordingMailQueue
) -> None:
    await new_account(api)
    admission_of(api).saw(Backlog(1000, 5.0, 150.0))  # 200 s: 80 over

    response = await login(api)

    problem = assert_problem(response, 503, "mail_delayed")
    assert problem["retry_after"] == 80
    assert response.headers["Retry-After"] == "80"
    assert mail.codes == []
    metrics = (await api.get("/metrics")).text
    assert 'twostep_admission_refusals_total{outcome="refused",route="login"} 1.0' in metrics
    assert 'twostep_logins_total{outcome="mail_delayed"} 1.0' in metrics
    events = (await api.get(f"/v1/accounts/{ACCOUNT}/events")).json()["items"]
    assert [e["type"] for e in events if e["type"] == "challenge_issued"] == []


async def test_over_the_bound_a_login_goes_on_with_the_app_and_says_email_is_late(
    api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock
) -> None:
    await new_account(api)
    await enable_totp(api, clock)
    await api.put(f"/v1/accounts/{ACCOUNT}", json={"email": "u@example.com",
                                                   "preferred_method": "email"})  # fmt: skip
    admission_of(api).saw(Backlog(1000, 5.0, 150.0))

    response = await login(api, method="email")

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["method"] == "totp"
    assert body["sent_to"] is None
    assert body["expected_delivery_seconds"] is None
    assert body["email_refused"] == {"code": "mail_delayed", "retry_after": 80}
    assert mail.codes == []
    metrics = (await api.get("/metrics")).text
    assert 'twostep_admission_refusals_total{outcome="other_method",route="login"} 1.0' in metrics


async def test_over_the_bound_recovery_codes_alone_carry_the_login(
    api: httpx.AsyncClient, mail: RecordingMailQueue
) -> None:
    await new_account(api)
    await new_recovery_codes(api)
    admission_of(api).saw(Backlog(1000, 5.0, 150.0))

    body = (await login(api)).json()

    assert body["method"] == "recovery_code"
    assert body["email_refused"]["code"] == "mail_delayed"
    assert mail.codes == []


async def test_over_the_bound_a_resend_is_refused_and_the_challenge_stays_open(
    api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock
) -> None:
    await new_account(api)
    challenge_id, _ = await open_challenge(api, mail)
    clock.advance(31)
    admission_of(api).saw(Backlog(1000, 5.0, 150.0))

    response = await resend(api, challenge_id)

    assert_problem(response, 503, "mail_delayed")
    assert response.headers["Retry-After"] == "80"
    assert len(mail.codes) == 1
    admission_of(api).saw(Backlog())
    assert (await resend(api, challenge_id)).status_code == 200
    assert len(mail.codes) == 2


async def test_under_the_bound_the_login_emails_and_says_how_late(
    api: httpx.AsyncClient, mail: RecordingMailQueue
) -> None:
    await new_account(api)
    admission_of(api).saw(Backlog(300, 5.0, 45.0))  # 60 s

    body = (await login(api)).json()

    assert body["sent_to"] is not None
    assert body["expected_delivery_seconds"] == 60
    assert body["email_refused"] is None
    assert len(mail.codes) == 1


async def test_with_no_bound_nothing_is_refused(
    state_redis: redis.asyncio.Redis, mail: RecordingMailQueue, clock: FakeClock
) -> None:
    from tests.api_calls import api_client

    async with api_client(make_settings(max_mail_delay_seconds=0), state_redis, mail,
                          clock) as api:  # fmt: skip
        await new_account(api)
        admission_of(api).saw(Backlog(100_000, 1.0, 3000.0))
        body = (await login(api)).json()
    assert body["sent_to"] is not None
    assert body["expected_delivery_seconds"] == 100_000
