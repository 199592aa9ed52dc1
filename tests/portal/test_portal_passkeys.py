"""Security keys and passkeys in the reference portal, driven like a browser against the twostep
API in process: the browser's part of each ceremony is a software authenticator
(tests/softauthn.py) answering the options the page carries, as static/passkeys.js would post
its answer. The same flows in Chromium: tests/browser/test_passkeys_in_chromium.py.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from examples.portal.catalogue import CATALOGUE
from tests.api_calls import make_settings
from tests.portal.stack import (
    ORIGIN,
    PASSWORD,
    Stack,
    confirm,
    csrf_of,
    enable_two_step,
    message_of,
    post,
    sign_in,
    sign_out,
)
from tests.softauthn import SoftAuthenticator, b64url

SECURITY = "/settings/security"
ACCOUNT = "demo-ada"  # the demo user's account id
JS = Path(__file__).resolve().parents[2] / "examples" / "portal" / "static" / "passkeys.js"


def options_of(page: str) -> dict[str, Any]:
    """twostep's options, as the page hands them to static/passkeys.js."""
    found = re.search(r'<script type="application/json" id="key-options">(.*?)</script>', page)
    assert found, "no key options on the page"
    options: dict[str, Any] = json.loads(found.group(1))
    return options


def attribute(page: str, element_id: str, name: str) -> str:
    tag = re.search(rf'<[a-z]+ id="{element_id}"[^>]*>', page, re.DOTALL)
    assert tag, f"no #{element_id} on the page"
    value = re.search(rf'\s{name}="([^"]*)"', tag.group(0))
    assert value, f"#{element_id} has no {name}"
    return html.unescape(value.group(1))


def said(page: str) -> str:
    """The page's message, as the user reads it."""
    return html.unescape(message_of(page))


def key_rows(page: str) -> list[str]:
    return re.findall(r'<tr data-key-id="(sk_[A-Za-z0-9_-]+)">', page)


async def start_adding(browser: httpx.AsyncClient, name: str = "Desk key") -> httpx.Response:
    return await post(browser, SECURITY, f"{SECURITY}/keys", name=name)


async def answer(
    browser: httpx.AsyncClient, page: httpx.Response, action: str, credential: Any, **data: str
) -> httpx.Response:
    """Post the browser's answer, as static/passkeys.js does once the authenticator answered."""
    text = credential if isinstance(credential, str) else json.dumps(credential)
    form = {"csrf_token": csrf_of(page.text), "credential": text, **data}
    return await browser.post(action, data=form)


async def add_key(
    browser: httpx.AsyncClient, device: SoftAuthenticator, name: str = "Desk key"
) -> httpx.Response:
    adding = await start_adding(browser, name)
    created = device.create(options_of(adding.text), ORIGIN)
    return await answer(browser, adding, f"{SECURITY}/keys/new", created)


async def use_key(
    stack: Stack, device: SoftAuthenticator, remember: bool = False, **changes: Any
) -> httpx.Response:
    """On the two-step page: the key's answer to the login's options."""
    page = await stack.browser.get("/two-step")
    assertion = device.get(options_of(page.text), changes.pop("origin", ORIGIN), **changes)
    extra = {"remember_browser": "on"} if remember else {}
    return await answer(stack.browser, page, "/two-step/key", assertion, **extra)


async def two_step_with_a_key(stack: Stack) -> SoftAuthenticator:
    """One key added, two-step on, signed out."""
    await sign_in(stack.browser)
    device = SoftAuthenticator(transports=("usb",))
    added = await add_key(stack.browser, device)
    assert said(added.text).startswith("“Desk key” was added."), added.text
    await sign_out(stack.browser)
    await enable_two_step(stack.browser)
    return device


async def test_a_key_is_added_under_its_name_and_listed_with_its_last_use(stack: Stack) -> None:
    await sign_in(stack.browser)
    page = (await stack.browser.get(SECURITY)).text
    assert "Security keys and passkeys" in page
    assert 'id="keys-none"' in page
    assert 'id="key-add"' in page
    assert "/static/passkeys.js" not in page  # nothing to run until a key is being added

    adding = await start_adding(stack.browser, "  Desk key  ")
    assert adding.url.path == SECURITY
    assert "Adding “Desk key”: follow your browser." in adding.text
    assert attribute(adding.text, "key-ceremony", "data-ceremony") == "create"
    assert attribute(adding.text, "key-ceremony", "data-autostart") == "true"
    assert attribute(adding.text, "key-form", "action") == f"{SECURITY}/keys/new"
    nonce = re.search(r'<script nonce="([^"]+)" src="/static/passkeys.js"></script>', adding.text)
    assert nonce, "the script is loaded with the page's CSP nonce"
    assert f"'nonce-{nonce.group(1)}'" in adding.headers["content-security-policy"]
    assert 'id="key-add"' not in adding.text  # one key at a time
    options = options_of(adding.text)
    assert options["rp"]["id"] == "portal.test"
    assert options["user"]["name"] == "ada@example.com"

    device = SoftAuthenticator(transports=("usb", "nfc"))
    created = device.create(options, ORIGIN)
    added = await answer(stack.browser, adding, f"{SECURITY}/keys/new", created)
    assert said(added.text) == "“Desk key” was added. You can sign in with it from now on."
    assert len(key_rows(added.text)) == 1
    assert '<span class="key-name">Desk key</span>' in added.text
    assert "Not used yet" in added.text
    assert "2027-01-15 08:00 UTC" in added.text  # added now, by the test clock
    assert "Signing in asks for a code first" in added.text
    # Two-step is off: the key is not asked for until it is on, and the tab says so.
    assert "Turn on two-step verification above to sign in with your keys." in added.text
    assert 'id="key-ceremony"' not in added.text
    assert [notice.kind for notice in stack.mail.notices][-1] == "webauthn_added"

    # A second one: the options leave out the key the account has.
    again = await start_adding(stack.browser, "Spare key")
    excluded = [entry["id"] for entry in options_of(again.text)["excludeCredentials"]]
    assert excluded == [created["id"]]


async def test_a_key_used_to_sign_in_shows_when(stack: Stack) -> None:
    device = await two_step_with_a_key(stack)
    await sign_in(stack.browser)
    stack.clock.advance(600)
    assert (await use_key(stack, device)).url.path == "/"
    page = (await stack.browser.get(SECURITY)).text
    assert "Not used yet" not in page
    assert re.search(r'class="key-last-used"><time datetime="[^"]+">2027-01-15 08:10 UTC<', page)


async def test_adding_wants_a_name_of_one_line(stack: Stack) -> None:
    await sign_in(stack.browser)
    for name, message in (
        ("   ", "Give the key a name."),
        ("x" * 65, "A key's name has at most 64 characters, on one line."),
        ("two\nlines", "A key's name has at most 64 characters, on one line."),
    ):
        refused = await start_adding(stack.browser, name)
        assert said(refused.text) == message
        assert 'id="key-ceremony"' not in refused.text


async def test_an_answer_from_another_origin_is_not_added(stack: Stack) -> None:
    await sign_in(stack.browser)
    adding = await start_adding(stack.browser)
    created = SoftAuthenticator().create(options_of(adding.text), "https://evil.test")
    refused = await answer(stack.browser, adding, f"{SECURITY}/keys/new", created)
    assert said(refused.text) == "This key could not be added. Start again."
    assert key_rows(refused.text) == []
    assert 'id="key-ceremony"' not in refused.text  # twostep used the registration up
    assert 'id="key-add"' in refused.text


@pytest.mark.parametrize("garbled", ["", "not json", "[1, 2]", "x" * 40_000])
async def test_an_answer_that_is_not_json_keeps_the_prompt(stack: Stack, garbled: str) -> None:
    await sign_in(stack.browser)
    adding = await start_adding(stack.browser)
    refused = await answer(stack.browser, adding, f"{SECURITY}/keys/new", garbled)
    assert said(refused.text) == "Your browser's answer could not be read. Try again."
    # Never sent to twostep, so its registration holds: the user tries again, by a click.
    assert attribute(refused.text, "key-ceremony", "data-autostart") == "false"
    created = SoftAuthenticator().create(options_of(refused.text), ORIGIN)
    added = await answer(stack.browser, refused, f"{SECURITY}/keys/new", created)
    assert len(key_rows(added.text)) == 1


async def test_an_answer_twostep_cannot_read_says_so(stack: Stack) -> None:
    await sign_in(stack.browser)
    adding = await start_adding(stack.browser)
    created = SoftAuthenticator().create(options_of(adding.text), ORIGIN)
    created["response"]["attestationObject"] = "AAAA"  # base64url, but no CBOR of a key
    refused = await answer(stack.browser, adding, f"{SECURITY}/keys/new", created)
    assert said(refused.text) == "Your browser's answer could not be read. Try again."
    assert key_rows(refused.text) == []


async def test_adding_a_key_too_slowly_starts_again(stack: Stack) -> None:
    await sign_in(stack.browser)
    adding = await start_adding(stack.browser)
    created = SoftAuthenticator().create(options_of(adding.text), ORIGIN)
    stack.clock.advance(5 * 60 + 1)
    late = await answer(stack.browser, adding, f"{SECURITY}/keys/new", created)
    assert said(late.text) == "Adding the key took too long. Start again."
    assert key_rows(late.text) == []
    assert 'id="key-ceremony"' not in late.text


async def test_cancel_drops_the_key_being_added(stack: Stack) -> None:
    await sign_in(stack.browser)
    adding = await start_adding(stack.browser)
    cancelled = await stack.browser.post(
        f"{SECURITY}/keys/cancel", data={"csrf_token": csrf_of(adding.text)}
    )
    assert 'id="key-ceremony"' not in cancelled.text
    assert 'id="key-add"' in cancelled.text


async def test_the_eleventh_key_is_refused(stack: Stack) -> None:
    await sign_in(stack.browser)
    for number in range(10):
        added = await add_key(stack.browser, SoftAuthenticator(), f"Key {number}")
        assert said(added.text) == f"“Key {number}” was added. You can sign in with it from now on."
    refused = await start_adding(stack.browser, "One too many")
    assert said(refused.text) == (
        "You have the most security keys and passkeys an account can have. "
        "Remove one to add another."
    )
    assert len(key_rows(refused.text)) == 10


async def test_adding_a_key_ends_the_other_sessions(stack: Stack) -> None:
    async with stack.browser_at("http://portal.test") as other:
        await sign_in(other)
        await sign_in(stack.browser)
        await add_key(stack.browser, SoftAuthenticator())
        assert (await other.get(SECURITY)).url.path == "/signin"
        assert (await stack.browser.get(SECURITY)).url.path == SECURITY


@pytest.mark.parametrize("twostep_settings", [make_settings()])
async def test_security_keys_off_on_twostep_says_so(stack: Stack) -> None:
    await sign_in(stack.browser)
    refused = await start_adding(stack.browser)
    assert said(refused.text) == "Security keys and passkeys cannot be used right now."
    assert 'id="key-ceremony"' not in refused.text


async def test_sign_in_offers_the_key_one_click_away(stack: Stack) -> None:
    device = await two_step_with_a_key(stack)
    page = await sign_in(stack.browser)
    assert page.url.path == "/two-step"
    assert len(stack.mail.codes) == 1  # the code is asked first: the email went
    assert 'id="code"' in page.text
    button = re.search(r'<button id="use-key"[^>]*>([^<]*)</button>', page.text)
    assert button, "no key button on the two-step page"
    assert button.group(1) == "Use your security key or passkey"
    assert 'class="link key-start"' in button.group(0)
    assert attribute(page.text, "key-ceremony", "data-ceremony") == "get"
    assert attribute(page.text, "key-ceremony", "data-autostart") == "false"
    assert attribute(page.text, "key-form", "action") == "/two-step/key"
    options = options_of(page.text)
    assert options["rpId"] == "portal.test"
    assert [entry["id"] for entry in options["allowCredentials"]] == [
        b64url(device.credentials[0].credential_id)
    ]

    signed_in = await use_key(stack, device)
    assert signed_in.url.path == "/"
    assert "Signed in as Ada Lovelace" in signed_in.text
    assert not any(c.startswith("twostep_tb=") for c in set_cookies(signed_in))


def set_cookies(response: httpx.Response) -> list[str]:
    return [c for r in [*response.history, response] for c in r.headers.get_list("set-cookie")]


async def test_a_key_with_remember_trusts_this_browser(stack: Stack) -> None:
    device = await two_step_with_a_key(stack)
    await sign_in(stack.browser)
    signed_in = await use_key(stack, device, remember=True)
    assert signed_in.url.path == "/"
    trusted = next(c for c in set_cookies(signed_in) if c.startswith("twostep_tb="))
    assert "HttpOnly" in trusted
    await sign_out(stack.browser)
    again = await sign_in(stack.browser)
    assert again.url.path == "/"  # nothing asked


async def test_asking_for_the_key_first_opens_its_prompt_and_sends_no_email(
    stack: Stack,
) -> None:
    device = await two_step_with_a_key(stack)
    await sign_in(stack.browser)
    await use_key(stack, device)
    first = await post(stack.browser, SECURITY, f"{SECURITY}/keys/first", first="on")
    assert said(first.text) == ("Signing in will ask for your security key or passkey first.")
    assert "Signing in asks for your security key or passkey first." in first.text
    assert 'id="keys-two-step-off"' not in first.text
    assert (await stack.portal_client.get_account(ACCOUNT)).preferred_method == "webauthn"
    await sign_out(stack.browser)

    sent = len(stack.mail.codes)
    page = await sign_in(stack.browser)
    assert page.url.path == "/two-step"
    assert len(stack.mail.codes) == sent  # no email
    assert attribute(page.text, "key-ceremony", "data-autostart") == "true"
    assert attribute(page.text, "key-ceremony", "data-main") == "true"
    assert 'id="code"' not in page.text
    assert "When your browser asks, touch your security key" in page.text
    assert 'id="email-instead"' in page.text  # every other way stays one click away
    assert 'id="use-recovery"' not in page.text  # (none made)
    assert (await use_key(stack, device)).url.path == "/"

    back = await post(stack.browser, SECURITY, f"{SECURITY}/keys/first", first="off")
    assert said(back.text) == "Signing in will ask for a code first."
    assert (await stack.portal_client.get_account(ACCOUNT)).preferred_method is None


async def test_email_instead_of_the_key_sends_a_code(stack: Stack) -> None:
    device = await two_step_with_a_key(stack)
    await sign_in(stack.browser)
    await use_key(stack, device)
    await post(stack.browser, SECURITY, f"{SECURITY}/keys/first", first="on")
    await sign_out(stack.browser)
    await sign_in(stack.browser)
    sent = len(stack.mail.codes)
    resent = await post(stack.browser, "/two-step", "/two-step/resend")
    assert len(stack.mail.codes) == sent + 1
    assert 'id="code"' in resent.text
    assert 'id="use-key"' in resent.text  # and the key is still one click away


async def test_a_key_the_account_does_not_have_is_refused_with_the_tries_left(
    stack: Stack,
) -> None:
    await two_step_with_a_key(stack)
    page = await sign_in(stack.browser)
    # Another authenticator, holding a key made for this site but never added to the account.
    stranger = SoftAuthenticator()
    await sign_in_elsewhere_and_make_a_key(stack, stranger)
    credential_id = stranger.credentials[0].credential_id
    assertion = stranger.get(options_of(page.text), ORIGIN, credential_id=credential_id)
    refused = await answer(stack.browser, page, "/two-step/key", assertion)
    assert refused.url.path == "/two-step"
    assert said(refused.text) == (
        "This key is not one of your account's, or its answer was refused. 4 tries left."
    )
    # Back with a message: the prompt waits for a click, it does not open in a loop.
    assert attribute(refused.text, "key-ceremony", "data-autostart") == "false"


async def sign_in_elsewhere_and_make_a_key(stack: Stack, device: SoftAuthenticator) -> None:
    """A key made for the account on a registration that is never finished."""
    registration = await stack.portal_client.begin_key_registration(ACCOUNT)
    device.create(registration.public_key, ORIGIN)


async def test_an_answer_for_another_site_is_refused(stack: Stack) -> None:
    device = await two_step_with_a_key(stack)
    await sign_in(stack.browser)
    refused = await use_key(stack, device, origin="https://evil.test")
    assert said(refused.text).startswith("This key is not one of your account's")
    assert (await use_key(stack, device)).url.path == "/"


async def test_too_many_refused_answers_end_the_login(stack: Stack) -> None:
    device = await two_step_with_a_key(stack)
    await sign_in(stack.browser)
    for _ in range(4):
        await use_key(stack, device, origin="https://evil.test")
    ended = await use_key(stack, device, origin="https://evil.test")
    assert ended.url.path == "/signin"
    assert said(ended.text) == "Too many wrong codes. Sign in again."


@pytest.mark.parametrize("garbled", ["not json", "{}"])
async def test_a_garbled_sign_in_answer_is_not_counted(stack: Stack, garbled: str) -> None:
    device = await two_step_with_a_key(stack)
    page = await sign_in(stack.browser)
    refused = await answer(stack.browser, page, "/two-step/key", garbled)
    assert said(refused.text) == "Your browser's answer could not be read. Try again."
    assert (await use_key(stack, device)).url.path == "/"


async def test_a_key_removed_during_sign_in_leaves_the_other_ways(stack: Stack) -> None:
    device = await two_step_with_a_key(stack)
    await sign_in(stack.browser)
    key_id = (await stack.portal_client.list_security_keys(ACCOUNT))[0].key_id
    await stack.portal_client.remove_security_key(ACCOUNT, key_id)
    refused = await use_key(stack, device)
    assert refused.url.path == "/two-step"
    assert said(refused.text) == "Security keys and passkeys cannot be used right now."
    assert 'id="use-key"' not in refused.text
    assert 'id="code"' in refused.text  # the email code still works


async def test_the_key_form_needs_the_csrf_token_and_a_key_login(stack: Stack) -> None:
    await enable_two_step(stack.browser)
    page = await sign_in(stack.browser)
    assert 'id="key-form"' not in page.text  # no key: no key form, no script
    assert "/static/passkeys.js" not in page.text
    forged = await stack.browser.post("/two-step/key", data={"credential": "{}"})
    assert forged.status_code == 403
    ignored = await answer(stack.browser, page, "/two-step/key", {"id": "x"})
    assert ignored.url.path == "/two-step"
    assert said(ignored.text) == ""


async def test_removing_a_key_asks_first_and_wants_the_password(stack: Stack) -> None:
    device = await two_step_with_a_key(stack)
    await sign_in(stack.browser)
    await use_key(stack, device)
    security = (await stack.browser.get(SECURITY)).text
    [key_id] = key_rows(security)
    remove = f"/settings/security/confirm/remove-key/{key_id}"
    assert f'class="button danger key-remove" href="{remove}"' in security

    page = (await stack.browser.get(remove)).text
    assert "<h1>Remove “Desk key”?</h1>" in page
    assert "This security key or passkey stops signing you in at once." in page
    assert 'id="password"' in page
    wrong = await confirm(stack.browser, f"remove-key/{key_id}", password="nope")
    assert wrong.status_code == 401
    assert said(wrong.text) == "Wrong password."
    assert len(await stack.portal_client.list_security_keys(ACCOUNT)) == 1

    removed = await confirm(stack.browser, f"remove-key/{key_id}")
    assert removed.url.path == SECURITY
    assert said(removed.text) == "“Desk key” was removed. It no longer signs you in."
    assert key_rows(removed.text) == []
    assert await stack.portal_client.list_security_keys(ACCOUNT) == []
    assert [notice.kind for notice in stack.mail.notices][-1] == "webauthn_removed"

    await sign_out(stack.browser)
    page = await sign_in(stack.browser)
    assert 'id="use-key"' not in page.text


async def test_renaming_a_key_asks_for_the_new_name_only(stack: Stack) -> None:
    await sign_in(stack.browser)
    await add_key(stack.browser, SoftAuthenticator())
    [key_id] = key_rows((await stack.browser.get(SECURITY)).text)
    rename = f"rename-key/{key_id}"
    page = (await stack.browser.get(f"/settings/security/confirm/{rename}")).text
    assert "<h1>Rename “Desk key”?</h1>" in page
    assert 'id="new_name" name="new_name" type="text" value="Desk key"' in page
    assert 'id="password"' not in page  # a name weakens nothing

    refused = await confirm(stack.browser, rename, password=None, new_name=" ")
    assert refused.status_code == 400
    assert said(refused.text) == "Give the key a name."
    too_long = await confirm(stack.browser, rename, password=None, new_name="y" * 65)
    assert said(too_long.text) == "A key's name has at most 64 characters, on one line."
    assert 'value="' + "y" * 65 + '"' in too_long.text  # kept, to be corrected

    renamed = await confirm(stack.browser, rename, password=None, new_name="Office key")
    assert said(renamed.text) == "The key is now called “Office key”."
    assert '<span class="key-name">Office key</span>' in renamed.text


@pytest.mark.parametrize("action", ["remove-key", "rename-key"])
@pytest.mark.parametrize("key_id", ["sk_AAAAAAAAAAAAAAAA", "sk_short", "..%2F..%2Ftotp"])
async def test_a_key_that_is_not_the_accounts_goes_back_with_a_message(
    stack: Stack, action: str, key_id: str
) -> None:
    await sign_in(stack.browser)
    page = await stack.browser.get(f"/settings/security/confirm/{action}/{key_id}")
    if page.status_code == 404:
        return  # not even a path of the portal's
    assert page.url.path == SECURITY
    assert said(page.text) == "That security key had already been removed."


async def test_a_key_action_the_portal_does_not_know_is_not_found(stack: Stack) -> None:
    await sign_in(stack.browser)
    await add_key(stack.browser, SoftAuthenticator())
    [key_id] = key_rows((await stack.browser.get(SECURITY)).text)
    assert (await stack.browser.get(f"{SECURITY}/confirm/destroy/{key_id}")).status_code == 404
    assert (await stack.browser.get(f"{SECURITY}/confirm/two-step-off/{key_id}")).status_code == 404


KEY_TEXT = {
    "fr": (
        "Clés de sécurité et clés d'accès",
        "Utiliser votre clé de sécurité ou clé d'accès",
        "Supprimer « Desk key » ?",
    ),
    "es": (
        "Llaves de seguridad y llaves de acceso",
        "Usar su llave de seguridad o llave de acceso",
        "¿Quitar «Desk key»?",
    ),
}


@pytest.mark.parametrize("lang", ["fr", "es"])
async def test_the_key_screens_in_french_and_spanish(stack: Stack, lang: str) -> None:
    section, use, remove = KEY_TEXT[lang]
    device = await two_step_with_a_key(stack)
    await stack.browser.get(f"/signin?lang={lang}")
    page = await sign_in(stack.browser)
    assert f'<html lang="{lang}">' in page.text
    assert use in html.unescape(page.text)
    messages = {
        name: attribute(page.text, "key-ceremony", f"data-msg-{name}")
        for name in ("not-allowed", "security", "unsupported", "failed")
    }
    assert messages["not-allowed"] == CATALOGUE[lang]["key_not_allowed_get"]
    assert messages["security"] == CATALOGUE[lang]["key_wrong_origin"]
    await use_key(stack, device)
    security = (await stack.browser.get(SECURITY)).text
    assert section in html.unescape(security)
    [key_id] = key_rows(security)
    confirming = await stack.browser.get(f"{SECURITY}/confirm/remove-key/{key_id}")
    assert remove in html.unescape(confirming.text)


async def test_the_adding_prompt_carries_its_messages_in_the_page_language(stack: Stack) -> None:
    await stack.browser.get("/signin?lang=es")
    await sign_in(stack.browser)
    adding = await start_adding(stack.browser)
    said = {
        name: attribute(adding.text, "key-ceremony", f"data-msg-{name}")
        for name in ("not-allowed", "invalid-state", "security", "unsupported", "failed")
    }
    assert said == {
        "not-allowed": CATALOGUE["es"]["key_not_allowed_create"],
        "invalid-state": CATALOGUE["es"]["key_exists"],
        "security": CATALOGUE["es"]["key_wrong_origin"],
        "unsupported": CATALOGUE["es"]["key_unsupported"],
        "failed": CATALOGUE["es"]["key_failed"],
    }


async def test_the_script_is_served_and_maps_each_failure_to_a_message(stack: Stack) -> None:
    served = await stack.browser.get("/static/passkeys.js")
    assert served.status_code == 200
    assert served.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert served.text == JS.read_text()
    for name in ("NotAllowedError", "InvalidStateError", "SecurityError", "NotSupportedError"):
        assert name in served.text
    # Level 3 JSON where the browser has it, base64url by hand where it does not.
    for used in ("parseCreationOptionsFromJSON", "parseRequestOptionsFromJSON", "toJSON", "atob"):
        assert used in served.text
    assert "fetch(" not in served.text  # the CSP allows no connection: forms carry the answer
    assert PASSWORD not in served.text
