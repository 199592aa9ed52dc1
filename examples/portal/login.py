"""The sign-in pages: password, then the second step (email code, app code or recovery code)."""

from __future__ import annotations

import asyncio
import math
import zoneinfo
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from markupsafe import Markup
from twostep_client import (
    KEEP,
    AccountLocked,
    ChallengeNotFound,
    CodeAlreadyUsed,
    InvalidCode,
    MailDelayed,
    MethodNotAvailable,
    NotRequired,
    Pending,
    ResendTooSoon,
    SendLimit,
    TooManyAttempts,
    TwoStepError,
    UnexpectedResponse,
    Verified,
)
from twostep_client import ValidationError as MalformedCode

from examples.portal import locales, session
from examples.portal.context import (
    Csrf,
    Language,
    Portal,
    PortalDep,
    SecondStep,
    client_of,
    minutes,
    render,
    secure_request,
)
from examples.portal.passwords import verify_password

router = APIRouter(dependencies=[Language])

TRUSTED_COOKIE = "twostep_tb"
_TIME_ZONES = frozenset(zoneinfo.available_timezones())
# Locks and expiries end the login: the user starts again from the password.
_ENDS_LOGIN: dict[type[TwoStepError], str] = {
    TooManyAttempts: "too_many_attempts",
    ChallengeNotFound: "code_expired",
}
# The ways of verifying this portal knows; a login that asks for another one cannot go on.
_METHODS = ("email", "totp", "recovery_code", "webauthn")


def _see(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


def _restart(request: Request, key: str, minutes: int | None = None) -> RedirectResponse:
    session.start_over(request)
    if minutes is None:
        session.flash(request, key, "error")
    else:
        session.flash(request, key, "error", minutes=minutes)
    return _see("/signin")


@router.get("/signin")
async def signin_page(request: Request) -> Response:
    if session.pending(request) is not None:
        return _see("/two-step")
    if session.signed_in(request):
        return _see("/")
    return render(request, "signin.html", email="")


@router.post("/signin", dependencies=[Csrf])
async def signin(
    request: Request,
    portal: PortalDep,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    time_zone: Annotated[str, Form()] = "",
) -> Response:
    email = email[:254]
    ip = client_of(request).ip
    wait = await portal.throttle.attempt(email, ip)
    if wait:
        key = "signin_wait_seconds" if wait < 120 else "signin_wait_minutes"
        note = session.Flash(
            key=key, kind="error", params={"seconds": wait, "minutes": minutes(wait)}
        )
        refused = render(request, "signin.html", status_code=429, message=note, email=email)
        refused.headers["Retry-After"] = str(wait)
        return refused
    user = portal.settings.user_by_email(email)
    # Hash even for an unknown email (against a decoy) so timing does not tell which it was.
    hashed = await portal.password_hash_of(user) if user else None
    # Bound the work an anonymous request can ask of scrypt.
    right = await asyncio.to_thread(verify_password, password[:1024], hashed)
    if not right or user is None or len(password) > 1024:
        message = session.Flash(key="bad_password", kind="error")
        return render(request, "signin.html", status_code=401, message=message, email=email)
    await portal.throttle.succeeded(email, ip)

    # The language on screen is the one the emails use: a choice made in this browser wins,
    # and is kept for the account; else the one the account chose before.
    locale = locales.supported(request.session.get("lang"))
    if locale is None:
        locale = await portal.locale_of(user)
    else:
        await portal.store.set_locale(user.account_id, locale)
    client = client_of(request)
    token = request.cookies.get(TRUSTED_COOKIE) or None
    try:
        # The portal owns the profile: putting it at each sign-in keeps twostep in step.
        # A time zone this machine does not know is left out: twostep keeps the one it has.
        await portal.twostep.put_account(
            user.account_id, user.email, locale=locale, time_zone=known_time_zone(time_zone) or KEEP
        )
        login = await portal.twostep.start_login(
            user.account_id, trusted_browser_token=token, client=client
        )
    except (AccountLocked, SendLimit) as exc:
        key = "account_locked" if isinstance(exc, AccountLocked) else "send_limit"
        note = session.Flash(key=key, kind="error", params={"minutes": minutes(exc.retry_after)})
        return render(request, "signin.html", status_code=429, message=note, email=email)
    except MailDelayed as exc:
        # The code email would be too late (twostep's mail queue is behind), and the account
        # has no other way: nothing was started; the user tries again later.
        note = session.Flash(
            key="mail_delayed", kind="error", params={"minutes": minutes(exc.retry_after)}
        )
        refused = render(request, "signin.html", status_code=503, message=note, email=email)
        if exc.retry_after is not None:
            refused.headers["Retry-After"] = str(exc.retry_after)
        return refused
    if isinstance(login, NotRequired):
        session.sign_in(request, user.account_id)
        request.session["lang"] = locale
        return _see("/")
    session.start_over(request)
    request.session["lang"] = locale
    _remember(request, user.account_id, login)
    return _see("/two-step")


def known_time_zone(name: str) -> str | None:
    """The browser's IANA time zone (the sign-in form's script reads it), if this machine
    knows it; twostep shows the emails' times in it."""
    if not name or len(name) > 64 or name not in _TIME_ZONES:
        return None
    return name


def _remember(request: Request, account_id: str, login: Pending) -> None:
    if login.method not in _METHODS:
        raise UnexpectedResponse(f"twostep asked for a method unknown here: {login.method}")
    refused = login.email_refused
    session.set_pending(
        request,
        session.PendingLogin(
            account_id=account_id,
            challenge_id=login.challenge_id,
            method=login.method,
            methods=login.methods or ["email"],
            webauthn=login.webauthn,
            sent_to=login.sent_to,
            email_refused_minutes=minutes(refused.retry_after) if refused else None,
            email_refused_code=refused.code if refused else None,
            expected_delivery_seconds=login.expected_delivery_seconds,
        ),
    )


@router.get("/two-step")
async def two_step_page(request: Request, portal: PortalDep, login: SecondStep) -> Response:
    try:
        challenge = await portal.twostep.get_challenge(login.challenge_id)
    except ChallengeNotFound:
        return _restart(request, "code_expired")
    if challenge.status == "locked":
        return _restart(request, "too_many_attempts")
    if challenge.status != "pending":
        return _restart(request, "code_expired")
    expires_in = portal.seconds_until(challenge.expires_at)
    wait = portal.seconds_until(challenge.resend_available_at)
    # Rendered by the server, so the page is right without JS; the inline script counts down.
    countdown = Markup('<span id="resend-countdown" data-seconds="{0}">{0}</span>').format(wait)
    note = session.pop_flash(request)
    # The code email is expected to take a while (twostep's mail queue is behind): say so.
    expected = login.expected_delivery_seconds
    slow = expected is not None and expected >= portal.settings.slow_email_seconds
    return render(
        request,
        "two_step.html",
        message=note,
        login=login,
        slow_email_minutes=minutes(expected) if slow else None,
        expires_minutes=max(1, math.ceil(expires_in / 60)),
        resend_seconds=wait,
        countdown=countdown,
        # The key's prompt opens by itself when the login asks for the key first, unless the
        # page comes back with a message (a refused key would otherwise prompt in a loop).
        key_autostart=login.method == "webauthn" and note is None,
    )


@router.post("/two-step", dependencies=[Csrf])
async def verify(
    request: Request,
    portal: PortalDep,
    login: SecondStep,
    code: Annotated[str, Form()] = "",
    remember_browser: Annotated[str | None, Form()] = None,
) -> Response:
    if login.method == "webauthn":
        return _see("/two-step")  # a security key answers on its own form (passkeys.py)
    if not code.strip():
        session.flash(request, "code_missing", "error")
        return _see("/two-step")
    if len(code) > 64:
        return _malformed(request, login)
    try:
        verified = await portal.twostep.verify(
            login.challenge_id,
            code,
            method=login.method,
            remember_browser=remember_browser is not None,
            client=client_of(request),
        )
    except TwoStepError as exc:
        return verify_refused(request, login, exc)
    return signed_in(request, portal, login, verified)


def signed_in(
    request: Request, portal: Portal, login: session.PendingLogin, verified: Verified
) -> Response:
    """The second step passed: sign in, and keep a trusted browser's token if one came."""
    session.sign_in(request, login.account_id)
    response = _see("/")
    grant = verified.trusted_browser
    if grant is not None:
        response.set_cookie(
            TRUSTED_COOKIE,
            grant.token,
            max_age=portal.seconds_until(grant.expires_at),
            path="/",
            secure=secure_request(request, portal),
            httponly=True,
            # Starlette passes the value through; "Lax" is how browsers and the RFC spell it.
            samesite="Lax",  # type: ignore[arg-type]
        )
    return response


def _ends_login(exc: TwoStepError) -> str | None:
    return next((key for cls, key in _ENDS_LOGIN.items() if isinstance(exc, cls)), None)


def _malformed(request: Request, login: session.PendingLogin) -> Response:
    """A code of the wrong shape: said so, and not counted as an attempt."""
    key = "recovery_format" if login.method == "recovery_code" else "code_format"
    session.flash(request, key, "error")
    return _see("/two-step")


def verify_refused(request: Request, login: session.PendingLogin, exc: TwoStepError) -> Response:
    """What a refused code or key leads to: the sign-in again, or this page with why. Any
    other error goes on to the "unavailable" page (app.py)."""
    ends = _ends_login(exc)
    if ends is not None:
        return _restart(request, ends)
    if isinstance(exc, AccountLocked):
        return _restart(request, "account_locked", minutes=minutes(exc.retry_after))
    if isinstance(exc, CodeAlreadyUsed):
        # Right once, so no typo: the app's next code (or another recovery code) will do.
        key = "recovery_used" if login.method == "recovery_code" else "code_used"
        session.flash(request, key, "error", count=exc.attempts_left or 0)
    elif isinstance(exc, InvalidCode):
        session.flash(request, "wrong_code", "error", count=exc.attempts_left or 0)
    elif isinstance(exc, MalformedCode):
        return _malformed(request, login)
    elif isinstance(exc, MethodNotAvailable):
        session.set_pending(request, login.model_copy(update={"method": "email"}))
        session.flash(request, "method_unavailable", "error")
    else:
        raise exc
    return _see("/two-step")


@router.post("/two-step/resend", dependencies=[Csrf])
async def resend(request: Request, portal: PortalDep, login: SecondStep) -> Response:
    try:
        again = await portal.twostep.resend(login.challenge_id, client=client_of(request))
    except (TooManyAttempts, ChallengeNotFound) as exc:
        return _restart(request, _ends_login(exc) or "code_expired")
    except ResendTooSoon as exc:
        session.flash(request, "resend_too_soon", "error", seconds=exc.retry_after or 1)
        return _see("/two-step")
    except (SendLimit, MailDelayed) as exc:
        # No email now: the account's hourly cap, or twostep's mail queue is too far behind.
        key = "send_limit" if isinstance(exc, SendLimit) else "mail_delayed"
        session.flash(request, key, "error", minutes=minutes(exc.retry_after))
        return _see("/two-step")
    update = {
        "method": "email",
        "sent_to": again.sent_to or login.sent_to,
        "webauthn": again.webauthn or login.webauthn,
        "expected_delivery_seconds": again.expected_delivery_seconds,
    }
    session.set_pending(request, login.model_copy(update=update))
    session.flash(request, "resent", address=again.sent_to or "")
    return _see("/two-step")


@router.post("/two-step/method", dependencies=[Csrf])
async def switch_method(
    request: Request,
    login: SecondStep,
    method: Annotated[str, Form()] = "email",
) -> Response:
    # Switching is only a change of form: the verify call names the method. Without JS the
    # key's button lands here too; the key's form then asks the browser itself.
    known = ("email", "totp", "recovery_code") + (("webauthn",) if login.webauthn else ())
    if method in known and method in login.methods:
        session.set_pending(request, login.model_copy(update={"method": method}))
    return _see("/two-step")


@router.post("/sign-out", dependencies=[Csrf])
async def sign_out(request: Request) -> Response:
    session.start_over(request)
    session.flash(request, "signed_out")
    return _see("/signin")
