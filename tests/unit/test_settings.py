"""Settings: required values, parsing, and the README listing every one of them."""

from __future__ import annotations

import re

import pytest

from shared.errors import ConfigError
from shared.settings import Settings, load_settings
from tests.processes import ROOT


def test_missing_secret_key_is_a_clear_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TWOSTEP_SECRET_KEY", raising=False)
    monkeypatch.setenv("TWOSTEP_API_KEYS", "a-long-enough-api-key")
    with pytest.raises(ConfigError, match="TWOSTEP_SECRET_KEY"):
        load_settings()


def test_short_secret_key_is_refused_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWOSTEP_SECRET_KEY", "hunter2-too-short")
    monkeypatch.setenv("TWOSTEP_API_KEYS", "a-long-enough-api-key")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "hunter2" not in str(caught.value)


def test_api_keys_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWOSTEP_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("TWOSTEP_API_KEYS", " first-key-0123456789 ,second-key-0123456789,")
    assert load_settings().api_keys == ("first-key-0123456789", "second-key-0123456789")


def test_short_api_keys_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWOSTEP_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("TWOSTEP_API_KEYS", "short")
    with pytest.raises(ConfigError, match="TWOSTEP_API_KEYS"):
        load_settings()


def test_the_readme_lists_every_setting_and_no_other() -> None:
    readme = (ROOT / "README.md").read_text()
    listed = set(re.findall(r"^\| `(TWOSTEP_[A-Z_]+)` \|", readme, re.MULTILINE))
    fields = {f"TWOSTEP_{name.upper()}" for name in Settings.model_fields}
    assert listed == fields
