"""The lock files in requirements/ agree with pyproject.toml (scripts/locks.py: what they are)."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
# Every Python that requires-python admits today, on the platforms the locks are used on.
ENVIRONMENTS = [
    {"python_version": version, "python_full_version": f"{version}.0", "sys_platform": platform}
    | {"platform_machine": machine, "platform_python_implementation": "CPython"}
    | {"implementation_name": "cpython", "platform_system": platform.capitalize()}
    for version in ("3.11", "3.12", "3.13", "3.14")
    for platform, machine in (("linux", "x86_64"), ("linux", "aarch64"), ("darwin", "arm64"))
]


def _locks_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("locks", ROOT / "scripts" / "locks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("locks", module)
    spec.loader.exec_module(module)
    return module


locks = _locks_module()


def _pins(lock: Path) -> list[tuple[Requirement, list[str]]]:
    """Each pinned requirement of a lock file with its hashes."""
    pins: list[tuple[Requirement, list[str]]] = []
    for line in lock.read_text().splitlines():
        text = line.strip().rstrip("\\").strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("--hash="):
            pins[-1][1].append(text.removeprefix("--hash="))
        else:
            pins.append((Requirement(text), []))
    return pins


def _wanted(extras: tuple[str, ...]) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional = project["optional-dependencies"]
    lines = [*project["dependencies"], *(line for extra in extras for line in optional[extra])]
    return [Requirement(line) for line in lines]


@pytest.mark.parametrize("lock", sorted(locks.LOCKS))
def test_a_lock_was_made_from_the_dependencies_pyproject_names_today(lock: str) -> None:
    recorded = locks.recorded_digest(ROOT / lock)
    assert recorded == locks.inputs_digest(locks.LOCKS[lock]), (
        f"{lock} was not made from pyproject.toml's current dependencies: run scripts/lock"
    )


@pytest.mark.parametrize("lock", sorted(locks.LOCKS))
def test_every_requirement_of_pyproject_is_pinned_within_its_range_with_hashes(lock: str) -> None:
    pins = _pins(ROOT / lock)
    assert all(hashes for _, hashes in pins), "every pin carries its hashes (pip --require-hashes)"
    for environment in ENVIRONMENTS:
        pinned = {
            canonicalize_name(pin.name): next(iter(pin.specifier)).version
            for pin, _ in pins
            if pin.marker is None or pin.marker.evaluate(environment)
        }
        assert all(len(pin.specifier) == 1 for pin, _ in pins), "one exact version per line"
        for wanted in _wanted(locks.LOCKS[lock]):
            if wanted.marker is not None and not wanted.marker.evaluate(environment):
                continue
            name = canonicalize_name(wanted.name)
            assert name in pinned, f"{lock} pins no {wanted.name} for {environment}"
            assert wanted.specifier.contains(pinned[name], prereleases=True), (
                f"{lock} pins {wanted.name}=={pinned[name]}, outside {wanted}"
            )


def test_the_digest_changes_when_a_dependency_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first check above can fail: a changed range gives another digest."""
    before, portal = locks.inputs_digest(("dev",)), locks.inputs_digest(("portal",))
    changed = (ROOT / "pyproject.toml").read_text().replace('"pytest>=8"', '"pytest>=9"', 1)
    assert changed != (ROOT / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(changed)
    monkeypatch.setattr(locks, "PYPROJECT", tmp_path / "pyproject.toml")
    assert locks.inputs_digest(("dev",)) != before
    assert locks.inputs_digest(("portal",)) == portal  # a lock without that extra stays valid


def test_every_environment_the_scripts_make_installs_from_a_lock() -> None:
    setup = (ROOT / "scripts" / "setup").read_text()
    assert "--require-hashes -r requirements/dev.txt" in setup
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes -r requirements/image.txt" in dockerfile
    assert "pip install --no-deps" in dockerfile
