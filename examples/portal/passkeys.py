"""Security keys and passkeys (WebAuthn): adding one in the Security tab, renaming and removing
one (their pages are confirm.py's), asking for one first at sign-in, and signing in with one.

The browser does the ceremony (``static/passkeys.js``): the page carries twostep's options, and
the browser's answer comes back as JSON in a form field, which the portal hands to twostep as
it is. twostep checks it; the portal only checks that it is a JSON object of a sane size.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ValidationError
from twostep_client import (
    InvalidAssertion,
    MethodNotAvailable,
    RegistrationNotFound,
    SecurityKey,
    SecurityKeyExists,
    SecurityKeyLimit,
    SecurityKeyNotFound,
    TwoStepError,
    WebauthnNotConfigured,
    WebauthnRefused,
)
from twostep_client import ValidationError as Unreadable

from examples.portal import login as signin
from examples.portal import session
from examples.portal.context import (
    SECURITY,
    Csrf,
    Language,
    Portal,
    PortalDep,
    SecondStep,
    SignedIn,
    client_of,
)
from examples.portal.settings import User

router = APIRouter(dependencies=[Language])

KEYS = f"{SECURITY}/keys"
# A key being added: twostep's options wait in the server-side session until the browser
# answers, for as long as twostep keeps the registration (5 minutes).
_REGISTRATION = "key_registration"
_KEY_ID = re.compile(r"sk_[A-Za-z0-9_-]{16}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_NAME_CHARS = 64
# A browser's answer is a few hundred bytes to a few KiB; twostep takes at most 64 KiB.
MAX_ANSWER_CHARS = 32 * 1024
# twostep's refusals of a new key, and what the Security tab says for each.
_NOT_ADDED: dict[type[TwoStepError], str] = {
    RegistrationNotFound: "key_setup_expired",
    WebauthnRefused: "key_not_added",
    Unreadable: "key_unreadable",
    SecurityKeyExists: "key_exists",
    SecurityKeyLimit: "key_limit",
    WebauthnNotConfigured: "keys_off",
}


def _not_added(exc: TwoStepError) -> str:
    """What the Security tab says for a refused key; any other error goes on (app.py)."""
    key = next((key for cls, key in _NOT_ADDED.items() if isinstance(exc, cls)), None)
    if key is None:
        raise exc
    return key


class HeldRegistration(BaseModel):
    registration_id: str
    name: str
    public_key: dict[str, Any]
    until: float


def _see(location: str = SECURITY) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


def key_name(typed: str) -> str | None:
    """A key's name as twostep takes it (one line, 1 to 64 characters, no outer spaces)."""
    name = typed.strip()
    if not name or len(name) > MAX_NAME_CHARS or _CONTROL.search(name):
        return None
    return name


def browser_answer(posted: str) -> dict[str, Any] | None:
    """The JSON object the page's script posted, or None when it is not one."""
    if not posted or len(posted) > MAX_ANSWER_CHARS:
        return None
    try:
        answer = json.loads(posted)
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def held_registration(request: Request, portal: Portal) -> HeldRegistration | None:
    held = request.session.get(_REGISTRATION)
    if held is None:
        return None
    try:
        registration = HeldRegistration.model_validate(held)
    except ValidationError:
        registration = None
    if registration is None or registration.until <= portal.clock():
        request.session.pop(_REGISTRATION, None)
        return None
    return registration


async def find_key(portal: Portal, user: User, key_id: str) -> SecurityKey | None:
    """One of the account's keys, by the id twostep gave it."""
    if not _KEY_ID.fullmatch(key_id):
        return None
    keys = await portal.twostep.list_security_keys(user.account_id)
    return next((key for key in keys if key.key_id == key_id), None)


# Adding a key


@router.post(KEYS, dependencies=[Csrf])
async def add_key(
    request: Request, portal: PortalDep, user: SignedIn, name: Annotated[str, Form()] = ""
) -> Response:
    wanted = key_name(name[: MAX_NAME_CHARS * 4])
    if wanted is None:
        session.flash(request, "key_name_invalid" if name.strip() else "key_name_missing", "error")
        return _see()
    try:
        registration = await portal.twostep.begin_key_registration(user.account_id)
    except (SecurityKeyLimit, WebauthnNotConfigured) as exc:
        session.flash(request, _not_added(exc), "error")
        return _see()
    request.session[_REGISTRATION] = HeldRegistration(
        registration_id=registration.registration_id,
        name=wanted,
        public_key=registration.public_key,
        until=portal.clock() + portal.seconds_until(registration.expires_at),
    ).model_dump()
    return _see()


@router.post(f"{KEYS}/new", dependencies=[Csrf])
async def finish_adding(
    request: Request,
    portal: PortalDep,
    user: SignedIn,
    credential: Annotated[str, Form()] = "",
) -> Response:
    held = held_registration(request, portal)
    if held is None:
        session.flash(request, "key_setup_expired", "error")
        return _see()
    answer = browser_answer(credential)
    if answer is None:
        # Not sent to twostep, so its registration still holds: the user may try again.
        session.flash(request, "key_unreadable", "error")
        return _see()
    # twostep uses a registration once, right or wrong.
    request.session.pop(_REGISTRATION, None)
    try:
        key = await portal.twostep.finish_key_registration(
            user.account_id, held.registration_id, held.name, answer, client=client_of(request)
        )
    except TwoStepError as exc:
        session.flash(request, _not_added(exc), "error")
        return _see()
    # A new way in, as a new authenticator app is: the account's other sessions end.
    await session.end_other_sessions(request, portal.store, user.account_id)
    session.flash(request, "key_added", name=key.name)
    return _see()


@router.post(f"{KEYS}/cancel", dependencies=[Csrf])
async def cancel_adding(request: Request, user: SignedIn) -> Response:
    request.session.pop(_REGISTRATION, None)
    return _see()


@router.post(f"{KEYS}/first", dependencies=[Csrf])
async def ask_first(
    request: Request, portal: PortalDep, user: SignedIn, first: Annotated[str, Form()] = ""
) -> Response:
    """Whether a sign-in asks for a key first (and the two-step page opens its prompt)."""
    wanted = first == "on"
    locale = await portal.locale_of(user)
    # Only the preferred method changes: twostep keeps the time zone it has.
    await portal.twostep.put_account(
        user.account_id, user.email, locale=locale, preferred_method="webauthn" if wanted else None
    )
    session.flash(request, "key_first_now_on" if wanted else "key_first_now_off")
    return _see()


# Renaming and removing one: confirm.py asks first, then calls these.


async def rename_key(
    request: Request, portal: Portal, user: User, key: SecurityKey, new_name: str
) -> Response:
    try:
        renamed = await portal.twostep.rename_security_key(user.account_id, key.key_id, new_name)
    except SecurityKeyNotFound:
        session.flash(request, "key_gone", "error")
        return _see()
    session.flash(request, "key_renamed", name=renamed.name)
    return _see()


async def remove_key(
    request: Request, portal: Portal, user: User, key: SecurityKey, new_name: str
) -> Response:
    try:
        await portal.twostep.remove_security_key(
            user.account_id, key.key_id, client=client_of(request)
        )
    except SecurityKeyNotFound:
        session.flash(request, "key_gone", "error")
        return _see()
    await session.end_other_sessions(request, portal.store, user.account_id)
    session.flash(request, "key_removed", name=key.name)
    return _see()


# Signing in with one


@router.post("/two-step/key", dependencies=[Csrf])
async def sign_in_with_key(
    request: Request,
    portal: PortalDep,
    login: SecondStep,
    credential: Annotated[str, Form()] = "",
    remember_browser: Annotated[str | None, Form()] = None,
) -> Response:
    if not login.webauthn or "webauthn" not in login.methods:
        return _see("/two-step")
    answer = browser_answer(credential)
    if answer is None:
        session.flash(request, "key_unreadable", "error")
        return _see("/two-step")
    try:
        verified = await portal.twostep.verify_security_key(
            login.challenge_id,
            answer,
            remember_browser=remember_browser is not None,
            client=client_of(request),
        )
    except TwoStepError as exc:
        return _key_refused(request, login, exc)
    return signin.signed_in(request, portal, login, verified)


def _key_refused(request: Request, login: session.PendingLogin, exc: TwoStepError) -> Response:
    if isinstance(exc, InvalidAssertion):
        # A key the account does not have, or an answer that does not check out: counted as
        # a wrong code is.
        session.flash(request, "key_refused", "error", count=exc.attempts_left or 0)
    elif isinstance(exc, Unreadable):
        session.flash(request, "key_unreadable", "error")
    elif isinstance(exc, MethodNotAvailable | WebauthnNotConfigured):
        # The keys went away meanwhile (removed elsewhere, or turned off on twostep): the page
        # keeps the other ways.
        others = [method for method in login.methods if method != "webauthn"]
        session.set_pending(request, login.model_copy(update={"methods": others, "webauthn": None}))
        session.flash(request, "keys_off", "error")
    else:
        return signin.verify_refused(request, login, exc)
    return _see("/two-step")
