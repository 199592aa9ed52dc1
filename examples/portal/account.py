"""The signed-in pages: home, and the Security tab of the account settings."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import PlainTextResponse, RedirectResponse
from markupsafe import Markup
from pydantic import ValidationError
from twostep_client import (
    Account,
    AccountNotFound,
    BrowserNotFound,
    InvalidCode,
    RateLimited,
    TotpEnrolment,
    TotpEnrolmentNotFound,
    TwoStepError,
)
from twostep_client import ValidationError as MalformedCode

from examples.portal import passkeys, session
from examples.portal.context import (
    SECURITY,
    Csrf,
    Language,
    Portal,
    PortalDep,
    SignedIn,
    client_of,
    confirm_url,
    language,
    minutes,
    render,
    stamp,
    when,
)
from examples.portal.locales import Translator
from examples.portal.login import TRUSTED_COOKIE
from examples.portal.settings import User

router = APIRouter(dependencies=[Language])

# An authenticator set-up waiting for its first code: its key and QR code stay on the page
# (after a wrong code too) until it is confirmed, started again, or twostep lets it expire
# (15 minutes). Kept in the server-side session, never in a cookie.
_TOTP_PENDING = "totp_pending"
_TOTP_HOLD_SECONDS = 15 * 60
RECOVERY = f"{SECURITY}/recovery-codes"
_RECOVERY_CODES = "recovery_codes"
_HOLD_SECONDS = 10 * 60
_BROWSER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _see(location: str = SECURITY) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


@router.get("/")
async def home(request: Request, user: SignedIn) -> Response:
    return render(request, "home.html", user=user)


@router.get("/settings")
async def settings(user: SignedIn) -> Response:
    return _see()


async def _account(portal: Portal, user: User) -> Account:
    try:
        return await portal.twostep.get_account(user.account_id)
    except AccountNotFound:
        # The profile went away on twostep's side (deleted or Redis reset): put it back.
        locale = await portal.locale_of(user)
        return await portal.twostep.put_account(user.account_id, user.email, locale=locale)


def _held_enrolment(request: Request, portal: Portal) -> TotpEnrolment | None:
    held = request.session.get(_TOTP_PENDING)
    if not isinstance(held, dict) or not held.get("until", 0) > portal.clock():
        request.session.pop(_TOTP_PENDING, None)
        return None
    try:
        return TotpEnrolment.model_validate(held.get("enrolment"))
    except ValidationError:
        request.session.pop(_TOTP_PENDING, None)
        return None


def _this_browser(request: Request) -> str | None:
    """The trusted browser this request comes from: its token starts with its id and a dot."""
    token = request.cookies.get(TRUSTED_COOKIE) or ""
    browser_id, dot, _secret = token.partition(".")
    return browser_id if dot else None


async def _security_page(request: Request, portal: Portal, user: User) -> Response:
    account = await _account(portal, user)
    browsers = await portal.twostep.list_trusted_browsers(user.account_id)
    keys = await portal.twostep.list_security_keys(user.account_id)
    if account.totp_enabled:
        request.session.pop(_TOTP_PENDING, None)
    enrolment = _held_enrolment(request, portal)
    note = session.pop_flash(request)
    registration = passkeys.held_registration(request, portal)
    return render(
        request,
        "security.html",
        message=note,
        user=user,
        account=account,
        browsers=browsers,
        this_browser=_this_browser(request),
        when=when,
        stamp=stamp,
        enrolment=enrolment,
        # Our own API drew the QR code: it is trusted markup, shown inline.
        qr_svg=Markup(enrolment.qr_svg) if enrolment else None,  # noqa: S704
        keys=keys,
        registration=registration,
        # A key being added: the browser's prompt opens by itself, unless the page comes
        # back with a message (the user then starts it again, or cancels).
        key_autostart=registration is not None and note is None,
    )


@router.get(SECURITY)
async def security(request: Request, portal: PortalDep, user: SignedIn) -> Response:
    return await _security_page(request, portal, user)


def _too_many(request: Request, exc: TwoStepError) -> RedirectResponse:
    if not isinstance(exc, RateLimited):
        raise exc
    session.flash(request, "too_many_tries", "error", minutes=minutes(exc.retry_after))
    return _see()


@router.post(f"{SECURITY}/two-step", dependencies=[Csrf])
async def apply_two_step(
    request: Request,
    portal: PortalDep,
    user: SignedIn,
    enabled: Annotated[str | None, Form()] = None,
) -> Response:
    before = await _account(portal, user)
    wanted = enabled is not None
    if wanted == before.two_step_enabled:
        session.flash(request, "unchanged")
        return _see()
    if not wanted:
        # Off weakens the account: its own page asks first, and for the password.
        return _see(confirm_url("two-step-off"))
    await portal.twostep.set_two_step(user.account_id, True, client=client_of(request))
    await session.end_other_sessions(request, portal.store, user.account_id)
    session.flash(request, "now_on")
    return _see()


async def two_step_off(request: Request, portal: Portal, user: User) -> Response:
    await portal.twostep.set_two_step(user.account_id, False, client=client_of(request))
    await session.end_other_sessions(request, portal.store, user.account_id)
    session.flash(request, "now_off")
    return _see()


@router.post(f"{SECURITY}/totp", dependencies=[Csrf])
async def totp_start(request: Request, portal: PortalDep, user: SignedIn) -> Response:
    enrolment = await portal.twostep.enrol_totp(user.account_id)
    request.session[_TOTP_PENDING] = {
        "enrolment": enrolment.model_dump(),
        "until": portal.clock() + _TOTP_HOLD_SECONDS,
    }
    return _see()


@router.post(f"{SECURITY}/totp/confirm", dependencies=[Csrf])
async def totp_confirm(
    request: Request,
    portal: PortalDep,
    user: SignedIn,
    code: Annotated[str, Form()] = "",
) -> Response:
    try:
        await portal.twostep.confirm_totp(user.account_id, code[:64], client=client_of(request))
    except TwoStepError as exc:
        if isinstance(exc, InvalidCode | MalformedCode):  # CodeAlreadyUsed is an InvalidCode
            # The key and QR code stay on the page: the user tries the next code.
            session.flash(request, "totp_wrong", "error")
        elif isinstance(exc, TotpEnrolmentNotFound):
            request.session.pop(_TOTP_PENDING, None)
            session.flash(request, "totp_expired", "error")
        else:
            return _too_many(request, exc)
        return _see()
    request.session.pop(_TOTP_PENDING, None)
    await session.end_other_sessions(request, portal.store, user.account_id)
    session.flash(request, "totp_confirmed")
    return _see()


async def remove_app(request: Request, portal: Portal, user: User) -> Response:
    await portal.twostep.disable_totp(user.account_id)
    await session.end_other_sessions(request, portal.store, user.account_id)
    request.session.pop(_TOTP_PENDING, None)
    session.flash(request, "totp_removed")
    return _see()


async def revoke_all(request: Request, portal: Portal, user: User) -> Response:
    await portal.twostep.revoke_all_trusted_browsers(user.account_id)
    session.flash(request, "revoked_all")
    return _see()


@router.post(SECURITY + "/browsers/{browser_id}/revoke", dependencies=[Csrf])
async def revoke(request: Request, portal: PortalDep, user: SignedIn, browser_id: str) -> Response:
    # An id of a shape twostep never gives is gone, as far as this user can tell.
    gone = not _BROWSER_ID.fullmatch(browser_id)
    if not gone:
        try:
            await portal.twostep.revoke_trusted_browser(user.account_id, browser_id)
        except BrowserNotFound:
            gone = True
    if gone:
        session.flash(request, "browser_gone", "error")
        return _see()
    session.flash(request, "revoked")
    return _see()


async def new_recovery_codes(request: Request, portal: Portal, user: User) -> Response:
    codes = await portal.twostep.new_recovery_codes(user.account_id, client=client_of(request))
    await session.end_other_sessions(request, portal.store, user.account_id)
    # Post, redirect, get: a refresh shows this set again and never makes another. The set
    # waits in the (server-side) session until the user says it is saved, or for 10 minutes.
    request.session[_RECOVERY_CODES] = {"codes": codes, "until": portal.clock() + _HOLD_SECONDS}
    return _see(RECOVERY)


def _held_codes(request: Request, portal: Portal) -> list[str] | None:
    held = request.session.get(_RECOVERY_CODES)
    if not isinstance(held, dict) or not held.get("until", 0) > portal.clock():
        request.session.pop(_RECOVERY_CODES, None)
        return None
    codes = held.get("codes")
    return [str(code) for code in codes] if isinstance(codes, list) else None


@router.get(RECOVERY)
async def recovery_page(request: Request, portal: PortalDep, user: SignedIn) -> Response:
    codes = _held_codes(request, portal)
    if codes is None:
        return _see()
    return render(request, "recovery_codes.html", user=user, recovery_codes=codes)


@router.get(f"{RECOVERY}.txt")
async def recovery_download(request: Request, portal: PortalDep, user: SignedIn) -> Response:
    codes = _held_codes(request, portal)
    if codes is None:
        return _see()
    t = Translator(language(request, portal))
    text = "\n".join([str(t("recovery_file_title", email=user.email)), "", *codes, ""])
    return PlainTextResponse(
        text,
        headers={"Content-Disposition": 'attachment; filename="recovery-codes.txt"'},
    )


@router.post(f"{RECOVERY}/done", dependencies=[Csrf])
async def recovery_done(request: Request, user: SignedIn) -> Response:
    request.session.pop(_RECOVERY_CODES, None)
    session.flash(request, "recovery_saved")
    return _see()
