"""Security keys and passkeys in a real browser: Debian's Chromium driven by Playwright, with
Chromium's virtual authenticators (the DevTools WebAuthn domain) standing in for a phone's or a
laptop's passkey and for a USB security key, against the portal, the API and a worker started
as processes, with a real SMTP server catching the mail.

The portal is opened at http://localhost:<port>, never at 127.0.0.1: WebAuthn refuses an IP
address, and the API's TWOSTEP_WEBAUTHN_ORIGINS names that origin (as ``make run`` sets it).
Each screen is saved under ``test-artifacts/screenshots/passkeys/``.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, CDPSession, Page, expect

from examples.portal.catalogue import CATALOGUE
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

SHOTS = ROOT / "test-artifacts" / "screenshots" / "passkeys"
NAMES = ["ada", "bob", "cy", "di", "eve", "fay"]
# What static/passkeys.js would find missing in an older browser: the page then converts
# base64url by hand. One language's run goes without them.
WITHOUT_LEVEL_3_JSON = """
delete PublicKeyCredential.parseCreationOptionsFromJSON;
delete PublicKeyCredential.parseRequestOptionsFromJSON;
delete PublicKeyCredential.prototype.toJSON;
"""


@dataclass
class Stack:
    portal: str  # http://localhost:<port>: what WebAuthn takes
    bound: str  # http://127.0.0.1:<port>: the same server, by the address it listens on
    catcher: MailCatcher


@pytest.fixture(scope="module")
def stack(log_dir: Path) -> Iterator[Stack]:
    logs = log_dir / "browser-passkeys"
    redis = RedisServer(logs)
    catcher = MailCatcher().start()
    port = free_port()
    origin = f"http://localhost:{port}"
    env = service_env(
        redis_url=redis.url(0),
        broker_url=redis.url(1),
        smtp_host=catcher.host,
        smtp_port=catcher.port,
        webauthn_rp_id="localhost",
        webauthn_origins=origin,
    )
    worker = start_worker(env, logs, "worker-passkeys")
    api, api_url = start_api(env, logs)
    portal = start_portal(env, logs, api_url, redis.url(2), NAMES, "passkeys-", port)
    yield Stack(origin, f"http://127.0.0.1:{port}", catcher)
    for process in (portal, api, worker):
        process.stop()
    catcher.stop()
    redis.stop()


@pytest.fixture(scope="module", autouse=True)
def fresh_shots() -> None:
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def page(browser: Browser, stack: Stack) -> Iterator[Page]:
    """A new browser profile at http://localhost:<port>: no cookies, no authenticator."""
    context = browser.new_context(base_url=stack.portal, locale="en-GB")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


class Authenticators:
    """Chromium's virtual authenticators for one page (DevTools: the WebAuthn domain). Each
    answers at once, as if touched (``automaticPresenceSimulation``), and verifies its user."""

    def __init__(self, page: Page) -> None:
        self.cdp: CDPSession = page.context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable", {"enableUI": False})

    def add(self, transport: str) -> str:
        """A passkey of this device ("internal") or a security key ("usb"); its id."""
        options = {
            "protocol": "ctap2",
            "transport": transport,
            "hasResidentKey": True,
            "hasUserVerification": True,
            "isUserVerified": True,
            "automaticPresenceSimulation": True,
        }
        added = self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
        return str(added["authenticatorId"])

    def remove(self, authenticator_id: str) -> None:
        self.cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": authenticator_id})

    def credentials(self, authenticator_id: str) -> list[dict[str, Any]]:
        found = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
        return list(found["credentials"])

    def touched(self, authenticator_id: str, automatically: bool) -> None:
        """Off: the authenticator waits to be touched, so the browser's prompt stays open."""
        self.cdp.send(
            "WebAuthn.setAutomaticPresenceSimulation",
            {"authenticatorId": authenticator_id, "enabled": automatically},
        )


def said(lang: str, key: str, **params: object) -> str:
    return CATALOGUE[lang][key].format(**params)


def turn_two_step_on(page: Page) -> None:
    page.goto("/settings/security")
    page.locator("#enabled").check()
    page.click("#apply")
    expect(page.locator("#enabled")).to_be_checked()


def add_key(page: Page, name: str) -> None:
    page.goto("/settings/security")
    page.fill("#key-name", name)
    page.click("#key-add")


def key_rows(page: Page) -> Any:
    return page.locator("#key-list [data-key-id]")


def test_a_passkey_is_added_used_remembered_and_removed(page: Page, stack: Stack) -> None:
    # Password and an emailed code, as before any key.
    sign_in(page, "ada")
    turn_two_step_on(page)
    sign_out(page)
    sign_in(page, "ada")
    page.fill("#code", next_code(stack.catcher, "ada@example.com", 0))
    page.click("#login")
    expect(page.locator("#whoami")).to_contain_text("ada@example.com")

    authenticators = Authenticators(page)
    laptop = authenticators.add("internal")
    page.goto("/settings/security")
    expect(page.locator("#keys-none")).to_have_text("No security keys or passkeys yet.")
    page.fill("#key-name", "Laptop passkey")
    shot(page, "01-security-tab-no-key-yet")
    page.click("#key-add")
    # The page asks the browser, the authenticator answers, the answer is posted: one click.
    expect(page.locator("#message")).to_have_text(
        "“Laptop passkey” was added. You can sign in with it from now on."
    )
    expect(key_rows(page)).to_have_count(1)
    expect(key_rows(page).first.locator(".key-name")).to_have_text("Laptop passkey")
    expect(key_rows(page).first.locator(".key-last-used")).to_have_text("Not used yet")
    shot(page, "02-passkey-added")
    [credential] = authenticators.credentials(laptop)
    assert credential["isResidentCredential"] is True  # a passkey: discoverable
    assert credential["rpId"] == "localhost"

    # The same authenticator again: the browser knows it is one of the account's keys.
    add_key(page, "Laptop passkey again")
    expect(page.locator("#key-error")).to_have_text("This key is already added to your account.")
    shot(page, "03-same-key-again-refused")
    page.click("#key-cancel")
    expect(page.locator("#key-add")).to_be_visible()
    expect(key_rows(page)).to_have_count(1)

    sign_out(page)
    sign_in(page, "ada")
    expect(page.locator("#code")).to_be_visible()  # the code first, as the account prefers
    expect(page.locator("#use-key")).to_have_text("Use your security key or passkey")
    shot(page, "04-two-step-offers-the-key")
    page.click("#use-key")
    expect(page.locator("#whoami")).to_contain_text("ada@example.com")
    page.goto("/settings/security")
    expect(key_rows(page).first.locator(".key-last-used")).to_contain_text("UTC")

    # "Don't ask again on this browser", with the key.
    sign_out(page)
    sign_in(page, "ada")
    page.check("#remember_browser")
    page.click("#use-key")
    expect(page.locator("#whoami")).to_be_visible()
    trusted = next(c for c in page.context.cookies() if c["name"] == "twostep_tb")
    assert trusted["httpOnly"] is True
    mailed = len(codes_mailed(stack.catcher, "ada@example.com"))
    sign_out(page)
    sign_in(page, "ada")
    expect(page.locator("#whoami")).to_be_visible()  # nothing asked
    assert len(codes_mailed(stack.catcher, "ada@example.com")) == mailed

    # Removing it asks first, and for the password.
    page.goto("/settings/security")
    key_rows(page).first.locator(".key-remove").click()
    expect(page.locator("h1")).to_have_text("Remove “Laptop passkey”?")
    page.fill("#password", PASSWORD)
    shot(page, "05-confirm-remove-key")
    page.click("#confirm")
    expect(page.locator("#message")).to_have_text(
        "“Laptop passkey” was removed. It no longer signs you in."
    )
    expect(key_rows(page)).to_have_count(0)
    expect(page.locator("#keys-none")).to_be_visible()


def test_a_key_that_is_not_registered_is_refused_and_other_ways_stay(
    page: Page, stack: Stack
) -> None:
    authenticators = Authenticators(page)
    known = authenticators.add("usb")
    sign_in(page, "bob")
    add_key(page, "Blue key")
    expect(key_rows(page)).to_have_count(1)
    # Renaming goes through its own page, without the password.
    key_rows(page).first.locator(".key-rename").click()
    expect(page.locator("h1")).to_have_text("Rename “Blue key”?")
    expect(page.locator("#password")).to_have_count(0)
    page.fill("#new_name", "Blue USB key")
    shot(page, "06-rename-key")
    page.click("#confirm")
    expect(page.locator("#message")).to_have_text("The key is now called “Blue USB key”.")
    page.click("#key-first")
    expect(page.locator("#key-first-state")).to_have_text(
        "Signing in asks for your security key or passkey first."
    )
    shot(page, "06-key-asked-first-two-step-still-off")
    turn_two_step_on(page)
    sign_out(page)

    # The key first: its prompt opens by itself, and no email is sent.
    sign_in(page, "bob")
    expect(page.locator("#whoami")).to_contain_text("bob@example.com")
    assert codes_mailed(stack.catcher, "bob@example.com") == []

    # Another authenticator, never added to the account.
    sign_out(page)
    authenticators.remove(known)
    authenticators.add("usb")
    sign_in(page, "bob")
    expect(page.locator("#key-error")).to_have_text(said("en", "key_not_allowed_get"))
    expect(page).to_have_url(re.compile(r"/two-step$"))
    shot(page, "07-unknown-key-refused")
    page.click("#email-instead")  # every other way stays one click away
    page.fill("#code", next_code(stack.catcher, "bob@example.com", 0))
    page.click("#login")
    expect(page.locator("#whoami")).to_contain_text("bob@example.com")


@pytest.mark.parametrize(
    ("lang", "name"),
    [("en", "cy"), pytest.param("fr", "di", id="fr-without-level-3-json"), ("es", "eve")],
)
def test_adding_a_key_and_signing_in_with_it_in_each_language(
    page: Page, stack: Stack, lang: str, name: str
) -> None:
    if lang == "fr":
        page.add_init_script(WITHOUT_LEVEL_3_JSON)
    authenticators = Authenticators(page)
    key = authenticators.add("internal")
    page.goto(f"/signin?lang={lang}")
    if lang == "fr":
        missing = "[PublicKeyCredential.parseCreationOptionsFromJSON, PublicKeyCredential"
        missing += ".parseRequestOptionsFromJSON, PublicKeyCredential.prototype.toJSON]"
        assert page.evaluate(f"{missing}.every(f => f === undefined)")
    sign_in(page, name)
    expect(page.locator("html")).to_have_attribute("lang", lang)
    page.goto("/settings/security")
    expect(page.locator("#keys-heading")).to_have_text(said(lang, "keys_title"))

    # The prompt while the browser waits for the key (it is not touched yet).
    authenticators.touched(key, automatically=False)
    add_key(page, "Phone")
    expect(page.locator("#key-adding")).to_have_text(said(lang, "key_adding", name="Phone"))
    shot(page, f"10-{lang}-adding-a-key")
    page.click("#key-cancel")
    authenticators.touched(key, automatically=True)

    add_key(page, "Phone")
    expect(page.locator("#message")).to_have_text(said(lang, "key_added", name="Phone"))
    expect(key_rows(page)).to_have_count(1)
    shot(page, f"11-{lang}-key-added")
    turn_two_step_on(page)
    sign_out(page)

    sign_in(page, name)
    expect(page.locator("#use-key")).to_have_text(said(lang, "use_key"))
    shot(page, f"12-{lang}-two-step-offers-the-key")
    page.click("#use-key")
    expect(page.locator("#whoami")).to_contain_text(f"{name}@example.com")

    # Asked first: the prompt opens by itself (here it waits, untouched, for the screenshot).
    page.goto("/settings/security")
    page.click("#key-first")
    expect(page.locator("#message")).to_have_text(said(lang, "key_first_now_on"))
    sign_out(page)
    authenticators.touched(key, automatically=False)
    sign_in(page, name)
    expect(page.locator("#key-prompt")).to_have_text(said(lang, "key_prompt"))
    expect(page.locator("#use-key")).to_be_disabled()  # the prompt is open
    shot(page, f"13-{lang}-key-asked-first")

    # A key the account does not have: said in the page's language.
    page.click("#cancel")  # leaving the page ends its prompt
    expect(page.locator("#sign-in")).to_be_visible()
    authenticators.remove(key)
    authenticators.add("internal")  # this device's, as the key was (Chromium asks by transport)
    sign_in(page, name)
    expect(page.locator("#key-error")).to_have_text(said(lang, "key_not_allowed_get"))
    expect(page.locator("#use-key")).to_be_enabled()
    shot(page, f"14-{lang}-unknown-key-refused")


def test_the_portal_at_its_ip_address_says_keys_need_its_name(
    browser: Browser, stack: Stack
) -> None:
    context = browser.new_context(base_url=stack.bound, locale="en-GB")
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        Authenticators(page).add("internal")
        sign_in(page, "fay")
        add_key(page, "Laptop")
        expect(page.locator("#key-error")).to_have_text(said("en", "key_wrong_origin"))
        shot(page, "15-ip-address-refused")
        page.click("#key-cancel")
        expect(key_rows(page)).to_have_count(0)
    finally:
        context.close()
