"""Settings: required values, parsing, and the README listing every one of them (their
meanings, in docs/settings.md, are checked by tests/unit/test_settings_documented.py)."""

from __future__ import annotations

import re
from email.utils import parseaddr

import pytest
from pydantic import ValidationError

from shared.errors import ConfigError
from shared.settings import Settings, load_settings
from tests.api_calls import make_settings
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


def test_one_product_name_names_the_sender_and_the_authenticator_entry() -> None:
    settings = make_settings(product_name="Acme Portal")
    assert settings.product_name == "Acme Portal"
    assert settings.issuer == "Acme Portal"
    assert parseaddr(settings.mail_from) == ("Acme Portal", "no-reply@localhost")


def test_the_product_name_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWOSTEP_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("TWOSTEP_API_KEYS", "first-key-0123456789")
    monkeypatch.setenv("TWOSTEP_PRODUCT_NAME", "Acme, Inc.")
    monkeypatch.delenv("TWOSTEP_ISSUER", raising=False)
    monkeypatch.delenv("TWOSTEP_MAIL_FROM", raising=False)
    settings = load_settings()
    assert settings.issuer == "Acme, Inc."
    # Quoted: the comma would otherwise split the From header into two addresses.
    assert parseaddr(settings.mail_from) == ("Acme, Inc.", "no-reply@localhost")


def test_explicit_issuer_and_sender_win_over_the_product_name() -> None:
    settings = make_settings(
        product_name="Acme", issuer="Acme Bank", mail_from="Security <sec@acme.test>"
    )
    assert (settings.issuer, settings.mail_from) == ("Acme Bank", "Security <sec@acme.test>")


def test_the_default_product_name_keeps_todays_names() -> None:
    settings = make_settings()
    assert settings.product_name == "twostep"
    assert settings.issuer == "twostep"
    assert settings.mail_from == "twostep <no-reply@localhost>"


@pytest.mark.parametrize(
    "name",
    ["", "   ", "Acme\r\nBcc: x@evil.test", "Acme\x00", "Acme\u2028Portal", "Acme: Portal",
     "Acme <evil@x.test>", 'Acme "Portal"', "a" * 65],
)  # fmt: skip
def test_a_product_name_unsafe_in_a_header_or_an_otpauth_uri_is_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="product_name"):
        make_settings(product_name=name)
