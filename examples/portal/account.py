"""The signed-in pages: home, and the Security tab of the account settings."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import PlainTextResponse, RedirectResponse
from markupsafe import Markup

from examples.portal import session
from examples.portal.context import (
    Csrf,
    Language,
    Portal,
    PortalDep,
    SignedIn,
    client_of,
    language,
    minutes,
    render,
    when,
)
from examples.portal.locales import Translator
from examples.portal.settings import User
from examples.portal.twostep import Account, Problem, TotpEnrolment

router = APIRouter(dependencies=[Language])

SECURITY = "/settings/security"
# Set while an authenticator enrolment waits for its first code. Only a flag: the secret is
# shown once, in the response to the set-up, and never stored by the portal.
_TOTP_PENDING = "totp_pending"
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
    except Problem as exc:
        if exc.code != "account_not_found":
            raise
        # The profile went away on twostep's side (deleted or Redis reset): put it back.
        locale = await portal.locale_of(user)
        return await portal.twostep.put_account(user.account_id, user.email, locale)


async def _security_page(
    request: Request,
    portal: Portal,
    user: User,
    *,
    enrolment: TotpEnrolment | None = None,
    status_code: int = 200,
) -> Response:
    account = await _account(portal, user)
    browsers = await portal.twostep.trusted_browsers(user.account_id)
    if account.totp_enabled:
        request.session.pop(_TOTP_PENDING, None)
    return render(
        request,
        "security.html",
        status_code=status_code,
        user=user,
        account=account,
        browsers=browsers,
        when=when,
        enrolment=enrolment,
        # Our own API drew the QR code: it is trusted markup, shown inline.
        qr_svg=Markup(enrolment.qr_svg) if enrolment else None,  # noqa: S704
        totp_pending=bool(request.session.get(_TOTP_PENDING)),
    )


@router.get(SECURITY)
async def security(request: Request, portal: PortalDep, user: SignedIn) -> Response:
    return await _security_page(request, portal, user)


def _too_many(request: Request, exc: Problem) -> RedirectResponse:
    if exc.status != 429:
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
    await portal.twostep.set_two_step(user.account_id, wanted, client_of(request))
    await session.end_other_sessions(request, portal.store, user.account_id)
    session.flash(request, "now_on" if wanted else "now_off")
    return _see()


@router.post(f"{SECURITY}/totp", dependencies=[Csrf])
async def totp_start(request: Request, portal: PortalDep, user: SignedIn) -> Response:
    enrolment = await portal.twostep.start_totp(user.account_id)
    request.session[_TOTP_PENDING] = True
    return await _security_page(request, portal, user, enrolment=enrolment)


@router.post(f"{SECURITY}/totp/confirm", dependencies=[Csrf])
async def totp_confirm(
    request: Request,
    portal: PortalDep,
    user: SignedIn,
    code: Annotated[str, Form()] = "",
) -> Response:
    try:
        await portal.twostep.confirm_totp(user.account_id, code[:64], client_of(request))
    except Problem as exc:
        if exc.code in ("invalid_code", "validation_error"):
            session.flash(request, "totp_wrong", "error")
        elif exc.code == "totp_enrolment_not_found":
            request.session.pop(_TOTP_PENDING, None)
            session.flash(request, "totp_expired", "error")
        else:
            return _too_many(request, exc)
        return _see()
    request.session.pop(_TOTP_PENDING, None)
    await session.end_other_sessions(request, portal.store, user.account_id)
    session.flash(request, "totp_confirmed")
    return _see()


@router.post(f"{SECURITY}/totp/remove", dependencies=[Csrf])
async def totp_remove(request: Request, portal: PortalDep, user: SignedIn) -> Response:
    await portal.twostep.remove_totp(user.account_id)
    await session.end_other_sessions(request, portal.store, user.account_id)
    request.session.pop(_TOTP_PENDING, None)
    session.flash(request, "totp_removed")
    return _see()


@router.post(f"{SECURITY}/browsers/revoke-all", dependencies=[Csrf])
async def revoke_all(request: Request, portal: PortalDep, user: SignedIn) -> Response:
    await portal.twostep.revoke_all_browsers(user.account_id)
    session.flash(request, "revoked_all")
    return _see()


@router.post(SECURITY + "/browsers/{browser_id}/revoke", dependencies=[Csrf])
async def revoke(request: Request, portal: PortalDep, user: SignedIn, browser_id: str) -> Response:
    try:
        if not _BROWSER_ID.fullmatch(browser_id):
            raise Problem(404, "browser_not_found", None, None)
        await portal.twostep.revoke_browser(user.account_id, browser_id)
    except Problem as exc:
        if exc.code != "browser_not_found":
            raise
        session.flash(request, "browser_gone", "error")
        return _see()
    session.flash(request, "revoked")
    return _see()


@router.post(RECOVERY, dependencies=[Csrf])
async def recovery_new(request: Request, portal: PortalDep, user: SignedIn) -> Response:
    codes = await portal.twostep.new_recovery_codes(user.account_id, client_of(request))
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
