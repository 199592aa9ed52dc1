"""docs/settings.md's table and the README's list keep in step with ``Settings``.

Every field of ``shared.settings.Settings`` is read from one environment variable
(``TWOSTEP_<FIELD>``, or its alias if it has one). docs/settings.md documents each of them
once, with its default and its meaning, and documents nothing else; the README lists every
name, with the same default. A default written in the docs must also be the one the code has.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path

import pytest
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from shared.settings import Settings
from tests.processes import ROOT

SETTINGS_DOC = ROOT / "docs" / "settings.md"
README = ROOT / "README.md"
# | `TWOSTEP_NAME` | default | meaning |   (the README's table has no meaning column)
ROW = re.compile(r"^\| `(?P<name>TWOSTEP_[A-Z0-9_]+)` \| (?P<cells>.*) \|$", re.MULTILINE)


def env_name(field: str, info: FieldInfo) -> str:
    """The variable a field is read from: its alias when it has one, else prefix + name."""
    for alias in (info.validation_alias, info.alias):
        if isinstance(alias, str):
            return alias.upper()
    prefix = Settings.model_config.get("env_prefix", "")
    return f"{prefix}{field}".upper()


FIELDS = {env_name(field, info): info for field, info in Settings.model_fields.items()}


def rows(path: Path) -> dict[str, list[str]]:
    """Each documented name with its cells; a name documented twice fails here."""
    found: dict[str, list[str]] = {}
    for match in ROW.finditer(path.read_text()):
        name = match["name"]
        assert name not in found, f"{path.name} documents {name} twice"
        found[name] = [cell.strip() for cell in match["cells"].split(" | ")]
    return found


def documented_default(info: FieldInfo) -> str | None:
    """How the docs write this field's default, or None when the code computes it."""
    if info.is_required():
        return "(required)"
    default = info.default
    if default is PydanticUndefined:
        return None
    if default is None or default == ():
        return "(none)"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, Enum):
        return f"`{default.value}`"
    if isinstance(default, float) and default.is_integer():
        return f"`{int(default)}`"
    if isinstance(default, Path):
        return f"`{default.relative_to(ROOT)}`"
    return f"`{default}`"


def test_the_environment_names_are_the_prefixed_field_names() -> None:
    # No field has an alias today. One that gets one fails here: check that env_name reads
    # it as pydantic-settings does, then let this line expect it.
    assert Settings.model_config.get("env_prefix") == "TWOSTEP_"
    assert not Settings.model_config.get("case_sensitive", False)
    assert sorted(FIELDS) == sorted(f"TWOSTEP_{field.upper()}" for field in Settings.model_fields)


def test_every_setting_is_documented() -> None:
    missing = sorted(set(FIELDS) - set(rows(SETTINGS_DOC)))
    assert not missing, f"docs/settings.md has no row for {missing}"


def test_nothing_is_documented_that_does_not_exist() -> None:
    unknown = sorted(set(rows(SETTINGS_DOC)) - set(FIELDS))
    assert not unknown, f"docs/settings.md documents settings Settings does not have: {unknown}"


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_each_row_has_a_default_and_a_meaning(name: str) -> None:
    cells = rows(SETTINGS_DOC).get(name)
    assert cells is not None, f"docs/settings.md has no row for {name}"
    assert len(cells) == 2, f"{name}: | `{name}` | default | meaning |"
    default, meaning = cells
    assert default, name
    assert len(meaning) > 10, name


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_the_documented_default_is_the_codes(name: str) -> None:
    expected = documented_default(FIELDS[name])
    cells = rows(SETTINGS_DOC).get(name)
    assert cells is not None, f"docs/settings.md has no row for {name}"
    default = cells[0]
    if expected is None or "TWOSTEP_" in default:
        # Made from another setting (the issuer and the sender, from the product name):
        # tests/unit/test_settings.py checks how.
        assert "TWOSTEP_" in default, f"{name}: say which setting its default comes from"
        return
    assert default == expected, f"docs/settings.md says {name} defaults to {default}"


def test_the_readme_lists_every_setting_with_the_same_default() -> None:
    documented = {name: cells[0] for name, cells in rows(SETTINGS_DOC).items()}
    listed = {name: cells[0] for name, cells in rows(README).items()}
    assert sorted(listed) == sorted(FIELDS), "the README lists every TWOSTEP_* setting, only those"
    assert listed == documented
