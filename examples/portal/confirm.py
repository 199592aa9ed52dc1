"""Confirm what cannot be undone, and ask who it is.

Turning two-step off, removing the authenticator app, making a new set of recovery codes,
revoking every trusted browser, and removing or renaming a security key each have a page that
says what will happen and waits for a click. Those that weaken the account or hand out a way
in (all but revoking and renaming) also ask for the password again, as the big providers do:
a session left open on a shared computer, or one stolen, cannot do them alone. A right
password counts for a few minutes (``REAUTH_SECONDS``); wrong ones are throttled with the
sign-in's own counter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, Response
from twostep_client import SecurityKey

from examples.portal import account, passkeys, session
from examples.portal.context import (
    SECURITY,
    Csrf,
    Language,
    Portal,
    PortalDep,
    Redirect,
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


@dataclass(frozen=True)
class KeyAction:
    """One action on one security key (``.../confirm/<name>/<key_id>``): its page names the
    key, and ``asks_name`` adds a field for a new name, which ``run`` gets."""

    key: str
    reauth: bool
    run: Callable[[Request, Portal, User, SecurityKey, str], Awaitable[Response]]
    asks_name: bool = False


ACTIONS = {
    "two-step-off": Action("off", reauth=True, run=account.two_step_off),
    "remove-app": Action("remove_app", reauth=True, run=account.remove_app),
    "new-recovery-codes": Action("recovery", reauth=True, run=account.new_recovery_codes),
    "revoke-all": Action("revoke_all", reauth=False, run=account.revoke_all),
}
KEY_ACTIONS = {
    "remove-key": KeyAction("remove_key", reauth=True, run=passkeys.remove_key),
    "rename-key": KeyAction("rename_key", reauth=False, run=passkeys.rename_key, asks_name=True),
}


def _action(name: str) -> Action:
    action = ACTIONS.get(name)
    if action is None:
        raise HTTPException(status_code=404)
    return action


def _key_action(name: str) -> KeyAction:
    action = KEY_ACTIONS.get(name)
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
        subject="",
        ask_name=False,
        new_name="",
        ask_password=action.reauth and not _fresh(request, portal),
    )


def _key_page(
    request: Request,
    portal: Portal,
    user: User,
    name: str,
    key: SecurityKey,
    *,
    status_code: int = 200,
    message: session.Flash | None = None,
    new_name: str | None = None,
) -> Response:
    action = _key_action(name)
    return render(
        request,
        "confirm.html",
        status_code=status_code,
        message=message,
        user=user,
        name=f"{name}/{key.key_id}",
        key=action.key,
        subject=key.name,
        ask_name=action.asks_name,
        new_name=key.name if new_name is None else new_name,
        ask_password=action.reauth and not _fresh(request, portal),
    )


async def _reauthenticate(
    request: Request,
    portal: Portal,
    user: User,
    password: str,
    refuse: Callable[[int, session.Flash], Response],
) -> Response | None:
    """None once the password was given again (now or a moment ago), else the page that says
    why not (``refuse`` renders it with a status and a message)."""
    if _fresh(request, portal):
        return None
    ip = client_of(request).ip
    wait = await portal.throttle.attempt(user.email, ip)
    if wait:
        key = "signin_wait_seconds" if wait < 120 else "signin_wait_minutes"
        note = session.Flash(
            key=key, kind="error", params={"seconds": wait, "minutes": minutes(wait)}
        )
        refused = refuse(429, note)
        refused.headers["Retry-After"] = str(wait)
        return refused
    hashed = await portal.password_hash_of(user)
    right = await asyncio.to_thread(verify_password, password[:1024], hashed)
    if not right or len(password) > 1024:
        return refuse(401, session.Flash(key="wrong_password", kind="error"))
    await portal.throttle.succeeded(user.email, ip)
    request.session[_REAUTH_UNTIL] = portal.clock() + REAUTH_SECONDS
    return None


@router.get(SECURITY + "/confirm/{name}")
async def confirm_page(request: Request, portal: PortalDep, user: SignedIn, name: str) -> Response:
    return _page(request, portal, user, name)


@router.post(SECURITY + "/confirm/{name}", dependencies=[Csrf])
async def confirmed(
    request: Request,
    portal: PortalDep,
    user: SignedIn,
    name: str,
    password: Annotated[str, Form()] = "",
) -> Response:
    action = _action(name)
    if action.reauth:

        def refuse(status_code: int, note: session.Flash) -> Response:
            return _page(request, portal, user, name, status_code=status_code, message=note)

        refused = await _reauthenticate(request, portal, user, password, refuse)
        if refused is not None:
            return refused
    return await action.run(request, portal, user)


async def _the_key(request: Request, portal: Portal, user: User, key_id: str) -> SecurityKey:
    key = await passkeys.find_key(portal, user, key_id)
    if key is None:
        session.flash(request, "key_gone", "error")
        raise Redirect(SECURITY)
    return key


@router.get(SECURITY + "/confirm/{name}/{key_id}")
async def key_confirm_page(
    request: Request, portal: PortalDep, user: SignedIn, name: str, key_id: str
) -> Response:
    _key_action(name)
    key = await _the_key(request, portal, user, key_id)
    return _key_page(request, portal, user, name, key)


@router.post(SECURITY + "/confirm/{name}/{key_id}", dependencies=[Csrf])
async def key_confirmed(
    request: Request,
    portal: PortalDep,
    user: SignedIn,
    name: str,
    key_id: str,
    password: Annotated[str, Form()] = "",
    new_name: Annotated[str, Form()] = "",
) -> Response:
    action = _key_action(name)
    key = await _the_key(request, portal, user, key_id)
    typed = new_name[: passkeys.MAX_NAME_CHARS * 4]

    def refuse(status_code: int, note: session.Flash) -> Response:
        return _key_page(
            request, portal, user, name, key, status_code=status_code, message=note, new_name=typed
        )

    wanted = passkeys.key_name(typed) if action.asks_name else ""
    if wanted is None:
        invalid = "key_name_invalid" if typed.strip() else "key_name_missing"
        return refuse(400, session.Flash(key=invalid, kind="error"))
    if action.reauth:
        refused = await _reauthenticate(request, portal, user, password, refuse)
        if refused is not None:
            return refused
    return await action.run(request, portal, user, key, wanted)
