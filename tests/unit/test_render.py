"""The email templates: every kind and locale renders, escapes, keeps the code out of subjects."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import jinja2
import pytest

from workers.render import KINDS, SUPPORTED_LOCALES, Renderer, utc_datetime, utc_time

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates" / "email"
NOW = datetime(2025, 11, 27, 22, 0, tzinfo=UTC)
CODE = "482913"


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(TEMPLATES_DIR)


def context_for(kind: str, **overrides: object) -> dict[str, object]:
    if kind == "code":
        context: dict[str, object] = {
            "code": CODE,
            "expires_at": NOW + timedelta(minutes=15),
            "ttl_minutes": 15,
            "client_ip": "203.0.113.7",
            "client_label": "Firefox on Linux",
            "to": "ann@example.org",
        }
    else:
        details = (
            {"label": "Safari on macOS", "expires_at": "2025-12-27T22:00:00Z"}
            if kind == "trusted_browser_added"
            else {}
        )
        context = {
            "occurred_at": NOW,
            "client_ip": "203.0.113.7",
            "client_label": "Firefox on Linux",
            "to": "ann@example.org",
            "details": details,
        }
    context.update(overrides)
    return context


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_in_every_locale(renderer: Renderer, kind: str, locale: str) -> None:
    mail = renderer.render(kind, locale, context_for(kind))

    assert mail.subject
    assert "\n" not in mail.subject
    assert mail.text.strip()
    assert mail.html.lstrip().startswith("<!DOCTYPE html>")
    assert f'<html lang="{locale}">' in mail.html
    assert "ann@example.org" in mail.text
    assert "203.0.113.7" in mail.text
    assert "203.0.113.7" in mail.html


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_html_is_self_contained(renderer: Renderer, kind: str, locale: str) -> None:
    html = renderer.render(kind, locale, context_for(kind)).html.lower()

    assert "<script" not in html
    assert not re.search(r"""src\s*=\s*["']?\s*https?://""", html)
    assert "<link" not in html
    assert "<style" not in html  # inline style attributes only: many clients drop <style>


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_code_is_in_the_body_but_never_in_the_subject(renderer: Renderer, locale: str) -> None:
    mail = renderer.render("code", locale, context_for("code"))

    assert CODE not in mail.subject
    assert CODE in mail.html
    # Alone on its line in the text part, so it is easy to select and copy.
    assert CODE in mail.text.splitlines()
    # One element holds the whole code, so a double-click selects all of it.
    assert re.search(rf">{CODE}</div>", mail.html)
    assert "22:15 UTC" in mail.text
    assert "22:15 UTC" in mail.html
    assert "15" in mail.text


def test_ttl_minutes_comes_from_the_context(renderer: Renderer) -> None:
    mail = renderer.render("code", "en", context_for("code", ttl_minutes=10))

    assert "valid for 10 minutes" in mail.text
    assert "valid for 10 minutes" in mail.html


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("en", ("verification code", "Never share")),
        ("fr", ("Votre code de vérification", "mot de passe")),
        ("es", ("Tu código de verificación", "contraseña")),
    ],
)
def test_each_locale_is_written_in_its_language(
    renderer: Renderer, locale: str, words: tuple[str, ...]
) -> None:
    mail = renderer.render("code", locale, context_for("code"))

    for word in words:
        assert word in mail.text
        assert word in mail.html


def test_unknown_locale_falls_back_to_english(renderer: Renderer) -> None:
    assert renderer.render("code", "de", context_for("code")) == renderer.render(
        "code", "en", context_for("code")
    )


def test_unknown_kind_is_refused(renderer: Renderer) -> None:
    with pytest.raises(ValueError, match="unknown email kind"):
        renderer.render("password_reset", "en", {})


def test_html_escapes_what_the_client_sent_but_text_does_not(renderer: Renderer) -> None:
    label = '<script>alert("x")</script>'
    mail = renderer.render(
        "two_step_enabled", "en", context_for("two_step_enabled", client_label=label)
    )

    assert "<script>" not in mail.html
    assert "&lt;script&gt;" in mail.html
    assert label in mail.text


def test_subject_is_not_escaped(renderer: Renderer) -> None:
    mail = renderer.render("two_step_disabled", "fr", context_for("two_step_disabled"))

    assert mail.subject == "La validation en deux étapes a été désactivée"


def test_missing_context_variable_raises(renderer: Renderer) -> None:
    context = context_for("code")
    del context["code"]

    with pytest.raises(jinja2.UndefinedError):
        renderer.render("code", "en", context)


@pytest.mark.parametrize("kind", KINDS)
def test_unknown_browser_and_ip_lines_are_left_out(renderer: Renderer, kind: str) -> None:
    details = {"expires_at": "2025-12-27T22:00:00Z"} if kind == "trusted_browser_added" else {}
    overrides: dict[str, object] = {"client_ip": None, "client_label": None}
    if kind != "code":
        overrides["details"] = details
    mail = renderer.render(kind, "en", context_for(kind, **overrides))

    assert "IP address" not in mail.text
    assert "IP address" not in mail.html
    assert "None" not in mail.text
    assert "None" not in mail.html
    assert "Requested from" not in mail.text


def test_code_mail_names_the_browser_when_known(renderer: Renderer) -> None:
    mail = renderer.render("code", "en", context_for("code"))

    assert "Requested from: Firefox on Linux" in mail.text


def test_disabling_says_trusted_browsers_were_forgotten(renderer: Renderer) -> None:
    texts = [
        renderer.render("two_step_disabled", loc, context_for("two_step_disabled")).text
        for loc in SUPPORTED_LOCALES
    ]

    assert "has been forgotten" in texts[0]
    assert "oubliés" in texts[1]
    assert "olvidado" in texts[2]


def test_trusted_browser_notice_names_browser_expiry_and_how_to_revoke(renderer: Renderer) -> None:
    mail = renderer.render("trusted_browser_added", "en", context_for("trusted_browser_added"))

    assert "Safari on macOS" in mail.text
    assert "2025-12-27 22:00 UTC" in mail.text
    assert "Security tab" in mail.text


def test_trusted_browser_notice_without_expiry_still_renders(renderer: Renderer) -> None:
    context = context_for("trusted_browser_added", details={"label": "Edge on Windows"})
    mail = renderer.render("trusted_browser_added", "es", context)

    assert "Edge on Windows" in mail.text
    assert "hasta el" not in mail.text


def test_time_filters_convert_to_utc_and_refuse_naive_datetimes() -> None:
    paris = datetime(2025, 6, 1, 11, 5, tzinfo=timezone(timedelta(hours=2)))

    assert utc_time(paris) == "09:05 UTC"
    assert utc_datetime("2025-06-01T11:05:00+02:00") == "2025-06-01 09:05 UTC"
    with pytest.raises(ValueError, match="naive"):
        utc_time(datetime(2025, 6, 1, 9, 5))
