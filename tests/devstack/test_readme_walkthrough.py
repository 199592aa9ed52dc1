"""The README's "A login, step by step" block, run as written against `make run`'s stack, so
that the README cannot drift from what the stack does."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from devstack.secrets import SECRETS_FILE
from tests.devstack.test_stack import Launcher
from tests.processes import ROOT

pytestmark = pytest.mark.integration

SECTION = "## A login, step by step"


def _walkthrough() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index(SECTION) :]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None, "the walkthrough's sh block"
    return block[1]


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
    lines = ran.stdout.splitlines()
    assert '"status":"pending"' in lines[-4], ran.stdout
    assert '"status":"verified"' in lines[-3], ran.stdout
    assert '"status":"not_required"' in lines[-2], ran.stdout
    assert '"reason":"trusted_browser"' in lines[-2], ran.stdout
    assert '"label":"Firefox on Linux"' in lines[-1], ran.stdout
    assert '"ip":"203.0.113.9"' in lines[-1], ran.stdout
