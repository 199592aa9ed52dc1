"""The reference portal in a real browser (Debian's Chromium driven by Playwright), against the
portal, the API and a worker started as processes, with a real SMTP server catching the mail.

Each screen is saved as a screenshot under ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
import redis as redis_client
from playwright.sync_api import Browser, Page, expect

from examples.portal.keys import throttle_ip
from tests.browser.chromium import PASSWORD, codes_mailed, next_code, sign_in, sign_out
from tests.processes import (
    ROOT,
    RedisServer,
    free_port,
    service_env,
    start_api,
    start_portal,
    start_worker,
)
from tests.smtpserver import MailCatcher

pytestmark = pytest.mark.integration

SHOTS = ROOT / "test-artifacts" / "screenshots"
NAMES = ["ada", "bob", "cy", "di", "eve", "fay", "gus", "hal", "ivy", "jo", "kim"]


@dataclass
class Stack:
    portal: str
    catcher: MailCatcher
    portal_redis_url: str


@pytest.fixture(scope="module")
def stack(log_dir: Path) -> Iterator[Stack]:
    logs = log_dir / "browser"
    redis = RedisServer(logs)
    catcher = MailCatcher().start()
    env = service_env(
        redis_url=redis.url(0),
        broker_url=redis.url(1),
        smtp_host=catcher.host,
        smtp_port=catcher.port,
        resend_cooldown_seconds=3,  # the countdown test waits for it in real time
    )
    worker = start_worker(env, logs, "worker-browser")
    api, api_url = start_api(env, logs)
    port = free_port()
    portal = start_portal(env, logs, api_url, redis.url(2), NAMES, "browser-", port)
    yield Stack(f"http://127.0.0.1:{port}", catcher, redis.url(2))
    for process in (portal, api, worker):
        process.stop()
    catcher.stop()
    redis.stop()


@pytest.fixture(scope="module", autouse=True)
def fresh_shots() -> None:
    """This module's screenshots, the last run's removed; other folders below are other
    modules' (passkeys/)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()


@pytest.fixture
def page(browser: Browser, stack: Stack) -> Iterator[Page]:
    """A new browser profile: no cookies, so no session and no trusted browser."""
    context = browser.new_context(base_url=stack.portal, locale="en-GB")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def subjects_mailed(catcher: MailCatcher, to: str) -> list[str]:
    return [str(mail["Subject"]) for mail in list(catcher.messages) if mail["To"] == to]


def set_two_step(page: Page, enabled: bool) -> None:
    page.goto("/settings/security")
    checkbox = page.locator("#enabled")
    if enabled:
        checkbox.check()
    else:
        checkbox.uncheck()
    page.click("#apply")
    if not enabled:  # off asks first, and for the password unless given a moment ago
        expect(page).to_have_url(re.compile(r"/settings/security/confirm/two-step-off$"))
        if page.locator("#password").count():
            page.fill("#password", PASSWORD)
        page.click("#confirm")
    expect(page.locator("#enabled")).to_be_checked(checked=enabled)


def enter_code(page: Page, code: str, remember: bool = False) -> None:
    page.fill("#code", code)
    if remember:
        page.check("#remember_browser")
    page.click("#login")


def test_code_by_email_then_trusted_browser_then_revoked(page: Page, stack: Stack) -> None:
    sign_in(page, "ada")
    shot(page, "01-signed-in-without-two-step")
    set_two_step(page, True)
    shot(page, "02-security-tab-two-step-on")
    sign_out(page)
    shot(page, "03-sign-in")

    sign_in(page, "ada")
    expect(page.locator("#code")).to_be_visible()
    expect(page.locator("body")).to_contain_text("a**@example.com")
    expect(page.locator("#code")).to_have_attribute("inputmode", "numeric")
    expect(page.locator("#code")).to_have_attribute("autocomplete", "one-time-code")
    shot(page, "04-two-step-code")
    code = next_code(stack.catcher, "ada@example.com", 0)
    enter_code(page, code, remember=True)
    expect(page.locator("#whoami")).to_contain_text("ada@example.com")
    shot(page, "05-signed-in-after-code")
    cookie = next(c for c in page.context.cookies() if c["name"] == "twostep_tb")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"

    sign_out(page)
    sign_in(page, "ada")
    expect(page.locator("#whoami")).to_be_visible()  # no code asked on this browser
    assert len(codes_mailed(stack.catcher, "ada@example.com")) == 1

    page.goto("/settings/security")
    rows = page.locator("[data-browser-id]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Chrome on Linux")
    shot(page, "06-security-tab-trusted-browser")
    expect(rows.first.locator(".this-browser")).to_be_visible()
    rows.first.locator(".revoke").click()
    expect(page.locator("[data-browser-id]")).to_have_count(0)

    sign_out(page)
    sign_in(page, "ada")
    expect(page.locator("#code")).to_be_visible()  # asked again after the revoke
    next_code(stack.catcher, "ada@example.com", 1)


def test_resend_waits_for_the_countdown_and_kills_the_old_code(page: Page, stack: Stack) -> None:
    sign_in(page, "bob")
    set_two_step(page, True)
    sign_out(page)
    sign_in(page, "bob")
    resend = page.locator("#resend")
    expect(resend).to_be_disabled()
    expect(page.locator("#resend-countdown")).to_be_visible()
    shot(page, "07-resend-countdown")
    old = next_code(stack.catcher, "bob@example.com", 0)
    expect(resend).to_be_enabled(timeout=10_000)  # the live countdown ran out
    resend.click()
    new = next_code(stack.catcher, "bob@example.com", 1)
    expect(page.locator("#resend")).to_be_disabled()  # a new, longer countdown

    if old != new:
        enter_code(page, old)
        expect(page.locator("#message")).to_contain_text("4")
        shot(page, "08-wrong-code-tries-left")
    enter_code(page, new)
    expect(page.locator("#whoami")).to_contain_text("bob@example.com")


def test_wrong_code_shows_the_tries_left(page: Page, stack: Stack) -> None:
    sign_in(page, "cy")
    set_two_step(page, True)
    sign_out(page)
    sign_in(page, "cy")
    code = next_code(stack.catcher, "cy@example.com", 0)
    wrong = "000000" if code != "000000" else "111111"
    enter_code(page, wrong)
    expect(page.locator("#message")).to_contain_text("4")
    enter_code(page, wrong)
    expect(page.locator("#message")).to_contain_text("3")
    enter_code(page, code)
    expect(page.locator("#whoami")).to_be_visible()

    set_two_step(page, False)  # the checkbox, then Apply
    shot(page, "09-security-tab-two-step-off")
    sign_out(page)
    sign_in(page, "cy")
    expect(page.locator("#whoami")).to_be_visible()  # no second step any more
    assert len(codes_mailed(stack.catcher, "cy@example.com")) == 1


def test_authenticator_app_enrolment_and_sign_in(page: Page, stack: Stack) -> None:
    sign_in(page, "di")
    set_two_step(page, True)
    page.click("#totp-start")
    secret = page.locator("#totp-secret").inner_text().strip()
    expect(page.locator(".qr svg")).to_be_visible()
    shot(page, "10-totp-set-up")
    totp = pyotp.TOTP(secret)
    page.fill("#code", totp.now())
    page.click("#totp-confirm")
    expect(page.locator("#totp-remove")).to_be_visible()
    shot(page, "11-totp-on")

    sign_out(page)
    sign_in(page, "di")
    # The app comes first: no email unless the user asks for one.
    expect(page.locator("#email-instead")).to_be_visible()
    shot(page, "12-two-step-with-app")
    assert codes_mailed(stack.catcher, "di@example.com") == []
    # The confirming code is spent: use the next step's, which the window accepts.
    enter_code(page, totp.at(time.time() + 30))
    expect(page.locator("#whoami")).to_contain_text("di@example.com")


def test_the_language_chosen_is_the_language_of_the_next_email(page: Page, stack: Stack) -> None:
    sign_in(page, "eve")
    set_two_step(page, True)
    page.click("a[hreflang=fr]")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    sign_out(page)
    expect(page.locator("html")).to_have_attribute("lang", "fr")  # kept through the redirect
    sign_in(page, "eve")
    expect(page.locator("#code")).to_be_visible()
    next_code(stack.catcher, "eve@example.com", 0)
    french = "Votre code de vérification twostep"
    assert subjects_mailed(stack.catcher, "eve@example.com")[-1] == french
    shot(page, "13-two-step-in-french")

    page.click("a[hreflang=es]")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("#resend")).to_be_enabled(timeout=10_000)
    page.click("#resend")
    code = next_code(stack.catcher, "eve@example.com", 1)
    spanish = "Su código de verificación de twostep"
    assert subjects_mailed(stack.catcher, "eve@example.com")[-1] == spanish
    enter_code(page, code)
    expect(page.locator("#whoami")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "es")


def test_refreshing_the_recovery_codes_page_keeps_the_set(page: Page, stack: Stack) -> None:
    sign_in(page, "fay")
    page.goto("/settings/security")
    expect(page.locator("#recovery-remaining")).to_have_text("You have no recovery codes.")
    page.click("#recovery-new")
    page.fill("#password", PASSWORD)
    page.click("#confirm")
    expect(page).to_have_url(re.compile(r"/settings/security/recovery-codes$"))
    codes = page.locator(".recovery-code").all_inner_texts()
    assert len(codes) == 10
    shot(page, "14-recovery-codes-en")
    page.reload()
    assert page.locator(".recovery-code").all_inner_texts() == codes
    for lang in ("fr", "es"):
        page.click(f"a[hreflang={lang}]")
        assert page.locator(".recovery-code").all_inner_texts() == codes
        shot(page, f"14-recovery-codes-{lang}")
    page.click("a[hreflang=en]")
    with page.expect_download() as download:
        page.click("#recovery-download")
    assert download.value.suggested_filename == "recovery-codes.txt"
    saved = Path(download.value.path()).read_text()
    assert all(code in saved for code in codes)
    page.click("#recovery-done")
    expect(page).to_have_url(re.compile(r"/settings/security$"))
    expect(page.locator("#recovery-remaining")).to_contain_text("10")
    page.go_back()  # the codes page again: a GET, now put away, so back to the Security tab
    expect(page).to_have_url(re.compile(r"/settings/security$"))


def test_a_cookie_copied_before_sign_out_is_refused(
    browser: Browser, page: Page, stack: Stack
) -> None:
    sign_in(page, "gus")
    expect(page.locator("#whoami")).to_be_visible()
    copied = [c for c in page.context.cookies() if c["name"] == "portal_session"]
    assert len(copied) == 1
    assert copied[0]["httpOnly"] is True
    assert copied[0]["sameSite"] == "Lax"
    sign_out(page)
    thief = browser.new_context(base_url=stack.portal)
    try:
        thief.add_cookies(copied)  # type: ignore[arg-type]
        stolen = thief.new_page()
        stolen.goto("/settings/security")
        expect(stolen).to_have_url(re.compile(r"/signin$"))
        expect(stolen.locator("#sign-in")).to_be_visible()
    finally:
        thief.close()


CONFIRM_TEXT = {
    "en": ("Turn off two-step verification?", "Wrong password."),
    "fr": ("Désactiver la vérification en deux étapes ?", "Mot de passe incorrect."),
    "es": ("¿Desactivar la verificación en dos pasos?", "Contraseña incorrecta."),
}


def test_what_cannot_be_undone_asks_first_and_for_the_password(page: Page, stack: Stack) -> None:
    sign_in(page, "hal")
    set_two_step(page, True)
    page.goto("/settings/security")
    warning = page.locator("#apply-warning")
    expect(warning).to_be_hidden()
    page.locator("#enabled").uncheck()
    expect(warning).to_be_visible()  # only once the box differs from what is saved
    shot(page, "16-apply-warning")
    page.locator("#enabled").check()
    expect(warning).to_be_hidden()

    for lang in ("en", "fr", "es"):
        page.goto(f"/settings/security?lang={lang}")
        page.locator("#enabled").uncheck()
        page.click("#apply")
        title, wrong_password = CONFIRM_TEXT[lang]
        expect(page.locator("h1")).to_have_text(title)
        expect(page.locator("#password")).to_be_visible()
        shot(page, f"17-confirm-two-step-off-{lang}")
        page.fill("#password", "not my password")
        page.click("#confirm")
        expect(page.locator("#message")).to_have_text(wrong_password)
        shot(page, f"18-confirm-wrong-password-{lang}")
        page.click("#confirm-cancel")
        expect(page.locator("#enabled")).to_be_checked()  # nothing changed

    page.goto("/settings/security?lang=en")
    page.locator("#enabled").uncheck()
    page.click("#apply")
    page.fill("#password", PASSWORD)
    page.click("#confirm")
    expect(page.locator("#message")).to_contain_text("Two-step verification is now off.")
    expect(page.locator("#enabled")).not_to_be_checked()

    # The password counts for a few minutes: the next one asks only for the click.
    page.click("#recovery-new")
    expect(page.locator("h1")).to_have_text("Make a new set of recovery codes?")
    expect(page.locator("#password")).to_have_count(0)
    shot(page, "19-confirm-without-password")
    page.click("#confirm-cancel")
    expect(page.locator("#recovery-remaining")).to_have_text("You have no recovery codes.")


def test_a_wrong_set_up_code_keeps_the_qr_code_and_removing_the_app_asks(
    page: Page, stack: Stack
) -> None:
    sign_in(page, "ivy")
    page.goto("/settings/security")
    page.click("#totp-start")
    secret = page.locator("#totp-secret").inner_text().strip()
    page.fill("#code", "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    page.click("#totp-confirm")
    expect(page.locator("#message")).to_contain_text("That code is not right.")
    expect(page.locator(".qr svg")).to_be_visible()
    expect(page.locator("#totp-secret")).to_have_text(secret)
    shot(page, "20-totp-wrong-code-keeps-qr")
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("#totp-confirm")
    expect(page.locator("#totp-remove")).to_be_visible()

    page.click("#totp-remove")
    expect(page.locator("h1")).to_have_text("Remove the authenticator app?")
    page.fill("#password", PASSWORD)
    shot(page, "21-confirm-remove-app")
    page.click("#confirm")
    expect(page.locator("#message")).to_have_text("The authenticator app was removed.")
    expect(page.locator("#totp-remove")).to_have_count(0)


def test_a_password_change_signs_out_the_other_browser(
    browser: Browser, page: Page, stack: Stack
) -> None:
    other = browser.new_context(base_url=stack.portal)
    try:
        elsewhere = other.new_page()
        sign_in(elsewhere, "jo")
        expect(elsewhere.locator("#whoami")).to_be_visible()
        sign_in(page, "jo")
        page.goto("/settings/security")
        page.click("#password-change")
        for lang, title in (("fr", "Changer de mot de passe"), ("es", "Cambiar la contraseña")):
            page.click(f"a[hreflang={lang}]")
            expect(page.locator("h1")).to_have_text(title)
            shot(page, f"22-password-{lang}")
        page.click("a[hreflang=en]")
        page.fill("#current_password", PASSWORD)
        page.fill("#new_password", "short")
        page.fill("#new_password_again", "short")
        # The browser itself holds the form back: the field asks for 10 characters.
        assert page.locator("#new_password").evaluate("e => e.validity.tooShort")
        page.fill("#new_password", "a brand new passphrase")
        page.fill("#new_password_again", "a brand new passphrase")
        shot(page, "22-password-en")
        page.click("#password-save")
        expect(page.locator("#message")).to_have_text(
            "Your password was changed. Every other session was signed out."
        )
        elsewhere.goto("/settings/security")
        expect(elsewhere).to_have_url(re.compile(r"/signin$"))
    finally:
        other.close()
    sign_out(page)
    page.fill("#email", "jo@example.com")
    page.fill("#password", "a brand new passphrase")
    page.click("#sign-in")
    expect(page.locator("#whoami")).to_contain_text("jo@example.com")


def test_an_app_user_signs_in_twenty_times_without_an_email(page: Page, stack: Stack) -> None:
    # The lock-out the review met: each sign-in mailed a code until the hourly cap refused.
    sign_in(page, "kim")
    set_two_step(page, True)
    page.click("#totp-start")
    totp = pyotp.TOTP(page.locator("#totp-secret").inner_text().strip())
    page.fill("#code", totp.now())
    page.click("#totp-confirm")
    expect(page.locator("#totp-remove")).to_be_visible()
    sign_out(page)
    for _ in range(20):
        sign_in(page, "kim")
        expect(page.locator("#email-instead")).to_be_visible()  # the app is asked for
        expect(page.locator("#message")).to_have_count(0)  # no send_limit, no error
        page.click("#cancel")
        expect(page.locator("#sign-in")).to_be_visible()
    assert codes_mailed(stack.catcher, "kim@example.com") == []
    sign_in(page, "kim")
    shot(page, "23-twenty-first-sign-in-with-app")
    enter_code(page, totp.at(time.time() + 30))
    expect(page.locator("#whoami")).to_contain_text("kim@example.com")


def test_wrong_passwords_are_throttled_in_every_language(page: Page, stack: Stack) -> None:
    # Unknown addresses: throttled like real ones, and nobody else is locked out by this test.
    try:
        for lang in ("en", "fr", "es"):
            page.goto(f"/signin?lang={lang}")
            for _ in range(7):
                page.fill("#email", f"nobody-{lang}@example.com")
                page.fill("#password", "wrong")
                page.click("#sign-in")
            expect(page.locator("#message")).to_contain_text(" 1 s")
            shot(page, f"15-sign-in-throttled-{lang}")
    finally:
        # Every test signs in from 127.0.0.1: give the address its free attempts back.
        with redis_client.Redis.from_url(stack.portal_redis_url) as portal_redis:
            portal_redis.delete(throttle_ip("127.0.0.1"))
