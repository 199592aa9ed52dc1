"""The reference portal, driven like a browser, against the twostep API in process."""

from __future__ import annotations

import logging
import re

import fakeredis
import httpx
import pyotp
import pytest

from examples.portal.app import create_app
from examples.portal.catalogue import CATALOGUE
from examples.portal.locales import negotiate
from examples.portal.passwords import hash_password, verify_password
from examples.portal.settings import DEMO_PASSWORD_HASH, PortalSettings
from tests.api_calls import code_of
from tests.portal.stack import (
    PASSWORD,
    SESSION_SECRET,
    Stack,
    confirm,
    csrf_of,
    enable_two_step,
    message_of,
    portal_settings,
    post,
    sign_in,
    sign_out,
    verify,
    wrong,
)
from tests.processes import API_KEY


async def test_wrong_password_stays_on_sign_in(stack: Stack) -> None:
    response = await sign_in(stack.browser, "Tr0ub4dor&3")
    assert response.status_code == 401
    assert message_of(response.text) == "Wrong email or password."
    assert (await stack.browser.get("/", follow_redirects=False)).headers["location"] == "/signin"


async def test_unknown_email_is_refused_like_a_wrong_password(stack: Stack) -> None:
    html = (await stack.browser.get("/signin")).text
    response = await stack.browser.post(
        "/signin",
        data={"csrf_token": csrf_of(html), "email": "eve@example.com", "password": PASSWORD},
    )
    assert response.status_code == 401
    assert message_of(response.text) == "Wrong email or password."


async def test_sign_in_with_two_step_off_goes_home(stack: Stack) -> None:
    response = await sign_in(stack.browser)
    assert response.url.path == "/"
    assert "Signed in as Ada Lovelace (ada@example.com)" in response.text
    assert 'id="sign-out"' in response.text
    assert stack.mail.codes == []


async def test_apply_enables_two_step_and_sign_in_asks_for_a_code(stack: Stack) -> None:
    await sign_in(stack.browser)
    page = (await stack.browser.get("/settings/security")).text
    assert re.search(r'id="enabled" name="enabled" type="checkbox" value="on">', page)
    assert "Nothing changes until you click Apply." in page

    applied = await post(
        stack.browser, "/settings/security", "/settings/security/two-step", enabled="on"
    )
    assert applied.url.path == "/settings/security"
    assert message_of(applied.text) == "Two-step verification is now on."
    assert re.search(
        r'id="enabled" name="enabled" type="checkbox" value="on" checked>', applied.text
    )
    await sign_out(stack.browser)

    response = await sign_in(stack.browser)
    assert response.url.path == "/two-step"
    assert "We sent a 6-digit code to a**@example.com. It expires in 15 minutes." in response.text
    assert 'inputmode="numeric"' in response.text
    assert 'autocomplete="one-time-code"' in response.text
    assert "Don&#39;t ask again on this browser" in response.text
    assert len(stack.mail.codes) == 1


async def test_wrong_code_says_how_many_tries_are_left(stack: Stack) -> None:
    await enable_two_step(stack.browser)
    await sign_in(stack.browser)
    response = await verify(stack, code=wrong(code_of(stack.mail.codes[-1])))
    assert response.url.path == "/two-step"
    assert message_of(response.text) == "Wrong code. 4 tries left."


async def test_too_many_wrong_codes_end_the_login(stack: Stack) -> None:
    await enable_two_step(stack.browser)
    await sign_in(stack.browser)
    bad = wrong(code_of(stack.mail.codes[-1]))
    for _ in range(4):
        await verify(stack, code=bad)
    response = await verify(stack, code=bad)
    assert response.url.path == "/signin"
    assert message_of(response.text) == "Too many wrong codes. Sign in again."


async def test_expired_code_sends_the_user_back_to_sign_in(stack: Stack) -> None:
    await enable_two_step(stack.browser)
    page = (await sign_in(stack.browser)).text
    stack.clock.advance(15 * 60 + 1)
    response = await stack.browser.post(
        "/two-step", data={"csrf_token": csrf_of(page), "code": code_of(stack.mail.codes[-1])}
    )
    assert response.url.path == "/signin"
    assert message_of(response.text) == "This code has expired. Sign in again."


async def test_two_step_page_of_an_expired_code_sends_the_user_back(stack: Stack) -> None:
    await enable_two_step(stack.browser)
    await sign_in(stack.browser)
    stack.clock.advance(15 * 60 + 1)
    response = await stack.browser.get("/two-step")
    assert response.url.path == "/signin"
    assert message_of(response.text) == "This code has expired. Sign in again."


async def test_right_code_with_remember_sets_a_trusted_cookie_and_skips_next_time(
    stack: Stack,
) -> None:
    await enable_two_step(stack.browser)
    await sign_in(stack.browser)
    response = await verify(stack, remember=True)
    assert response.url.path == "/"
    assert "Signed in as Ada Lovelace" in response.text
    cookies = response.history[0].headers.get_list("set-cookie")
    trusted = next(cookie for cookie in cookies if cookie.startswith("twostep_tb="))
    assert "HttpOnly" in trusted
    assert "SameSite=Lax" in trusted
    assert "Path=/" in trusted
    assert "Max-Age=2592000" in trusted  # 30 days, as twostep said
    assert "Secure" not in trusted  # plain HTTP here
    await sign_out(stack.browser)

    again = await sign_in(stack.browser)
    assert again.url.path == "/"
    assert len(stack.mail.codes) == 1


async def test_revoking_the_browser_in_settings_asks_again(stack: Stack) -> None:
    await enable_two_step(stack.browser)
    await sign_in(stack.browser)
    await verify(stack, remember=True)
    page = (await stack.browser.get("/settings/security")).text
    browser_id = re.search(r'data-browser-id="([^"]+)"', page)
    assert browser_id
    assert "Firefox on Linux" in page
    assert "127.0.0.1" in page
    assert "2027-01-15 08:00 UTC" in page
    assert 'class="revoke' in page

    revoked = await post(
        stack.browser,
        "/settings/security",
        f"/settings/security/browsers/{browser_id.group(1)}/revoke",
    )
    assert "data-browser-id" not in revoked.text
    assert message_of(revoked.text).startswith("The browser was revoked.")
    await sign_out(stack.browser)

    response = await sign_in(stack.browser)
    assert response.url.path == "/two-step"


async def test_revoke_all_forgets_every_browser(stack: Stack) -> None:
    await enable_two_step(stack.browser)
    for _ in range(2):
        await sign_in(stack.browser)
        await verify(stack, remember=True)
        stack.browser.cookies.delete("twostep_tb")  # as if it were another browser
        await sign_out(stack.browser)
    await sign_in(stack.browser)
    await verify(stack)
    page = (await stack.browser.get("/settings/security")).text
    assert page.count("data-browser-id") == 2
    response = await confirm(stack.browser, "revoke-all", password=None)
    assert "data-browser-id" not in response.text
    assert "No trusted browsers." in response.text


@pytest.mark.parametrize("token", [None, "forged"])
async def test_a_form_without_the_right_csrf_token_is_refused(
    stack: Stack, token: str | None
) -> None:
    await stack.browser.get("/signin")
    data = {"email": "ada@example.com", "password": PASSWORD}
    if token is not None:
        data["csrf_token"] = token
    response = await stack.browser.post("/signin", data=data)
    assert response.status_code == 403
    assert "Form expired" in response.text
    assert (await stack.browser.get("/", follow_redirects=False)).status_code == 303


async def test_sign_out_needs_the_csrf_token(stack: Stack) -> None:
    await sign_in(stack.browser)
    response = await stack.browser.post("/sign-out", data={"csrf_token": "x" * 43})
    assert response.status_code == 403
    assert (await stack.browser.get("/")).url.path == "/"


async def test_french_from_accept_language(stack: Stack) -> None:
    headers = {"Accept-Language": "de-CH, fr-CH;q=0.9, en;q=0.5"}
    response = await stack.browser.get("/signin", headers=headers)
    assert '<html lang="fr">' in response.text
    assert "Se connecter" in response.text
    assert "Mot de passe" in response.text


async def test_lang_parameter_is_remembered(stack: Stack) -> None:
    await stack.browser.get("/signin?lang=es")
    response = await stack.browser.get("/signin", headers={"Accept-Language": "fr"})
    assert '<html lang="es">' in response.text
    assert "Contraseña" in response.text


async def test_half_signed_in_user_only_reaches_the_two_step_page(stack: Stack) -> None:
    await enable_two_step(stack.browser)
    await sign_in(stack.browser)
    for path in ("/", "/settings/security", "/signin"):
        response = await stack.browser.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/two-step"
    forged = await stack.browser.get("/signin", follow_redirects=True)
    refused = await stack.browser.post(
        "/settings/security/two-step", data={"csrf_token": csrf_of(forged.text)}
    )
    assert refused.url.path == "/two-step"


async def test_resend_is_disabled_with_a_countdown_until_allowed(stack: Stack) -> None:
    await enable_two_step(stack.browser)
    page = (await sign_in(stack.browser)).text
    assert re.search(r'<button id="resend" type="submit" class="link" disabled>', page)
    assert 'id="resend-countdown" data-seconds="30">30</span>' in page
    nonce = re.search(r'<script nonce="([^"]+)">', page)
    assert nonce

    stack.clock.advance(12)
    page = (await stack.browser.get("/two-step")).text
    assert 'data-seconds="18">18<' in page

    stack.clock.advance(18)
    page = (await stack.browser.get("/two-step")).text
    assert re.search(r'<button id="resend" type="submit" class="link">', page)
    assert "resend-countdown" not in page

    resent = await post(stack.browser, "/two-step", "/two-step/resend")
    assert message_of(resent.text) == "New code sent. The previous one no longer works."
    assert resent.text.count("We sent") == 1  # the page's line says where, once
    assert 'id="resend-countdown" data-seconds="60">60<' in resent.text  # cooldown doubled
    assert len(stack.mail.codes) == 2

    too_soon = await post(stack.browser, "/two-step", "/two-step/resend")
    assert message_of(too_soon.text) == "Wait 60 s before asking for a new code."

    # The first code died with the resend; the new one works.
    assert (await verify(stack, code=code_of(stack.mail.codes[0]))).url.path == "/two-step"
    assert (await verify(stack)).url.path == "/"


async def test_pages_carry_security_headers(stack: Stack) -> None:
    await enable_two_step(stack.browser)
    response = await sign_in(stack.browser)
    nonce = re.search(r'<script nonce="([^"]+)">', response.text)
    assert nonce
    csp = response.headers["content-security-policy"]
    assert f"script-src 'nonce-{nonce.group(1)}'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["cache-control"] == "no-store"
    css = await stack.browser.get("/static/portal.css")
    assert css.status_code == 200


async def test_cookies_are_secure_over_https(stack: Stack) -> None:
    async with stack.browser_at("https://portal.test") as browser:
        response = await sign_in(browser)
        assert response.url.path == "/"
        session = response.history[0].headers["set-cookie"]
        assert session.startswith("portal_session=")
        assert "secure" in session.lower()
        assert "httponly" in session.lower()
        assert "samesite=lax" in session.lower()


async def test_authenticator_app_set_up_and_used_at_sign_in(stack: Stack) -> None:
    await sign_in(stack.browser)
    started = await post(stack.browser, "/settings/security", "/settings/security/totp")
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', started.text)
    assert secret
    assert "<svg" in started.text
    totp = pyotp.TOTP(secret.group(1))
    confirmed = await stack.browser.post(
        "/settings/security/totp/confirm",
        data={"csrf_token": csrf_of(started.text), "code": totp.at(stack.clock.now)},
    )
    assert message_of(confirmed.text) == "Your authenticator app is set up."
    assert 'id="totp-remove"' in confirmed.text
    await post(stack.browser, "/settings/security", "/settings/security/two-step", enabled="on")
    await sign_out(stack.browser)

    before = len(stack.mail.codes)
    page = await sign_in(stack.browser)
    # The app comes first, and no email is sent unless the user asks for one.
    assert "authenticator app shows" in page.text
    assert 'id="email-instead"' in page.text
    assert 'id="use-totp"' not in page.text
    assert len(stack.mail.codes) == before
    stack.clock.advance(30)  # an app code works once: take the next one
    response = await verify(stack, code=totp.at(stack.clock.now))
    assert response.url.path == "/"

    await sign_out(stack.browser)
    await sign_in(stack.browser)
    assert len(stack.mail.codes) == before
    emailed = await post(stack.browser, "/two-step", "/two-step/resend")
    assert len(stack.mail.codes) == before + 1
    assert "We sent a 6-digit code to" in emailed.text
    assert 'id="use-totp"' in emailed.text
    switched = await post(stack.browser, "/two-step", "/two-step/method", method="totp")
    assert 'id="use-email"' in switched.text  # back to the code already emailed
    back = await post(stack.browser, "/two-step", "/two-step/method", method="email")
    assert "We sent a 6-digit code to" in back.text
    response = await verify(stack)
    assert response.url.path == "/"


async def test_an_app_code_already_used_says_so_and_to_wait_for_the_next(stack: Stack) -> None:
    await sign_in(stack.browser)
    started = await post(stack.browser, "/settings/security", "/settings/security/totp")
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', started.text)
    assert secret
    totp = pyotp.TOTP(secret.group(1))
    used = totp.at(stack.clock.now)
    await stack.browser.post(
        "/settings/security/totp/confirm", data={"csrf_token": csrf_of(started.text), "code": used}
    )
    await post(stack.browser, "/settings/security", "/settings/security/two-step", enabled="on")
    await sign_out(stack.browser)
    await sign_in(stack.browser)
    await post(stack.browser, "/two-step", "/two-step/method", method="totp")
    response = await verify(stack, code=used)  # the set-up code, typed again at once
    assert response.url.path == "/two-step"
    assert message_of(response.text) == (
        "This code was already used. Wait for the next one. 4 tries left."
    )


async def test_recovery_codes_are_shown_on_a_get_page_and_work(stack: Stack) -> None:
    await sign_in(stack.browser)
    made = await confirm(stack.browser, "new-recovery-codes")
    assert made.history[0].status_code == 303  # post, redirect, get
    assert made.url.path == "/settings/security/recovery-codes"
    assert made.headers["cache-control"] == "no-store"
    codes = re.findall(r'<li class="recovery-code"><code>([^<]+)</code></li>', made.text)
    assert len(codes) == 10
    assert "once you leave this page, they are not shown again" in made.text
    download = await stack.browser.get("/settings/security/recovery-codes.txt")
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["content-type"].startswith("text/plain")
    assert download.headers["cache-control"] == "no-store"
    assert all(code in download.text for code in codes)
    page = (await stack.browser.get("/settings/security")).text
    assert 'class="recovery-code"' not in page
    assert "You have 10 recovery codes left." in page
    await post(stack.browser, "/settings/security", "/settings/security/two-step", enabled="on")
    await sign_out(stack.browser)

    await sign_in(stack.browser)
    switched = await post(stack.browser, "/two-step", "/two-step/method", method="recovery_code")
    assert "Enter one of the recovery codes you saved." in switched.text
    response = await verify(stack, code=codes[0].upper())
    assert response.url.path == "/"
    page = (await stack.browser.get("/settings/security")).text
    assert "You have 9 recovery codes left." in page


async def test_refreshing_the_recovery_codes_page_never_makes_a_new_set(stack: Stack) -> None:
    await sign_in(stack.browser)
    made = await confirm(stack.browser, "new-recovery-codes")
    codes = re.findall(r'<li class="recovery-code"><code>([^<]+)</code></li>', made.text)
    again = await stack.browser.get("/settings/security/recovery-codes")
    assert re.findall(r'<li class="recovery-code"><code>([^<]+)</code></li>', again.text) == codes
    assert (
        "You have 10 recovery codes left." in (await stack.browser.get("/settings/security")).text
    )
    done = await post(
        stack.browser, "/settings/security/recovery-codes", "/settings/security/recovery-codes/done"
    )
    assert done.url.path == "/settings/security"
    # Once put away, the URL shows nothing and makes nothing: back to the Security tab.
    gone = await stack.browser.get("/settings/security/recovery-codes", follow_redirects=False)
    assert (gone.status_code, gone.headers["location"]) == (303, "/settings/security")
    txt = await stack.browser.get("/settings/security/recovery-codes.txt", follow_redirects=False)
    assert txt.status_code == 303
    assert (
        "You have 10 recovery codes left." in (await stack.browser.get("/settings/security")).text
    )


async def test_sign_out_ends_the_session_and_a_copied_cookie_is_refused(stack: Stack) -> None:
    await sign_in(stack.browser)
    copied = stack.browser.cookies["portal_session"]
    await sign_out(stack.browser)
    async with stack.browser_at("http://portal.test") as thief:
        thief.cookies.set("portal_session", copied, domain="portal.test")
        response = await thief.get("/settings/security", follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/signin")


async def test_the_session_cookie_is_an_opaque_id_kept_in_redis(stack: Stack) -> None:
    response = await sign_in(stack.browser)
    cookie = response.history[0].headers["set-cookie"]
    value = stack.browser.cookies["portal_session"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", value)
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    keys = [key async for key in stack.portal_redis.scan_iter("portal:session:*")]
    assert len(keys) == 1
    assert value not in keys[0]  # keyed by a digest: the id is a secret
    ttl = await stack.portal_redis.ttl(keys[0])
    assert 30 * 60 < ttl <= 12 * 3600


async def test_a_visitor_who_has_not_signed_in_gets_a_short_session(stack: Stack) -> None:
    async with stack.browser_at("http://portal.test") as visitor:
        await visitor.get("/signin?lang=fr")
        [key] = [key async for key in stack.portal_redis.scan_iter("portal:session:*")]
        assert 0 < await stack.portal_redis.ttl(key) <= 30 * 60
        await sign_in(visitor)
        [key] = [key async for key in stack.portal_redis.scan_iter("portal:session:*")]
        assert await stack.portal_redis.ttl(key) > 30 * 60


async def test_a_two_step_change_ends_the_other_sessions(stack: Stack) -> None:
    await sign_in(stack.browser)
    async with stack.browser_at("http://portal.test") as other:
        await sign_in(other)
        assert (await other.get("/settings/security")).url.path == "/settings/security"
        await post(stack.browser, "/settings/security", "/settings/security/two-step", enabled="on")
        assert (await other.get("/", follow_redirects=False)).headers["location"] == "/signin"
    # This browser stays signed in.
    assert (await stack.browser.get("/settings/security")).url.path == "/settings/security"


async def test_turning_two_step_off_asks_first_and_wants_the_password(stack: Stack) -> None:
    await sign_in(stack.browser)
    await post(stack.browser, "/settings/security", "/settings/security/two-step", enabled="on")
    # Apply with the box cleared changes nothing yet: it leads to the confirmation page.
    asked = await post(stack.browser, "/settings/security", "/settings/security/two-step")
    assert asked.url.path == "/settings/security/confirm/two-step-off"
    assert "Turn off two-step verification?" in asked.text
    assert 'id="password"' in asked.text
    assert 'autocomplete="current-password"' in asked.text
    account = await stack.portal_client.get_account("demo-ada")
    assert account.two_step_enabled
    # Cancel is a link back: nothing happens.
    assert 'id="confirm-cancel" class="button secondary" href="/settings/security"' in asked.text

    refused = await confirm(stack.browser, "two-step-off", password="Tr0ub4dor&3")
    assert refused.status_code == 401
    assert message_of(refused.text) == "Wrong password."
    assert (await stack.portal_client.get_account("demo-ada")).two_step_enabled
    blank = await confirm(stack.browser, "two-step-off", password=None)
    assert blank.status_code == 401
    assert (await stack.portal_client.get_account("demo-ada")).two_step_enabled

    done = await confirm(stack.browser, "two-step-off")
    assert done.url.path == "/settings/security"
    assert message_of(done.text).startswith("Two-step verification is now off.")
    assert not (await stack.portal_client.get_account("demo-ada")).two_step_enabled


async def test_a_right_password_counts_for_five_minutes(stack: Stack) -> None:
    await sign_in(stack.browser)
    await confirm(stack.browser, "new-recovery-codes")
    # Within five minutes: the next one asks only for the click.
    page = (await stack.browser.get("/settings/security/confirm/new-recovery-codes")).text
    assert 'id="password"' not in page
    again = await confirm(stack.browser, "new-recovery-codes", password=None)
    assert again.url.path == "/settings/security/recovery-codes"
    stack.clock.advance(5 * 60 + 1)
    page = (await stack.browser.get("/settings/security/confirm/new-recovery-codes")).text
    assert 'id="password"' in page
    refused = await confirm(stack.browser, "new-recovery-codes", password=None)
    assert refused.status_code == 401


async def test_revoking_every_browser_asks_first_without_the_password(stack: Stack) -> None:
    await sign_in(stack.browser)
    page = (await stack.browser.get("/settings/security/confirm/revoke-all")).text
    assert "Revoke every trusted browser?" in page
    assert 'id="password"' not in page


async def test_removing_the_app_asks_first_and_wants_the_password(stack: Stack) -> None:
    await sign_in(stack.browser)
    started = await post(stack.browser, "/settings/security", "/settings/security/totp")
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', started.text)
    assert secret
    await stack.browser.post(
        "/settings/security/totp/confirm",
        data={
            "csrf_token": csrf_of(started.text),
            "code": pyotp.TOTP(secret.group(1)).at(stack.clock.now),
        },
    )
    security = (await stack.browser.get("/settings/security")).text
    assert (
        'id="totp-remove" class="button danger" href="/settings/security/confirm/remove-app"'
        in (security)
    )
    page = (await stack.browser.get("/settings/security/confirm/remove-app")).text
    assert "Remove the authenticator app?" in page
    assert 'id="password"' in page
    assert (await confirm(stack.browser, "remove-app", password="nope")).status_code == 401
    assert (await stack.portal_client.get_account("demo-ada")).totp_enabled
    removed = await confirm(stack.browser, "remove-app")
    assert message_of(removed.text) == "The authenticator app was removed."
    assert not (await stack.portal_client.get_account("demo-ada")).totp_enabled


async def test_the_actions_that_ask_first_have_no_other_way_in(stack: Stack) -> None:
    await sign_in(stack.browser)
    html = (await stack.browser.get("/settings/security")).text
    token = csrf_of(html)
    for path in (
        "/settings/security/totp/remove",
        "/settings/security/browsers/revoke-all",
        "/settings/security/recovery-codes",
    ):
        response = await stack.browser.post(path, data={"csrf_token": token})
        assert response.status_code in (404, 405), path
    unknown = await stack.browser.get("/settings/security/confirm/delete-everything")
    assert unknown.status_code == 404
    forged = await stack.browser.post(
        "/settings/security/confirm/two-step-off", data={"password": PASSWORD}
    )
    assert forged.status_code == 403  # no CSRF token


async def test_wrong_passwords_on_a_confirmation_are_throttled(stack: Stack) -> None:
    await sign_in(stack.browser)
    statuses = [
        (await confirm(stack.browser, "new-recovery-codes", password="wrong")).status_code
        for _ in range(7)
    ]
    assert statuses[:5] == [401] * 5
    assert 429 in statuses[5:]
    # Throttled, even the right password waits.
    waited = await confirm(stack.browser, "new-recovery-codes")
    assert waited.status_code == 429
    assert waited.headers["retry-after"]


async def test_a_wrong_set_up_code_keeps_the_key_and_qr_code(stack: Stack) -> None:
    await sign_in(stack.browser)
    started = await post(stack.browser, "/settings/security", "/settings/security/totp")
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', started.text)
    assert secret
    assert "<svg" in started.text
    wrong_code = await stack.browser.post(
        "/settings/security/totp/confirm",
        data={"csrf_token": csrf_of(started.text), "code": "000000"},
    )
    assert message_of(wrong_code.text).startswith("That code is not right.")
    assert f'<code id="totp-secret">{secret.group(1)}</code>' in wrong_code.text
    assert "<svg" in wrong_code.text
    right = await stack.browser.post(
        "/settings/security/totp/confirm",
        data={
            "csrf_token": csrf_of(started.text),
            "code": pyotp.TOTP(secret.group(1)).at(stack.clock.now),
        },
    )
    assert message_of(right.text) == "Your authenticator app is set up."
    assert 'id="totp-secret"' not in right.text


async def test_this_browser_is_marked_and_every_browser_shows_its_expiry(stack: Stack) -> None:
    await enable_two_step(stack.browser)
    async with stack.browser_at("http://portal.test") as other:
        await sign_in(other)
        code = code_of(stack.mail.codes[-1])
        await post(other, "/two-step", "/two-step", code=code, remember_browser="on")
        await sign_out(other)
    await sign_in(stack.browser)
    await verify(stack, remember=True)
    page = (await stack.browser.get("/settings/security")).text
    assert page.count("data-browser-id") == 2
    assert page.count('class="badge this-browser"') == 1
    mine = stack.browser.cookies["twostep_tb"].partition(".")[0]
    row = re.search(rf'<tr data-browser-id="{mine}">(.*?)</tr>', page, re.S)
    assert row
    assert "This browser" in row.group(1)
    assert page.count('<th scope="col">Expires</th>') == 1
    expiries = re.findall(r"<td><time datetime=\"[^\"]+\">([^<]+ UTC)</time></td>", page)
    assert len(expiries) == 4  # last used and expires, for each browser


async def test_no_recovery_codes_says_so_instead_of_zero_left(stack: Stack) -> None:
    await sign_in(stack.browser)
    page = (await stack.browser.get("/settings/security")).text
    assert "You have no recovery codes." in page
    assert "0 recovery" not in page
    assert ">Make recovery codes</a>" in page


async def test_the_apply_warning_shows_only_once_the_box_changes(stack: Stack) -> None:
    await sign_in(stack.browser)
    page = (await stack.browser.get("/settings/security")).text
    assert '<p id="apply-warning" class="warning" hidden>' in page


async def test_an_app_user_whose_email_cap_is_spent_is_told_to_use_the_app(stack: Stack) -> None:
    await sign_in(stack.browser)
    await post(stack.browser, "/settings/security", "/settings/security/two-step", enabled="on")
    started = await post(stack.browser, "/settings/security", "/settings/security/totp")
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', started.text)
    assert secret
    await stack.browser.post(
        "/settings/security/totp/confirm",
        data={
            "csrf_token": csrf_of(started.text),
            "code": pyotp.TOTP(secret.group(1)).at(stack.clock.now),
        },
    )
    await sign_out(stack.browser)
    # Ten emailed codes this hour (the cap), asked for straight from the API.
    for _ in range(10):
        await stack.portal_client.start_login("demo-ada", method="email")
    assert len(stack.mail.codes) == 10
    page = await sign_in(stack.browser)
    assert page.url.path == "/two-step"
    assert "We cannot email you a code for now (try again in 60 min)." in page.text
    assert 'id="email-instead"' not in page.text
    assert 'id="use-recovery"' not in page.text  # none made
    stack.clock.advance(30)
    assert (
        await verify(stack, code=pyotp.TOTP(secret.group(1)).at(stack.clock.now))
    ).url.path == "/"


async def test_the_browser_time_zone_given_at_sign_in_is_saved_to_the_account(
    stack: Stack,
) -> None:
    html = (await stack.browser.get("/signin")).text
    assert 'id="time_zone" name="time_zone" type="hidden"' in html
    await stack.browser.post(
        "/signin",
        data={"csrf_token": csrf_of(html), "email": "ada@example.com", "password": PASSWORD,
              "time_zone": "Europe/Paris"},
    )  # fmt: skip
    account = await stack.portal_client.get_account("demo-ada")
    assert account.time_zone == "Europe/Paris"
    await sign_out(stack.browser)
    html = (await stack.browser.get("/signin")).text
    await stack.browser.post(
        "/signin",
        data={"csrf_token": csrf_of(html), "email": "ada@example.com", "password": PASSWORD,
              "time_zone": "Mars/Olympus_Mons"},
    )  # fmt: skip
    again = await stack.portal_client.get_account("demo-ada")
    assert again.time_zone == "Europe/Paris"  # an unknown zone is not sent


async def change_password(
    browser: httpx.AsyncClient, current: str, new: str, again: str | None = None
) -> httpx.Response:
    return await post(
        browser, "/settings/password", "/settings/password", current_password=current,
        new_password=new, new_password_again=new if again is None else again,
    )  # fmt: skip


async def test_a_password_change_ends_every_other_session_and_the_old_password(
    stack: Stack,
) -> None:
    new = "a brand new passphrase"
    async with stack.browser_at("http://portal.test") as other:
        await sign_in(other)
        await sign_in(stack.browser)
        page = (await stack.browser.get("/settings/security")).text
        assert 'href="/settings/password"' in page
        before = stack.browser.cookies["portal_session"]
        changed = await change_password(stack.browser, PASSWORD, new)
        assert changed.url.path == "/settings/security"
        assert message_of(changed.text) == (
            "Your password was changed. Every other session was signed out."
        )
        assert stack.browser.cookies["portal_session"] != before  # a new session id
        assert (await other.get("/", follow_redirects=False)).headers["location"] == "/signin"
    assert (await stack.browser.get("/settings/security")).url.path == "/settings/security"
    await sign_out(stack.browser)
    assert (await sign_in(stack.browser)).status_code == 401  # the old one
    assert (await sign_in(stack.browser, new)).url.path == "/"
    # Confirmations ask for the new one too.
    assert (
        await confirm(stack.browser, "new-recovery-codes", password=PASSWORD)
    ).status_code == 401
    assert (await confirm(stack.browser, "new-recovery-codes", password=new)).url.path.endswith(
        "/recovery-codes"
    )


@pytest.mark.parametrize(
    ("current", "new", "again", "status", "message"),
    [
        ("wrong password", "a brand new passphrase", None, 401, "Wrong password."),
        (PASSWORD, "short", None, 422, "The new password needs at least 10 characters."),
        (PASSWORD, "a brand new passphrase", "another one", 422, "The two new passwords differ."),
        (PASSWORD, PASSWORD, None, 422, "The new password is the one you have now."),
        (PASSWORD, "x" * 1025, None, 422, "The new password can have at most 1024 characters."),
    ],
    ids=["wrong-current", "too-short", "mismatch", "same", "too-long"],
)
async def test_a_password_change_refused_says_why_and_changes_nothing(
    stack: Stack, current: str, new: str, again: str | None, status: int, message: str
) -> None:
    await sign_in(stack.browser)
    refused = await change_password(stack.browser, current, new, again)
    assert refused.status_code == status
    assert message_of(refused.text) == message
    await sign_out(stack.browser)
    assert (await sign_in(stack.browser)).url.path == "/"


async def test_wrong_passwords_are_throttled_per_account_with_a_growing_wait(
    stack: Stack,
) -> None:
    statuses = [(await sign_in(stack.browser, "wrong")).status_code for _ in range(8)]
    assert statuses[:6] == [401] * 6
    assert statuses[6:] == [429, 429]
    refused = await sign_in(stack.browser)  # even the right password waits its turn
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert message_of(refused.text) == "Too many sign-in attempts. Try again in 1 s."
    stack.clock.advance(1)
    assert (await sign_in(stack.browser, "wrong")).status_code == 401
    twice = await sign_in(stack.browser)
    assert twice.headers["retry-after"] == "2"  # the wait doubles
    stack.clock.advance(2)
    assert (await sign_in(stack.browser)).url.path == "/"
    await sign_out(stack.browser)
    # Success starts the count again.
    assert [(await sign_in(stack.browser, "wrong")).status_code for _ in range(6)] == [401] * 6


@pytest.mark.parametrize(
    "stack",
    [{"throttle_free_per_account": 2, "throttle_longest_wait_seconds": 3}],
    indirect=True,
)
async def test_the_throttle_limits_are_settings(stack: Stack) -> None:
    statuses = [(await sign_in(stack.browser, "wrong")).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]  # 2 free, then a wait of 1 s
    waits = []
    for _ in range(4):
        stack.clock.advance(10)
        await sign_in(stack.browser, "wrong")
        waits.append((await sign_in(stack.browser, "wrong")).headers["retry-after"])
    assert waits == ["2", "3", "3", "3"]  # doubling, up to the longest wait


async def test_wrong_passwords_from_one_address_are_throttled_across_accounts(
    stack: Stack,
) -> None:
    html = (await stack.browser.get("/signin")).text
    statuses = []
    for number in range(22):
        response = await stack.browser.post(
            "/signin",
            data={
                "csrf_token": csrf_of(html),
                "email": f"user{number}@example.com",
                "password": "guess",
            },
        )
        statuses.append(response.status_code)
    assert statuses[:21] == [401] * 21
    assert statuses[21] == 429


async def test_the_throttle_message_is_translated(stack: Stack) -> None:
    await stack.browser.get("/signin?lang=fr")
    for _ in range(7):
        response = await sign_in(stack.browser, "wrong")
    assert response.status_code == 429
    assert message_of(response.text) == "Trop de tentatives de connexion. Réessayez dans 1 s."


async def test_the_language_chosen_is_saved_to_the_account(stack: Stack) -> None:
    await enable_two_step(stack.browser)
    await stack.browser.get("/signin?lang=fr")
    await sign_in(stack.browser)
    await verify(stack)
    account = await stack.portal_client.get_account("demo-ada")
    assert account.locale == "fr"
    await stack.browser.get("/settings/security?lang=es")
    assert (await stack.portal_client.get_account("demo-ada")).locale == "es"
    await sign_out(stack.browser)
    # Another browser, in English: the account keeps Spanish, and so do the pages.
    async with stack.browser_at("http://portal.test") as other:
        page = await sign_in(other)
        assert '<html lang="es">' in page.text
        assert (await stack.portal_client.get_account("demo-ada")).locale == "es"


async def test_the_language_chosen_stays_after_a_lock(stack: Stack) -> None:
    await enable_two_step(stack.browser)
    await sign_in(stack.browser)
    await stack.browser.get("/two-step?lang=es")
    code = code_of(stack.mail.codes[-1])
    for _ in range(5):
        response = await verify(stack, code=wrong(code))
    assert response.url.path == "/signin"
    assert '<html lang="es">' in response.text


async def test_twostep_down_shows_a_friendly_page(caplog: pytest.LogCaptureFixture) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    own = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), decode_responses=True)
    portal = create_app(portal_settings(), twostep_transport=httpx.MockTransport(refuse), redis=own)
    transport = httpx.ASGITransport(app=portal)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://portal.test", follow_redirects=True
    ) as browser:
        with caplog.at_level(logging.INFO):
            response = await sign_in(browser)
    await portal.state.portal.twostep.aclose()
    await own.aclose()
    assert response.status_code == 503
    assert "Two-step service unavailable, try again" in response.text
    assert "Traceback" not in response.text
    # The client's message: the call, what went wrong, and the request id for twostep's logs.
    assert "twostep failed: PUT http://twostep.test/v1/accounts/demo-ada" in caplog.text
    assert "ConnectError" in caplog.text
    assert "request id " in caplog.text
    assert PASSWORD not in caplog.text
    assert API_KEY not in caplog.text


def test_every_locale_has_every_string() -> None:
    assert set(CATALOGUE["fr"]) == set(CATALOGUE["en"])
    assert set(CATALOGUE["es"]) == set(CATALOGUE["en"])


def test_accept_language_picks_the_best_supported() -> None:
    assert negotiate("de, es;q=0.8, fr;q=0.9") == "fr"
    assert negotiate("pt-BR, en-GB;q=0.1") == "en"
    assert negotiate("fr;q=0, de") is None
    assert negotiate(None) is None


def test_password_hashes() -> None:
    encoded = hash_password("s3cret")
    assert encoded.startswith("scrypt$16384$8$1$")
    assert verify_password("s3cret", encoded)
    assert not verify_password("s3cret!", encoded)
    assert not verify_password("anything", None)
    assert verify_password(PASSWORD, DEMO_PASSWORD_HASH)


def test_settings_come_from_portal_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    users = (
        '[{"email": "Grace@Example.com", "password_hash": "' + DEMO_PASSWORD_HASH + '",'
        ' "locale": "fr", "account_id": "u-7", "name": "Grace Hopper"}]'
    )
    monkeypatch.setenv("PORTAL_TWOSTEP_API_KEY", API_KEY)
    monkeypatch.setenv("PORTAL_SESSION_SECRET", SESSION_SECRET)
    monkeypatch.setenv("PORTAL_USERS", users)
    monkeypatch.setenv("PORTAL_SECURE_COOKIES", "auto")
    monkeypatch.setenv("PORTAL_THROTTLE_FREE_PER_IP", "50")
    settings = PortalSettings()
    assert settings.throttle_free_per_ip == 50
    assert settings.twostep_url == "http://127.0.0.1:8080"
    assert settings.secure_cookies is None
    user = settings.user_by_email(" grace@example.COM ")
    assert user is not None
    assert (user.account_id, user.locale) == ("u-7", "fr")

    monkeypatch.setenv("PORTAL_SECURE_COOKIES", "true")
    assert PortalSettings().secure_cookies is True


def test_defaults_hold_the_demo_user_and_a_short_secret_is_refused() -> None:
    settings = portal_settings()
    ada = settings.user_by_email("ada@example.com")
    assert ada is not None
    assert (ada.name, ada.account_id, ada.locale) == ("Ada Lovelace", "demo-ada", "en")
    with pytest.raises(ValueError, match="at least 32"):
        PortalSettings(twostep_api_key=API_KEY, session_secret="too-short")
