"""The "This wasn't me" page, on a public path: /report/{token}, no API key.

A GET (or HEAD: mail scanners, link previews, prefetching) shows the page and changes
nothing. Only its button, a POST to the same address, acts; the token in the address is what
it carries, so a page elsewhere cannot post for a link it never saw. After the POST the
browser is sent back to the GET (303), which then says what was done. The page is in the
account's language; a link that is not valid is told in the browser's.

Served by twostep rather than by each portal, so that the link works the day it is set up
(TWOSTEP_REPORT_URL pointing here) and its token reaches no other system. A portal that would
rather show its own page points TWOSTEP_REPORT_URL at it and calls
POST /v1/challenges/{id}/report (api/routes.py).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from api.reports import ReportPage
from api.schemas import Client
from api.service import TwoStep
from shared import reports
from shared.clientip import plain_ip
from shared.errors import ReportNotFound, ReportUsed
from shared.locales import DEFAULT_LOCALE, SUPPORTED_LOCALES, supported_locale
from shared.useragent import local_browser

PAGES_DIR = Path(__file__).resolve().parent.parent / "templates" / "pages"

# No cache, no referrer (the address holds the token), no framing, no script, no robots.
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline';"
    " form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


@cache
def _pages() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(PAGES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def browser_language(accept_language: str) -> str:
    """The first language of an Accept-Language header that twostep speaks, else English."""
    for part in accept_language.split(","):
        if (locale := supported_locale(part.split(";", 1)[0])) is not None:
            return locale
    return DEFAULT_LOCALE


def _render(
    request: Request, locale: str, state: str, page: ReportPage | None, status: int
) -> Response:
    twostep: TwoStep = request.app.state.twostep
    locale = locale if locale in SUPPORTED_LOCALES else DEFAULT_LOCALE
    html = (
        _pages()
        .get_template(f"{locale}/report.html")
        .render(
            state=state,
            product_name=twostep.settings.product_name,
            ip=page.ip if page else "",
            browser=local_browser(page.label, locale) if page and page.label else "",
            revokes_browsers=twostep.settings.report_revokes_browsers,
        )
    )
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _not_valid(request: Request) -> Response:
    """The page for a link that is not valid, in the browser's language (no account known)."""
    language = browser_language(request.headers.get("accept-language", ""))
    return _render(request, language, "invalid", None, 404)


def _clicked_from(request: Request) -> Client:
    """Who pressed the button, for the audit trail: the address the server saw (behind a
    proxy, uvicorn's --proxy-headers makes it the end user's) and the browser."""
    ip = plain_ip(request.client.host) if request.client else None
    try:
        return Client(ip=ip, user_agent=request.headers.get("user-agent") or None)
    except ValidationError:  # a User-Agent the API would refuse: left out
        return Client(ip=ip)


_HTML = {"text/html": {"schema": {"type": "string"}}}
# How /openapi.json sets these apart from the API a portal's backend calls: pages for the
# account's owner, in a browser (the Python client has no method for them).
END_USER_PAGES = "End-user pages"


def build_report_page() -> APIRouter:
    router = APIRouter(tags=[END_USER_PAGES])

    @router.get(
        "/report/{token}",
        response_class=HTMLResponse,
        responses={
            200: {"description": "The page, in the account's language", "content": _HTML},
            404: {"description": "The link is not valid (the browser's language)",
                  "content": _HTML},
        },
    )  # fmt: skip
    async def show(token: str, request: Request) -> Response:
        """The page of the link in code emails and new-browser notices (TWOSTEP_REPORT_URL),
        for the account's owner, without an API key. Opening it (GET or HEAD) changes
        nothing."""
        twostep: TwoStep = request.app.state.twostep
        try:
            page = await twostep.reports.page(token)
        except ReportNotFound:
            return _not_valid(request)
        state = "ask" if page.reported_at is None else "done"
        return _render(request, page.locale, state, page, 200)

    # HEAD as well: a link preview's or a mail scanner's, as harmless as GET.
    router.add_api_route("/report/{token}", show, methods=["HEAD"], include_in_schema=False)

    @router.post(
        "/report/{token}",
        response_class=HTMLResponse,
        status_code=303,
        responses={
            303: {"description": "Reported (or reported before): back to the page, which says so"},
            404: {"description": "The link is not valid", "content": _HTML},
        },
    )
    async def act(token: str, request: Request) -> Response:
        """The page's button: ends the sign-in the link was mailed for, once
        (POST /v1/challenges/{id}/report does the same for a portal's own page)."""
        twostep: TwoStep = request.app.state.twostep
        challenge_id = reports.challenge_of(token) or ""
        try:
            await twostep.reports.report(challenge_id, token, _clicked_from(request))
        except ReportNotFound:
            return _not_valid(request)
        except ReportUsed:
            pass  # reported already: the page says so
        # Relative: the token, the address's last part, wherever a proxy mounts the page.
        return RedirectResponse(token, status_code=303, headers=_HEADERS)

    return router
