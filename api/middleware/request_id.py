"""The request id: taken from ``X-Request-ID`` or made up, set for the request, echoed back."""

from __future__ import annotations

import re
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.requestctx import REQUEST_ID

HEADER = b"x-request-id"
# What a caller may choose: short, and nothing that could break a log line or a header.
_ACCEPTED = re.compile(r"[A-Za-z0-9._-]{1,64}")


def new_request_id() -> str:
    return secrets.token_hex(8)


def accepted_request_id(value: bytes) -> str | None:
    """The caller's id when it is one we keep as it is, else ``None``."""
    text = value.decode("latin-1")
    return text if _ACCEPTED.fullmatch(text) else None


class RequestId:
    """Pure ASGI middleware (no per-request task or body buffering): it only reads a header,
    sets ``REQUEST_ID`` while the request runs and adds the header to the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = None
        for name, value in scope.get("headers", ()):
            if name == HEADER:
                rid = accepted_request_id(value)
                break
        rid = rid or new_request_id()
        header = (HEADER, rid.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        token = REQUEST_ID.set(rid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
