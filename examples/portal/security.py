"""The portal's ASGI middleware: server-side sessions, and security headers."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from examples.portal.store import PortalStore

SESSION_COOKIE = "portal_session"


def is_secure(scope: Scope, secure_cookies: bool | None) -> bool:
    """Whether cookies set on this request get ``Secure``; ``None`` means "when HTTPS"."""
    if secure_cookies is not None:
        return secure_cookies
    return scope.get("scheme") in ("https", "wss")


@dataclass
class SessionHandle:
    """The request's session id (``None`` until one is made) and whether to give it a new one."""

    session_id: str | None
    renew: bool = False


class Sessions:
    """Server-side sessions: the cookie holds an opaque random id, the session is in Redis.

    ``request.session`` is a plain dict, loaded before the app runs and written back (with its
    TTL renewed) when the answer starts. An emptied session is deleted, and ``renew`` deletes
    the old one and gives a new id (sign-in and sign-out: no session fixation).
    """

    def __init__(
        self, app: ASGIApp, *, store: PortalStore, max_age: int, secure_cookies: bool | None
    ) -> None:
        self.app = app
        self.store = store
        self.max_age = max_age
        self.secure_cookies = secure_cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        presented = HTTPConnection(scope).cookies.get(SESSION_COOKIE)
        data = await self.store.load(presented) if presented else None
        handle = SessionHandle(presented if data is not None else None)
        scope["session"] = data or {}
        scope.setdefault("state", {})["session_handle"] = handle

        async def send_with_session(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = await self._write(scope["session"], handle)
                if cookie is not None or presented:
                    headers = MutableHeaders(scope=message)
                    headers.append("Set-Cookie", self._cookie(scope, cookie))
            await send(message)

        await self.app(scope, receive, send_with_session)

    async def _write(self, data: dict[str, Any], handle: SessionHandle) -> str | None:
        """Store the session; the id the cookie should carry, ``None`` to clear it."""
        if handle.session_id is not None and (handle.renew or not data):
            await self.store.delete(handle.session_id)
            handle.session_id = None
        if not data:
            return None
        if handle.session_id is None:
            handle.session_id = await self.store.create(data)
        elif not await self.store.save(handle.session_id, data):
            handle.session_id = None  # ended by another request: stay ended
        return handle.session_id

    def _cookie(self, scope: Scope, session_id: str | None) -> str:
        flags = "; path=/; HttpOnly; SameSite=Lax"
        if is_secure(scope, self.secure_cookies):
            flags += "; Secure"
        if session_id is None:
            return f"{SESSION_COOKIE}=; Max-Age=0{flags}"
        return f"{SESSION_COOKIE}={session_id}; Max-Age={self.max_age}{flags}"


class SecurityHeaders:
    """CSP with a per-response nonce for the one inline script, framing off, no caching."""

    def __init__(self, app: ASGIApp, *, static_prefix: str = "/static/") -> None:
        self.app = app
        self.static_prefix = static_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        static = str(scope.get("path", "")).startswith(self.static_prefix)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = (
                    "default-src 'none'; "
                    f"script-src 'nonce-{nonce}'; "
                    "style-src 'self'; img-src 'self' data:; "
                    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
                )
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "same-origin"
                headers["X-Content-Type-Options"] = "nosniff"
                # Pages hold codes, secrets and account data: never keep them in a cache.
                headers["Cache-Control"] = "public, max-age=3600" if static else "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
