"""A hostile body against the real server: uvicorn answers it with a 422 and keeps the
connection open for the next request (a 500 from an exception that escaped the app made
uvicorn drop the kept-alive connection)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.processes import API_KEY, RedisServer, service_env, start_api

pytestmark = pytest.mark.integration

HEADERS = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def served(log_dir: Path) -> Iterator[tuple[str, Path]]:
    logs = log_dir / "hostile-keepalive"
    redis = RedisServer(logs)
    api, url = start_api(service_env(redis_url=redis.url(0), broker_url=redis.url(1)), logs)
    yield url, logs
    api.stop()
    redis.stop()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/logins", b"[" * 3000),
        ("/v1/challenges/ch_" + "0" * 32 + "_" + "A" * 22 + "/verify", b"[" * 3000),
        ("/v1/accounts/u-1/unlock", b'{"client": ' * 3000),
    ],
)
def test_a_deeply_nested_body_is_a_422_on_a_connection_that_stays_open(
    served: tuple[str, Path], path: str, body: bytes
) -> None:
    url, logs = served
    parts = urlsplit(url)
    log_before = len((logs / "api.log").read_text())
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request("POST", path, body=body, headers=HEADERS)
        refused = connection.getresponse()
        problem = json.loads(refused.read())
        assert refused.status == 422
        assert problem["code"] == "validation_error"
        assert refused.getheader("connection") != "close"
        # The same connection serves the next request: it was not reset.
        connection.request("GET", "/healthz")
        following = connection.getresponse()
        assert following.status == 200
        following.read()
    finally:
        connection.close()
    assert "Traceback" not in (logs / "api.log").read_text()[log_before:]
