""" "This wasn't me" as the owner of the account meets it: the link read from the code email a
real worker sent through a real SMTP server, opened in Debian's Chromium (Playwright), in the
account's language; the page changes nothing until its button is pressed. The webhook and the
notice that follow arrive at a real receiver and the same SMTP server.

Each screen is saved under ``test-artifacts/screenshots/report/``.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.processes import (
    API_KEY,
    ROOT,
    RedisServer,
    free_port,
    service_env,
    start_api,
    start_worker,
)
from tests.smtpserver import MailCatcher, html_part, mails_to, text_part
from tests.webhookreceiver import Receiver

pytestmark = pytest.mark.integration

SHOTS = ROOT / "test-artifacts" / "screenshots" / "report"
WEBHOOK_SECRET = "w" * 32
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
# What each language's page and emails say, in the order the owner meets them.
WORDS = {
    "en": ("This wasn't me", "Wasn't you?", "This sign-in is stopped", "You reported a sign-in"),
    "fr": ("Ce n'était pas moi", "Ce n'était pas vous ?", "Cette connexion est arrêtée",
           "Vous avez signalé une connexion"),
    "es": ("No fui yo", "¿No fue usted?", "Este inicio de sesión está detenido",
           "Ha denunciado un inicio de sesión"),
}  # fmt: skip


@dataclass
class Stack:
    api: httpx.Client
    catcher: MailCatcher
    receiver: Receiver


@pytest.fixture(scope="module")
def stack(log_dir: Path) -> Iterator[Stack]:
    logs = log_dir / "browser-report"
    redis = RedisServer(logs)
    catcher = MailCatcher().start()
    receiver = Receiver()
    port = free_port()
    env = service_env(
        redis_url=redis.url(0),
        broker_url=redis.url(1),
        smtp_host=catcher.host,
        smtp_port=catcher.port,
        report_url=f"http://127.0.0.1:{port}/report/{{token}}",
        webhook_url=receiver.url,
        webhook_secret=WEBHOOK_SECRET,
    )
    worker = start_worker(env, logs, "worker-report")
    api, api_url = start_api(env, logs, port=port)
    client = httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {API_KEY}"})
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    try:
        yield Stack(client, catcher, receiver)
    finally:
        client.close()
        api.stop()
        worker.stop()
        receiver.close()
        catcher.stop()
        redis.stop()


def wait_for_mail(catcher: MailCatcher, to: str, saying: str) -> EmailMessage:
    """The first email to ``to`` whose subject or text says ``saying``."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for mail in mails_to(catcher, to):
            if saying in str(mail["Subject"]) or saying in text_part(mail):
                return mail
        time.sleep(0.05)
    raise AssertionError(f"no email saying {saying!r} to {to}")


def login(stack: Stack, account: str, locale: str) -> tuple[str, str, str]:
    """A login from Firefox whose code email went out: its challenge, code and link."""
    to = f"{account}@example.com"
    stack.api.put(f"/v1/accounts/{account}", json={"email": to, "locale": locale})
    stack.api.put(f"/v1/accounts/{account}/two-step", json={"enabled": True})
    client = {"ip": "198.51.100.23", "user_agent": FIREFOX}
    started = stack.api.post("/v1/logins", json={"account_id": account, "client": client})
    assert started.status_code == 201, started.text
    challenge_id = started.json()["challenge_id"]
    words = WORDS[locale][0]
    mail = wait_for_mail(stack.catcher, to, words)  # the code email: it carries the link
    text = text_part(mail)
    code = re.search(r"^\s*(\d{6})\s*$", text, re.MULTILINE)
    link = re.search(rf"{re.escape(words)}\s*: (http://\S+)", text)
    assert code, text
    assert link, text
    assert f'href="{link.group(1)}"' in html_part(mail)  # the button, the same link
    return challenge_id, code.group(1), link.group(1)


def challenge_status(stack: Stack, challenge_id: str) -> int:
    return stack.api.get(f"/v1/challenges/{challenge_id}").status_code


@pytest.mark.parametrize("locale", ["en", "fr", "es"])
def test_the_link_in_the_email_stops_the_sign_in_only_when_its_button_is_pressed(
    stack: Stack, browser: Browser, locale: str
) -> None:
    account = f"owner-{locale}"
    challenge_id, code, link = login(stack, account, locale)
    _, heading, done, reported = WORDS[locale]

    # A mail scanner, a link preview: HEAD and GET change nothing.
    assert httpx.head(link).status_code == 200
    assert httpx.get(link, headers={"Accept-Language": "de"}).status_code == 200
    page = browser.new_page(locale="de-DE")  # the page speaks the account's language
    page.goto(link)
    expect(page.locator("h1")).to_have_text(heading)
    expect(page.locator("html")).to_have_attribute("lang", locale)
    expect(page.locator("dl")).to_contain_text("198.51.100.23")
    page.screenshot(path=str(SHOTS / f"{locale}-1-asked.png"), full_page=True)
    page.reload()
    assert challenge_status(stack, challenge_id) == 200

    page.click("button[type=submit]")

    expect(page.locator(".done")).to_contain_text(done)
    expect(page.locator("form")).to_have_count(0)
    page.screenshot(path=str(SHOTS / f"{locale}-2-reported.png"), full_page=True)
    page.close()
    assert challenge_status(stack, challenge_id) == 404
    verified = stack.api.post(f"/v1/challenges/{challenge_id}/verify", json={"code": code})
    assert verified.status_code == 404
    assert verified.json()["code"] == "challenge_not_found"
    resent = stack.api.post(f"/v1/challenges/{challenge_id}/resend", json={})
    assert resent.status_code == 404

    notice = wait_for_mail(stack.catcher, f"{account}@example.com", reported)
    assert "198.51.100.23" in text_part(notice)
    deadline = time.monotonic() + 20
    while not [d for d in stack.receiver.documents() if d["type"] == "login_reported"
               and d["account_id"] == account]:  # fmt: skip
        assert time.monotonic() < deadline, "no login_reported webhook"
        time.sleep(0.05)
    [event] = [d for d in stack.receiver.documents()
               if d["type"] == "login_reported" and d["account_id"] == account]  # fmt: skip
    assert event["details"]["challenge_id"] == challenge_id
    assert event["details"]["login_ip"] == "198.51.100.23"
    assert event["details"]["login_browser"] == "Firefox on Linux"
    assert event["details"]["challenge_ended"] is True

    # The same link again, through the API: once only. Another account's challenge: refused.
    token = link.rsplit("/", 1)[1]
    again = stack.api.post(f"/v1/challenges/{challenge_id}/report", json={"token": token})
    assert again.status_code == 409
    assert again.json()["code"] == "report_used"
    other, _, _ = login(stack, f"other-{locale}", locale)
    foreign = stack.api.post(f"/v1/challenges/{other}/report", json={"token": token})
    assert foreign.status_code == 404
    assert foreign.json()["code"] == "report_not_found"
    assert challenge_status(stack, other) == 200
