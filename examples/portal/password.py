"""The password page: change it, with the current one, and end every other session."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from examples.portal import session
from examples.portal.context import (
    Csrf,
    Language,
    Portal,
    PortalDep,
    SignedIn,
    client_of,
    minutes,
    render,
)
from examples.portal.passwords import hash_password, verify_password
from examples.portal.settings import User

router = APIRouter(dependencies=[Language])

PAGE = "/settings/password"
# NIST SP 800-63B: at least 8 characters, no composition rules; 10 here. The upper bound keeps
# scrypt's work per request small.
MIN_LENGTH = 10
MAX_LENGTH = 1024


def _page(
    request: Request, user: User, *, status_code: int = 200, error: str | None = None, **params: int
) -> Response:
    note = session.Flash(key=error, kind="error", params=params) if error else None
    return render(
        request,
        "password.html",
        status_code=status_code,
        message=note,
        user=user,
        min_length=MIN_LENGTH,
    )


@router.get(PAGE)
async def password_page(request: Request, user: SignedIn) -> Response:
    return _page(request, user)


async def _refusal(
    request: Request, portal: Portal, user: User, current: str, new: str, again: str
) -> Response | None:
    """The page that says what is wrong, or None when the change may go ahead."""
    ip = client_of(request).ip
    wait = await portal.throttle.attempt(user.email, ip)
    if wait:
        key = "signin_wait_seconds" if wait < 120 else "signin_wait_minutes"
        refused = _page(
            request, user, status_code=429, error=key, seconds=wait, minutes=minutes(wait)
        )
        refused.headers["Retry-After"] = str(wait)
        return refused
    hashed = await portal.password_hash_of(user)
    right = await asyncio.to_thread(verify_password, current[:MAX_LENGTH], hashed)
    if not right or len(current) > MAX_LENGTH:
        return _page(request, user, status_code=401, error="wrong_password")
    await portal.throttle.succeeded(user.email, ip)
    if len(new) < MIN_LENGTH:
        return _page(request, user, status_code=422, error="password_length", n=MIN_LENGTH)
    if len(new) > MAX_LENGTH:
        return _page(request, user, status_code=422, error="password_too_long", n=MAX_LENGTH)
    if new != again:
        return _page(request, user, status_code=422, error="password_mismatch")
    if new == current:
        return _page(request, user, status_code=422, error="password_same")
    return None


@router.post(PAGE, dependencies=[Csrf])
async def change_password(
    request: Request,
    portal: PortalDep,
    user: SignedIn,
    current_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
    new_password_again: Annotated[str, Form()] = "",
) -> Response:
    refused = await _refusal(
        request, portal, user, current_password, new_password, new_password_again
    )
    if refused is not None:
        return refused
    hashed = await asyncio.to_thread(hash_password, new_password)
    await portal.store.set_password_hash(user.account_id, hashed)
    # Whoever else holds a session (a stolen cookie, a shared computer) is out; this browser
    # stays signed in, under a new session id.
    await portal.store.end_sessions(user.account_id)
    lang = request.session.get("lang")
    session.sign_in(request, user.account_id)
    if lang:
        request.session["lang"] = lang
    session.flash(request, "password_changed")
    return RedirectResponse("/settings/security", status_code=303)
