"""What the portal keeps in its session: who, how far along, CSRF, messages, language.

The session lives in the portal's Redis (``security.Sessions``); the cookie holds only its id.
It never holds a password or a token. Two things a user must see again after a refresh or a
mistake wait there for a few minutes: a new set of recovery codes, until the user has saved
it, and an authenticator set-up's key and QR code, until its first code confirms it.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any, Literal

from fastapi import Request
from pydantic import BaseModel, ValidationError

from examples.portal.store import PortalStore

Kind = Literal["info", "error"]


class PendingLogin(BaseModel):
    """A password that was right and a second step not yet done."""

    account_id: str
    challenge_id: str
    method: Literal["email", "totp", "recovery_code", "webauthn"] = "email"
    methods: list[str] = ["email"]
    # The browser's navigator.credentials.get() options, when the account has a security key.
    webauthn: dict[str, Any] | None = None
    sent_to: str | None = None
    # No email went out: minutes until one can, and why ("send_limit": the account's hourly
    # cap; "mail_delayed": twostep's mail queue is too far behind, so it asked for another way).
    email_refused_minutes: int | None = None
    email_refused_code: str | None = None
    # About how long the code email is expected to take (twostep's mail queue), when one went.
    expected_delivery_seconds: int | None = None


class Flash(BaseModel):
    """A message for the next page: a catalogue key, its parameters, and a count for plurals."""

    key: str
    kind: Kind = "info"
    count: int | None = None
    params: dict[str, str | int] = {}


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def csrf_matches(request: Request, submitted: str) -> bool:
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not submitted:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())


def start_over(request: Request) -> None:
    """Forget everything but the chosen language, with a new session id and CSRF token (no
    fixation): the old session is deleted, so a copy of its cookie no longer works."""
    lang = request.session.get("lang")
    request.session.clear()
    request.state.session_handle.renew = True
    if lang:
        request.session["lang"] = lang
    csrf_token(request)


def signed_in(request: Request) -> str | None:
    """The account id of the signed-in user, if the whole sign-in is done."""
    account_id = request.session.get("account_id")
    return account_id if isinstance(account_id, str) else None


def sign_in(request: Request, account_id: str) -> None:
    start_over(request)
    request.session["account_id"] = account_id


async def end_other_sessions(request: Request, store: PortalStore, account_id: str) -> None:
    """End the account's sessions in other browsers (after a password or two-step change)."""
    await store.end_sessions(account_id, keep=request.state.session_handle.session_id)


def pending(request: Request) -> PendingLogin | None:
    raw = request.session.get("pending")
    if raw is None:
        return None
    try:
        return PendingLogin.model_validate(raw)
    except ValidationError:
        request.session.pop("pending", None)
        return None


def set_pending(request: Request, login: PendingLogin) -> None:
    request.session["pending"] = login.model_dump()


def flash(
    request: Request, key: str, kind: Kind = "info", count: int | None = None, **params: str | int
) -> None:
    request.session["flash"] = Flash(key=key, kind=kind, count=count, params=params).model_dump()


def pop_flash(request: Request) -> Flash | None:
    raw: Any = request.session.pop("flash", None)
    if raw is None:
        return None
    try:
        return Flash.model_validate(raw)
    except ValidationError:
        return None
