"""The email templates: every kind and locale renders, escapes, keeps the code out of subjects."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import jinja2
import pytest

from shared.jobs import NOTICE_KINDS
from workers.render import KINDS, SUPPORTED_LOCALES, Renderer, utc_datetime, utc_time

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates" / "email"
NOW = datetime(2025, 11, 27, 22, 0, tzinfo=UTC)
CODE = "482913"
NOTICE_DETAILS: dict[str, dict[str, str]] = {
    "trusted_browser_added": {"label": "Safari on macOS", "expires_at": "2025-12-27T22:00:00Z"},
    "recovery_codes_generated": {"count": "10"},
    "recovery_code_used": {"remaining": "9"},
    "account_locked": {"seconds": "900", "locked_until": "2025-11-27T22:15:00Z"},
}
NEW_SECURITY_NOTICES = (
    "totp_enabled",
    "totp_disabled",
    "recovery_codes_generated",
    "recovery_code_used",
)


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
        details = NOTICE_DETAILS.get(kind, {})
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
        ("es", ("Su código de verificación", "contraseña")),
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

    disabled = "La vérification en deux étapes a été désactivée sur votre compte"
    assert mail.subject == f"{disabled} twostep"
    acme = Renderer(TEMPLATES_DIR, product_name="Acme & Co")
    subject = acme.render("two_step_disabled", "fr", context_for("two_step_disabled")).subject
    assert subject == f"{disabled} Acme & Co"


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
    assert "27 December 2025, 22:00 UTC" in mail.text
    assert "Security tab" in mail.text


def test_trusted_browser_notice_without_expiry_still_renders(renderer: Renderer) -> None:
    context = context_for("trusted_browser_added", details={"label": "Edge on Windows"})
    mail = renderer.render("trusted_browser_added", "es", context)

    assert "Edge en Windows" in mail.text
    assert "hasta el" not in mail.text


@pytest.mark.parametrize(
    ("locale", "safari", "linux", "unknown"),
    [
        ("en", "Safari on macOS", "Browser on Linux", "Unknown browser"),
        ("fr", "Safari sur macOS", "Navigateur sur Linux", "Navigateur inconnu"),
        ("es", "Safari en macOS", "Navegador en Linux", "Navegador desconocido"),
    ],
)
@pytest.mark.parametrize("kind", KINDS)
def test_the_browser_is_named_in_the_readers_language(
    renderer: Renderer, kind: str, locale: str, safari: str, linux: str, unknown: str
) -> None:
    for label, shown in (
        ("Safari on macOS", safari),
        ("Browser on Linux", linux),
        ("Unknown browser", unknown),
        ("Firefox", "Firefox"),
    ):
        overrides: dict[str, object] = {"client_label": label}
        if kind == "trusted_browser_added":
            overrides["details"] = {"label": label}
        mail = renderer.render(kind, locale, context_for(kind, **overrides))

        assert shown in mail.text
        assert f"<strong>{shown}</strong>" in mail.html
        if locale != "en":
            assert label not in mail.text.replace(shown, "")


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_a_label_twostep_did_not_make_is_shown_as_it_is(renderer: Renderer, locale: str) -> None:
    label = "Netscape on BeOS"
    mail = renderer.render("code", locale, context_for("code", client_label=label))

    assert label in mail.text
    assert f"<strong>{label}</strong>" in mail.html


def test_every_notice_kind_the_api_can_publish_has_templates() -> None:
    assert set(KINDS) == NOTICE_KINDS | {"code"}


NEW_NOTICE_WORDS = {
    "fr": {
        "totp_enabled": ("application d'authentification", "6 chiffres", "Sécurité"),
        "totp_disabled": ("application d'authentification", "par e-mail", "Sécurité"),
        "recovery_codes_generated": ("codes de récupération", "lieu sûr", "une seule fois"),
        "recovery_code_used": ("codes de récupération", "Il vous reste", "Sécurité"),
    },
    "es": {
        "totp_enabled": ("aplicación de autenticación", "6 dígitos", "Seguridad"),
        "totp_disabled": ("aplicación de autenticación", "por correo", "Seguridad"),
        "recovery_codes_generated": ("códigos de recuperación", "lugar seguro", "una vez"),
        "recovery_code_used": ("códigos de recuperación", "Le quedan", "Seguridad"),
    },
}
NOT_YOU = {"fr": "Ce n'était pas vous ?", "es": "¿No ha sido usted?"}
PASSWORD = {"fr": "mot de passe", "es": "contraseña"}
ENGLISH_MARKERS = ("Not you", "password", "recovery", "authenticator", "account", "Security")


@pytest.mark.parametrize("kind", NEW_SECURITY_NOTICES)
@pytest.mark.parametrize("locale", ["fr", "es"])
def test_new_notices_are_written_in_their_language(
    renderer: Renderer, locale: str, kind: str
) -> None:
    mail = renderer.render(kind, locale, context_for(kind))

    for word in (*NEW_NOTICE_WORDS[locale][kind], NOT_YOU[locale], PASSWORD[locale]):
        assert word in mail.text
        assert word in mail.html
    for part in (mail.subject, mail.text, mail.html):
        for marker in ENGLISH_MARKERS:
            assert marker not in part


@pytest.mark.parametrize(
    ("locale", "phrase"),
    [
        ("en", "You have 9 recovery codes left."),
        ("fr", "Il vous reste 9 codes de récupération."),
        ("es", "Le quedan 9 códigos de recuperación."),
    ],
)
def test_recovery_code_used_shows_how_many_codes_are_left(
    renderer: Renderer, locale: str, phrase: str
) -> None:
    mail = renderer.render("recovery_code_used", locale, context_for("recovery_code_used"))

    assert phrase in mail.text
    # The HTML bolds the count, so compare the readable text.
    assert phrase in re.sub(r"<[^>]+>", "", mail.html)


LOW_ON_CODES_ADVICE = {
    "en": "Make a new set of recovery codes now",
    "fr": "Générez dès maintenant une nouvelle série de codes de récupération",
    "es": "Genere ahora mismo un nuevo conjunto de códigos de recuperación",
}


@pytest.mark.parametrize("remaining", ["0", "1"])
@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_recovery_code_used_urges_a_new_set_when_codes_run_low(
    renderer: Renderer, locale: str, remaining: str
) -> None:
    context = context_for("recovery_code_used", details={"remaining": remaining})
    mail = renderer.render("recovery_code_used", locale, context)

    assert LOW_ON_CODES_ADVICE[locale] in mail.text
    assert LOW_ON_CODES_ADVICE[locale] in mail.html


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_recovery_code_used_does_not_urge_a_new_set_while_codes_remain(
    renderer: Renderer, locale: str
) -> None:
    mail = renderer.render("recovery_code_used", locale, context_for("recovery_code_used"))

    assert LOW_ON_CODES_ADVICE[locale] not in mail.text
    assert LOW_ON_CODES_ADVICE[locale] not in mail.html


def test_recovery_code_used_names_the_last_code_in_the_singular(renderer: Renderer) -> None:
    context = context_for("recovery_code_used", details={"remaining": "1"})
    mail = renderer.render("recovery_code_used", "en", context)

    assert "You have only 1 recovery code left." in mail.text
    assert "1 recovery code</strong> left" in mail.html


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_recovery_codes_generated_gives_the_count_and_says_old_codes_stopped_working(
    renderer: Renderer, locale: str
) -> None:
    mail = renderer.render(
        "recovery_codes_generated", locale, context_for("recovery_codes_generated")
    )
    stopped = {
        "en": "Every recovery code you had before has stopped working.",
        "fr": "Tous vos anciens codes de récupération ont cessé de fonctionner.",
        "es": "Todos sus códigos de recuperación anteriores han dejado de funcionar.",
    }[locale]

    assert "10" in mail.text
    assert "<strong>10</strong>" in mail.html
    assert stopped in mail.text
    assert stopped in mail.html


def test_recovery_notices_without_their_numbers_still_read_well(renderer: Renderer) -> None:
    generated = renderer.render(
        "recovery_codes_generated", "en", context_for("recovery_codes_generated", details={})
    )
    used = renderer.render(
        "recovery_code_used", "en", context_for("recovery_code_used", details={})
    )

    assert "a new set of recovery codes was created" in generated.text
    assert "You have" not in used.text
    assert "You have" not in used.html
    assert LOW_ON_CODES_ADVICE["en"] not in used.text
    assert "You can make a new set at any time" in used.text


def test_authenticator_enabled_notice_says_how_to_remove_the_app(renderer: Renderer) -> None:
    mail = renderer.render("totp_enabled", "en", context_for("totp_enabled"))

    assert "6-digit code" in mail.text
    assert "Security tab and remove the authenticator app" in mail.text
    assert "Change it now" in mail.text


def test_authenticator_disabled_notice_says_codes_come_by_email(renderer: Renderer) -> None:
    mail = renderer.render("totp_disabled", "en", context_for("totp_disabled"))

    assert "verification codes come by email only" in mail.text
    assert "Change your password now" in mail.html


@pytest.mark.parametrize("kind", NEW_SECURITY_NOTICES)
@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_new_notice_subjects_carry_no_details(renderer: Renderer, kind: str, locale: str) -> None:
    subject = renderer.render(kind, locale, context_for(kind)).subject

    assert not re.search(r"\d", subject)
    assert "203.0.113.7" not in subject
    assert "Firefox" not in subject


def test_time_filters_convert_to_utc_and_refuse_naive_datetimes() -> None:
    paris = datetime(2025, 6, 1, 11, 5, tzinfo=timezone(timedelta(hours=2)))

    assert utc_time(paris) == "09:05 UTC"
    assert utc_datetime("2025-06-01T11:05:00+02:00") == "2025-06-01 09:05 UTC"
    with pytest.raises(ValueError, match="naive"):
        utc_time(datetime(2025, 6, 1, 9, 5))


ACCOUNT_LOCKED_WORDS = {
    "en": ("locked", "27 November 2025, 22:15 UTC", "password", "Change your password"),
    "fr": ("bloquée", "27 novembre 2025 à 22:15 UTC", "mot de passe", "Changez votre mot de passe"),
    "es": ("bloqueada", "27 de noviembre de 2025, 22:15 UTC", "contraseña", "Cambie su contraseña"),
}


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_account_locked_notice_says_until_when_and_to_change_the_password(
    renderer: Renderer, locale: str
) -> None:
    mail = renderer.render("account_locked", locale, context_for("account_locked"))

    for word in ACCOUNT_LOCKED_WORDS[locale]:
        assert word in mail.text
        assert word in mail.html
    assert "22:15" not in mail.subject
    assert "twostep" in mail.subject  # the product's name
    if locale != "en":
        for part in (mail.subject, mail.text, mail.html):
            for marker in ENGLISH_MARKERS:
                assert marker not in part


@pytest.mark.parametrize(
    ("locale", "until"),
    [
        ("en", "27 November 2025, 23:15 (Europe/Paris)"),
        ("fr", "27 novembre 2025 à 23:15 (Europe/Paris)"),
        ("es", "27 de noviembre de 2025, 23:15 (Europe/Paris)"),
    ],
)
def test_account_locked_notice_names_the_product_and_the_end_in_the_accounts_zone(
    locale: str, until: str
) -> None:
    acme = Renderer(TEMPLATES_DIR, product_name="Acme & Co")
    context = context_for("account_locked", time_zone="Europe/Paris")
    mail = acme.render("account_locked", locale, context)

    assert "Acme & Co" in mail.subject
    assert "Acme & Co" in mail.text
    assert "Acme &amp; Co" in mail.html
    assert until in mail.text
    assert until in mail.html
    assert "UTC" not in mail.text + mail.html


def test_account_locked_notice_without_its_time_still_reads_well(renderer: Renderer) -> None:
    mail = renderer.render("account_locked", "en", context_for("account_locked", details={}))

    assert "locked" in mail.text
    assert "until" not in mail.text
    assert "2025" in mail.text  # when it happened
    assert mail.text.count("UTC") == 1
