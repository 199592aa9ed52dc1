"""Emails carry the portal's product name, and show times in the account's zone and language."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.settings import DEFAULT_TEMPLATES_DIR
from workers.render import KINDS, SUPPORTED_LOCALES, Renderer, local_datetime

PRODUCT = "Acme & Co Portal"
# 16:45 UTC is 17:45 in Paris in December.
EXPIRES = datetime(2026, 12, 4, 16, 45, tzinfo=UTC)
OURS = KINDS  # every kind of email, the lock notice included

IN_PARIS = {
    "en": "4 December 2026, 17:45 (Europe/Paris)",
    "fr": "4 décembre 2026 à 17:45 (Europe/Paris)",
    "es": "4 de diciembre de 2026, 17:45 (Europe/Paris)",
}
IN_UTC = {
    "en": "4 December 2026, 16:45 UTC",
    "fr": "4 décembre 2026 à 16:45 UTC",
    "es": "4 de diciembre de 2026, 16:45 UTC",
}


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(DEFAULT_TEMPLATES_DIR, product_name=PRODUCT)


def context_for(kind: str, time_zone: str | None) -> dict[str, object]:
    common: dict[str, object] = {
        "client_ip": "203.0.113.7",
        "client_label": "Firefox on Linux",
        "to": "ann@example.org",
        "time_zone": time_zone,
    }
    if kind == "code":
        return {**common, "code": "482913", "expires_at": EXPIRES, "ttl_minutes": 15}
    details = {"expires_at": "2026-12-04T16:45:00Z"} if kind == "trusted_browser_added" else {}
    return {**common, "occurred_at": EXPIRES, "details": details}


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("kind", OURS)
def test_every_email_names_the_product(renderer: Renderer, kind: str, locale: str) -> None:
    mail = renderer.render(kind, locale, context_for(kind, None))

    assert PRODUCT in mail.subject
    assert PRODUCT in mail.text
    assert "Acme &amp; Co Portal" in mail.html
    assert PRODUCT not in mail.html  # escaped, as anything else put into the markup
    assert "twostep" not in (mail.subject + mail.text + mail.html).lower()


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("kind", OURS)
def test_times_are_shown_in_the_accounts_zone_in_its_language(
    renderer: Renderer, kind: str, locale: str
) -> None:
    mail = renderer.render(kind, locale, context_for(kind, "Europe/Paris"))

    assert IN_PARIS[locale] in mail.text
    assert IN_PARIS[locale] in mail.html
    assert "UTC" not in mail.text + mail.html


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("kind", OURS)
def test_without_a_zone_times_are_in_utc_and_say_so(
    renderer: Renderer, kind: str, locale: str
) -> None:
    mail = renderer.render(kind, locale, context_for(kind, None))

    assert IN_UTC[locale] in mail.text
    assert IN_UTC[locale] in mail.html


def test_the_zone_is_followed_across_daylight_saving_time() -> None:
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    winter = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert (
        local_datetime(summer, "en", "America/New_York") == "1 July 2026, 08:00 (America/New_York)"
    )
    assert (
        local_datetime(winter, "en", "America/New_York")
        == "1 January 2026, 07:00 (America/New_York)"
    )


def test_the_first_of_the_month_reads_as_the_french_write_it() -> None:
    first = datetime(2027, 1, 1, 0, 5, tzinfo=UTC)
    assert local_datetime(first, "fr", None) == "1er janvier 2027 à 00:05 UTC"
    assert (
        local_datetime(first, "es", "Europe/Madrid") == "1 de enero de 2027, 01:05 (Europe/Madrid)"
    )


def test_an_unknown_locale_or_zone_falls_back_rather_than_failing() -> None:
    # A zone that left the tz database after it was stored must not stop a security email.
    assert local_datetime(EXPIRES, "de", "Mars/Olympus_Mons") == "4 December 2026, 16:45 UTC"


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        local_datetime(datetime(2026, 12, 4, 16, 45), "en", None)


def test_a_string_from_a_jobs_details_is_read_as_a_moment() -> None:
    assert local_datetime("2026-12-04T16:45:00+00:00", "es", None) == IN_UTC["es"]


def test_templates_without_a_zone_in_their_context_still_render(renderer: Renderer) -> None:
    context = context_for("code", None)
    del context["time_zone"]
    assert IN_UTC["en"] in renderer.render("code", "en", context).text
