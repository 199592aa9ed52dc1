""" "This wasn't me": the link a worker puts in a code email (or a new-browser notice), its
page, and the report, on fakeredis, a real redis-server and a real Cluster (``state_redis``).

The worker's half runs as the worker runs it (``tasks.send_code`` on a sync client of the same
Redis); the link is read from the message it built, as a mailbox would show it.
"""

from __future__ import annotations

import re
from typing import Any

import fakeredis
import httpx
import pytest
import redis
import redis.asyncio

from shared import reports
from shared.crypto import Sealer
from shared.jobs import NOTICE_LOGIN_REPORTED, NOTICE_TRUSTED_BROWSER_ADDED, payload_of
from shared.keys import AccountKeys, short_id
from shared.settings import DEFAULT_TEMPLATES_DIR, Settings
from tests.api_calls import (
    ACCOUNT,
    assert_problem,
    make_settings,
    new_account,
    open_challenge,
    resend,
    verify,
)
from tests.fakes import FakeClock, FakeSender, RecordingMailQueue
from tests.processes import SECRET_KEY
from tests.smtpserver import html_part, text_part
from workers import tasks
from workers.delivery import DeliveryStore
from workers.render import Renderer
from workers.runtime import Runtime

REPORT_URL = "https://twostep.example.com/report/{token}"
LINK = re.compile(r"https://twostep\.example\.com/report/(\S+)")
BROWSER = {"ip": "203.0.113.9", "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) "
           "Gecko/20100101 Firefox/128.0"}  # fmt: skip


@pytest.fixture
def settings() -> Settings:
    return make_settings(report_url=REPORT_URL)


def sync_twin(client: Any) -> Any:
    """A sync client of the same Redis as the API's async one: the worker's side."""
    kwargs = client.connection_pool.connection_kwargs if hasattr(client, "connection_pool") else {}
    if "server_type" in kwargs:  # fakeredis: the same host name is the same fake server
        return fakeredis.FakeRedis(
            host=kwargs["host"], port=kwargs["port"], server_type=kwargs["server_type"],
            version=kwargs["version"],
        )  # fmt: skip
    if isinstance(client, redis.asyncio.RedisCluster):
        node = next(iter(client.nodes_manager.startup_nodes.values()))
        return redis.RedisCluster(host=node.host, port=node.port)
    return redis.Redis(host=kwargs["host"], port=kwargs["port"], db=kwargs.get("db", 0))


class Worker:
    """Runs the jobs the API published, as a worker process would, and keeps what it sent."""

    def __init__(self, settings: Settings, state: Any, mail: RecordingMailQueue, clock: FakeClock):
        self.sender = FakeSender()
        self.codes: list[int] = []  # which of the messages sent are code emails
        self.mail = mail
        self.runtime = Runtime(
            settings=settings,
            delivery=DeliveryStore(sync_twin(state)),
            sender=self.sender,  # type: ignore[arg-type]
            renderer=Renderer(DEFAULT_TEMPLATES_DIR),
            sealer=Sealer(SECRET_KEY),
            clock=clock,
            sleep=lambda seconds: None,
        )

    def send_all(self) -> None:
        for notice in self.mail.notices:
            tasks.send_notice(self.runtime, payload_of(notice), 0)
        for job in self.mail.codes:
            assert tasks.send_code(self.runtime, payload_of(job), 0) == "sent"
            self.codes.append(len(self.sender.sent) - 1)
        self.mail.codes.clear()
        self.mail.notices.clear()

    def text(self, index: int = -1) -> str:
        return text_part(self.sender.sent[index])

    def code_token(self) -> str:
        """The link's token in the last code email."""
        return self.token(self.codes[-1])

    def html(self, index: int = -1) -> str:
        return html_part(self.sender.sent[index])

    def token(self, index: int = -1) -> str:
        found = LINK.search(self.text(index))
        assert found, self.text(index)
        assert f'href="{found.group(0)}"' in self.html(index)  # the same link in both parts
        return found.group(1)


@pytest.fixture
def worker(
    settings: Settings, state_redis: redis.asyncio.Redis, mail: RecordingMailQueue, clock: FakeClock
) -> Worker:
    return Worker(settings, state_redis, mail, clock)


async def emailed_login(
    api: httpx.AsyncClient, worker: Worker, account: str = ACCOUNT, locale: str = "en"
) -> tuple[str, str, str]:
    """A login whose code email went out: its challenge, its code and its link's token."""
    address = f"{account}@example.com"
    put = await api.put(f"/v1/accounts/{account}", json={"email": address, "locale": locale})
    assert put.status_code == 201, put.text
    assert (await api.put(f"/v1/accounts/{account}/two-step", json={"enabled": True})).is_success
    challenge_id, code = await open_challenge(api, worker.mail, account, client=BROWSER)
    worker.send_all()
    return challenge_id, code, worker.code_token()


async def state_of(client: redis.asyncio.Redis, account: str = ACCOUNT) -> dict[str, Any]:
    """Every key of the account and its value, to show that nothing changed."""
    keys = AccountKeys.of(account)
    found: dict[str, Any] = {}
    for name in keys.all_fixed():
        kind = await client.type(name)
        if kind == "hash":
            found[name] = await client.hgetall(name)
        elif kind == "zset":
            found[name] = await client.zrange(name, 0, -1, withscores=True)
        elif kind == "stream":
            found[name] = len(await client.xrange(name))
    return found


async def report(api: httpx.AsyncClient, challenge_id: str, token: str) -> httpx.Response:
    return await api.post(f"/v1/challenges/{challenge_id}/report", json={"token": token})


# The link


async def test_each_code_email_carries_its_own_link_and_only_its_digest_is_kept(
    api: httpx.AsyncClient, worker: Worker, state_redis: redis.asyncio.Redis, clock: FakeClock
) -> None:
    challenge_id, _, token = await emailed_login(api, worker)
    assert reports.challenge_of(token) == challenge_id
    assert len(token.partition(".")[2]) == 43  # 256 random bits, base64url

    stored = await state_redis.hgetall(AccountKeys.of(ACCOUNT).reports)
    assert token not in str(stored)
    assert token.partition(".")[2] not in str(stored)
    assert f"{short_id(challenge_id)}.{reports.digest(token)}" in stored
    assert 0 < await state_redis.ttl(AccountKeys.of(ACCOUNT).reports) <= 86400

    clock.advance(31)
    (await resend(api, challenge_id)).raise_for_status()
    worker.send_all()
    assert worker.code_token() != token
    assert reports.challenge_of(worker.code_token()) == challenge_id


async def test_emails_carry_no_link_when_the_service_has_no_report_url(
    state_redis: redis.asyncio.Redis, mail: RecordingMailQueue, clock: FakeClock
) -> None:
    from tests.api_calls import api_client

    plain = make_settings()
    async with api_client(plain, state_redis, mail, clock) as api:
        worker = Worker(plain, state_redis, mail, clock)
        await new_account(api)
        await open_challenge(api, mail)
        worker.send_all()
    assert "report" not in worker.text()
    assert "This wasn't me" not in worker.html()
    assert await state_redis.exists(AccountKeys.of(ACCOUNT).reports) == 0


@pytest.mark.parametrize(
    ("locale", "words"),
    [("en", "This wasn't me"), ("fr", "Ce n'était pas moi"), ("es", "No fui yo")],
)
async def test_the_page_is_in_the_accounts_language_and_opening_it_changes_nothing(
    api: httpx.AsyncClient,
    worker: Worker,
    state_redis: redis.asyncio.Redis,
    locale: str,
    words: str,
) -> None:
    challenge_id, code, token = await emailed_login(api, worker, locale=locale)
    assert words in worker.text()
    before = await state_of(state_redis)

    page = await api.get(f"/report/{token}", headers={"Accept-Language": "de"})
    head = await api.head(f"/report/{token}")
    again = await api.get(f"/report/{token}")

    assert page.status_code == head.status_code == again.status_code == 200
    assert f'<html lang="{locale}">' in page.text
    assert words in page.text
    assert '<form method="post">' in page.text
    assert "Firefox" in page.text
    assert "203.0.113.9" in page.text
    assert head.content == b""
    for response in (page, head):
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "default-src 'none'" in response.headers["content-security-policy"]
    assert await state_of(state_redis) == before
    assert (await verify(api, challenge_id, code)).status_code == 200  # still the owner's


@pytest.mark.parametrize(
    ("accept", "lang"), [("fr-CA,fr;q=0.9", "fr"), ("es", "es"), ("de, ja", "en"), ("", "en")]
)
async def test_a_link_that_is_not_valid_says_so_in_the_browsers_language(
    api: httpx.AsyncClient, accept: str, lang: str
) -> None:
    for path in (
        "/report/nonsense",
        "/report/" + "ch_" + "0" * 32 + "_" + "A" * 22 + "." + "B" * 43,
    ):
        response = await api.get(path, headers={"Accept-Language": accept})
        assert response.status_code == 404
        assert f'<html lang="{lang}">' in response.text
        assert "<form" not in response.text


# The button


async def test_the_button_ends_the_challenge_and_tells_everyone(
    api: httpx.AsyncClient,
    worker: Worker,
    state_redis: redis.asyncio.Redis,
    mail: RecordingMailQueue,
) -> None:
    challenge_id, code, token = await emailed_login(api, worker)

    pressed = await api.post(f"/report/{token}", headers={"User-Agent": "Mozilla/5.0 Safari/605"})

    assert pressed.status_code == 303
    assert pressed.headers["location"] == token
    page = await api.get(f"/report/{token}")
    assert page.status_code == 200
    assert "This sign-in is stopped" in page.text
    assert "<form" not in page.text
    assert_problem(await verify(api, challenge_id, code), 404, "challenge_not_found")
    assert_problem(await resend(api, challenge_id), 404, "challenge_not_found")

    events = (await api.get(f"/v1/accounts/{ACCOUNT}/events")).json()["items"]
    reported = events[0]
    assert reported["type"] == "login_reported"
    assert reported["details"] == {
        "challenge_id": challenge_id,
        "login_ip": "203.0.113.9",
        "login_browser": "Firefox on Linux",
        "challenge_ended": True,
        "browsers_revoked": 0,
    }
    [notice] = mail.notices
    assert notice.kind == NOTICE_LOGIN_REPORTED
    assert notice.account_id == ACCOUNT
    assert notice.client_ip == "203.0.113.9"
    assert notice.details["challenge_ended"] == "1"
    worker.send_all()
    assert "You reported a sign-in" in str(worker.sender.sent[-1]["Subject"])
    assert "Firefox on Linux" in worker.text()

    metrics = (await api.get("/metrics")).text
    assert 'twostep_reports_total{outcome="reported"} 1.0' in metrics


async def test_the_api_reports_once_and_refuses_foreign_reused_or_old_tokens(
    api: httpx.AsyncClient, worker: Worker, clock: FakeClock
) -> None:
    challenge_id, _, token = await emailed_login(api, worker)
    other_id, _, other_token = await emailed_login(api, worker, account="u-2")

    assert_problem(await report(api, challenge_id, other_token), 404, "report_not_found")
    altered = token[:-1] + ("B" if token.endswith("A") else "A")
    assert_problem(await report(api, challenge_id, altered), 404, "report_not_found")
    assert_problem(await report(api, challenge_id, "not-a-token"), 404, "report_not_found")

    done = await report(api, challenge_id, token)
    assert done.status_code == 200
    body = done.json()
    assert body["status"] == "reported"
    assert body["account_id"] == ACCOUNT
    assert body["challenge_id"] == challenge_id
    assert body["challenge_ended"] is True
    assert body["trusted_browsers_revoked"] == 0
    assert_problem(await report(api, challenge_id, token), 409, "report_used")
    assert (await api.post(f"/report/{token}")).status_code == 303  # the page: "done"

    clock.advance(86400)
    assert_problem(await report(api, other_id, other_token), 404, "report_not_found")
    assert (await api.get(f"/report/{other_token}")).status_code == 404


async def test_a_report_after_the_code_was_used_still_counts_and_ends_nothing(
    api: httpx.AsyncClient, worker: Worker
) -> None:
    challenge_id, code, token = await emailed_login(api, worker)
    assert (await verify(api, challenge_id, code)).status_code == 200

    body = (await report(api, challenge_id, token)).json()

    assert body["challenge_ended"] is False


async def test_a_report_revokes_trusted_browsers_when_set_to(
    state_redis: redis.asyncio.Redis, mail: RecordingMailQueue, clock: FakeClock
) -> None:
    from tests.api_calls import api_client

    revoking = make_settings(report_url=REPORT_URL, report_revokes_browsers=True)
    async with api_client(revoking, state_redis, mail, clock) as api:
        worker = Worker(revoking, state_redis, mail, clock)
        first, code, _ = await emailed_login(api, worker)
        assert (await verify(api, first, code, remember_browser=True)).status_code == 200
        assert (await api.get(f"/v1/accounts/{ACCOUNT}")).json()["trusted_browsers"] == 1
        clock.advance(31)
        second, _ = await open_challenge(api, mail, client=BROWSER)
        worker.send_all()
        token = worker.code_token()
        assert reports.challenge_of(token) == second

        body = (await report(api, second, token)).json()

        assert body["trusted_browsers_revoked"] == 1
        assert (await api.get(f"/v1/accounts/{ACCOUNT}")).json()["trusted_browsers"] == 0


async def test_the_new_browser_notice_links_to_a_report_of_its_sign_in(
    api: httpx.AsyncClient, worker: Worker, mail: RecordingMailQueue
) -> None:
    challenge_id, code, _ = await emailed_login(api, worker)
    assert (await verify(api, challenge_id, code, remember_browser=True)).status_code == 200
    assert mail.notices[-1].kind == NOTICE_TRUSTED_BROWSER_ADDED
    worker.send_all()
    token = worker.token()  # the notice's
    assert reports.challenge_of(token) == challenge_id

    body = (await report(api, challenge_id, token)).json()

    assert body["challenge_ended"] is False  # passed already: the webhook ends the session
