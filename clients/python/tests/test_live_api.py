"""Every method of both clients against the real service: uvicorn, a redis-server, a Celery
worker and a loopback SMTP server (conftest.py), the codes read from the emails it sends."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import pyotp
import pytest
from livestack import ORIGIN, Service
from tests.softauthn import SoftAuthenticator

from twostep_client import (
    AccountLocked,
    AccountNotFound,
    AsyncTwoStep,
    ChallengeNotFound,
    ClientInfo,
    CodeAlreadyUsed,
    InvalidCode,
    MethodNotAvailable,
    NotRequired,
    Pending,
    ReportNotFound,
    ReportUsed,
    SecurityKeyNotFound,
    TooManyAttempts,
    TwoStep,
    Unauthorized,
    UnsupportedOperation,
    ValidationError,
)

pytestmark = pytest.mark.integration

BROWSER = ClientInfo(
    ip="203.0.113.9",
    user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
)


@pytest.fixture
def twostep(service: Service) -> Iterator[TwoStep]:
    with TwoStep(service.url, service.api_key) as client:
        yield client


@pytest.fixture
async def atwostep(service: Service) -> AsyncIterator[AsyncTwoStep]:
    async with AsyncTwoStep(service.url, service.api_key) as client:
        yield client


def signed_up(twostep: TwoStep, account_id: str) -> str:
    email = f"{account_id}@example.com"
    created = twostep.put_account(account_id, email, locale="en")
    assert created.two_step_enabled is False
    assert twostep.set_two_step(account_id, True, client=BROWSER).two_step_enabled is True
    return email


def test_a_whole_login_with_the_sync_client(twostep: TwoStep, service: Service) -> None:
    email = signed_up(twostep, "live-sync")
    login = twostep.start_login("live-sync", client=BROWSER)
    assert isinstance(login, Pending)
    assert (login.method, login.sent_to) == ("email", "l**@example.com")
    assert login.expected_delivery_seconds is None or login.expected_delivery_seconds >= 0
    challenge = twostep.get_challenge(login.challenge_id)
    assert (challenge.account_id, challenge.attempts_left, challenge.sends) == ("live-sync", 3, 1)
    (code,) = service.codes_to(email)

    with pytest.raises(InvalidCode) as wrong:
        twostep.verify(login.challenge_id, f"{(int(code) + 1) % 1_000_000:06d}")
    assert wrong.value.attempts_left == 2
    with pytest.raises(ValidationError) as malformed:
        twostep.verify(login.challenge_id, "12")
    assert malformed.value.errors[0].location[-1] == "code"

    verified = twostep.verify(
        login.challenge_id,
        code,
        remember_browser=True,
        client=BROWSER,
        request_id="portal-verify-1",
    )
    assert verified.account_id == "live-sync"
    assert verified.trusted_browser is not None
    assert twostep.get_challenge(login.challenge_id).status == "verified"
    with pytest.raises(ChallengeNotFound):
        twostep.verify(login.challenge_id, code)

    # The browser is remembered: no second step next time, until it is revoked.
    token = verified.trusted_browser.token
    again = twostep.start_login("live-sync", trusted_browser_token=token)
    assert again == NotRequired(reason="trusted_browser")
    (browser,) = twostep.list_trusted_browsers("live-sync")
    assert (browser.browser_id, browser.browser, browser.ip) == (
        verified.trusted_browser.browser_id,
        "Firefox",
        "203.0.113.9",
    )
    twostep.revoke_trusted_browser("live-sync", browser.browser_id)
    assert isinstance(twostep.start_login("live-sync", trusted_browser_token=token), Pending)
    twostep.revoke_all_trusted_browsers("live-sync")
    assert twostep.list_trusted_browsers("live-sync") == []

    # The request id given is the one the audit trail keeps.
    events = twostep.events("live-sync", limit=200).items
    (kept,) = [event for event in events if event.type == "verified"]
    assert kept.request_id == "portal-verify-1"


async def test_a_whole_login_with_the_async_client(
    twostep: TwoStep, atwostep: AsyncTwoStep, service: Service
) -> None:
    email = signed_up(twostep, "live-async")
    login = await atwostep.start_login("live-async", client=BROWSER)
    assert isinstance(login, Pending)
    (first,) = service.codes_to(email)
    # The cooldown is 0 here: a resend makes a new code and the first one dies.
    resent = await atwostep.resend(login.challenge_id, client=BROWSER)
    assert resent.challenge_id == login.challenge_id
    assert (await atwostep.get_challenge(login.challenge_id)).sends == 2
    _, second = service.codes_to(email, count=2)
    if first != second:
        with pytest.raises(InvalidCode):
            await atwostep.verify(login.challenge_id, first)
    verified = await atwostep.verify(login.challenge_id, second, remember_browser=True)
    assert verified.trusted_browser is not None
    again = await atwostep.start_login(
        "live-async", trusted_browser_token=verified.trusted_browser.token
    )
    assert isinstance(again, NotRequired)
    assert len(await atwostep.list_trusted_browsers("live-async")) == 1


def test_accounts_keep_what_a_put_leaves_out(twostep: TwoStep) -> None:
    twostep.put_account("live-put", "put@example.com", time_zone="Europe/Paris")
    kept = twostep.put_account("live-put", "put@example.com", locale="fr")
    assert (kept.time_zone, kept.locale) == ("Europe/Paris", "fr")
    removed = twostep.put_account("live-put", "put@example.com", time_zone=None)
    assert removed.time_zone is None
    assert twostep.get_account("live-put").email == "put@example.com"
    twostep.delete_account("live-put")
    with pytest.raises(AccountNotFound):
        twostep.get_account("live-put")


def test_an_authenticator_app_and_recovery_codes(twostep: TwoStep) -> None:
    signed_up(twostep, "live-app")
    with pytest.raises(MethodNotAvailable):
        twostep.start_login("live-app", method="totp")
    enrolment = twostep.enrol_totp("live-app")
    assert enrolment.otpauth_uri.startswith("otpauth://totp/")
    assert enrolment.qr_svg.lstrip().startswith("<")
    app = pyotp.TOTP(enrolment.secret)
    with pytest.raises(InvalidCode):
        twostep.confirm_totp("live-app", f"{(int(app.now()) + 1) % 1_000_000:06d}")
    assert twostep.confirm_totp("live-app", app.now(), client=BROWSER).totp_enabled is True

    login = twostep.start_login("live-app", method="totp")
    assert isinstance(login, Pending)
    assert login.method == "totp"
    # The set-up spent this step's code; the window takes the next one.
    twostep.verify(login.challenge_id, app.at(time.time() + 30), method="totp")

    codes = twostep.new_recovery_codes("live-app", client=BROWSER)
    assert len(codes) == 10
    assert twostep.get_account("live-app").recovery_codes_remaining == 10
    login = twostep.start_login("live-app")
    assert isinstance(login, Pending)
    twostep.verify(login.challenge_id, codes[0], method="recovery_code")
    login = twostep.start_login("live-app")
    assert isinstance(login, Pending)
    with pytest.raises(CodeAlreadyUsed) as spent:
        twostep.verify(login.challenge_id, codes[0], method="recovery_code")
    assert spent.value.attempts_left == 2

    twostep.disable_totp("live-app")
    assert twostep.get_account("live-app").totp_enabled is False


def test_a_security_key_added_used_renamed_and_removed(twostep: TwoStep) -> None:
    signed_up(twostep, "live-key")
    authenticator = SoftAuthenticator()
    registration = twostep.begin_key_registration("live-key")
    answer = authenticator.create(registration.public_key, ORIGIN)
    key = twostep.finish_key_registration(
        "live-key", registration.registration_id, "Laptop", answer, client=BROWSER
    )
    assert (key.name, key.last_used_at) == ("Laptop", None)
    assert [k.key_id for k in twostep.list_security_keys("live-key")] == [key.key_id]

    login = twostep.start_login("live-key", method="webauthn")
    assert isinstance(login, Pending)
    assert login.webauthn is not None
    assertion = authenticator.get(login.webauthn, ORIGIN)
    verified = twostep.verify_security_key(login.challenge_id, assertion, client=BROWSER)
    assert verified.account_id == "live-key"

    renamed = twostep.rename_security_key("live-key", key.key_id, "Work laptop")
    assert renamed.name == "Work laptop"
    assert renamed.last_used_at is not None
    twostep.remove_security_key("live-key", key.key_id, client=BROWSER)
    assert twostep.list_security_keys("live-key") == []
    with pytest.raises(SecurityKeyNotFound):
        twostep.remove_security_key("live-key", key.key_id)


def test_a_lock_unlocked_the_trail_paged_and_two_step_reset(twostep: TwoStep) -> None:
    signed_up(twostep, "live-lock")
    # Three attempts per challenge; the account locks at the fourth failure in a row.
    login = twostep.start_login("live-lock")
    assert isinstance(login, Pending)
    for _ in range(2):
        with pytest.raises(InvalidCode):
            twostep.verify(login.challenge_id, "000000")
    with pytest.raises(TooManyAttempts) as used_up:
        twostep.verify(login.challenge_id, "000000")
    assert used_up.value.retry_after is not None
    login = twostep.start_login("live-lock")
    assert isinstance(login, Pending)
    with pytest.raises(AccountLocked) as locked:
        twostep.verify(login.challenge_id, "000000")
    assert locked.value.retry_after
    with pytest.raises(AccountLocked):
        twostep.start_login("live-lock")
    assert twostep.unlock("live-lock", client=BROWSER).was_locked is True
    assert isinstance(twostep.start_login("live-lock"), Pending)

    seen: list[str] = []
    before = None
    while True:
        page = twostep.events("live-lock", limit=3, before=before)
        assert len(page.items) <= 3
        seen += [event.type for event in page.items]
        if page.next_cursor is None:
            break
        before = page.next_cursor
    assert {"account_locked", "account_unlocked", "two_step_enabled"} <= set(seen)

    reset = twostep.reset_two_step("live-lock", client=BROWSER)
    assert reset.two_step_enabled is False
    assert twostep.start_login("live-lock") == NotRequired(reason="two_step_disabled")
    twostep.delete_account("live-lock")


def test_this_wasn_t_me_ends_the_challenge_once(twostep: TwoStep, service: Service) -> None:
    email = signed_up(twostep, "live-report")
    login = twostep.start_login("live-report")
    assert isinstance(login, Pending)
    (token,) = service.report_tokens_to(email)
    with pytest.raises(ReportNotFound):
        twostep.report(login.challenge_id, token[:-4] + "AAAA")
    reported = twostep.report(login.challenge_id, token, client=BROWSER)
    assert (reported.challenge_id, reported.account_id) == (login.challenge_id, "live-report")
    assert reported.challenge_ended is True
    assert reported.trusted_browsers_revoked == 0
    with pytest.raises(ReportUsed):
        twostep.report(login.challenge_id, token)
    with pytest.raises(ChallengeNotFound):
        twostep.get_challenge(login.challenge_id)


async def test_the_service_s_own_endpoints(atwostep: AsyncTwoStep) -> None:
    assert (await atwostep.health()).status == "ok"
    readiness = await atwostep.readiness()
    assert readiness.ready
    assert readiness.checks == {"redis": True, "broker": True}
    assert "twostep" in await atwostep.metrics()


def test_a_wrong_key_and_a_wrong_base_url_against_the_real_service(service: Service) -> None:
    with TwoStep(service.url, "not-a-key") as wrong_key, pytest.raises(Unauthorized):
        wrong_key.get_account("live-sync")
    wrong_url = TwoStep(f"{service.url}/nope", service.api_key)
    with wrong_url, pytest.raises(UnsupportedOperation, match="base_url"):
        wrong_url.get_account("live-sync")


def test_every_method_is_called_against_the_real_service() -> None:
    from pathlib import Path

    from twostep_client import OPERATIONS

    source = Path(__file__).read_text()
    assert [name for name in OPERATIONS if f".{name}(" not in source] == []
