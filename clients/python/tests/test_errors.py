"""Each problem code the API answers becomes its exception, with the members a portal reads;
a code this client does not know becomes its status's class, or the root."""

from __future__ import annotations

import httpx
import pytest
from scripted import Script, problem

import twostep_client
from twostep_client import (
    AccountLocked,
    AccountNotFound,
    BrowserNotFound,
    ChallengeNotFound,
    CodeAlreadyUsed,
    Conflict,
    InvalidAssertion,
    InvalidCode,
    MailDelayed,
    MethodNotAvailable,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    RegistrationNotFound,
    ReportNotFound,
    ReportUsed,
    ResendTooSoon,
    Retry,
    SecurityKeyExists,
    SecurityKeyLimit,
    SecurityKeyNotFound,
    SendLimit,
    TooManyAttempts,
    TotpEnrolmentNotFound,
    TwoStep,
    TwoStepError,
    Unauthorized,
    Unavailable,
    UnsupportedOperation,
    ValidationError,
    WebauthnNotConfigured,
    WebauthnRefused,
)
from twostep_client.errors import BY_CODE

# Every problem code of docs/contract.md (and the two being added: report_*, mail_delayed),
# its status, and the class a portal catches. Written out rather than read from errors.py,
# so that a change there has to be made here too.
CODES: dict[str, tuple[int, type[TwoStepError]]] = {
    "validation_error": (422, ValidationError),
    "invalid_code": (400, InvalidCode),
    "code_already_used": (400, CodeAlreadyUsed),
    "invalid_assertion": (400, InvalidAssertion),
    "webauthn_refused": (400, WebauthnRefused),
    "unauthorized": (401, Unauthorized),
    "account_not_found": (404, AccountNotFound),
    "challenge_not_found": (404, ChallengeNotFound),
    "browser_not_found": (404, BrowserNotFound),
    "totp_enrolment_not_found": (404, TotpEnrolmentNotFound),
    "security_key_not_found": (404, SecurityKeyNotFound),
    "registration_not_found": (404, RegistrationNotFound),
    "report_not_found": (404, ReportNotFound),
    "not_found": (404, UnsupportedOperation),
    "method_not_allowed": (405, UnsupportedOperation),
    "method_not_available": (409, MethodNotAvailable),
    "webauthn_not_configured": (409, WebauthnNotConfigured),
    "security_key_limit": (409, SecurityKeyLimit),
    "security_key_exists": (409, SecurityKeyExists),
    "report_used": (409, ReportUsed),
    "payload_too_large": (413, PayloadTooLarge),
    "account_locked": (429, AccountLocked),
    "send_limit": (429, SendLimit),
    "resend_too_soon": (429, ResendTooSoon),
    "too_many_attempts": (429, TooManyAttempts),
    "internal_error": (500, Unavailable),
    "unavailable": (503, Unavailable),
    "mail_delayed": (503, MailDelayed),
}


def raised_by(response: httpx.Response) -> TwoStepError:
    script = Script([response])
    ts = TwoStep("http://twostep.test", "key", transport=script.transport(), retry=Retry(1))
    with ts, pytest.raises(TwoStepError) as raised:
        ts.verify("ch_abc", "123456", request_id="req-1")
    return raised.value


def test_the_table_covers_every_code() -> None:
    assert set(BY_CODE) == set(CODES)


@pytest.mark.parametrize("code", sorted(CODES))
def test_each_code_raises_its_class(code: str) -> None:
    status, cls = CODES[code]
    error = raised_by(problem(status, code))
    assert type(error) is cls
    assert (error.status, error.code, error.request_id) == (status, code, "req-1")
    assert error.detail
    assert str(error).startswith(f"{status} {code}: ")
    assert cls.__name__ in twostep_client.__all__


@pytest.mark.parametrize("cls", [InvalidCode, CodeAlreadyUsed, InvalidAssertion])
def test_a_wrong_code_says_how_many_attempts_are_left(cls: type[InvalidCode]) -> None:
    code = next(code for code, (_, known) in CODES.items() if known is cls)
    error = raised_by(problem(400, code, attempts_left=2))
    assert isinstance(error, InvalidCode)
    assert error.attempts_left == 2


@pytest.mark.parametrize(
    "code", ["account_locked", "send_limit", "resend_too_soon", "too_many_attempts"]
)
def test_a_429_says_when_to_come_back(code: str) -> None:
    error = raised_by(problem(429, code, {"Retry-After": "42"}, retry_after=42))
    assert isinstance(error, RateLimited)
    assert error.retry_after == 42


def test_retry_after_comes_from_the_header_when_the_document_has_none() -> None:
    error = raised_by(problem(503, "mail_delayed", {"Retry-After": "20"}))
    assert isinstance(error, MailDelayed)
    assert isinstance(error, Unavailable)
    assert error.retry_after == 20


def test_a_422_names_each_bad_field() -> None:
    errors = [
        {
            "field": "body.code",
            "location": ["body", "code"],
            "message": "must be six digits",
            "type": "code_format",
        },
        {"field": "body.a.b", "location": ["body", "a.b"], "message": "bad", "type": "x"},
    ]
    error = raised_by(problem(422, "validation_error", errors=errors))
    assert isinstance(error, ValidationError)
    assert [(e.field, e.location, e.type) for e in error.errors] == [
        ("body.code", ("body", "code"), "code_format"),
        ("body.a.b", ("body", "a.b"), "x"),
    ]


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, TwoStepError),
        (401, Unauthorized),
        (404, NotFound),
        (409, Conflict),
        (418, TwoStepError),
        (429, RateLimited),
        (500, Unavailable),
        (503, Unavailable),
    ],
)
def test_an_unknown_code_raises_its_status_s_class(status: int, cls: type[TwoStepError]) -> None:
    error = raised_by(problem(status, "something_new"))
    assert type(error) is cls
    assert error.code == "something_new"


def test_a_5xx_without_a_problem_document_is_unavailable() -> None:
    error = raised_by(
        httpx.Response(502, text="Bad gateway", headers={"content-type": "text/html"})
    )
    assert type(error) is Unavailable
    assert (error.status, error.code) == (502, None)


def test_the_problem_document_stays_readable() -> None:
    error = raised_by(problem(400, "invalid_code", attempts_left=1, hint="new member"))
    assert error.problem["hint"] == "new member"


def test_a_boolean_is_not_a_count() -> None:
    error = raised_by(problem(400, "invalid_code", attempts_left=True))
    assert isinstance(error, InvalidCode)
    assert error.attempts_left is None
