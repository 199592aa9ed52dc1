"""The README's "A login, step by step" block, then the authenticator app and recovery code
blocks of docs/api.md ("Authenticator apps and recovery codes"), which go on from it, run as
written in one shell against `make run`'s stack, so that neither document can drift from what
the stack does."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from devstack.secrets import SECRETS_FILE
from tests.devstack.launcher import Launcher
from tests.processes import ROOT

pytestmark = pytest.mark.integration

README = ROOT / "README.md"
SECTION = "## A login, step by step"
API_DOC = ROOT / "docs" / "api.md"
OTHER_WAYS = "## Authenticator apps and recovery codes"
MARK = "=== next block ==="


def _blocks(document: Path, section: str, count: int) -> list[str]:
    text = document.read_text()
    after = text[text.index(section) :]
    after = after[: after.index("\n## ", 1)] if "\n## " in after[1:] else after
    blocks = re.findall(r"```sh\n(.*?)```", after, re.DOTALL)
    assert len(blocks) >= count, f"{document.name}, {section}: {count} sh blocks"
    return blocks[:count]


def _walkthrough() -> str:
    [walkthrough] = _blocks(README, SECTION, 1)
    totp, recovery = _blocks(API_DOC, OTHER_WAYS, 2)
    return "\n".join([walkthrough, f"echo {MARK}", totp, f"echo {MARK}", recovery])


def test_the_readme_walkthrough_runs_as_written_against_make_runs_stack(tmp_path: Path) -> None:
    script = _walkthrough()
    stack = Launcher(tmp_path / "stack")
    try:
        # Only where the stack listens, and where it keeps its key, differ from the defaults.
        for default, here in (
            ("http://127.0.0.1:8080", f"http://127.0.0.1:{stack.api_port}"),
            ("http://127.0.0.1:8025", f"http://127.0.0.1:{stack.mailbox_port}"),
            (".devstack/secrets.env", str(stack.data_dir / SECRETS_FILE)),
        ):
            assert script.count(default) == 1, default
            script = script.replace(default, here)
        ran = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        stack.stop()
    assert ran.returncode == 0, ran.stdout + ran.stderr
    walkthrough, totp, recovery = ran.stdout.split(MARK + "\n")
    lines = walkthrough.splitlines()
    assert '"status":"pending"' in lines[-4], ran.stdout
    assert '"status":"verified"' in lines[-3], ran.stdout
    assert '"status":"not_required"' in lines[-2], ran.stdout
    assert '"reason":"trusted_browser"' in lines[-2], ran.stdout
    assert '"label":"Firefox on Linux"' in lines[-1], ran.stdout
    assert '"ip":"203.0.113.9"' in lines[-1], ran.stdout
    enrolment, enabled, login, verified = totp.splitlines()
    assert '"otpauth_uri":"otpauth://totp/Example%20portal:grace%40example.com' in enrolment
    assert '"totp_enabled":true' in enabled, ran.stdout
    assert '"method":"totp"' in login, ran.stdout
    assert '"sent_to":null' in login, ran.stdout
    assert '"status":"verified"' in verified, ran.stdout
    codes, recovered = recovery.splitlines()
    assert codes.count("-") >= 30, ran.stdout  # ten codes of four groups
    assert '"status":"verified"' in recovered, ran.stdout
