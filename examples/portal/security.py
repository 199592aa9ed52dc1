"""The portal's ASGI middleware: signed session cookies per scheme, and security headers."""

from __future__ import annotations

import secrets

from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "portal_session"


def is_secure(scope: Scope, secure_cookies: bool | None) -> bool:
    """Whether cookies set on this request get ``Secure``; ``None`` means "when HTTPS"."""
    if secure_cookies is not None:
        return secure_cookies
    return scope.get("scheme") in ("https", "wss")


class Sessions:
    """Starlette's signed-cookie sessions, with ``Secure`` decided per request.

    SessionMiddleware fixes its flags at start-up; "auto" needs them per request, so two
    instances share the secret and the request's scheme picks one.
    """

    def __init__(
        self, app: ASGIApp, *, secret_key: str, max_age: int, secure_cookies: bool | None
    ) -> None:
        self.plain, self.secure = (
            SessionMiddleware(
                app,
                secret_key,
                session_cookie=SESSION_COOKIE,
                max_age=max_age,
                same_site="lax",
                https_only=https_only,
            )
            for https_only in (False, True)
        )
        self.secure_cookies = secure_cookies
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif is_secure(scope, self.secure_cookies):
            await self.secure(scope, receive, send)
        else:
            await self.plain(scope, receive, send)


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
