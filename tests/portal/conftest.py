"""Fixtures of the portal's tests: twostep's settings, and the portal and twostep in process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import fakeredis
import httpx
import pytest

from api.main import create_app as create_twostep
from examples.portal.app import create_app
from shared.settings import Settings
from tests.api_calls import make_settings
from tests.fakes import FakeClock, RecordingMailQueue
from tests.portal.stack import ORIGIN, RP_ID, Stack, TwostepLine, portal_settings


@pytest.fixture
def twostep_settings() -> Settings:
    """twostep as the portal's tests run it: security keys on, for the portal's origin. A test
    parametrizes ``twostep_settings`` to run it otherwise."""
    return make_settings(webauthn_rp_id=RP_ID, webauthn_origins=(ORIGIN,))


@pytest.fixture
async def stack(request: pytest.FixtureRequest, twostep_settings: Settings) -> AsyncIterator[Stack]:
    """The portal and twostep; ``indirect`` parametrisation overrides portal settings."""
    overrides = getattr(request, "param", {})
    clock = FakeClock()
    mail = RecordingMailQueue()
    redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), decode_responses=True)
    own = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), decode_responses=True)
    twostep = create_twostep(twostep_settings, redis=redis, broker=redis, mail=mail, clock=clock)
    line = TwostepLine(twostep)
    portal = create_app(
        portal_settings().model_copy(update=overrides),
        twostep_transport=line.transport(),
        clock=clock,
        redis=own,
    )
    transport = httpx.ASGITransport(app=portal)
    stack = Stack(httpx.AsyncClient(), mail, clock, transport, own, line)
    async with stack.browser_at("http://portal.test") as browser:
        stack.browser = browser
        yield stack
    await portal.state.portal.twostep.aclose()
    await redis.aclose()
    await own.aclose()
