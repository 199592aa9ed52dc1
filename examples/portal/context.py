"""What every page handler gets: the portal's parts, the gates, CSRF, and page rendering."""

from __future__ import annotations

import ipaddress
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from twostep_client import AsyncTwoStep, ClientInfo, TwoStepError

from examples.portal import locales, session
from examples.portal.security import is_secure
from examples.portal.settings import PortalSettings, User
from examples.portal.store import PortalStore
from examples.portal.throttle import Throttle

log = logging.getLogger("portal")

TEMPLATES = Path(__file__).parent / "templates"
SECURITY = "/settings/security"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# One environment per process: the templates are package files, compiled once.
_TEMPLATES = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined
)


@dataclass(frozen=True)
class Portal:
    settings: PortalSettings
    twostep: AsyncTwoStep
    clock: Callable[[], float]
    store: PortalStore
    throttle: Throttle
    templates: Environment

    @classmethod
    def build(
        cls,
        settings: PortalSettings,
        twostep: AsyncTwoStep,
        clock: Callable[[], float],
        store: PortalStore,
        throttle: Throttle,
    ) -> Portal:
        return cls(settings, twostep, clock, store, throttle, _TEMPLATES)

    async def locale_of(self, user: User) -> str:
        """The language the user chose last, else the one in the user list."""
        return locales.supported(await self.store.locale(user.account_id)) or user.locale

    async def password_hash_of(self, user: User) -> str:
        """The password the user set last, else the one in the user list."""
        return await self.store.password_hash(user.account_id) or user.password_hash

    def seconds_until(self, moment: datetime | None) -> int:
        """Whole seconds from now until an API time, rounded up; 0 once it has passed."""
        if moment is None:
            return 0
        return max(0, math.ceil(moment.timestamp() - self.clock()))


def confirm_url(action: str) -> str:
    """The page that asks before ``action`` (examples/portal/confirm.py)."""
    return f"{SECURITY}/confirm/{action}"


def portal_of(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


PortalDep = Annotated[Portal, Depends(portal_of)]


class Redirect(Exception):  # control flow, not an error
    """Answer with a 303 to ``location``: raised by the gates below."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class CsrfMismatch(Exception):
    """A form came without this session's CSRF token."""


async def require_csrf(request: Request, csrf_token: Annotated[str, Form()] = "") -> None:
    if not session.csrf_matches(request, csrf_token):
        raise CsrfMismatch


Csrf = Depends(require_csrf)


def signed_in_user(request: Request, portal: PortalDep) -> User:
    """The signed-in user; a half-done sign-in may only see the two-step page."""
    if session.pending(request) is not None:
        raise Redirect("/two-step")
    account_id = session.signed_in(request)
    user = portal.settings.user_by_account(account_id) if account_id else None
    if user is None:
        raise Redirect("/signin")
    return user


def pending_login(request: Request) -> session.PendingLogin:
    login = session.pending(request)
    if login is None:
        raise Redirect("/" if session.signed_in(request) else "/signin")
    return login


SignedIn = Annotated[User, Depends(signed_in_user)]
# The login at its second step (not twostep_client.Pending, the API's answer).
SecondStep = Annotated[session.PendingLogin, Depends(pending_login)]


def client_of(request: Request) -> ClientInfo:
    """The browser as twostep wants it: a valid IP or none, a one-line User-Agent."""
    ip: str | None = None
    if request.client is not None:
        try:
            ip = str(ipaddress.ip_address(request.client.host))
        except ValueError:
            ip = None
    agent = _CONTROL.sub("", request.headers.get("user-agent", ""))[:512] or None
    return ClientInfo(ip=ip, user_agent=agent)


def secure_request(request: Request, portal: Portal) -> bool:
    return is_secure(request.scope, portal.settings.secure_cookies)


def language(request: Request, portal: Portal) -> str:
    """``?lang=`` (remembered), else the user's locale, else the browser's, else English."""
    chosen = locales.supported(request.query_params.get("lang"))
    if chosen:
        request.session["lang"] = chosen
        return chosen
    remembered = locales.supported(request.session.get("lang"))
    if remembered:
        return remembered
    login = session.pending(request)
    account_id = login.account_id if login else session.signed_in(request)
    user = portal.settings.user_by_account(account_id) if account_id else None
    if user is not None:
        return user.locale
    return locales.negotiate(request.headers.get("accept-language")) or locales.DEFAULT


async def remember_language(request: Request, portal: PortalDep) -> None:
    """``?lang=`` on any page: the account keeps the choice, and twostep's emails follow it."""
    chosen = locales.supported(request.query_params.get("lang"))
    if chosen is None:
        return
    request.session["lang"] = chosen
    login = session.pending(request)
    account_id = login.account_id if login else session.signed_in(request)
    user = portal.settings.user_by_account(account_id) if account_id else None
    if user is None or await portal.store.locale(user.account_id) == chosen:
        return
    await portal.store.set_locale(user.account_id, chosen)
    try:
        await portal.twostep.put_account(user.account_id, user.email, locale=chosen)
    except TwoStepError as exc:
        # The page still changes; the next sign-in puts the profile again.
        log.warning("could not save the language to twostep: %s", type(exc).__name__)


Language = Depends(remember_language)


def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    message: session.Flash | None = None,
    **context: Any,
) -> HTMLResponse:
    portal = portal_of(request)
    lang = language(request, portal)
    t = locales.Translator(lang)
    note = message or session.pop_flash(request)
    text: Markup | None = None
    if note is not None:
        if note.count is not None:
            text = t.plural(note.key, note.count, **note.params)
        else:
            text = t(note.key, **note.params)
    html = portal.templates.get_template(template).render(
        request=request,
        lang=lang,
        languages=locales.NAMES,
        t=t,
        csrf_token=session.csrf_token(request),
        nonce=request.state.csp_nonce,
        message=text,
        message_kind=note.kind if note else "info",
        **context,
    )
    return HTMLResponse(html, status_code=status_code)


def minutes(seconds: int | None) -> int:
    """A wait in whole minutes, at least one, for messages."""
    return max(1, math.ceil((seconds or 60) / 60))


def when(moment: datetime) -> str:
    """An API time as people read it, in UTC: ``2027-01-15 08:00 UTC``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def stamp(moment: datetime) -> str:
    """An API time as the API writes it (a ``<time datetime>``): ``2027-01-15T08:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
