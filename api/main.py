"""The app factory: ``uvicorn --factory api.main:create_app``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis.asyncio import Redis
from starlette.types import ASGIApp

from api import problems
from api.admin import build_admin
from api.admission import READ_TIMEOUT_SECONDS, MailAdmission
from api.auth import ApiKeys
from api.mailqueue import BrokerMailQueue, InLoginPublish, MailQueue
from api.metrics import Metrics, exposition_registry
from api.middleware.body_size import BodySizeLimit
from api.middleware.request_id import RequestId
from api.muxredis import scripts_client
from api.operations import operations
from api.passkey_routes import build_webauthn
from api.report_page import build_report_page
from api.routes import build_v1
from api.service import TwoStep
from api.store import Store
from api.webhooks import WebhookQueue
from shared.clock import Clock, StoreClock, keep_in_step, sync_or_log
from shared.errors import ConfigError
from shared.jobs import backup_delay_seconds
from shared.logs import configure_logging
from shared.redisconn import (
    AsyncStateRedis,
    async_broker_client,
    async_state_client,
    broker_beside_state,
)
from shared.settings import Settings, load_settings

log = logging.getLogger("twostep.api")

# Built once per process and shared by every app: what differs between apps (the keys, the
# store, the clock) is in app.state. Building them cost ~40 ms an app, in tests an app a test.
ROUTERS = (build_v1(), build_webauthn(), build_admin(), build_report_page(), operations)


class TwoStepAPI(FastAPI):
    """FastAPI with the request id outermost: even a 500, which Starlette's outermost
    error middleware answers, carries it, in its log line and its response."""

    def build_middleware_stack(self) -> ASGIApp:
        return RequestId(super().build_middleware_stack())


def create_app(
    settings: Settings | None = None,
    *,
    redis: Redis | None = None,
    broker: Redis | None = None,
    mail: MailQueue | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """Build the API. Without arguments, settings come from ``TWOSTEP_*`` variables. Without
    a clock, it runs on the state store's (shared/clock.py), read at start and every minute."""
    if settings is None:
        try:
            settings = load_settings()
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            raise SystemExit(2) from None
        configure_logging(settings)
    state_redis = redis or async_state_client(settings)
    broker_redis = broker or async_broker_client(settings)
    # The scripts' multiplexed connections, beside the clients built here (not given ones).
    state_scripts = None if redis else scripts_client(settings, settings.redis_url)
    broker_scripts = None if broker else scripts_client(settings, settings.broker_url)
    clock = StoreClock() if clock is None else clock
    store_clock = clock if isinstance(clock, StoreClock) else None
    metrics = Metrics()
    store = Store(state_redis, scripts_client=state_scripts)
    in_login: InLoginPublish | None = None
    if mail is None:
        broker_queue = BrokerMailQueue(
            broker_redis,
            backup_delay_seconds(settings.broker_visibility_timeout_seconds),
            clock,
            broker_scripts,
        )
        # Not with replica acknowledgement: the job would be queued before WAIT could refuse
        # the login, so a 503 would still mail a code.
        built_here = redis is None and broker is None and settings.redis_min_replicas_ack == 0
        dbs = broker_beside_state(settings) if built_here else None
        if dbs is not None:
            in_login = InLoginPublish(broker_queue, state_db=dbs[0], broker_db=dbs[1])
        mail = broker_queue
    webhooks = WebhookQueue(broker_redis) if settings.webhook_url else None
    admission = MailAdmission(
        settings.max_mail_delay_seconds, state_redis, broker_redis, clock, metrics
    )
    twostep = TwoStep(settings, store, mail, metrics, clock, webhooks, in_login, admission)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        in_step = None
        if store_clock is not None:
            await sync_or_log(store_clock, state_redis)
            in_step = asyncio.create_task(keep_in_step(store_clock, state_redis, asyncio.sleep))
        # How late a code email would be, read in the background (api/admission.py). Stopped
        # by an event, and waited for a moment only: a shutdown never hangs on a read.
        stop_admitting = asyncio.Event()
        admitting = asyncio.create_task(admission.keep_fresh(stop_admitting))
        yield
        stop_admitting.set()
        if not (await asyncio.wait({admitting}, timeout=READ_TIMEOUT_SECONDS + 1))[0]:
            admitting.cancel()
        if in_step is not None:
            in_step.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await in_step
        for mux in (state_scripts, broker_scripts):
            if mux is not None:
                await mux.aclose()
        if redis is None:
            await state_redis.aclose()
        if broker is None:
            await broker_redis.aclose()

    app = TwoStepAPI(
        title="twostep",
        version="1.0.0",
        summary="Two-step verification for portals: email codes and trusted browsers.",
        lifespan=lifespan,
    )

    async def ping(client: AsyncStateRedis | Redis) -> bool:
        try:
            async with asyncio.timeout(settings.redis_timeout_seconds * 2):
                return bool(await client.ping())
        except Exception:  # readiness must answer, whatever the failure
            return False

    async def readiness() -> dict[str, bool]:
        redis_ok, broker_ok = await asyncio.gather(ping(state_redis), ping(broker_redis))
        return {"redis": redis_ok, "broker": broker_ok}

    app.state.twostep = twostep
    app.state.metrics = metrics
    app.state.metrics_registry = exposition_registry(metrics)
    app.state.readiness = readiness
    problems.install(app, metrics)
    app.state.api_keys = ApiKeys(settings.api_keys)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(BodySizeLimit, max_body_bytes=settings.max_body_bytes)
    return app
