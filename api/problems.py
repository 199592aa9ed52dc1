"""The one table that turns errors into RFC 9457 problem documents."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api.metrics import Metrics
from api.outcomes import InvalidCodeFormat
from api.schemas import Problem
from shared.errors import (
    AccountLocked,
    AccountNotFound,
    BrowserNotFound,
    ChallengeNotFound,
    CodeAlreadyUsed,
    EnrolmentNotFound,
    InvalidAssertion,
    InvalidCode,
    MailDelayed,
    MethodNotAvailable,
    RegistrationNotFound,
    ReportNotFound,
    ReportUsed,
    ResendTooSoon,
    SecurityKeyExists,
    SecurityKeyLimit,
    SecurityKeyNotFound,
    SendLimit,
    TemporarilyRefused,
    TooManyAttempts,
    Unavailable,
    WebauthnNotConfigured,
    WebauthnRefused,
)

log = logging.getLogger("twostep.api")

PROBLEM_JSON = "application/problem+json"

# How /openapi.json names the problem document: by reference, the schema added once below.
_PROBLEM_SCHEMA = {"$ref": "#/components/schemas/Problem"}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The problem documents a route may answer (401 and 422 always), for /openapi.json.

    Given as a schema reference rather than as a model: for a model FastAPI builds a
    validator per route and status, twice, in every app it assembles (create_app cost
    ~90 ms, most of the fast test tier's time), and never uses it: errors are not validated
    on their way out. It also put the schema under application/json, which no error is."""
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_JSON: {"schema": _PROBLEM_SCHEMA}},
        }
        for status in (401, 422, *statuses)
    }


# exception class -> (status, code, title, detail)
TABLE: dict[type[Exception], tuple[int, str, str, str]] = {
    AccountNotFound: (404, "account_not_found", "Account not found",
                      "No two-step profile exists for this account."),
    ChallengeNotFound: (404, "challenge_not_found", "Challenge not found",
                        "The challenge is unknown, has expired or was already used."),
    BrowserNotFound: (404, "browser_not_found", "Trusted browser not found",
                      "This account has no trusted browser with that id."),
    EnrolmentNotFound: (404, "totp_enrolment_not_found", "No enrolment waiting",
                        "No authenticator enrolment is waiting for confirmation; start again."),
    MethodNotAvailable: (409, "method_not_available", "Method not available",
                         "The account has not set up this way of verifying."),
    InvalidCode: (400, "invalid_code", "Invalid code", "The code is not the right one."),
    InvalidAssertion: (400, "invalid_assertion", "Security key refused",
                       "The security key's answer is not one this challenge accepts."),
    WebauthnNotConfigured: (409, "webauthn_not_configured", "Security keys are off",
                            "This service has no relying party set up for security keys."),
    SecurityKeyLimit: (409, "security_key_limit", "Too many security keys",
                       "The account holds as many security keys as it may; remove one first."),
    SecurityKeyExists: (409, "security_key_exists", "Security key already added",
                        "That security key is the account's already."),
    SecurityKeyNotFound: (404, "security_key_not_found", "Security key not found",
                          "This account has no security key with that id."),
    RegistrationNotFound: (404, "registration_not_found", "Registration not found",
                           "No key is being added under that id; it expired or was used."),
    WebauthnRefused: (400, "webauthn_refused", "Security key refused",
                      "The browser's answer failed its checks."),
    ReportNotFound: (404, "report_not_found", "Link not found",
                     "No \"This wasn't me\" link has that token, or it is older than a day."),
    ReportUsed: (409, "report_used", "Already reported",
                 "This sign-in was reported already; nothing more to do."),
    CodeAlreadyUsed: (400, "code_already_used", "Code already used",
                      "This code was already used; each code works once."),
    AccountLocked: (429, "account_locked", "Account locked",
                    "Too many failed verifications; the second step is locked for a while."),
    SendLimit: (429, "send_limit", "Send limit reached",
                "No more codes can be emailed for now."),
    ResendTooSoon: (429, "resend_too_soon", "Resend too soon",
                    "Wait a little before asking for a new code."),
    MailDelayed: (503, "mail_delayed", "Code emails are running late",
                  "A code emailed now would arrive too late; try again after Retry-After."),
    TooManyAttempts: (429, "too_many_attempts", "Too many attempts",
                      "This challenge used up its attempts; start a new login."),
    Unavailable: (503, "unavailable", "Service unavailable",
                  "A backing service did not answer in time; try again."),
    RedisConnectionError: (503, "unavailable", "Service unavailable",
                           "A backing service did not answer in time; try again."),
    RedisTimeoutError: (503, "unavailable", "Service unavailable",
                        "A backing service did not answer in time; try again."),
}  # fmt: skip


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:twostep:problem:{code}",
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
    }
    body.update({key: value for key, value in extra.items() if value is not None})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _lookup(exc: Exception) -> tuple[int, str, str, str]:
    for cls in type(exc).__mro__:
        if cls in TABLE:
            return TABLE[cls]
    raise LookupError(type(exc).__name__)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]


def _error(location: Sequence[str | int], message: str, kind: str) -> dict[str, Any]:
    """One entry of a 422's ``errors``. ``field`` is the path for people; ``location`` the
    same path as a list, for programs: a key of the caller's JSON may itself hold a "."."""
    return {
        "field": ".".join(str(part) for part in location),
        "location": list(location),
        "message": message,
        "type": kind,
    }


def install(app: FastAPI, metrics: Metrics) -> None:
    """Register the handlers; after this every error the API returns is a problem document."""
    build_schema = app.openapi

    def openapi() -> dict[str, Any]:
        # FastAPI caches the document it returns; the Problem schema is added to it once.
        schema = build_schema()
        schema.setdefault("components", {}).setdefault("schemas", {}).setdefault(
            "Problem", Problem.model_json_schema()
        )
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

    async def known(request: Request, exc: Exception) -> JSONResponse:
        status, code, title, detail = _lookup(exc)
        metrics.problems.labels(code).inc()
        headers: dict[str, str] = {}
        extra: dict[str, Any] = {}
        if isinstance(exc, TemporarilyRefused):
            headers["Retry-After"] = str(exc.retry_after_seconds)
            extra["retry_after"] = exc.retry_after_seconds
        elif status == 503:
            headers["Retry-After"] = "1"
            log.warning("backing service unavailable: %s", type(exc).__name__)
        if isinstance(exc, WebauthnRefused):
            detail = f"The browser's answer failed its checks: {exc}."
        if isinstance(exc, InvalidAssertion):
            extra["attempts_left"] = exc.attempts_left
            detail = f"The security key's answer was refused; {exc.attempts_left} attempts left."
        elif isinstance(exc, CodeAlreadyUsed):
            extra["attempts_left"] = exc.attempts_left
            detail = f"This code was already used; {exc.attempts_left} attempts left."
        elif isinstance(exc, InvalidCode):
            extra["attempts_left"] = exc.attempts_left
            detail = f"The code is not the right one; {exc.attempts_left} attempts left."
        return problem(status, code, title, detail, headers, **extra)

    for cls in TABLE:
        app.add_exception_handler(cls, known)

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        metrics.problems.labels("validation_error").inc()
        errors = [
            _error(
                error.get("loc", ()),
                error.get("msg", "invalid"),
                error.get("type", "value_error"),
            )
            for error in exc.errors()
        ]
        return problem(
            422, "validation_error", "Invalid request", "Some fields are invalid.", errors=errors
        )

    async def invalid_code_format(request: Request, exc: Exception) -> JSONResponse:
        metrics.problems.labels("validation_error").inc()
        field = exc.field if isinstance(exc, InvalidCodeFormat) else "code"
        errors = [_error(("body", field), str(exc), f"{field}_format")]
        return problem(
            422,
            "validation_error",
            "Invalid request",
            f"{str(exc).capitalize()}.",
            errors=errors,
        )

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400:
            # The framework's "error parsing the body" (not UTF-8, say): a malformed body.
            metrics.problems.labels("validation_error").inc()
            errors = [_error(("body",), "not a JSON document", "json_invalid")]
            detail = "The body is not a JSON document."
            return problem(422, "validation_error", "Invalid request", detail, errors=errors)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        code = {
            401: "unauthorized",
            404: "not_found",
            405: "method_not_allowed",
            413: "payload_too_large",
        }.get(exc.status_code, "http_error")
        metrics.problems.labels(code).inc()
        detail = exc.detail if isinstance(exc.detail, str) else "Request refused."
        return problem(exc.status_code, code, detail, detail, headers)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The exception's text may hold request data; log only its type.
        log.error("unexpected error: %s", type(exc).__name__)
        metrics.problems.labels("internal_error").inc()
        return problem(500, "internal_error", "Internal error", "Something went wrong on our side.")

    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(InvalidCodeFormat, invalid_code_format)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
