"""An account's optional time zone: kept by the API, and used by the workers when they send."""

from __future__ import annotations

import fakeredis
import httpx
import pytest
import redis.asyncio

from api.store import Store
from shared import codes
from shared.crypto import Sealer
from shared.jobs import CodeJob, NoticeJob, code_seal_context, payload_of
from shared.keys import AccountKeys
from shared.results import Opened, Resent
from shared.settings import DEFAULT_TEMPLATES_DIR
from tests.api_calls import make_settings
from tests.fakes import START, FakeClock, FakeSender
from tests.processes import SECRET_KEY
from workers import tasks
from workers.delivery import DeliveryStore
from workers.render import Renderer
from workers.runtime import Runtime


async def test_an_account_keeps_its_time_zone_and_shows_it(api: httpx.AsyncClient) -> None:
    body = {"email": "ann@example.org", "locale": "fr", "time_zone": "Europe/Paris"}
    response = await api.put("/v1/accounts/u-1", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["time_zone"] == "Europe/Paris"
    assert (await api.get("/v1/accounts/u-1")).json()["time_zone"] == "Europe/Paris"


async def test_a_put_that_leaves_the_time_zone_out_keeps_it_and_null_clears_it(
    api: httpx.AsyncClient, state_redis: redis.asyncio.Redis
) -> None:
    """A portal that only knows the address and language (the reference portal saves the
    language at each sign-in) must not wipe a time zone set some other way."""
    profile = AccountKeys.of("u-1").profile
    await api.put("/v1/accounts/u-1", json={"email": "ann@example.org"})
    without = set(await state_redis.hkeys(profile))
    assert (await api.get("/v1/accounts/u-1")).json()["time_zone"] is None

    await api.put("/v1/accounts/u-1", json={"email": "ann@example.org", "time_zone": "Asia/Tokyo"})
    assert len(await state_redis.hkeys(profile)) == len(without) + 1
    kept = await api.put("/v1/accounts/u-1", json={"email": "ann@example.org", "locale": "fr"})
    assert kept.status_code == 200
    assert kept.json()["time_zone"] == "Asia/Tokyo"
    body = {"email": "ann@example.org", "time_zone": None}
    cleared = await api.put("/v1/accounts/u-1", json=body)
    assert cleared.json()["time_zone"] is None
    assert set(await state_redis.hkeys(profile)) == without


@pytest.mark.parametrize(
    "zone",
    ["Mars/Olympus_Mons", "europe/paris", "../../etc/passwd", "/usr/share/zoneinfo/UTC", "",
     "Europe/Paris\n", "A" * 300, 42],
)  # fmt: skip
async def test_a_time_zone_must_be_an_iana_name(api: httpx.AsyncClient, zone: object) -> None:
    body = {"email": "ann@example.org", "time_zone": zone}
    response = await api.put("/v1/accounts/u-1", json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert [error["field"] for error in problem["errors"]] == ["body.time_zone"]
    assert (await api.get("/v1/accounts/u-1")).status_code == 404


# The worker's side.


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


NOW_IN_PARIS_FR = "15 janvier 2027 à 09:15 (Europe/Paris)"  # START + 900 s, UTC+1


def _runtime(server: fakeredis.FakeServer, sender: FakeSender, clock: FakeClock) -> Runtime:
    return Runtime(
        settings=make_settings(product_name="Acme Portal"),
        delivery=DeliveryStore(fakeredis.FakeRedis(server=server)),
        sender=sender,  # type: ignore[arg-type]
        renderer=Renderer(DEFAULT_TEMPLATES_DIR, product_name="Acme Portal"),
        sealer=Sealer(SECRET_KEY),
        clock=clock,
        sleep=lambda seconds: None,
    )


async def _account(server: fakeredis.FakeServer, clock: FakeClock, time_zone: str | None) -> Store:
    store = Store(fakeredis.FakeAsyncRedis(server=server, decode_responses=True))
    await store.upsert_profile("u-1", "ann@example.org", "fr", clock(), time_zone)
    await store.set_two_step("u-1", True, clock())
    return store


async def test_a_code_email_shows_the_expiry_in_the_accounts_zone_and_names_the_product(
    server: fakeredis.FakeServer, clock: FakeClock
) -> None:
    sender = FakeSender()
    store = await _account(server, clock, "Europe/Paris")
    challenge_id = codes.new_challenge_id("u-1")
    outcome = await store.open_login(
        account_id="u-1", challenge_id=challenge_id, code_digest="d" * 64, method="email",
        browser_id="", token_digest="", client_ip="", client_label="", now=clock(),
        code_ttl_seconds=900, resend_cooldown_seconds=30, max_emails_per_hour=10,
    )  # fmt: skip
    assert isinstance(outcome, (Opened, Resent))
    sealed = Sealer(SECRET_KEY).seal("246810", code_seal_context(challenge_id, 1))
    job = payload_of(CodeJob(challenge_id, 1, sealed, START + 900))

    assert tasks.send_code(_runtime(server, sender, clock), job, 0) == "sent"
    [message] = sender.sent
    text = message.get_body(("plain",))
    assert text is not None
    assert NOW_IN_PARIS_FR in text.get_content()
    assert "Acme Portal" in message["Subject"]
    assert message["From"].addresses[0].display_name == "Acme Portal"


@pytest.mark.parametrize(
    ("time_zone", "shown"),
    [
        ("Europe/Paris", "15 janvier 2027 à 09:00 (Europe/Paris)"),
        (None, "15 janvier 2027 à 08:00 UTC"),
    ],
)
async def test_a_notice_shows_when_it_happened_in_the_accounts_zone(
    server: fakeredis.FakeServer, clock: FakeClock, time_zone: str | None, shown: str
) -> None:
    sender = FakeSender()
    await _account(server, clock, time_zone)
    job = payload_of(NoticeJob("n1", "two_step_enabled", "", "", START, account_id="u-1"))

    assert tasks.send_notice(_runtime(server, sender, clock), job, 0) == "sent"
    [message] = sender.sent
    text = message.get_body(("plain",))
    assert text is not None
    assert shown in text.get_content()
