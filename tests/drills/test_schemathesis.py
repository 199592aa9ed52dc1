"""Hostile input, generated: Schemathesis (its CLI) drives every operation of the served
``/openapi.json`` with a valid API key, under a fixed budget of examples. Every check it
has must pass: no 5xx, responses, status codes and headers as documented, schema-valid
requests accepted and invalid ones refused. Every route the app serves is in the schema
(the hot routes through their FastAPI twins), and its report names each operation."""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.main import create_app
from tests.api_calls import make_settings
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


DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def _served_routes(routes: list[Any]) -> set[tuple[str, str]]:
    """(method, path) of every route, included routers' too."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        inner = getattr(route, "original_router", None) or getattr(route, "router", None)
        if inner is not None and not hasattr(route, "methods"):
            found |= _served_routes(inner.routes)
            continue
        found |= {(method, route.path) for method in route.methods or () if method != "HEAD"}
    return found


def test_every_route_is_in_the_schema() -> None:
    app = create_app(make_settings())
    schema = {
        (method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item
    }
    served = {route for route in _served_routes(app.router.routes) if route[1] not in DOCS}
    assert len(served) > 15
    assert served == schema


def test_every_operation_holds_to_its_schema(served: str, log_dir: Path, tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    result = subprocess.run(
        [
            str(BIN / "schemathesis"), "--config-file", str(HERE / "schemathesis.toml"),
            "run", f"{served}/openapi.json",
            "--header", f"Authorization: Bearer {API_KEY}",
            "--max-examples", str(EXAMPLES_PER_OPERATION),
            "--seed", "20261127",
            "--checks", "all",
            "--report", "junit", "--report-junit-path", str(junit),
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    summary = result.stdout[-3000:]
    print(summary)
    assert result.returncode == 0, summary
    assert " passed" in summary
    schema = httpx.get(f"{served}/openapi.json").json()
    operations = {
        f"{method.upper()} {path}" for path, item in schema["paths"].items() for method in item
    }
    tested = {case.get("name", "") for case in ET.parse(junit).iter("testcase")}
    assert operations <= tested, operations - tested
    assert not any(case.find("failure") is not None for case in ET.parse(junit).iter("testcase"))
    api_log = (log_dir / "schemathesis" / "api.log").read_text()
    assert "Traceback" not in api_log
    # uvicorn's access line ends with the status, as text or, escaped, inside a JSON line.
    assert not re.search(r'\\?" 500\b', api_log)
