"""Authenticator apps (TOTP) and recovery codes, checked through the app in process.

Every test that uses ``api`` runs three times, through its ``state_redis`` (see
``tests/conftest.py``): on fakeredis, on a real redis-server and on a real three-master Redis
Cluster. TOTP codes are computed with pyotp (``app_code`` in ``tests/api_calls.py``) straight
from the secret the API returned, as an authenticator app would, so they check the project's
wrapper rather than reuse it.
The fake clock starts on a 30-second boundary, so ``clock.now + 30 * k`` is step S + k.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
import redis.asyncio

from api import totp
from shared.jobs import (
    NOTICE_RECOVERY_CODE_USED,
    NOTICE_RECOVERY_CODES_GENERATED,
    NOTICE_TOTP_DISABLED,
    NOTICE_TOTP_ENABLED,
)
from shared.keys import account_tag
from shared.settings import Settings
from tests.api_calls import (
    ACCOUNT,
    EMAIL,
    FULL_WIDTH_DIGITS,
    NOT_A_RECOVERY_CODE,
    OTHER,
    OTHER_EMAIL,
    STEP,
    api_client,
    app_code,
    assert_problem,
    challenge,
    code_of,
    confirm,
    enable_totp,
    enrol,
    login,
    make_settings,
    new_account,
    new_recovery_codes,
    open_challenge,
    redis_keys,
    redis_text,
    resend,
    totp_challenge,
    verify,
    verify_recovery,
    verify_totp,
    wrong,
    wrong_totp,
)
from tests.fakes import FakeClock, RecordingMailQueue
from tests.processes import API_KEY, SECRET_KEY

ENROLMENT_SECONDS = 900
RECOVERY_SHAPE = re.compile(r"^[a-z0-9]{4}(-[a-z0-9]{4}){3}$")
OTHER_SECRET_KEY = "rotated-secret-key-abcdefghijklmnopqrstuvwxyz0123"


# RFC 6238, appendix B: the SHA-1 rows (seed "12345678901234567890", 8 digits).
RFC6238_SEED = base64.b32encode(b"12345678901234567890").decode("ascii")
RFC6238_SHA1 = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


# Helpers


async def view(api: httpx.AsyncClient, account_id: str = ACCOUNT) -> dict[str, Any]:
    response = await api.get(f"/v1/accounts/{account_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def attempts_left(api: httpx.AsyncClient, challenge_id: str) -> int:
    left: int = (await challenge(api, challenge_id))["attempts_left"]
    return left


def kinds(mail: RecordingMailQueue) -> list[str]:
    return [notice.kind for notice in mail.notices]


def rotated_settings(*previous: str) -> Settings:
    """Settings after ``TWOSTEP_SECRET_KEY`` was changed, keeping ``previous`` keys."""
    return Settings(secret_key=OTHER_SECRET_KEY, api_keys=(API_KEY,), previous_secret_keys=previous)


# A second API with other settings on the same Redis (a restart, say).
other_api = api_client


@pytest.fixture
async def account(api: httpx.AsyncClient, mail: RecordingMailQueue) -> str:
    """``ACCOUNT`` with two-step on; the notice of turning it on is forgotten."""
    await new_account(api)
    mail.notices.clear()
    return ACCOUNT


# The TOTP algorithm


class TestTotpAlgorithm:
    @pytest.mark.parametrize(("moment", "expected"), RFC6238_SHA1)
    def test_rfc6238_appendix_b_sha1_vectors(self, moment: int, expected: str) -> None:
        assert totp.code_at(RFC6238_SEED, moment, digits=8) == expected

    @pytest.mark.parametrize(("moment", "expected"), RFC6238_SHA1)
    def test_six_digit_codes_are_the_last_six_of_the_vectors(
        self, moment: int, expected: str
    ) -> None:
        assert totp.code_at(RFC6238_SEED, moment, digits=6) == expected[-6:]
        assert totp.code_at(RFC6238_SEED, moment) == expected[-6:]

    def test_matching_step_finds_the_vector_step(self) -> None:
        assert totp.matching_step(RFC6238_SEED, "050471", 1111111111) == 1111111111 // STEP
        assert totp.matching_step(RFC6238_SEED, "050471", 1111111111 + STEP) == 1111111111 // STEP
        assert totp.matching_step(RFC6238_SEED, "050471", 1111111111 + 2 * STEP) is None


# Enrolment


class TestEnrolment:
    async def test_enrolment_returns_a_160_bit_secret_uri_and_qr(
        self, api: httpx.AsyncClient, account: str
    ) -> None:
        body = await enrol(api)

        secret = body["secret"]
        assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
        assert len(base64.b32decode(secret)) == 20
        parts = urlsplit(body["otpauth_uri"])
        assert parts.scheme == "otpauth"
        assert parts.netloc == "totp"
        label = unquote(parts.path)
        assert "twostep" in label
        assert EMAIL in label
        query = parse_qs(parts.query)
        assert query["secret"] == [secret]
        assert query["issuer"] == ["twostep"]
        assert query.get("algorithm", ["SHA1"]) == ["SHA1"]
        assert query.get("digits", ["6"]) == ["6"]
        assert query.get("period", ["30"]) == ["30"]
        svg = body["qr_svg"].lstrip()
        assert svg.startswith("<svg")
        assert svg.rstrip().endswith("</svg>")

    async def test_each_enrolment_draws_a_new_secret(
        self, api: httpx.AsyncClient, account: str
    ) -> None:
        assert (await enrol(api))["secret"] != (await enrol(api))["secret"]

    async def test_enrolment_of_an_unknown_account_is_404(self, api: httpx.AsyncClient) -> None:
        assert_problem(await api.post("/v1/accounts/nobody/totp"), 404, "account_not_found")

    async def test_enrolment_alone_changes_nothing_at_login(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        secret = (await enrol(api))["secret"]

        assert (await view(api))["totp_enabled"] is False
        assert_problem(await login(api, method="totp"), 409, "method_not_available")
        challenge_id, _ = await open_challenge(api, mail)
        assert "totp" not in (await login(api)).json()["methods"]
        response = await verify_totp(api, challenge_id, app_code(secret, clock.now))
        assert_problem(response, 409, "method_not_available")
        assert mail.notices == []


class TestEnrolmentIssuer:
    @pytest.fixture
    def settings(self) -> Settings:
        return make_settings(issuer="Acme Portal")

    async def test_uri_names_the_configured_issuer(
        self, api: httpx.AsyncClient, account: str
    ) -> None:
        parts = urlsplit((await enrol(api))["otpauth_uri"])
        assert unquote(parts.path).startswith("/Acme Portal:")
        assert EMAIL in unquote(parts.path)
        assert parse_qs(parts.query)["issuer"] == ["Acme Portal"]


# Confirmation


class TestConfirm:
    async def test_wrong_code_is_400_with_attempts_left(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        secret = (await enrol(api))["secret"]
        body = assert_problem(
            await confirm(api, wrong_totp(secret, clock.now)), 400, "invalid_code"
        )
        assert body["attempts_left"] == 4
        assert (await view(api))["totp_enabled"] is False
        assert mail.notices == []

    async def test_right_code_turns_totp_on_and_sends_one_notice(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        secret = (await enrol(api))["secret"]

        response = await confirm(api, app_code(secret, clock.now))

        assert response.status_code == 200, response.text
        assert response.json()["totp_enabled"] is True
        assert response.json()["account_id"] == ACCOUNT
        assert (await view(api))["totp_enabled"] is True
        assert "totp" in (await login(api)).json()["methods"]
        assert kinds(mail) == [NOTICE_TOTP_ENABLED]
        assert (mail.notices[0].to, mail.notices[0].account_id) == ("", ACCOUNT)  # no address

    async def test_confirm_without_an_enrolment_is_404(
        self, api: httpx.AsyncClient, account: str
    ) -> None:
        assert_problem(await confirm(api, "123456"), 404, "totp_enrolment_not_found")

    async def test_confirm_of_an_unknown_account_is_404(self, api: httpx.AsyncClient) -> None:
        assert_problem(await confirm(api, "123456", "nobody"), 404, "account_not_found")

    async def test_fifth_wrong_confirm_drops_the_enrolment(
        self, api: httpx.AsyncClient, clock: FakeClock, account: str
    ) -> None:
        secret = (await enrol(api))["secret"]
        bad = wrong_totp(secret, clock.now)
        for left in (4, 3, 2, 1):
            assert assert_problem(await confirm(api, bad), 400, "invalid_code")[
                "attempts_left"
            ] == (left)
        assert_problem(await confirm(api, bad), 429, "too_many_attempts")

        response = await confirm(api, app_code(secret, clock.now))
        assert_problem(response, 404, "totp_enrolment_not_found")
        assert (await view(api))["totp_enabled"] is False

    @pytest.mark.parametrize("code", ["12345", "1234567", " 12345", "12a456", 123456])
    async def test_malformed_code_is_422_and_not_counted(
        self, api: httpx.AsyncClient, clock: FakeClock, account: str, code: Any
    ) -> None:
        secret = (await enrol(api))["secret"]
        assert_problem(await confirm(api, code), 422, "validation_error")
        body = assert_problem(
            await confirm(api, wrong_totp(secret, clock.now)), 400, "invalid_code"
        )
        assert body["attempts_left"] == 4

    async def test_full_width_digits_are_422(
        self, api: httpx.AsyncClient, clock: FakeClock, account: str
    ) -> None:
        secret = (await enrol(api))["secret"]
        code = app_code(secret, clock.now)
        assert_problem(
            await confirm(api, code.translate(FULL_WIDTH_DIGITS)), 422, "validation_error"
        )
        assert (await view(api))["totp_enabled"] is False

    async def test_pending_enrolment_expires_after_15_minutes(
        self, api: httpx.AsyncClient, clock: FakeClock, account: str
    ) -> None:
        secret = (await enrol(api))["secret"]
        clock.advance(ENROLMENT_SECONDS)
        response = await confirm(api, app_code(secret, clock.now))
        assert_problem(response, 404, "totp_enrolment_not_found")
        assert (await view(api))["totp_enabled"] is False

    async def test_pending_enrolment_still_confirms_just_before_15_minutes(
        self, api: httpx.AsyncClient, clock: FakeClock, account: str
    ) -> None:
        secret = (await enrol(api))["secret"]
        clock.advance(ENROLMENT_SECONDS - 1)
        assert (await confirm(api, app_code(secret, clock.now))).status_code == 200

    async def test_a_new_enrolment_replaces_a_pending_one(
        self, api: httpx.AsyncClient, clock: FakeClock, account: str
    ) -> None:
        first = (await enrol(api))["secret"]
        second = (await enrol(api))["secret"]
        assert_problem(await confirm(api, app_code(first, clock.now)), 400, "invalid_code")
        assert (await confirm(api, app_code(second, clock.now))).status_code == 200


class TestReEnrolment:
    async def test_old_secret_works_until_the_new_one_is_confirmed(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        old = await enable_totp(api, clock)
        clock.advance(2 * STEP)
        new = (await enrol(api))["secret"]
        assert (await view(api))["totp_enabled"] is True
        assert kinds(mail) == [NOTICE_TOTP_ENABLED]

        # Pending: the old app still signs in, the new one does not yet.
        refused = await totp_challenge(api)
        assert_problem(
            await verify_totp(api, refused, app_code(new, clock.now)), 400, "invalid_code"
        )
        response = await verify_totp(api, await totp_challenge(api), app_code(old, clock.now))
        assert response.status_code == 200, response.text

        clock.advance(2 * STEP)
        assert (await confirm(api, app_code(new, clock.now))).status_code == 200
        clock.advance(STEP)

        challenge_id = await totp_challenge(api)
        assert_problem(
            await verify_totp(api, challenge_id, app_code(old, clock.now)), 400, "invalid_code"
        )
        assert (await verify_totp(api, challenge_id, app_code(new, clock.now))).status_code == 200
        assert (await view(api))["totp_enabled"] is True


# Signing in with an authenticator app


class TestTotpLogin:
    async def test_login_with_totp_sends_no_email(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        secret = await enable_totp(api, clock)
        clock.advance(2 * STEP)

        response = await login(api, method="totp")

        assert response.status_code == 201, response.text
        body = response.json()
        assert body["status"] == "pending"
        assert body["method"] == "totp"
        assert body["sent_to"] is None
        assert "totp" in body["methods"]
        assert mail.codes == []
        assert (await challenge(api, body["challenge_id"]))["delivery"] == "none"
        response = await verify_totp(api, body["challenge_id"], app_code(secret, clock.now))
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "verified"
        assert response.json()["account_id"] == ACCOUNT
        assert mail.codes == []

    async def test_totp_code_verifies_an_email_challenge_too(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        secret = await enable_totp(api, clock)
        clock.advance(2 * STEP)
        challenge_id, _ = await open_challenge(api, mail, method="email")
        assert (
            await verify_totp(api, challenge_id, app_code(secret, clock.now))
        ).status_code == 200

    async def test_resend_of_a_totp_challenge_switches_to_email(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        await enable_totp(api, clock)
        challenge_id = await totp_challenge(api)

        response = await resend(api, challenge_id)

        assert response.status_code == 200, response.text
        assert response.json()["method"] == "email"
        assert response.json()["sent_to"] == "a**@example.com"
        assert len(mail.codes) == 1
        assert mail.codes[0].challenge_id == challenge_id
        assert (await verify(api, challenge_id, code_of(mail.codes[0]))).status_code == 200


class TestTotpWindow:
    async def test_one_step_either_side_is_accepted(
        self, api: httpx.AsyncClient, clock: FakeClock, account: str
    ) -> None:
        secret = await enable_totp(api, clock)
        clock.advance(10 * STEP)

        earlier = await verify_totp(
            api, await totp_challenge(api), app_code(secret, clock.now - STEP)
        )
        assert earlier.status_code == 200, earlier.text
        later = await verify_totp(
            api, await totp_challenge(api), app_code(secret, clock.now + STEP)
        )
        assert later.status_code == 200, later.text

    async def test_two_steps_away_is_refused(
        self, api: httpx.AsyncClient, clock: FakeClock, account: str
    ) -> None:
        secret = await enable_totp(api, clock)
        clock.advance(10 * STEP)
        challenge_id = await totp_challenge(api)
        for offset in (-2 * STEP, 2 * STEP):
            code = app_code(secret, clock.now + offset)
            assert code not in {app_code(secret, clock.now + d) for d in (-STEP, 0, STEP)}
            assert_problem(await verify_totp(api, challenge_id, code), 400, "invalid_code")
        # Those refusals were about time, not replay: the current code still works.
        assert (
            await verify_totp(api, challenge_id, app_code(secret, clock.now))
        ).status_code == 200


class TestTotpReplay:
    async def test_an_accepted_code_is_refused_on_a_new_challenge(
        self, api: httpx.AsyncClient, clock: FakeClock, account: str
    ) -> None:
        secret = await enable_totp(api, clock)
        clock.advance(3 * STEP)
        code = app_code(secret, clock.now)
        first = await totp_challenge(api)
        assert (await verify_totp(api, first, code)).status_code == 200
        assert_problem(await verify_totp(api, first, code), 404, "challenge_not_found")

        second = await totp_challenge(api)
        body = assert_problem(await verify_totp(api, second, code), 400, "code_already_used")
        assert body["attempts_left"] == 4
        assert "already used" in body["detail"]
        assert await attempts_left(api, second) == 4
        events = (await api.get(f"/v1/accounts/{ACCOUNT}/events?limit=1")).json()["items"]
        assert events[0]["type"] == "verification_failed"
        assert events[0]["details"]["reason"] == "code_already_used"
        assert events[0]["details"]["attempts_left"] == 4

    async def test_code_of_an_earlier_step_than_the_last_accepted_is_refused(
        self, api: httpx.AsyncClient, clock: FakeClock, account: str
    ) -> None:
        secret = await enable_totp(api, clock)
        clock.advance(3 * STEP)
        ahead = await verify_totp(
            api, await totp_challenge(api), app_code(secret, clock.now + STEP)
        )
        assert ahead.status_code == 200

        challenge_id = await totp_challenge(api)
        for left, offset in ((4, 0), (3, -STEP)):
            code = app_code(secret, clock.now + offset)
            body = assert_problem(
                await verify_totp(api, challenge_id, code), 400, "code_already_used"
            )
            assert body["attempts_left"] == left

    async def test_the_confirming_step_cannot_sign_in(
        self, api: httpx.AsyncClient, clock: FakeClock, account: str
    ) -> None:
        secret = await enable_totp(api, clock)
        challenge_id = await totp_challenge(api)
        for offset in (0, -STEP):
            code = app_code(secret, clock.now + offset)
            assert_problem(await verify_totp(api, challenge_id, code), 400, "code_already_used")
        code = app_code(secret, clock.now + STEP)
        assert (await verify_totp(api, challenge_id, code)).status_code == 200

    async def test_a_wrong_code_is_still_invalid_after_a_sign_in(
        self, api: httpx.AsyncClient, clock: FakeClock, account: str
    ) -> None:
        secret = await enable_totp(api, clock)
        clock.advance(3 * STEP)
        assert (
            await verify_totp(api, await totp_challenge(api), app_code(secret, clock.now))
        ).status_code == 200
        challenge_id = await totp_challenge(api)
        response = await verify_totp(api, challenge_id, wrong_totp(secret, clock.now))
        assert_problem(response, 400, "invalid_code")


class TestTotpReplayAccountLock:
    @pytest.fixture
    def settings(self) -> Settings:
        return make_settings(account_lock_threshold=6)

    async def test_a_replayed_code_counts_toward_the_lock_as_a_wrong_one_does(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        secret = await enable_totp(api, clock)
        clock.advance(2 * STEP)
        used = app_code(secret, clock.now)
        assert (await verify_totp(api, await totp_challenge(api), used)).status_code == 200
        challenge_id = await totp_challenge(api)
        # Each counts three failures, as a wrong app code does (api/guessing.py): 3 + 3.
        assert_problem(await verify_totp(api, challenge_id, used), 400, "code_already_used")

        body = assert_problem(await verify_totp(api, challenge_id, used), 429, "account_locked")

        assert body["retry_after"] == 900
        assert [notice.kind for notice in mail.notices][-1] == "account_locked"


class TestTotpFormat:
    @pytest.mark.parametrize("code", [" 12345", "12345", "1234567", "12 456", 123456, ""])
    async def test_malformed_code_is_422_and_not_counted(
        self, api: httpx.AsyncClient, clock: FakeClock, account: str, code: Any
    ) -> None:
        secret = await enable_totp(api, clock)
        clock.advance(2 * STEP)
        challenge_id = await totp_challenge(api)

        assert_problem(await verify_totp(api, challenge_id, code), 422, "validation_error")

        assert await attempts_left(api, challenge_id) == 5
        assert (
            await verify_totp(api, challenge_id, app_code(secret, clock.now))
        ).status_code == 200

    async def test_full_width_digits_of_the_right_code_are_422(
        self, api: httpx.AsyncClient, clock: FakeClock, account: str
    ) -> None:
        secret = await enable_totp(api, clock)
        clock.advance(2 * STEP)
        challenge_id = await totp_challenge(api)
        code = app_code(secret, clock.now)

        response = await verify_totp(api, challenge_id, code.translate(FULL_WIDTH_DIGITS))

        assert_problem(response, 422, "validation_error")
        assert await attempts_left(api, challenge_id) == 5
        assert (await verify_totp(api, challenge_id, code)).status_code == 200


class TestSingleUseUnderConcurrency:
    async def test_one_totp_code_sent_to_four_challenges_at_once_signs_in_once(
        self, api: httpx.AsyncClient, clock: FakeClock, account: str
    ) -> None:
        secret = await enable_totp(api, clock)
        clock.advance(2 * STEP)
        ids = [await totp_challenge(api) for _ in range(4)]
        code = app_code(secret, clock.now)

        answers = await asyncio.gather(*(verify_totp(api, each, code) for each in ids))

        assert sorted(answer.status_code for answer in answers) == [200, 400, 400, 400]
        refused = [answer.json()["code"] for answer in answers if answer.status_code == 400]
        assert refused == ["code_already_used"] * 3

    async def test_one_recovery_code_sent_to_four_challenges_at_once_signs_in_once(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        made = await new_recovery_codes(api)
        mail.notices.clear()
        ids = [(await open_challenge(api, mail))[0] for _ in range(4)]

        answers = await asyncio.gather(*(verify_recovery(api, each, made[0]) for each in ids))

        assert sorted(answer.status_code for answer in answers) == [200, 400, 400, 400]
        refused = [answer.json()["code"] for answer in answers if answer.status_code == 400]
        assert refused == ["code_already_used"] * 3
        assert (await view(api))["recovery_codes_remaining"] == 9
        assert kinds(mail) == [NOTICE_RECOVERY_CODE_USED]


class TestTotpLimits:
    @pytest.fixture
    def settings(self) -> Settings:
        # Four wrong app codes in a row lock the account first with the default threshold.
        return make_settings(account_lock_threshold=16)

    async def test_five_wrong_codes_lock_the_challenge(
        self, api: httpx.AsyncClient, clock: FakeClock, account: str
    ) -> None:
        secret = await enable_totp(api, clock)
        clock.advance(2 * STEP)
        challenge_id = await totp_challenge(api)
        bad = wrong_totp(secret, clock.now)
        for left in (4, 3, 2, 1):
            body = assert_problem(await verify_totp(api, challenge_id, bad), 400, "invalid_code")
            assert body["attempts_left"] == left
        assert_problem(await verify_totp(api, challenge_id, bad), 429, "too_many_attempts")

        response = await verify_totp(api, challenge_id, app_code(secret, clock.now))
        assert_problem(response, 429, "too_many_attempts")
        assert (await challenge(api, challenge_id))["status"] == "locked"


class TestTotpAccountLock:
    @pytest.fixture
    def settings(self) -> Settings:
        return make_settings(account_lock_threshold=6)

    async def test_wrong_totp_and_email_codes_count_together(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        secret = await enable_totp(api, clock)
        clock.advance(2 * STEP)
        email_challenge, code = await open_challenge(api, mail, method="email")
        for _ in range(2):
            assert_problem(await verify(api, email_challenge, wrong(code)), 400, "invalid_code")
        totp_id = await totp_challenge(api)
        bad = wrong_totp(secret, clock.now)
        # A wrong app code is checked against three steps: it counts three failures (2 + 3).
        assert_problem(await verify_totp(api, totp_id, bad), 400, "invalid_code")

        body = assert_problem(await verify_totp(api, totp_id, bad), 429, "account_locked")

        assert body["retry_after"] == 900
        assert_problem(await login(api, method="totp"), 429, "account_locked")
        response = await verify_totp(api, totp_id, app_code(secret, clock.now))
        assert_problem(response, 429, "account_locked")


# The secret at rest


class TestTotpSecretAtRest:
    async def test_secret_is_neither_stored_nor_shown_again(
        self,
        caplog: pytest.LogCaptureFixture,
        api: httpx.AsyncClient,
        mail: RecordingMailQueue,
        clock: FakeClock,
        state_redis: redis.asyncio.Redis,
        account: str,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        secret = await enable_totp(api, clock)
        raw_hex = base64.b32decode(secret).hex()
        forms = (secret, secret.lower(), raw_hex, raw_hex.upper())
        b64 = base64.b64encode(base64.b32decode(secret)).decode()

        stored = await redis_text(state_redis)
        for form in (*forms, b64):
            assert form not in stored

        clock.advance(2 * STEP)
        texts = [(await api.get(f"/v1/accounts/{ACCOUNT}")).text]
        started = await login(api, method="totp")
        texts.append(started.text)
        challenge_id = started.json()["challenge_id"]
        texts.append((await api.get(f"/v1/challenges/{challenge_id}")).text)
        texts.append((await verify_totp(api, challenge_id, wrong_totp(secret, clock.now))).text)
        texts.append((await verify_totp(api, challenge_id, app_code(secret, clock.now))).text)
        texts.append((await api.get("/metrics")).text)
        texts.append(repr(mail.notices))
        texts.append(caplog.text)
        for text in texts:
            for form in forms:
                assert form not in text
        for form in forms:
            assert form not in await redis_text(state_redis)

    async def test_sealed_secret_names_its_key(
        self,
        api: httpx.AsyncClient,
        clock: FakeClock,
        state_redis: redis.asyncio.Redis,
        account: str,
    ) -> None:
        await enable_totp(api, clock)
        key = f"twostep:{{{account_tag(ACCOUNT)}}}:totp"
        sealed = await state_redis.hget(key, "sealed")
        assert isinstance(sealed, str)
        key_id, dot, body = sealed.partition(".")
        assert dot == "."
        assert re.fullmatch(r"[0-9a-f]{8}", key_id)
        # 12-byte nonce + 32 characters of secret + 16-byte tag.
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        assert len(raw) == 12 + 32 + 16


# Turning TOTP off


class TestTotpDisable:
    async def test_delete_turns_totp_off_once_with_one_notice(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, clock: FakeClock, account: str
    ) -> None:
        secret = await enable_totp(api, clock)
        clock.advance(2 * STEP)
        challenge_id = await totp_challenge(api)
        mail.notices.clear()

        response = await api.delete(f"/v1/accounts/{ACCOUNT}/totp")

        assert response.status_code == 204
        assert response.content == b""
        assert (await view(api))["totp_enabled"] is False
        assert kinds(mail) == [NOTICE_TOTP_DISABLED]
        assert (mail.notices[0].to, mail.notices[0].account_id) == ("", ACCOUNT)  # no address
        response = await verify_totp(api, challenge_id, app_code(secret, clock.now))
        assert_problem(response, 409, "method_not_available")
        assert_problem(await login(api, method="totp"), 409, "method_not_available")
        assert "totp" not in (await login(api)).json()["methods"]

        assert (await api.delete(f"/v1/accounts/{ACCOUNT}/totp")).status_code == 204
        assert kinds(mail) == [NOTICE_TOTP_DISABLED]

    async def test_delete_of_totp_that_was_never_on_sends_no_notice(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        assert (await api.delete(f"/v1/accounts/{ACCOUNT}/totp")).status_code == 204
        assert mail.notices == []

    async def test_delete_of_totp_of_an_unknown_account_is_404(
        self, api: httpx.AsyncClient
    ) -> None:
        assert_problem(await api.delete("/v1/accounts/nobody/totp"), 404, "account_not_found")


# Recovery codes


class TestRecoveryCodes:
    async def test_ten_distinct_typeable_codes_and_one_notice(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        made = await new_recovery_codes(api)

        assert len(made) == 10
        assert len(set(made)) == 10
        for code in made:
            assert RECOVERY_SHAPE.fullmatch(code), code
            assert not set(code) & set("01oli"), code
        assert (await view(api))["recovery_codes_remaining"] == 10
        assert "recovery_code" in (await login(api)).json()["methods"]
        assert kinds(mail) == [NOTICE_RECOVERY_CODES_GENERATED]
        assert mail.notices[0].details["count"] == "10"
        assert (mail.notices[0].to, mail.notices[0].account_id) == ("", ACCOUNT)  # no address
        for code in made:
            assert code not in repr(mail.notices)

    async def test_codes_for_an_unknown_account_are_404(self, api: httpx.AsyncClient) -> None:
        response = await api.post("/v1/accounts/nobody/recovery-codes")
        assert_problem(response, 404, "account_not_found")

    async def test_codes_are_stored_only_as_digests(
        self, api: httpx.AsyncClient, state_redis: redis.asyncio.Redis, account: str
    ) -> None:
        made = await new_recovery_codes(api)
        stored = await redis_text(state_redis)
        for code in made:
            assert code not in stored
            assert code.replace("-", "") not in stored
            assert code.upper() not in stored

    async def test_a_code_works_once_whatever_its_case_and_spacing(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        made = await new_recovery_codes(api)
        mail.notices.clear()
        typed = made[3].upper().replace("-", " ")
        challenge_id, _ = await open_challenge(api, mail)

        response = await verify_recovery(api, challenge_id, typed)

        assert response.status_code == 200, response.text
        assert response.json()["account_id"] == ACCOUNT
        assert (await view(api))["recovery_codes_remaining"] == 9
        assert kinds(mail) == [NOTICE_RECOVERY_CODE_USED]
        assert mail.notices[0].details["remaining"] == "9"
        assert (mail.notices[0].to, mail.notices[0].account_id) == ("", ACCOUNT)  # no address

        again, _ = await open_challenge(api, mail)
        body = assert_problem(await verify_recovery(api, again, made[3]), 400, "code_already_used")
        assert body["attempts_left"] == 4
        assert await attempts_left(api, again) == 4
        assert (await view(api))["recovery_codes_remaining"] == 9
        assert (await verify_recovery(api, again, made[4])).status_code == 200
        assert (await view(api))["recovery_codes_remaining"] == 8

    async def test_a_code_signs_in_on_a_totp_challenge(
        self, api: httpx.AsyncClient, clock: FakeClock, account: str
    ) -> None:
        await enable_totp(api, clock)
        made = await new_recovery_codes(api)
        challenge_id = await totp_challenge(api)
        assert (await verify_recovery(api, challenge_id, made[0])).status_code == 200

    async def test_a_new_set_kills_the_old_one(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        old = await new_recovery_codes(api)
        new = await new_recovery_codes(api)
        assert not set(old) & set(new)
        assert (await view(api))["recovery_codes_remaining"] == 10
        assert kinds(mail) == [NOTICE_RECOVERY_CODES_GENERATED] * 2

        challenge_id, _ = await open_challenge(api, mail)
        for code in (old[0], old[9]):
            assert_problem(await verify_recovery(api, challenge_id, code), 400, "invalid_code")
        assert (await view(api))["recovery_codes_remaining"] == 10
        assert (await verify_recovery(api, challenge_id, new[0])).status_code == 200

    async def test_a_code_used_before_a_new_set_is_just_wrong_after_it(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        old = await new_recovery_codes(api)
        challenge_id, _ = await open_challenge(api, mail)
        assert (await verify_recovery(api, challenge_id, old[0])).status_code == 200
        await new_recovery_codes(api)

        challenge_id, _ = await open_challenge(api, mail)
        assert_problem(await verify_recovery(api, challenge_id, old[0]), 400, "invalid_code")

    async def test_used_codes_are_kept_as_digests_and_dropped_with_their_set(
        self,
        api: httpx.AsyncClient,
        mail: RecordingMailQueue,
        state_redis: redis.asyncio.Redis,
        account: str,
    ) -> None:
        made = await new_recovery_codes(api)
        for code in made[:3]:
            challenge_id, _ = await open_challenge(api, mail)
            assert (await verify_recovery(api, challenge_id, code)).status_code == 200
        used_key = f"twostep:{{{account_tag(ACCOUNT)}}}:recovery-used"
        assert await state_redis.hlen(used_key) == 3
        stored = await redis_text(state_redis)
        for code in made:
            assert code not in stored
            assert code.replace("-", "") not in stored

        await new_recovery_codes(api)

        assert await state_redis.exists(used_key) == 0

    async def test_five_wrong_codes_lock_the_challenge_and_spare_the_good_ones(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        made = await new_recovery_codes(api)
        challenge_id, _ = await open_challenge(api, mail)
        for left in (4, 3, 2, 1):
            response = await verify_recovery(api, challenge_id, NOT_A_RECOVERY_CODE)
            assert assert_problem(response, 400, "invalid_code")["attempts_left"] == left
        response = await verify_recovery(api, challenge_id, NOT_A_RECOVERY_CODE)
        assert_problem(response, 429, "too_many_attempts")

        response = await verify_recovery(api, challenge_id, made[0])
        assert_problem(response, 429, "too_many_attempts")
        assert (await view(api))["recovery_codes_remaining"] == 10

    @pytest.mark.parametrize(
        "typed",
        [
            "k7qd-3mzp",
            "k7qd-3mzp-x9ta-2hf",
            "k7qd-3mzp-x9ta-2hfww",
            "k7qd-3mzp-x9ta-2hf\u00e9",
            "k7qd-3mzp-x9ta-2hf\uff57",
            "k7qd-3mzp-x9ta-2hf0",
            "",
        ],
    )
    async def test_malformed_code_is_422_and_not_counted(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str, typed: str
    ) -> None:
        await new_recovery_codes(api)
        challenge_id, _ = await open_challenge(api, mail)

        response = await verify_recovery(api, challenge_id, typed)

        assert_problem(response, 422, "validation_error")
        assert await attempts_left(api, challenge_id) == 5

    async def test_a_code_of_another_account_is_refused(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        await new_account(api, OTHER, OTHER_EMAIL)
        theirs = await new_recovery_codes(api, OTHER)
        await new_recovery_codes(api)
        challenge_id, _ = await open_challenge(api, mail)
        assert_problem(await verify_recovery(api, challenge_id, theirs[0]), 400, "invalid_code")
        assert (await view(api, OTHER))["recovery_codes_remaining"] == 10

    async def test_account_without_codes_is_409(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        challenge_id, _ = await open_challenge(api, mail)
        response = await verify_recovery(api, challenge_id, NOT_A_RECOVERY_CODE)
        assert_problem(response, 409, "method_not_available")
        assert await attempts_left(api, challenge_id) == 5
        assert "recovery_code" not in (await login(api)).json()["methods"]


class TestRecoveryAccountLock:
    @pytest.fixture
    def settings(self) -> Settings:
        return make_settings(account_lock_threshold=3)

    async def test_wrong_recovery_codes_count_toward_the_account_lock(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        made = await new_recovery_codes(api)
        first, code = await open_challenge(api, mail)
        assert_problem(await verify(api, first, wrong(code)), 400, "invalid_code")
        second, _ = await open_challenge(api, mail)
        response = await verify_recovery(api, second, NOT_A_RECOVERY_CODE)
        assert_problem(response, 400, "invalid_code")

        response = await verify_recovery(api, second, NOT_A_RECOVERY_CODE)

        assert assert_problem(response, 429, "account_locked")["retry_after"] == 900
        assert_problem(await login(api), 429, "account_locked")
        assert_problem(await verify_recovery(api, second, made[0]), 429, "account_locked")
        assert (await view(api))["recovery_codes_remaining"] == 10

    async def test_a_used_recovery_code_counts_toward_the_lock_as_a_wrong_one_does(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, account: str
    ) -> None:
        made = await new_recovery_codes(api)
        first, _ = await open_challenge(api, mail)
        assert (await verify_recovery(api, first, made[0])).status_code == 200
        second, _ = await open_challenge(api, mail)
        for _ in range(2):
            response = await verify_recovery(api, second, made[0])
            assert_problem(response, 400, "code_already_used")

        response = await verify_recovery(api, second, made[0])

        assert assert_problem(response, 429, "account_locked")["retry_after"] == 900


# Rotating TWOSTEP_SECRET_KEY


class TestKeyRotation:
    async def test_totp_and_recovery_codes_survive_a_key_rotation(
        self,
        api: httpx.AsyncClient,
        mail: RecordingMailQueue,
        clock: FakeClock,
        state_redis: redis.asyncio.Redis,
        account: str,
    ) -> None:
        secret = await enable_totp(api, clock)
        made = await new_recovery_codes(api)
        clock.advance(2 * STEP)
        rotated = rotated_settings(SECRET_KEY)

        async with other_api(rotated, state_redis, mail, clock) as after:
            challenge_id = (await login(after, method="totp")).json()["challenge_id"]
            response = await verify_totp(after, challenge_id, app_code(secret, clock.now))
            assert response.status_code == 200, response.text

            challenge_id = (await login(after)).json()["challenge_id"]
            response = await verify_recovery(after, challenge_id, made[0])
            assert response.status_code == 200, response.text
            assert (await view(after))["recovery_codes_remaining"] == 9

        alone = rotated_settings()
        async with other_api(alone, state_redis, mail, clock) as forgetful:
            challenge_id = (await login(forgetful)).json()["challenge_id"]
            response = await verify_recovery(forgetful, challenge_id, made[1])
            assert_problem(response, 400, "invalid_code")
            assert (await view(forgetful))["recovery_codes_remaining"] == 9

    async def test_a_used_totp_secret_moves_to_the_new_key_so_the_old_can_go(
        self,
        api: httpx.AsyncClient,
        mail: RecordingMailQueue,
        clock: FakeClock,
        state_redis: redis.asyncio.Redis,
        account: str,
    ) -> None:
        secret = await enable_totp(api, clock)
        clock.advance(2 * STEP)
        async with other_api(rotated_settings(SECRET_KEY), state_redis, mail, clock) as after:
            challenge_id = (await login(after, method="totp")).json()["challenge_id"]
            response = await verify_totp(after, challenge_id, app_code(secret, clock.now))
            assert response.status_code == 200, response.text
        clock.advance(2 * STEP)
        async with other_api(rotated_settings(), state_redis, mail, clock) as alone:
            challenge_id = (await login(alone, method="totp")).json()["challenge_id"]
            response = await verify_totp(alone, challenge_id, app_code(secret, clock.now))
            assert response.status_code == 200, response.text

    async def test_a_secret_under_a_dropped_key_is_unavailable_not_an_error(
        self,
        api: httpx.AsyncClient,
        mail: RecordingMailQueue,
        clock: FakeClock,
        state_redis: redis.asyncio.Redis,
        account: str,
    ) -> None:
        secret = await enable_totp(api, clock)
        pending_secret = (await enrol(api))["secret"]
        clock.advance(2 * STEP)
        async with other_api(rotated_settings(), state_redis, mail, clock) as forgetful:
            challenge_id = (await login(forgetful)).json()["challenge_id"]
            response = await verify_totp(forgetful, challenge_id, app_code(secret, clock.now))
            assert_problem(response, 409, "method_not_available")
            response = await confirm(forgetful, app_code(pending_secret, clock.now))
            assert_problem(response, 404, "totp_enrolment_not_found")

    async def test_enrolment_started_before_a_rotation_confirms_after_it(
        self,
        api: httpx.AsyncClient,
        mail: RecordingMailQueue,
        clock: FakeClock,
        state_redis: redis.asyncio.Redis,
        account: str,
    ) -> None:
        secret = (await enrol(api))["secret"]
        rotated = rotated_settings(SECRET_KEY)
        async with other_api(rotated, state_redis, mail, clock) as after:
            assert (await confirm(after, app_code(secret, clock.now))).status_code == 200
            clock.advance(2 * STEP)
            challenge_id = (await login(after, method="totp")).json()["challenge_id"]
            response = await verify_totp(after, challenge_id, app_code(secret, clock.now))
            assert response.status_code == 200, response.text


# Deleting the account


class TestDeleteAccount:
    async def test_delete_removes_the_totp_and_recovery_keys(
        self,
        api: httpx.AsyncClient,
        mail: RecordingMailQueue,
        clock: FakeClock,
        state_redis: redis.asyncio.Redis,
        account: str,
    ) -> None:
        await new_account(api, OTHER, OTHER_EMAIL)
        other_secret = await enable_totp(api, clock, OTHER)
        other_codes = await new_recovery_codes(api, OTHER)
        secret = await enable_totp(api, clock)
        await new_recovery_codes(api)
        clock.advance(2 * STEP)
        assert (
            await verify_totp(api, await totp_challenge(api), app_code(secret, clock.now))
        ).status_code == 200
        base = f"twostep:{{{account_tag(ACCOUNT)}}}"
        present = set(await redis_keys(state_redis))
        assert {f"{base}:totp", f"{base}:recovery"} <= present

        assert (await api.delete(f"/v1/accounts/{ACCOUNT}")).status_code == 204

        assert [key for key in await redis_keys(state_redis) if base in key] == []
        await new_account(api)
        fresh = await view(api)
        assert fresh["totp_enabled"] is False
        assert fresh["recovery_codes_remaining"] == 0
        assert_problem(await login(api, method="totp"), 409, "method_not_available")
        # The other account keeps its app and its codes.
        assert (await view(api, OTHER))["recovery_codes_remaining"] == 10
        challenge_id = await totp_challenge(api, OTHER)
        response = await verify_totp(api, challenge_id, app_code(other_secret, clock.now))
        assert response.status_code == 200, response.text
        challenge_id = await totp_challenge(api, OTHER)
        assert (await verify_recovery(api, challenge_id, other_codes[0])).status_code == 200
