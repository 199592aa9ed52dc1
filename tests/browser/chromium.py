"""What the browser tests share: Debian's Chromium, the demo users' password, reading the
codes a test's mail server caught, and signing in and out of the portal."""

from __future__ import annotations

import re
import time
from pathlib import Path

from playwright.sync_api import Browser, Page, Playwright, expect

from tests.processes import PORTAL_PASSWORD as PASSWORD
from tests.smtpserver import MailCatcher

CHROMIUM = "/usr/bin/chromium"


def launch(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless, quiet: no sandbox (root in CI), no background traffic."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError("Chromium is missing: run `make setup` (it installs Debian's chromium)")
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run",
        ],
    )  # fmt: skip


def codes_mailed(catcher: MailCatcher, to: str) -> list[str]:
    found = []
    for mail in [m for m in list(catcher.messages) if m["To"] == to]:
        body = mail.get_body(("plain",))
        assert body is not None
        found += re.findall(r"^\s*(\d{6})\s*$", body.get_content(), re.MULTILINE)
    return found


def next_code(catcher: MailCatcher, to: str, seen: int) -> str:
    """Wait for code email number ``seen + 1`` to ``to`` and return its code."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = codes_mailed(catcher, to)
        if len(found) > seen:
            return found[seen]
        time.sleep(0.05)
    raise AssertionError(f"no code email number {seen + 1} to {to}")


def sign_in(page: Page, name: str) -> None:
    page.goto("/signin")
    page.fill("#email", f"{name}@example.com")
    page.fill("#password", PASSWORD)
    page.click("#sign-in")


def sign_out(page: Page) -> None:
    page.goto("/")
    page.click("#sign-out")
    expect(page.locator("#sign-in")).to_be_visible()
