"""The worker's decisions: send once, drop stale or expired jobs, retry or fail on SMTP errors."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import fakeredis
import pytest
import redis

from api.store import Store
from shared import codes
from shared.crypto import Sealer
from shared.errors import PermanentSmtpError, TransientSmtpError
from shared.jobs import CodeJob, NoticeJob, code_seal_context, payload_of
from shared.keys import MAIL_BUCKET, AccountKeys, challenge_key
from shared.results import Claimed, NotToSend, Opened, Resent
from shared.settings import DEFAULT_TEMPLATES_DIR
from tests.api_calls import make_settings
from tests.fakes import START, FakeClock, FakeSender
from tests.processes import SECRET_KEY
from workers import tasks
from workers.delivery import DeliveryStore
from workers.message import OutgoingMail
from workers.render import Renderer
from workers.retry import RetryLater, backoff_seconds
from workers.runtime import Runtime


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def sender() -> FakeSender:
    return FakeSender()


def make_runtime(
    server: fakeredis.FakeServer,
    sender: FakeSender,
    clock: FakeClock,
    mail_rate_per_second: float = 1000,
    sleep: Callable[[float], None] = lambda seconds: None,
) -> Runtime:
    return Runtime(
        settings=make_settings(mail_rate_per_second=mail_rate_per_second),
        delivery=DeliveryStore(fakeredis.FakeRedis(server=server)),
        sender=sender,  # type: ignore[arg-type]
        renderer=Renderer(DEFAULT_TEMPLATES_DIR),
        sealer=Sealer(SECRET_KEY),
        clock=clock,
        sleep=sleep,
    )


@pytest.fixture
def runtime(server: fakeredis.FakeServer, sender: FakeSender, clock: FakeClock) -> Runtime:
    return make_runtime(server, sender, clock)


async def _challenge(server: fakeredis.FakeServer, clock: FakeClock) -> tuple[Store, str]:
    store = Store(fakeredis.FakeAsyncRedis(server=server, decode_responses=True))
    await store.upsert_profile("u-1", "u1@example.com", "en", clock())
    await store.set_two_step("u-1", True, clock())
    challenge_id = codes.new_challenge_id("u-1")
    outcome = await store.open_login(
        account_id="u-1", challenge_id=challenge_id, code_digest="d" * 64, method="email",
        browser_id="", token_digest="", client_ip="", client_label="", now=clock(),
        code_ttl_seconds=900, resend_cooldown_seconds=30, max_emails_per_hour=10,
    )  # fmt: skip
    assert isinstance(outcome, (Opened, Resent))
    return store, challenge_id


def _job(challenge_id: str, send_no: int = 1, code: str = "246810") -> dict[str, object]:
    sealed = Sealer(SECRET_KEY).seal(code, code_seal_context(challenge_id, send_no))
    job = CodeJob(challenge_id, send_no, sealed, START + 900)
    return payload_of(job)


async def test_a_code_job_is_sent_once_even_when_delivered_twice(
    server: fakeredis.FakeServer, runtime: Runtime, sender: FakeSender, clock: FakeClock
) -> None:
    _, challenge_id = await _challenge(server, clock)
    assert tasks.send_code(runtime, _job(challenge_id), 0) == "sent"
    assert tasks.send_code(runtime, _job(challenge_id), 0) == "done"
    assert len(sender.sent) == 1
    body = sender.sent[0].get_body(("plain",))
    assert body is not None
    assert "246810" in body.get_content()
    state = fakeredis.FakeRedis(server=server, decode_responses=True)
    assert state.hget(challenge_key(challenge_id), "delivery") == "sent"


class _HeldSender(FakeSender):
    """Holds each send until released, as a provider taking its time does."""

    def __init__(self) -> None:
        super().__init__()
        self.sending = threading.Event()
        self.release = threading.Event()

    def send(self, mail: OutgoingMail) -> None:
        self.sending.set()
        assert self.release.wait(10)
        super().send(mail)


async def test_two_threads_of_one_process_given_the_same_job_send_it_once(
    server: fakeredis.FakeServer, clock: FakeClock
) -> None:
    """Job threads share a process's runtime: a job delivered twice may run in two of them at
    once, and the second must find the send busy, not claim it again as its own."""
    _, challenge_id = await _challenge(server, clock)
    sender = _HeldSender()
    runtime = make_runtime(server, sender, clock)
    outcomes: list[str] = []
    first = threading.Thread(
        target=lambda: outcomes.append(tasks.send_code(runtime, _job(challenge_id), 0))
    )
    first.start()
    assert sender.sending.wait(10)
    with pytest.raises(RetryLater, match="another worker is sending it"):
        tasks.send_code(runtime, _job(challenge_id), 0)
    sender.release.set()
    first.join(10)
    assert outcomes == ["sent"]
    assert len(sender.sent) == 1


async def test_a_job_whose_code_was_resent_is_dropped(
    server: fakeredis.FakeServer, runtime: Runtime, sender: FakeSender, clock: FakeClock
) -> None:
    store, challenge_id = await _challenge(server, clock)
    clock.advance(31)
    outcome = await store.resend(
        challenge_id=challenge_id, code_digest="e" * 64, client_ip="", client_label="",
        now=clock(), code_ttl_seconds=900, resend_cooldown_seconds=30,
        max_sends_per_challenge=5, max_emails_per_hour=10,
    )  # fmt: skip
    assert isinstance(outcome, (Opened, Resent))
    assert tasks.send_code(runtime, _job(challenge_id, 1), 0) == "stale"
    assert sender.sent == []


async def test_a_job_whose_code_was_used_is_dropped(
    server: fakeredis.FakeServer, runtime: Runtime, sender: FakeSender, clock: FakeClock
) -> None:
    _, challenge_id = await _challenge(server, clock)
    state = fakeredis.FakeRedis(server=server, decode_responses=True)
    state.hset(challenge_key(challenge_id), "status", "verified")  # type: ignore[arg-type]
    assert tasks.send_code(runtime, _job(challenge_id), 0) == "stale"
    assert sender.sent == []


async def test_an_expired_job_is_dropped(
    server: fakeredis.FakeServer, runtime: Runtime, sender: FakeSender, clock: FakeClock
) -> None:
    _, challenge_id = await _challenge(server, clock)
    clock.advance(900)
    assert tasks.send_code(runtime, _job(challenge_id), 0) == "expired"
    assert sender.sent == []


async def test_a_transient_error_retries_and_shows_retrying(
    server: fakeredis.FakeServer, runtime: Runtime, sender: FakeSender, clock: FakeClock
) -> None:
    _, challenge_id = await _challenge(server, clock)
    sender.errors.append(TransientSmtpError("SMTP 451 try later"))
    with pytest.raises(RetryLater) as later:
        tasks.send_code(runtime, _job(challenge_id), 0)
    assert 2.0 <= later.value.delay_seconds <= 2.0
    state = fakeredis.FakeRedis(server=server, decode_responses=True)
    assert state.hget(challenge_key(challenge_id), "delivery") == "retrying"
    assert tasks.send_code(runtime, _job(challenge_id), 1) == "sent"
    assert state.hget(challenge_key(challenge_id), "delivery") == "sent"
    assert len(sender.sent) == 1


async def test_no_retry_is_scheduled_past_the_codes_expiry(
    server: fakeredis.FakeServer, runtime: Runtime, sender: FakeSender, clock: FakeClock
) -> None:
    _, challenge_id = await _challenge(server, clock)
    clock.advance(899)
    sender.errors.append(TransientSmtpError("SMTP 421 closing"))
    assert tasks.send_code(runtime, _job(challenge_id), 0) == "expired"
    state = fakeredis.FakeRedis(server=server, decode_responses=True)
    assert state.hget(challenge_key(challenge_id), "delivery") == "failed"


async def test_a_permanent_error_fails_at_once(
    server: fakeredis.FakeServer, runtime: Runtime, sender: FakeSender, clock: FakeClock
) -> None:
    _, challenge_id = await _challenge(server, clock)
    sender.errors.append(PermanentSmtpError("SMTP 550 no such user"))
    assert tasks.send_code(runtime, _job(challenge_id), 0) == "failed"
    state = fakeredis.FakeRedis(server=server, decode_responses=True)
    assert state.hget(challenge_key(challenge_id), "delivery") == "failed"


async def test_a_send_claimed_by_another_worker_is_retried_later(
    server: fakeredis.FakeServer, runtime: Runtime, sender: FakeSender, clock: FakeClock
) -> None:
    _, challenge_id = await _challenge(server, clock)
    other = DeliveryStore(fakeredis.FakeRedis(server=server))
    claim, _wait = other.claim_code_send_paced(challenge_id, 1, "other-worker", clock(), 60, 9, 9)
    assert isinstance(claim, Claimed)
    with pytest.raises(RetryLater):
        tasks.send_code(runtime, _job(challenge_id), 0)
    clock.advance(61)  # the other worker died: its claim runs out
    assert tasks.send_code(runtime, _job(challenge_id), 0) == "sent"


def test_backoff_grows_from_two_seconds_to_at_most_sixty() -> None:
    assert backoff_seconds(0) == 2.0
    for retries in range(1, 12):
        delay = backoff_seconds(retries)
        ceiling = min(60.0, 2.0 * 2**retries)
        assert max(2.0, ceiling / 2) <= delay <= ceiling
    assert max(backoff_seconds(20) for _ in range(50)) <= 60.0


def test_a_notice_is_sent_once(runtime: Runtime, sender: FakeSender) -> None:
    job = payload_of(
        NoticeJob("n1", "two_step_enabled", "u1@example.com", "fr", START, "203.0.113.9", None)
    )
    assert tasks.send_notice(runtime, job, 0) == "sent"
    assert tasks.send_notice(runtime, job, 0) == "done"
    assert len(sender.sent) == 1
    assert sender.sent[0]["Auto-Submitted"] == "auto-generated"


def test_the_mail_bucket_paces_all_workers_together(server: fakeredis.FakeServer) -> None:
    one = DeliveryStore(fakeredis.FakeRedis(server=server))
    two = DeliveryStore(fakeredis.FakeRedis(server=server))
    waits = [store.take_mail_token(2.0, 2.0) for store in (one, two, one, two)]
    assert waits[:2] == [0.0, 0.0]
    assert all(wait > 0 for wait in waits[2:])


async def test_the_claim_and_a_mail_token_come_in_one_round_trip(
    server: fakeredis.FakeServer, clock: FakeClock
) -> None:
    store = DeliveryStore(fakeredis.FakeRedis(server=server))
    _, challenge_id = await _challenge(server, clock)
    now = clock()
    claim, wait = store.claim_code_send_paced(challenge_id, 1, "w1", now, 30, 1.0, 1.0)
    # The account's address and language come with the claim: jobs carry no address.
    assert (claim, wait) == (Claimed("u1@example.com", "en", ""), 0.0)
    # The bucket (one token, one a second) is empty: the next send must wait about a second.
    claim, wait = store.claim_code_send_paced(challenge_id, 1, "w2", now, 30, 1.0, 1.0)
    assert claim == NotToSend("busy")
    assert 0.9 <= wait <= 1.0
    # A Redis that lost its scripts (restart, failover): loaded again, and the claim is w1's.
    fakeredis.FakeRedis(server=server).script_flush()
    claim, wait = store.claim_code_send_paced(challenge_id, 1, "w1", now + 2, 30, 1.0, 1.0)
    assert isinstance(claim, Claimed)
    assert wait > 0  # the bucket runs on Redis's own clock: still empty


async def test_a_code_email_waits_for_the_global_mail_rate(
    server: fakeredis.FakeServer, sender: FakeSender, clock: FakeClock
) -> None:
    slept: list[float] = []
    runtime = make_runtime(server, sender, clock, mail_rate_per_second=1, sleep=slept.append)
    _, challenge_id = await _challenge(server, clock)
    assert runtime.delivery.take_mail_token(1, 1) == 0  # another worker took the only token
    assert tasks.send_code(runtime, _job(challenge_id), 0) == "sent"
    assert len(sender.sent) == 1
    assert slept
    assert 0.9 <= slept[0] <= 1.0


async def test_a_code_email_goes_to_the_accounts_address_at_send_time(
    server: fakeredis.FakeServer, runtime: Runtime, sender: FakeSender, clock: FakeClock
) -> None:
    store, challenge_id = await _challenge(server, clock)
    assert "to" not in _job(challenge_id)  # the job carries no address
    await store.upsert_profile("u-1", "new@example.com", "fr", clock())
    assert tasks.send_code(runtime, _job(challenge_id), 0) == "sent"
    [message] = sender.sent
    assert message["To"] == "new@example.com"
    assert "code" in message["Subject"].lower()


async def test_a_code_job_whose_account_is_gone_is_dropped(
    server: fakeredis.FakeServer, runtime: Runtime, sender: FakeSender, clock: FakeClock
) -> None:
    _, challenge_id = await _challenge(server, clock)
    fakeredis.FakeRedis(server=server).delete(AccountKeys.of("u-1").profile)
    assert tasks.send_code(runtime, _job(challenge_id), 0) == "stale"
    assert sender.sent == []


async def test_a_duplicate_gives_back_the_mail_token_its_claim_took(
    server: fakeredis.FakeServer, sender: FakeSender, clock: FakeClock
) -> None:
    runtime = make_runtime(server, sender, clock, mail_rate_per_second=1)  # a bucket of one
    _, challenge_id = await _challenge(server, clock)
    assert tasks.send_code(runtime, _job(challenge_id), 0) == "sent"
    bucket = fakeredis.FakeRedis(server=server)
    bucket.hset(MAIL_BUCKET, "tokens", "1")  # refilled
    assert tasks.send_code(runtime, _job(challenge_id), 0) == "done"
    # The copy's claim took the token in the same round trip, and gave it back.
    assert float(bucket.hget(MAIL_BUCKET, "tokens") or 0) == 1.0
    assert len(sender.sent) == 1


class StateAwayAfterSending:
    """The state store goes away the moment the mail server accepts a message, and comes
    back after ``away_sleeps`` of the worker's waits; records the waits."""

    def __init__(self, server: fakeredis.FakeServer, sender: FakeSender, away_sleeps: int):
        self.server = server
        self.away_sleeps = away_sleeps
        self.waits: list[float] = []
        deliver = sender.send

        def send_then_lose_state(mail: OutgoingMail) -> None:
            deliver(mail)
            server.connected = False

        sender.send = send_then_lose_state  # type: ignore[method-assign]

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        if len(self.waits) >= self.away_sleeps:
            self.server.connected = True


async def test_a_sent_mark_that_cannot_be_written_is_retried_not_sent_again(
    server: fakeredis.FakeServer, sender: FakeSender, clock: FakeClock
) -> None:
    _, challenge_id = await _challenge(server, clock)
    outage = StateAwayAfterSending(server, sender, away_sleeps=4)
    runtime = make_runtime(server, sender, clock, sleep=outage.sleep)
    assert tasks.send_code(runtime, _job(challenge_id), 0) == "sent"
    # Back-off while the job is held: 0.25 s, doubling, at most 2 s.
    assert outage.waits == [0.25, 0.5, 1.0, 2.0]
    state = fakeredis.FakeRedis(server=server, decode_responses=True)
    assert state.hget(challenge_key(challenge_id), "delivery") == "sent"
    # The broker delivers the job again: it is not emailed twice.
    assert tasks.send_code(runtime, _job(challenge_id), 0) == "done"
    assert len(sender.sent) == 1


def test_a_notice_whose_sent_mark_waits_for_redis_is_sent_once(
    server: fakeredis.FakeServer, sender: FakeSender, clock: FakeClock
) -> None:
    outage = StateAwayAfterSending(server, sender, away_sleeps=3)
    runtime = make_runtime(server, sender, clock, sleep=outage.sleep)
    job = payload_of(NoticeJob("n2", "two_step_enabled", "u1@example.com", "en", START, "", None))
    assert tasks.send_notice(runtime, job, 0) == "sent"
    assert tasks.send_notice(runtime, job, 0) == "done"
    assert len(sender.sent) == 1


async def test_the_sent_mark_is_given_up_only_when_the_claim_has_run_out(
    server: fakeredis.FakeServer, sender: FakeSender, clock: FakeClock
) -> None:
    _, challenge_id = await _challenge(server, clock)
    outage = StateAwayAfterSending(server, sender, away_sleeps=1000)
    runtime = make_runtime(server, sender, clock, sleep=outage.sleep)
    with pytest.raises(redis.exceptions.ConnectionError):
        tasks.send_code(runtime, _job(challenge_id), 0)
    assert sum(outage.waits) <= tasks.claim_seconds(runtime)
    assert sum(outage.waits) > tasks.claim_seconds(runtime) - tasks.MARK_RETRY_MAX_SECONDS


async def test_a_notice_job_carries_no_address_the_worker_reads_the_accounts_when_it_sends(
    server: fakeredis.FakeServer, runtime: Runtime, sender: FakeSender, clock: FakeClock
) -> None:
    store, _ = await _challenge(server, clock)
    await store.upsert_profile("u-1", "u1@example.com", "fr", clock())
    first = NoticeJob("n3", "two_step_enabled", "", "", START, account_id="u-1")
    assert "@" not in json.dumps(payload_of(first))
    assert tasks.send_notice(runtime, payload_of(first), 0) == "sent"
    # The address (and language) the account has when the worker sends, not when queued.
    await store.upsert_profile("u-1", "new@example.com", "es", clock())
    second = NoticeJob("n4", "totp_enabled", "", "", START, account_id="u-1")
    assert tasks.send_notice(runtime, payload_of(second), 0) == "sent"
    assert [mail["To"] for mail in sender.sent] == ["u1@example.com", "new@example.com"]
    subjects = [str(mail["Subject"]) for mail in sender.sent]
    assert subjects == [
        "La vérification en deux étapes est activée sur votre compte twostep",
        "Se ha configurado una aplicación de autenticación en su cuenta de twostep",
    ]


def test_a_notice_for_an_account_that_is_gone_is_dropped(
    runtime: Runtime, sender: FakeSender
) -> None:
    job = payload_of(NoticeJob("n5", "two_step_enabled", "", "", START, account_id="u-gone"))
    assert tasks.send_notice(runtime, job, 0) == "gone"
    assert tasks.send_notice(runtime, job, 0) == "gone"
    assert sender.sent == []
