"""The API publishes without Celery's producer: its hand-built message must be the one that
``apply_async`` of the pinned Celery would push, and a real worker must run it."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import celery
import pytest
import redis
from celery import Celery

from shared.jobs import CODE_QUEUE, NOTICE_QUEUE, SEND_CODE_TASK, SEND_NOTICE_TASK, celery_message
from tests.processes import RedisServer

pytestmark = pytest.mark.integration

DB = 7
PAYLOAD = {"challenge_id": "ch_x", "send_no": 1, "sealed_code": "k.sealed"}
EXPIRES_AT = 1_900_000_000.0
# Fields that differ by nature between two publishes: ids, the publishing host, timing.
PER_MESSAGE = {"id", "root_id", "origin", "correlation_id", "delivery_tag", "reply_to"}


def _published_by_celery(server: RedisServer, task: str, queue: str) -> dict[str, Any]:
    app = Celery("contract", broker=server.url(DB), set_as_current=False)
    with redis.Redis.from_url(server.url(DB)) as client:
        client.flushdb()
        app.send_task(
            task,
            args=[PAYLOAD],
            queue=queue,
            expires=datetime.fromtimestamp(EXPIRES_AT, UTC),
            argsrepr="(masked)",
            kwargsrepr="{}",
            ignore_result=True,
        )
        [raw] = client.lrange(queue, 0, -1)
    app.close()
    return json.loads(raw)  # type: ignore[no-any-return]


def _strip(message: dict[str, Any]) -> dict[str, Any]:
    headers = {k: v for k, v in message["headers"].items() if k not in PER_MESSAGE}
    properties = {k: v for k, v in message["properties"].items() if k not in PER_MESSAGE}
    # Celery also copies argsrepr/kwargsrepr into the properties; workers read the headers.
    properties.pop("argsrepr", None)
    properties.pop("kwargsrepr", None)
    properties.pop("expiration", None)  # AMQP per-message TTL; kombu's Redis transport ignores it
    return {**message, "headers": headers, "properties": properties}


@pytest.mark.parametrize(
    ("task", "queue", "payload"),
    [
        (SEND_CODE_TASK, CODE_QUEUE, PAYLOAD),
        # A code job's payload comes already encoded: the same JSON is kept as its backup.
        (SEND_CODE_TASK, CODE_QUEUE, json.dumps(PAYLOAD)),
        (SEND_NOTICE_TASK, NOTICE_QUEUE, PAYLOAD),
    ],
    ids=["code", "code-encoded", "notice"],
)
def test_hand_built_message_matches_apply_async_of_the_pinned_celery(
    redis_server: RedisServer, task: str, queue: str, payload: dict[str, Any] | str
) -> None:
    assert celery.__version__.startswith("5.7."), "re-check this contract for a new Celery"
    theirs = _published_by_celery(redis_server, task, queue)
    ours = json.loads(
        celery_message(task, payload, queue, expires_at=EXPIRES_AT, argsrepr="(masked)")
    )
    assert ours["headers"]["eta"] == theirs["headers"]["eta"]
    assert json.loads(base64.b64decode(ours["body"])) == json.loads(
        base64.b64decode(theirs["body"])
    )
    assert ours["headers"]["expires"] == theirs["headers"]["expires"]
    assert ours["properties"]["delivery_info"] == theirs["properties"]["delivery_info"]
    mine, celerys = _strip(ours), _strip(theirs)
    # ignore_result: Celery sends None unless asked per call; True says the same, explicitly.
    assert {k: v for k, v in mine["headers"].items() if k != "ignore_result"} == {
        k: v for k, v in celerys["headers"].items() if k != "ignore_result"
    }
    assert mine["properties"] == celerys["properties"]
    assert {k: v for k, v in mine.items() if k not in ("headers", "properties", "body")} == {
        k: v for k, v in celerys.items() if k not in ("headers", "properties", "body")
    }
