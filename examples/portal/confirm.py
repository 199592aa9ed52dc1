"""Confirm what cannot be undone, and ask who it is.

Turning two-step off, removing the authenticator app, making a new set of recovery codes
and revoking every trusted browser each have a page that says what will happen and waits for
a click. The first three weaken the account or hand out a way in, so that page also asks for
the password again, as the big providers do: a session left open on a shared computer, or
one stolen, cannot do them alone. A right password counts for a few minutes
(``REAUTH_SECONDS``); wrong ones are throttled with the sign-in's own counter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, Response

from examples.portal import account, session
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
from examples.portal.passwords import verify_password
from examples.portal.settings import User

router = APIRouter(dependencies=[Language])

REAUTH_SECONDS = 5 * 60
_REAUTH_UNTIL = "reauth_until"


@dataclass(frozen=True)
class Action:
    """One action that asks first. ``key`` names its catalogue strings: ``confirm_<key>_title``,
    ``confirm_<key>_body`` and ``confirm_<key>_button``."""

    key: str
    reauth: bool
    run: Callable[[Request, Portal, User], Awaitable[Response]]


ACTIONS = {
    "two-step-off": Action("off", reauth=True, run=account.two_step_off),
    "remove-app": Action("remove_app", reauth=True, run=account.remove_app),
    "new-recovery-codes": Action("recovery", reauth=True, run=account.new_recovery_codes),
    "revoke-all": Action("revoke_all", reauth=False, run=account.revoke_all),
}


def _action(name: str) -> Action:
    action = ACTIONS.get(name)
    if action is None:
        raise HTTPException(status_code=404)
    return action


def _fresh(request: Request, portal: Portal) -> bool:
    """Whether the password was given again in the last few minutes."""
    until = request.session.get(_REAUTH_UNTIL)
    return isinstance(until, int | float) and until > portal.clock()


def _page(
    request: Request,
    portal: Portal,
    user: User,
    name: str,
    *,
    status_code: int = 200,
    message: session.Flash | None = None,
) -> Response:
    action = _action(name)
    return render(
        request,
        "confirm.html",
        status_code=status_code,
        message=message,
        user=user,
        name=name,
        key=action.key,
        ask_password=action.reauth and not _fresh(request, portal),
    )


@router.get(account.SECURITY + "/confirm/{name}")
async def confirm_page(request: Request, portal: PortalDep, user: SignedIn, name: str) -> Response:
    return _page(request, portal, user, name)


@router.post(account.SECURITY + "/confirm/{name}", dependencies=[Csrf])
async def confirmed(
    request: Request,
    portal: PortalDep,
    user: SignedIn,
    name: str,
    password: Annotated[str, Form()] = "",
) -> Response:
    action = _action(name)
    if action.reauth and not _fresh(request, portal):
        ip = client_of(request).ip
        wait = await portal.throttle.attempt(user.email, ip)
        if wait:
            key = "signin_wait_seconds" if wait < 120 else "signin_wait_minutes"
            note = session.Flash(
                key=key, kind="error", params={"seconds": wait, "minutes": minutes(wait)}
            )
            refused = _page(request, portal, user, name, status_code=429, message=note)
            refused.headers["Retry-After"] = str(wait)
            return refused
        hashed = await portal.password_hash_of(user)
        right = await asyncio.to_thread(verify_password, password[:1024], hashed)
        if not right or len(password) > 1024:
            note = session.Flash(key="wrong_password", kind="error")
            return _page(request, portal, user, name, status_code=401, message=note)
        await portal.throttle.succeeded(user.email, ip)
        request.session[_REAUTH_UNTIL] = portal.clock() + REAUTH_SECONDS
    return await action.run(request, portal, user)
