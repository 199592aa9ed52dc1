"""The email second step with a real redis-server, Celery worker and SMTP server."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from typing import Any

import httpx
import pytest
import redis

from shared.crypto import Sealer
from shared.jobs import CODE_BACKUPS, CODE_QUEUE, code_seal_context
from tests.integration.flow import (
    BROKER_DB,
    IDLE_BROKER_DB,
    OffsetClock,
    code_in,
    enrol,
    wait_for_delivery,
)
from tests.processes import SECRET_KEY, Process, RedisServer
from tests.smtpserver import MailCatcher, html_part, mails_to, text_part

pytestmark = pytest.mark.integration

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
CLIENT = {"ip": "203.0.113.9", "user_agent": FIREFOX}


async def login(api: httpx.AsyncClient, account: str, **extra: Any) -> dict[str, Any]:
    response = await api.post("/v1/logins", json={"account_id": account, **extra})
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def test_whole_flow_code_email_verify_trust_revoke(
    live_api: httpx.AsyncClient, mailbox: MailCatcher
) -> None:
    await enrol(live_api, "u-42", "ada@example.com", mailbox=mailbox)
    [enabled] = mailbox.wait_for(1)
    assert enabled["Auto-Submitted"] == "auto-generated"

    pending = await login(live_api, "u-42", client=CLIENT)
    assert pending["status"] == "pending"
    assert pending["sent_to"] == "a**@example.com"
    message = mailbox.wait_for(2)[1]
    assert message["To"] == "ada@example.com"
    assert message["Message-ID"]
    assert message["Date"]
    assert message["From"]
    code = code_in(message)
    assert code not in message["Subject"]
    assert "Firefox on Linux" in text_part(message)
    assert "203.0.113.9" in html_part(message)
    delivered = await wait_for_delivery(live_api, pending["challenge_id"], "sent")
    assert delivered["sends"] == 1

    verified = await live_api.post(
        f"/v1/challenges/{pending['challenge_id']}/verify",
        json={"code": f"{code[:3]} {code[3:]}", "remember_browser": True, "client": CLIENT},
    )
    assert verified.status_code == 200, verified.text
    grant = verified.json()["trusted_browser"]
    notice = mailbox.wait_for(3)[2]
    assert "Firefox on Linux" in text_part(notice)

    again = await login(live_api, "u-42", trusted_browser_token=grant["token"], client=CLIENT)
    assert again == {"status": "not_required", "reason": "trusted_browser"}

    listed = (await live_api.get("/v1/accounts/u-42/trusted-browsers")).json()["items"]
    assert [(item["browser_id"], item["label"]) for item in listed] == [
        (grant["browser_id"], "Firefox on Linux")
    ]
    revoked = await live_api.delete(f"/v1/accounts/u-42/trusted-browsers/{grant['browser_id']}")
    assert revoked.status_code == 204

    required = await login(live_api, "u-42", trusted_browser_token=grant["token"])
    assert required["status"] == "pending"
    assert code_in(mailbox.wait_for(4)[3]) != ""


async def test_five_wrong_codes_lock_the_challenge(
    live_api: httpx.AsyncClient, mailbox: MailCatcher
) -> None:
    await enrol(live_api, "u-lock", "lock@example.com", mailbox=mailbox)
    pending = await login(live_api, "u-lock")
    code = code_in(mailbox.wait_for(2)[1])
    wrong = "000000" if code != "000000" else "111111"
    url = f"/v1/challenges/{pending['challenge_id']}/verify"
    answers = [(await live_api.post(url, json={"code": wrong})) for _ in range(5)]
    assert [a.status_code for a in answers] == [400, 400, 400, 400, 429]
    assert [a.json().get("attempts_left") for a in answers[:4]] == [4, 3, 2, 1]
    assert answers[4].json()["code"] == "too_many_attempts"
    right = await live_api.post(url, json={"code": code})
    assert right.status_code == 429
    assert right.json()["code"] == "too_many_attempts"
    state = (await live_api.get(f"/v1/challenges/{pending['challenge_id']}")).json()
    assert state["status"] == "locked"
    assert state["attempts_left"] == 0


async def test_resend_too_soon_is_429_with_retry_after(
    live_api: httpx.AsyncClient, mailbox: MailCatcher
) -> None:
    await enrol(live_api, "u-soon", "soon@example.com", mailbox=mailbox)
    pending = await login(live_api, "u-soon")
    response = await live_api.post(f"/v1/challenges/{pending['challenge_id']}/resend")
    assert response.status_code == 429
    assert response.json()["code"] == "resend_too_soon"
    assert 1 <= int(response.headers["Retry-After"]) <= 30
    assert response.json()["retry_after"] == int(response.headers["Retry-After"])


async def test_old_code_fails_after_resend_and_new_one_works(
    live_api: httpx.AsyncClient, mailbox: MailCatcher, offset_clock: OffsetClock
) -> None:
    await enrol(live_api, "u-resend", "resend@example.com", mailbox=mailbox)
    pending = await login(live_api, "u-resend")
    first = code_in(mailbox.wait_for(2)[1])
    offset_clock.advance(31)
    resent = await live_api.post(f"/v1/challenges/{pending['challenge_id']}/resend")
    assert resent.status_code == 200, resent.text
    second = code_in(mailbox.wait_for(3)[2])
    url = f"/v1/challenges/{pending['challenge_id']}/verify"
    if first != second:
        old = await live_api.post(url, json={"code": first})
        assert old.status_code == 400
        assert old.json()["attempts_left"] == 4
    new = await live_api.post(url, json={"code": second})
    assert new.status_code == 200, new.text
    await wait_for_delivery(live_api, pending["challenge_id"], "sent")


async def test_smtp_451_then_250_delivers_exactly_one_email(
    live_api: httpx.AsyncClient, mailbox: MailCatcher, worker: Process
) -> None:
    await enrol(live_api, "u-451", "retry@example.com", mailbox=mailbox)
    mailbox.wait_for(1)
    mailbox.fail_next(451, 1, "4.3.0 try again later")
    pending = await login(live_api, "u-451")
    await wait_for_delivery(live_api, pending["challenge_id"], "retrying", within=10)
    await wait_for_delivery(live_api, pending["challenge_id"], "sent", within=20)
    assert mailbox.refused == 1
    codes = [code_in(m) for m in mails_to(mailbox, "retry@example.com")[1:]]
    assert len(codes) == 1
    sent_lines = [
        line
        for line in worker.logs().splitlines()
        if "code email sent" in line and pending["challenge_id"] in line
    ]
    assert len(sent_lines) == 1


async def test_smtp_550_fails_at_once_without_retry(
    live_api: httpx.AsyncClient, mailbox: MailCatcher, worker: Process
) -> None:
    await enrol(live_api, "u-550", "refused@example.com", mailbox=mailbox)
    mailbox.wait_for(1)
    mailbox.fail_next(550, 1, "5.1.1 no such user")
    pending = await login(live_api, "u-550")
    await wait_for_delivery(live_api, pending["challenge_id"], "failed")
    assert mailbox.refused == 1
    assert len(mails_to(mailbox, "refused@example.com")) == 1  # the enable notice only
    retries = [
        line
        for line in worker.logs().splitlines()
        if "retry" in line and pending["challenge_id"] in line
    ]
    assert retries == []


@pytest.fixture
def many_attempts(live_settings: dict[str, Any]) -> None:
    live_settings["max_attempts"] = 50
    live_settings["account_lock_threshold"] = 1000


@pytest.mark.usefixtures("many_attempts")
async def test_twenty_parallel_wrong_verifies_count_twenty(
    live_api: httpx.AsyncClient, mailbox: MailCatcher
) -> None:
    await enrol(live_api, "u-race", "race@example.com", mailbox=mailbox)
    pending = await login(live_api, "u-race")
    code = code_in(mailbox.wait_for(2)[1])
    wrong = "000000" if code != "000000" else "111111"
    url = f"/v1/challenges/{pending['challenge_id']}/verify"
    answers = await asyncio.gather(*(live_api.post(url, json={"code": wrong}) for _ in range(20)))
    assert sorted(a.json()["attempts_left"] for a in answers) == list(range(30, 50))
    state = (await live_api.get(f"/v1/challenges/{pending['challenge_id']}")).json()
    assert state["attempts_left"] == 30


async def test_twenty_parallel_wrong_verifies_lock_at_the_fifth(
    live_api: httpx.AsyncClient, mailbox: MailCatcher
) -> None:
    await enrol(live_api, "u-race5", "race5@example.com", mailbox=mailbox)
    pending = await login(live_api, "u-race5")
    code = code_in(mailbox.wait_for(2)[1])
    wrong = "000000" if code != "000000" else "111111"
    url = f"/v1/challenges/{pending['challenge_id']}/verify"
    answers = await asyncio.gather(*(live_api.post(url, json={"code": wrong}) for _ in range(20)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [400] * 4 + [429] * 16
    assert sorted(a.json().get("attempts_left", 0) for a in answers if a.status_code == 400) == [
        1,
        2,
        3,
        4,
    ]
    right = await live_api.post(url, json={"code": code})
    assert right.status_code == 429


@pytest.fixture
def idle_broker(live_settings: dict[str, Any]) -> None:
    live_settings["broker_db"] = IDLE_BROKER_DB


def _every_value(client: redis.Redis) -> list[str]:
    values: list[str] = []
    for key in client.scan_iter(count=1000):
        values.append(key)
        kind = client.type(key)
        if kind == "string":
            values.append(client.get(key) or "")
        elif kind == "hash":
            for field, value in client.hgetall(key).items():
                values += [field, value]
        elif kind == "list":
            values += client.lrange(key, 0, -1)
        elif kind == "set":
            values += list(client.smembers(key))
        elif kind == "zset":
            values += [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
    return values


@pytest.mark.usefixtures("idle_broker")
async def test_no_code_in_clear_in_redis_or_in_the_queued_job(
    live_api: httpx.AsyncClient, redis_server: RedisServer
) -> None:
    await enrol(live_api, "u-scan", "scan@example.com")
    pending = await login(live_api, "u-scan", client=CLIENT)
    with redis.Redis.from_url(redis_server.url(IDLE_BROKER_DB), decode_responses=True) as broker:
        [raw] = broker.lrange(CODE_QUEUE, 0, -1)
        backup = _backup_of(broker, pending["challenge_id"])  # the job's payload, as JSON
        assert json.loads(backup)["sealed_code"] == _payload_of_raw(raw)["sealed_code"]
        message = json.loads(raw)
        [[payload], _kwargs, _embed] = json.loads(base64.b64decode(message["body"]))
        code = Sealer(SECRET_KEY).open(
            payload["sealed_code"], code_seal_context(pending["challenge_id"], 1)
        )
        assert len(code) == 6
        assert code.isdigit()
        assert code not in raw
        assert code not in message["headers"]["argsrepr"]
        for db in (0, BROKER_DB, IDLE_BROKER_DB):
            with redis.Redis.from_url(redis_server.url(db), decode_responses=True) as client:
                assert not [value for value in _every_value(client) if code in value]


def _backup_of(broker: redis.Redis, challenge_id: str) -> Any:
    """The backup filed for a challenge's first send."""
    [backup] = [
        member
        for member in broker.zrange(CODE_BACKUPS, 0, -1)
        if json.loads(member)["challenge_id"] == challenge_id
    ]
    return backup


def _payload_of_raw(raw: str | bytes) -> dict[str, Any]:
    [[payload], _kwargs, _embed] = json.loads(base64.b64decode(json.loads(raw)["body"]))
    return payload  # type: ignore[no-any-return]


def _results(worker: Process, task_id: str, count: int, within: float = 20.0) -> list[str]:
    """The results the worker logged for a task id, once it logged ``count`` of them."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = re.findall(
            rf"send_code\[{task_id}\] succeeded in [\d.e-]+s: '(\w+)'", worker.logs()
        )
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"worker logged fewer than {count} results for {task_id}")


@pytest.mark.usefixtures("idle_broker")
async def test_a_job_delivered_twice_is_emailed_once(
    live_api: httpx.AsyncClient, mailbox: MailCatcher, redis_server: RedisServer, worker: Process
) -> None:
    await enrol(live_api, "u-twice", "twice@example.com")
    await login(live_api, "u-twice")
    with (
        redis.Redis.from_url(redis_server.url(IDLE_BROKER_DB)) as idle,
        redis.Redis.from_url(redis_server.url(BROKER_DB)) as broker,
    ):
        raw = idle.rpop(CODE_QUEUE)
        assert raw is not None
        broker.lpush(CODE_QUEUE, raw, raw)
    task_id = json.loads(raw)["headers"]["id"]
    assert sorted(_results(worker, task_id, 2)) == ["done", "sent"]
    assert len(mails_to(mailbox, "twice@example.com")) == 1


@pytest.mark.usefixtures("idle_broker")
async def test_a_superseded_job_is_dropped_not_sent(
    live_api: httpx.AsyncClient,
    mailbox: MailCatcher,
    redis_server: RedisServer,
    offset_clock: OffsetClock,
    worker: Process,
) -> None:
    await enrol(live_api, "u-stale", "stale@example.com")
    pending = await login(live_api, "u-stale")
    offset_clock.advance(31)
    resent = await live_api.post(f"/v1/challenges/{pending['challenge_id']}/resend")
    assert resent.status_code == 200
    with (
        redis.Redis.from_url(redis_server.url(IDLE_BROKER_DB)) as idle,
        redis.Redis.from_url(redis_server.url(BROKER_DB)) as broker,
    ):
        first, second = reversed(idle.lrange(CODE_QUEUE, 0, -1))
        broker.lpush(CODE_QUEUE, first, second)
    assert _results(worker, json.loads(first)["headers"]["id"], 1) == ["stale"]
    assert _results(worker, json.loads(second)["headers"]["id"], 1) == ["sent"]
    [message] = mails_to(mailbox, "stale@example.com")
    verify = await live_api.post(
        f"/v1/challenges/{pending['challenge_id']}/verify", json={"code": code_in(message)}
    )
    assert verify.status_code == 200


@pytest.mark.parametrize(
    ("locale", "word"), [("fr", "code"), ("es", "código")], ids=["french", "spanish"]
)
async def test_french_and_spanish_code_emails_arrive(
    live_api: httpx.AsyncClient, mailbox: MailCatcher, locale: str, word: str
) -> None:
    address = f"{locale}@example.com"
    await enrol(live_api, f"u-{locale}", address, locale, mailbox)
    await login(live_api, f"u-{locale}", client=CLIENT)
    mailbox.wait_for(2)
    notice, message = mails_to(mailbox, address)
    code_in(message)
    text = text_part(message)
    assert word in text.lower()
    assert f'lang="{locale}"' in html_part(message)
    assert f'lang="{locale}"' in html_part(notice)


@pytest.mark.usefixtures("idle_broker")
async def test_a_job_lost_between_the_broker_and_a_worker_is_sent_by_its_backup(
    live_api: httpx.AsyncClient, mailbox: MailCatcher, redis_server: RedisServer, worker: Process
) -> None:
    """Kombu's Redis transport pops a job before it records it: a worker killed in between
    loses it. The job is lost on purpose here (published where no worker listens); only its
    backup is handed to the worker's broker, due now: the worker's sweeper sends it."""
    await enrol(live_api, "u-lost", "lost@example.com")
    pending = await login(live_api, "u-lost")
    with (
        redis.Redis.from_url(redis_server.url(IDLE_BROKER_DB)) as idle,
        redis.Redis.from_url(redis_server.url(BROKER_DB)) as broker,
    ):
        backup = _backup_of(idle, pending["challenge_id"])
        broker.zadd(CODE_BACKUPS, {backup: time.time()})
    deadline = time.monotonic() + 20
    while not mails_to(mailbox, "lost@example.com"):
        assert time.monotonic() < deadline, "the backup was never sent"
        await asyncio.sleep(0.05)
    assert re.search(r"code backups: 1 jobs sent again", worker.logs())
    [message] = mails_to(mailbox, "lost@example.com")
    verify = await live_api.post(
        f"/v1/challenges/{pending['challenge_id']}/verify", json={"code": code_in(message)}
    )
    assert verify.status_code == 200
    with redis.Redis.from_url(redis_server.url(BROKER_DB)) as broker:
        assert broker.zscore(CODE_BACKUPS, backup) is None
