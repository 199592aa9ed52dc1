"""The request id: echoed or replaced at the edge, carried by every job the request makes."""

from __future__ import annotations

import base64
import io
import json
import logging
import re
from collections.abc import AsyncIterator

import fakeredis
import httpx
import pytest

from api.mailqueue import BrokerMailQueue
from api.main import create_app
from shared.jobs import CODE_QUEUE, NOTICE_QUEUE, CodeJob, NoticeJob, job_of, payload_of
from shared.logs import JsonFormatter
from shared.requestctx import REQUEST_ID
from tests.api_calls import AUTH, make_settings
from tests.fakes import FakeClock, RecordingMailQueue

HEX_ID = r"[0-9a-f]{16}"


@pytest.fixture
async def client(mail: RecordingMailQueue, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    redis = fakeredis.FakeAsyncRedis(decode_responses=True)
    app = create_app(make_settings(), redis=redis, broker=redis, mail=mail, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://twostep.test") as api:
        api.headers.update(AUTH)
        yield api
    await redis.aclose()


async def test_a_well_formed_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "portal.req-42_A"})
    assert response.headers["X-Request-ID"] == "portal.req-42_A"


@pytest.mark.parametrize(
    "sent",
    ["", "x" * 65, "has space", "semi;colon", "new\tline", "é-accent", "a/b"],
    ids=["empty", "too-long", "space", "semicolon", "tab", "non-ascii", "slash"],
)
async def test_a_malformed_request_id_is_replaced(client: httpx.AsyncClient, sent: str) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": sent.encode("utf-8")})
    echoed = response.headers["X-Request-ID"]
    assert echoed != sent
    assert re.fullmatch(HEX_ID, echoed)


async def test_without_a_request_id_each_request_gets_its_own(client: httpx.AsyncClient) -> None:
    first = (await client.get("/healthz")).headers["X-Request-ID"]
    second = (await client.get("/healthz")).headers["X-Request-ID"]
    assert first != second
    assert REQUEST_ID.get() == ""  # nothing leaks out of a request


async def test_error_responses_carry_it_too(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/challenges/nope", headers={"X-Request-ID": "err-1"})
    assert response.status_code >= 400
    assert response.headers["X-Request-ID"] == "err-1"
    unauthorised = await client.get(
        "/v1/challenges/nope", headers={"Authorization": "Bearer wrong", "X-Request-ID": "err-2"}
    )
    assert unauthorised.status_code == 401
    assert unauthorised.headers["X-Request-ID"] == "err-2"


async def test_the_jobs_of_a_request_carry_its_request_id(
    client: httpx.AsyncClient, mail: RecordingMailQueue
) -> None:
    headers = {"X-Request-ID": "login-flow-7"}
    await client.put("/v1/accounts/u-1", json={"email": "u1@example.com"}, headers=headers)
    await client.put("/v1/accounts/u-1/two-step", json={"enabled": True}, headers=headers)
    response = await client.post("/v1/logins", json={"account_id": "u-1"}, headers=headers)
    assert response.status_code == 201
    assert [job.request_id for job in mail.notices] == ["login-flow-7"]
    assert [job.request_id for job in mail.codes] == ["login-flow-7"]


async def test_the_broker_message_carries_the_request_id_and_the_publish_time(
    clock: FakeClock,
) -> None:
    broker = fakeredis.FakeAsyncRedis()
    queue = BrokerMailQueue(broker, backup_delay_seconds=45, clock=clock)
    code = CodeJob("ch_1", 1, "sealed", clock() + 900, request_id="r-1")
    notice = NoticeJob("n1", "two_step_enabled", "u1@example.com", "en", clock(), request_id="r-2")
    await queue.publish_code(code)
    await queue.publish_notice(notice)
    for name, wanted in ((CODE_QUEUE, "r-1"), (NOTICE_QUEUE, "r-2")):
        for raw in await broker.lrange(name, 0, -1):
            message = json.loads(raw)
            [[payload], _, _] = json.loads(base64.b64decode(message["body"]))
            assert payload["request_id"] == wanted
            assert payload["published_at"] == clock()
            assert f"request_id={wanted}" in message["headers"]["argsrepr"]
            assert "u1@example.com" not in message["headers"]["argsrepr"]
    await broker.aclose()


def test_jobs_queued_before_the_new_fields_still_open() -> None:
    old = payload_of(CodeJob("ch_1", 1, "sealed", 1.0))
    del old["request_id"], old["published_at"]
    job = job_of(CodeJob, old)
    assert (job.request_id, job.published_at) == ("", None)


def test_fields_a_newer_api_adds_are_ignored() -> None:
    newer = {**payload_of(NoticeJob("n1", "totp_enabled", "u@example.com", "en", 1.0)), "x": 1}
    assert job_of(NoticeJob, newer).notice_id == "n1"


async def test_an_unexpected_error_has_it_on_its_log_line_and_its_500(
    mail: RecordingMailQueue, clock: FakeClock
) -> None:
    """A 500 is answered by Starlette's outermost middleware: the request id is outside it."""
    redis = fakeredis.FakeAsyncRedis(decode_responses=True)

    async def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("a bug")

    redis.execute_command = broken  # type: ignore[method-assign]
    app = create_app(make_settings(), redis=redis, broker=redis, mail=mail, clock=clock)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("twostep.api")
    logger.addHandler(handler)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t.test") as api:
            response = await api.put(
                "/v1/accounts/u-1",
                json={"email": "u1@example.com"},
                headers={**AUTH, "X-Request-ID": "boom-1"},
            )
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "boom-1"
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["message"], line.get("request_id")) for line in lines] == [
        ("unexpected error: RuntimeError", "boom-1")
    ]
