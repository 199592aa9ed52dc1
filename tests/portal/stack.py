"""What the portal's tests share: the portal and twostep in process (``Stack``, built by the
``stack`` fixture of conftest.py), and the clicks a user makes (sign in, submit a form, confirm).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import fakeredis
import httpx
from twostep_client import AsyncTwoStep

from examples.portal.settings import PortalSettings
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


Answer = dict[str, Any]


@dataclass
class _Change:
    method: str
    path: re.Pattern[str]
    change: Callable[[Answer], Answer] | None = None
    refusal: httpx.Response | None = None


@dataclass
class TwostepLine:
    """The portal's line to twostep (in process). ``change`` and ``refuse`` put in the answers
    of a newer twostep, or those hard to bring about (its mail queue far behind), for the
    calls they name; every other call goes through untouched."""

    app: Any
    changes: list[_Change] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._inner = httpx.ASGITransport(app=self.app)

    def change(self, method: str, path: str, edit: Callable[[Answer], Answer]) -> None:
        """twostep's JSON answers to ``method`` ``path`` (a regular expression), as ``edit``
        makes them."""
        self.changes.append(_Change(method, re.compile(path), change=edit))

    def refuse(self, method: str, path: str, status: int, code: str, **members: Any) -> None:
        """``method`` ``path`` is refused with this problem document (and Retry-After when it
        has ``retry_after``), without reaching twostep."""
        problem = {"type": f"urn:twostep:problem:{code}", "title": code, "status": status,
                   "code": code, "detail": f"{code} (a test's answer)", **members}  # fmt: skip
        headers = {"content-type": "application/problem+json"}
        if "retry_after" in members:
            headers["retry-after"] = str(members["retry_after"])
        refusal = httpx.Response(status, content=json.dumps(problem).encode(), headers=headers)
        self.changes.append(_Change(method, re.compile(path), refusal=refusal))

    def transport(self) -> httpx.AsyncBaseTransport:
        return httpx.MockTransport(self._handle)

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        found = next(
            (
                change
                for change in self.changes
                if change.method == request.method and change.path.fullmatch(request.url.path)
            ),
            None,
        )
        if found is not None and found.refusal is not None:
            return httpx.Response(
                found.refusal.status_code,
                content=found.refusal.content,
                headers=found.refusal.headers,
            )
        response = await self._inner.handle_async_request(request)
        body = await response.aread()
        if found is None or found.change is None:
            return httpx.Response(response.status_code, content=body, headers=response.headers)
        edited = json.dumps(found.change(json.loads(body))).encode()
        headers = {**response.headers, "content-length": str(len(edited))}
        return httpx.Response(response.status_code, content=edited, headers=headers)


@dataclass
class Stack:
    browser: httpx.AsyncClient
    mail: RecordingMailQueue
    clock: FakeClock
    portal_transport: httpx.ASGITransport
    portal_redis: fakeredis.FakeAsyncRedis
    twostep: TwostepLine

    @property
    def portal_client(self) -> AsyncTwoStep:
        """The portal's own client of twostep (twostep_client.AsyncTwoStep)."""
        twostep: AsyncTwoStep = self.portal_transport.app.state.portal.twostep  # type: ignore[attr-defined]
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
