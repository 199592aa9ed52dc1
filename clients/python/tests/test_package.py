"""The package as it ships: its version and dependencies, its imports (httpx, pydantic and the
standard library only: never twostep's server code), and its README's login, run."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest
from scripted import PENDING, Script, problem

import twostep_client

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "twostep_client"


def test_the_version_is_the_metadata_s() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["version"] == twostep_client.__version__
    names = {re.split(r"[<>=!~ ;\[]", dependency)[0] for dependency in project["dependencies"]}
    assert names == {"httpx", "pydantic"}


def test_the_package_imports_nothing_but_httpx_pydantic_and_the_standard_library() -> None:
    allowed = {"httpx", "pydantic", "twostep_client", *sys.stdlib_module_names}
    found: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    assert found - allowed == set()


def readme_login() -> str:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## A whole login.*?```python\n(.*?)```", readme, re.DOTALL)
    assert block is not None
    return block.group(1)


def test_the_readme_s_login_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(readme_login().strip().splitlines()) <= 30
    verified = {
        "status": "verified",
        "account_id": "u-42",
        "trusted_browser": {
            "token": "tb_1.secret",
            "browser_id": "tb_1",
            "expires_at": "2026-12-27T20:00:00Z",
        },
    }
    script = Script(
        [
            httpx.Response(201, json=PENDING),
            problem(400, "invalid_code", attempts_left=2),
            problem(429, "resend_too_soon", {"Retry-After": "12"}, retry_after=12),
            httpx.Response(200, json=verified),
        ]
    )
    real = twostep_client.TwoStep

    def scripted(*args: Any, **kwargs: Any) -> twostep_client.TwoStep:
        return real(*args, transport=script.transport(), **kwargs)

    monkeypatch.setattr(twostep_client, "TwoStep", scripted)
    typed = iter(["000000", "resend", "123456"])
    shown: list[str] = []
    cookies: dict[str, str] = {}
    namespace = {"ask_user": lambda _: next(typed), "show": shown.append, "cookies": cookies}
    exec(readme_login(), namespace)
    assert shown == ["Wrong code: 2 tries left", "Wait 12 s before asking for another code"]
    assert cookies == {"twostep": "tb_1.secret"}
    assert [path for _, path in script.methods_and_paths] == [
        "/v1/logins",
        "/v1/challenges/ch_abc/verify",
        "/v1/challenges/ch_abc/resend",
        "/v1/challenges/ch_abc/verify",
    ]
