"""The portal's app factory: ``uvicorn --factory examples.portal.app:create_app --port 8000``."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from redis.asyncio import Redis
from starlette.exceptions import HTTPException as StarletteHTTPException
from twostep_client import AsyncTwoStep, TwoStepError, Unavailable

from examples.portal import account, confirm, login, passkeys, password
from examples.portal.context import CsrfMismatch, Portal, Redirect, render
from examples.portal.security import SecurityHeaders, Sessions
from examples.portal.settings import PortalSettings, load_settings
from examples.portal.store import PortalStore
from examples.portal.throttle import Throttle

log = logging.getLogger("portal")

STATIC = Path(__file__).parent / "static"


def create_app(
    settings: PortalSettings | None = None,
    *,
    twostep_transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] = time.time,
    redis: Redis | None = None,
) -> FastAPI:
    """Build the portal. Without settings, they come from ``PORTAL_*`` variables.

    ``twostep_transport`` replaces the network to twostep (tests run twostep in process);
    ``clock`` is the time the countdowns and the throttle's waits are computed against;
    ``redis`` replaces the connection to ``PORTAL_REDIS_URL`` (tests hand in a fake).
    """
    if settings is None:
        settings = load_settings()
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
        # httpx logs every request URL at INFO; the portal logs its own failures instead.
        logging.getLogger("httpx").setLevel(logging.WARNING)
    # twostep's Python client (clients/python): pooled connections, and GET, PUT and DELETE
    # sent again after a connection error or a 503; a login or a verify never.
    twostep = AsyncTwoStep(
        settings.twostep_url,
        settings.twostep_api_key.get_secret_value(),
        connect_timeout_seconds=settings.twostep_timeout_seconds,
        read_timeout_seconds=settings.twostep_timeout_seconds,
        transport=twostep_transport,
    )

    own_redis = redis is None
    if redis is None:
        redis = Redis.from_url(settings.redis_url, decode_responses=True)
    store = PortalStore(
        redis,
        secret=settings.session_secret.get_secret_value(),
        session_ttl_seconds=settings.session_max_age_seconds,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await twostep.aclose()
        if own_redis:
            await redis.aclose()

    app = FastAPI(
        title="twostep reference portal",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    throttle = Throttle(
        redis,
        clock,
        free_per_account=settings.throttle_free_per_account,
        free_per_ip=settings.throttle_free_per_ip,
        longest_wait_seconds=settings.throttle_longest_wait_seconds,
    )
    app.state.portal = Portal.build(settings, twostep, clock, store, throttle)
    app.include_router(login.router)
    app.include_router(account.router)
    app.include_router(confirm.router)
    app.include_router(password.router)
    app.include_router(passkeys.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _install_error_pages(app)
    # Each middleware wraps those added before it: the headers go on every answer.
    app.add_middleware(
        Sessions,
        store=store,
        max_age=settings.session_max_age_seconds,
        secure_cookies=settings.secure_cookies,
    )
    app.add_middleware(SecurityHeaders)
    return app


def _install_error_pages(app: FastAPI) -> None:
    async def redirect(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Redirect)
        return RedirectResponse(exc.location, status_code=303)

    async def csrf(request: Request, exc: Exception) -> Response:
        log.info(
            "refused a form without a valid CSRF token: %s %s", request.method, request.url.path
        )
        return render(request, "error.html", status_code=403, title="csrf_title", body="csrf_body")

    async def unavailable(request: Request, exc: Exception) -> Response:
        # The client's message names the call, the status and code, and the request id (never
        # a body, the key or a code): find it in twostep's logs by that id.
        if isinstance(exc, Unavailable):
            log.warning("twostep failed: %s", exc)
        else:
            # An answer the portal does not expect (a bad API key, a contract change): log it.
            log.error("twostep refused unexpectedly: %s: %s", type(exc).__name__, exc)
        return render(
            request,
            "error.html",
            status_code=503,
            title="unavailable_title",
            body="unavailable_body",
        )

    async def not_found(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code != 404:
            return Response(status_code=exc.status_code, headers=exc.headers)
        return render(
            request, "error.html", status_code=404, title="not_found_title", body="not_found_body"
        )

    app.add_exception_handler(Redirect, redirect)
    app.add_exception_handler(CsrfMismatch, csrf)
    app.add_exception_handler(TwoStepError, unavailable)
    app.add_exception_handler(StarletteHTTPException, not_found)
