"""The portal when twostep's code emails are slow (its mail queue is behind), in English, French
and Spanish: the two-step page says about how long the code may take (a login's
``expected_delivery_seconds``, from ``PORTAL_SLOW_EMAIL_SECONDS`` on), that email is out when
twostep went ahead with another method (``email_refused.code == "mail_delayed"``), and when to
try again when twostep refused to send (``503 mail_delayed``, at sign-in and at resend).

twostep runs in process; the answers of a mail queue far behind are put in by the test
(``stack.twostep``: ``change`` and ``refuse``), as twostep gives them.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pyotp
import pytest

from tests.portal.stack import (
    Stack,
    csrf_of,
    enable_two_step,
    message_of,
    post,
    sign_in,
    sign_out,
    verify,
)

LOGINS = "/v1/logins"
RESEND = r"/v1/challenges/[^/]+/resend"
LANGUAGES = ("en", "fr", "es")
# What each page says, word for word (the catalogue's, with the minutes put in).
SLOW = {
    "en": "Emails are slow right now: your code may take about 3 min to arrive.",
    "fr": "Les e-mails sont lents en ce moment : votre code peut mettre environ 3 min à arriver.",
    "es": "El correo va lento en este momento: su código puede tardar unos 3 min en llegar.",
}
EMAIL_OUT = {
    "en": "Email is unavailable right now, so we did not send you a code (try again in 2 min). "
    "Use another way to verify.",
    "fr": "L'e-mail est indisponible pour le moment : nous ne vous avons pas envoyé de code "
    "(réessayez dans 2 min). Utilisez une autre méthode de vérification.",
    "es": "El correo no está disponible en este momento, así que no le enviamos ningún código "
    "(vuelva a intentarlo en 2 min). Use otro método de verificación.",
}
NOT_NOW = {
    "en": "We cannot send your code right now. Try again in 3 min.",
    "fr": "Nous ne pouvons pas envoyer votre code pour le moment. Réessayez dans 3 min.",
    "es": "Ahora no podemos enviarle el código. Inténtelo de nuevo en 3 min.",
}


def said(page: str) -> str:
    """The page's message, as the browser shows it."""
    return html.unescape(message_of(page))


def slow_notice(page: str) -> str | None:
    match = re.search(r'<p id="email-slow" class="warning">([^<]*)</p>', page)
    return html.unescape(match.group(1)) if match else None


def email_out_notice(page: str) -> str | None:
    match = re.search(r'<p id="email-refused" class="warning">([^<]*)</p>', page)
    return html.unescape(match.group(1)) if match else None


def expecting(seconds: int | None) -> Any:
    def edit(answer: dict[str, Any]) -> dict[str, Any]:
        return {**answer, "expected_delivery_seconds": seconds}

    return edit


async def set_up_the_app(stack: Stack) -> pyotp.TOTP:
    """An authenticator app for the demo account, and two-step on."""
    await sign_in(stack.browser)
    started = await post(stack.browser, "/settings/security", "/settings/security/totp")
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', started.text)
    assert secret
    totp = pyotp.TOTP(secret.group(1))
    await stack.browser.post(
        "/settings/security/totp/confirm",
        data={"csrf_token": csrf_of(started.text), "code": totp.at(stack.clock.now)},
    )
    await post(stack.browser, "/settings/security", "/settings/security/two-step", enabled="on")
    await sign_out(stack.browser)
    return totp


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_a_slow_code_email_says_about_how_long_it_may_take(stack: Stack, lang: str) -> None:
    await enable_two_step(stack.browser)
    await stack.browser.get(f"/signin?lang={lang}")
    stack.twostep.change("POST", LOGINS, expecting(121))  # minutes rounded up: 3
    page = await sign_in(stack.browser)
    assert page.url.path == "/two-step"
    assert slow_notice(page.text) == SLOW[lang]
    assert len(stack.mail.codes) == 1  # the code is on its way all the same
    assert (await verify(stack)).url.path == "/"


@pytest.mark.parametrize(
    ("stack", "seconds", "minutes"),
    [
        ({}, None, None),  # no email sent, or a twostep that does not say
        ({}, 0, None),
        ({}, 29, None),
        ({}, 30, 1),  # PORTAL_SLOW_EMAIL_SECONDS's default
        ({}, 61, 2),
        ({"slow_email_seconds": 600}, 599, None),
        ({"slow_email_seconds": 600}, 600, 10),
    ],
    indirect=["stack"],
)
async def test_the_notice_shows_from_the_portal_setting_on(
    stack: Stack, seconds: int | None, minutes: int | None
) -> None:
    await enable_two_step(stack.browser)
    stack.twostep.change("POST", LOGINS, expecting(seconds))
    page = (await sign_in(stack.browser)).text
    if minutes is None:
        assert 'id="email-slow"' not in page
    else:
        wanted = f"Emails are slow right now: your code may take about {minutes} min to arrive."
        assert slow_notice(page) == wanted


async def test_a_new_code_says_how_slow_its_own_email_is(stack: Stack) -> None:
    await enable_two_step(stack.browser)
    page = (await sign_in(stack.browser)).text
    assert 'id="email-slow"' not in page
    stack.clock.advance(30)
    stack.twostep.change("POST", RESEND, expecting(180))
    resent = await post(stack.browser, "/two-step", "/two-step/resend")
    assert said(resent.text) == "New code sent. The previous one no longer works."
    assert slow_notice(resent.text) == (
        "Emails are slow right now: your code may take about 3 min to arrive."
    )
    # The notice stays with the login: the page again says it.
    assert slow_notice((await stack.browser.get("/two-step")).text) is not None


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_email_out_of_time_lets_the_app_sign_in_and_says_so(stack: Stack, lang: str) -> None:
    totp = await set_up_the_app(stack)
    await stack.browser.get(f"/signin?lang={lang}")

    def refused(answer: dict[str, Any]) -> dict[str, Any]:
        return {**answer, "email_refused": {"code": "mail_delayed", "retry_after": 90}}

    stack.twostep.change("POST", LOGINS, refused)
    page = await sign_in(stack.browser)
    assert page.url.path == "/two-step"
    assert email_out_notice(page.text) == EMAIL_OUT[lang]
    assert 'id="email-instead"' not in page.text  # email is out: not offered
    assert stack.mail.codes == []
    stack.clock.advance(30)  # an app code works once: take the next one
    assert (await verify(stack, code=totp.at(stack.clock.now))).url.path == "/"


async def test_the_hourly_cap_keeps_its_own_wording(stack: Stack) -> None:
    await set_up_the_app(stack)

    def capped(answer: dict[str, Any]) -> dict[str, Any]:
        return {**answer, "email_refused": {"code": "send_limit", "retry_after": 3600}}

    stack.twostep.change("POST", LOGINS, capped)
    page = await sign_in(stack.browser)
    assert email_out_notice(page.text) == (
        "We cannot email you a code for now (try again in 60 min). "
        "Use your authenticator app or a recovery code."
    )


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_no_email_at_sign_in_says_when_to_try_again(stack: Stack, lang: str) -> None:
    await enable_two_step(stack.browser)
    await stack.browser.get(f"/signin?lang={lang}")
    stack.twostep.refuse("POST", LOGINS, 503, "mail_delayed", retry_after=150)
    refused = await sign_in(stack.browser)
    assert refused.status_code == 503
    assert refused.url.path == "/signin"
    assert said(refused.text) == NOT_NOW[lang]
    assert refused.headers["retry-after"] == "150"
    assert f'<html lang="{lang}">' in refused.text
    # Nothing was started: no half-done sign-in, no email.
    assert (await stack.browser.get("/two-step")).url.path == "/signin"
    assert stack.mail.codes == []

    stack.twostep.changes.clear()  # email is back
    assert (await sign_in(stack.browser)).url.path == "/two-step"
    assert (await verify(stack)).url.path == "/"


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_no_email_at_resend_keeps_the_login_and_its_code(stack: Stack, lang: str) -> None:
    await enable_two_step(stack.browser)
    await stack.browser.get(f"/signin?lang={lang}")
    await sign_in(stack.browser)
    stack.clock.advance(30)
    stack.twostep.refuse("POST", RESEND, 503, "mail_delayed", retry_after=121)
    resent = await post(stack.browser, "/two-step", "/two-step/resend")
    assert resent.status_code == 200
    assert resent.url.path == "/two-step"
    assert said(resent.text) == NOT_NOW[lang]
    assert len(stack.mail.codes) == 1
    # The code already emailed still works.
    assert (await verify(stack)).url.path == "/"
