"""The lock files in requirements/: which environment each pins, how it is made and checked.

pyproject.toml keeps ranges, for people who install twostep as a library. Every environment
our own scripts make is installed from a lock instead, with exact versions and hashes, so a
new machine gets what the last green CI had, not whatever was released since.
``scripts/lock`` writes them; tests/deploy/test_locks.py fails when they and pyproject.toml
disagree.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
# Lock file -> the extras it holds on top of the runtime dependencies.
LOCKS: dict[str, tuple[str, ...]] = {
    # .venv, made by scripts/setup for `make test`, `make run`, CI and the bench.
    "requirements/dev.txt": ("dev", "portal", "devstack"),
    # The Docker image (API, workers and the reference portal).
    "requirements/image.txt": ("portal",),
}
# The oldest Python that pyproject.toml's requires-python admits: the locks are universal
# (markers, not one machine's resolution), so they serve it and every newer one.
PYTHON = "3.11"
DIGEST_PREFIX = "# pyproject.toml dependencies sha256: "


def inputs_digest(extras: tuple[str, ...]) -> str:
    """A digest of what a lock is resolved from: the runtime dependencies, these extras'
    lists and requires-python (other edits of pyproject.toml leave a lock valid)."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    optional = project.get("optional-dependencies", {})
    inputs = {
        "requires-python": project["requires-python"],
        "dependencies": project["dependencies"],
        "extras": {extra: optional[extra] for extra in extras},
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def recorded_digest(lock: Path) -> str | None:
    for line in lock.read_text().splitlines():
        if line.startswith(DIGEST_PREFIX):
            return line.removeprefix(DIGEST_PREFIX).strip()
    return None


def write(lock: str, extras: tuple[str, ...], upgrade: bool) -> None:
    """Resolve one lock with uv (keeping its current pins unless ``upgrade``) and stamp it."""
    command = [str(Path(sys.executable).parent / "uv"), "pip", "compile", "pyproject.toml"]
    command += [f"--extra={extra}" for extra in extras]
    command += ["--universal", f"--python-version={PYTHON}", "--generate-hashes"]
    command += ["--quiet", f"--output-file={lock}", "--custom-compile-command=scripts/lock"]
    command += ["--upgrade"] if upgrade else []
    subprocess.run(command, cwd=ROOT, check=True)  # noqa: S603 (our own fixed arguments)
    path = ROOT / lock
    lines = path.read_text().splitlines(keepends=True)
    stamp = f"{DIGEST_PREFIX}{inputs_digest(extras)}\n"
    lines = [line for line in lines if not line.startswith(DIGEST_PREFIX)]
    path.write_text("".join([*lines[:2], stamp, *lines[2:]]))


def main(argv: list[str]) -> int:
    upgrade = "--upgrade" in argv
    for lock, extras in LOCKS.items():
        write(lock, extras, upgrade)
        print(f"lock: wrote {lock} ({', '.join(extras)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
