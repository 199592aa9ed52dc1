"""What the portal's tests share: the portal and twostep in process (``Stack``, built by the
``stack`` fixture of conftest.py), and the clicks a user makes (sign in, submit a form, confirm).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import fakeredis
import httpx

from examples.portal.settings import PortalSettings
from examples.portal.twostep import Twostep
from tests.api_calls import code_of
from tests.fakes import FakeClock, RecordingMailQueue
from tests.processes import API_KEY

PASSWORD = "correct horse battery staple"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SESSION_SECRET = "portal-test-session-secret-0123456789abcdef"
# Security keys: the relying party and the origin twostep is set up with, which the software
# authenticator (tests/softauthn.py) puts into what it signs, as a browser on the portal would.
RP_ID = "portal.test"
ORIGIN = "https://portal.test"


def portal_settings() -> PortalSettings:
    return PortalSettings(
        twostep_url="http://twostep.test",
        twostep_api_key=API_KEY,
        session_secret=SESSION_SECRET,
    )


@dataclass
class Stack:
    browser: httpx.AsyncClient
    mail: RecordingMailQueue
    clock: FakeClock
    portal_transport: httpx.ASGITransport
    portal_redis: fakeredis.FakeAsyncRedis

    @property
    def portal_client(self) -> Twostep:
        twostep: Twostep = self.portal_transport.app.state.portal.twostep  # type: ignore[attr-defined]
        return twostep

    def browser_at(self, base_url: str) -> httpx.AsyncClient:
        """Another browser (its own cookie jar) on the same portal."""
        return httpx.AsyncClient(
            transport=self.portal_transport,
            base_url=base_url,
            follow_redirects=True,
            headers={"User-Agent": FIREFOX},
        )


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def message_of(html: str) -> str:
    match = re.search(r'id="message"[^>]*>([^<]*)<', html)
    return match.group(1) if match else ""


async def post(browser: httpx.AsyncClient, page: str, action: str, **data: str) -> httpx.Response:
    """Submit a form of ``page`` (fetched first, for its CSRF token)."""
    html = (await browser.get(page)).text
    return await browser.post(action, data={"csrf_token": csrf_of(html), **data})


async def sign_in(browser: httpx.AsyncClient, password: str = PASSWORD) -> httpx.Response:
    return await post(browser, "/signin", "/signin", email="ada@example.com", password=password)


async def sign_out(browser: httpx.AsyncClient) -> None:
    response = await post(browser, "/", "/sign-out")
    assert response.url.path == "/signin"


async def enable_two_step(browser: httpx.AsyncClient) -> httpx.Response:
    await sign_in(browser)
    response = await post(
        browser, "/settings/security", "/settings/security/two-step", enabled="on"
    )
    await sign_out(browser)
    return response


async def confirm(
    browser: httpx.AsyncClient, action: str, password: str | None = PASSWORD, **fields: str
) -> httpx.Response:
    """Click through an action's confirmation page (examples/portal/confirm.py), giving the
    password when the page asks for it, and any other field it has (``new_name``)."""
    page = f"/settings/security/confirm/{action}"
    data = {"password": password} if password is not None else {}
    return await post(browser, page, page, **data, **fields)


async def verify(stack: Stack, remember: bool = False, code: str | None = None) -> httpx.Response:
    code = code if code is not None else code_of(stack.mail.codes[-1])
    data = {"code": code, **({"remember_browser": "on"} if remember else {})}
    return await post(stack.browser, "/two-step", "/two-step", **data)


def wrong(code: str) -> str:
    return "999999" if code != "999999" else "111111"
