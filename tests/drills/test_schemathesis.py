"""Hostile input, generated: Schemathesis (its CLI) drives every operation of the served
``/openapi.json`` with a valid API key, under a fixed budget of examples. Every check it
has must pass: no 5xx, responses, status codes and headers as documented, schema-valid
requests accepted and invalid ones refused."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import API_KEY, BIN, ROOT, RedisServer, service_env, start_api

pytestmark = pytest.mark.integration

AUTH = {"Authorization": f"Bearer {API_KEY}"}
EXAMPLES_PER_OPERATION = 30
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def served(log_dir: Path) -> Iterator[str]:
    logs = log_dir / "schemathesis"
    redis = RedisServer(logs)
    api, url = start_api(service_env(redis_url=redis.url(0), broker_url=redis.url(1)), logs)
    # The schema's example account exists, so generated calls reach past the 404.
    httpx.put(f"{url}/v1/accounts/u-42", json={"email": "ada@example.com"}, headers=AUTH)
    httpx.put(f"{url}/v1/accounts/u-42/two-step", json={"enabled": True}, headers=AUTH)
    yield url
    api.stop()
    redis.stop()


def test_every_operation_holds_to_its_schema(served: str, log_dir: Path) -> None:
    result = subprocess.run(
        [
            str(BIN / "schemathesis"), "--config-file", str(HERE / "schemathesis.toml"),
            "run", f"{served}/openapi.json",
            "--header", f"Authorization: Bearer {API_KEY}",
            "--max-examples", str(EXAMPLES_PER_OPERATION),
            "--seed", "20261127",
            "--checks", "all",
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    summary = result.stdout[-3000:]
    print(summary)
    assert result.returncode == 0, summary
    assert " passed" in summary
    api_log = (log_dir / "schemathesis" / "api.log").read_text()
    assert "Traceback" not in api_log
    # uvicorn's access line ends with the status, as text or, escaped, inside a JSON line.
    assert not re.search(r'\\?" 500\b', api_log)
