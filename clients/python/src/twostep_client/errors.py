"""The exceptions a call raises: one root, a class per problem code a portal handles, and the
table that picks the class for an answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class TwoStepError(Exception):
    """Root of every error this client raises.

    ``status`` and ``code`` are the HTTP status and the problem document's ``code`` (None
    when there was no answer, or the answer was not a problem document); ``detail`` says
    what happened; ``request_id`` is the ``X-Request-ID`` of the call, to find it in
    twostep's logs and audit trail.
    """

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        problem: Mapping[str, Any] | None = None,
        retry_after_header: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.code = code
        self.request_id = request_id
        self.problem: Mapping[str, Any] = problem or {}
        self._retry_after_header = retry_after_header

    def __str__(self) -> str:
        head = " ".join(str(part) for part in (self.status, self.code) if part is not None)
        tail = f" (request id {self.request_id})" if self.request_id else ""
        return f"{head}: {self.detail}{tail}" if head else f"{self.detail}{tail}"

    def _int_member(self, name: str) -> int | None:
        value = self.problem.get(name)
        # bool is an int to Python, never to twostep.
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def _retry_after(self) -> int | None:
        member = self._int_member("retry_after")
        return member if member is not None else self._retry_after_header


class Unauthorized(TwoStepError):
    """401: no API key, or not one of the service's ``TWOSTEP_API_KEYS``."""


class UnexpectedResponse(TwoStepError):
    """The answer is not one twostep gives: most often ``base_url`` points at another server
    (a proxy's 404 page, say), or the server is a version this client cannot read."""


class UnsupportedOperation(TwoStepError):
    """twostep itself has no such route (``not_found``, ``method_not_allowed``): ``base_url``
    has the wrong path, or the server is older than this operation."""


class PayloadTooLarge(TwoStepError):
    """413: the body is larger than the service's ``TWOSTEP_MAX_BODY_BYTES``."""


@dataclass(frozen=True)
class FieldError:
    """One entry of a 422's ``errors``: ``location`` is the path as a list (``["body",
    "email"]``), ``field`` the same joined with dots, for people."""

    field: str
    location: tuple[str | int, ...]
    message: str
    type: str


class ValidationError(TwoStepError):
    """422: a malformed body, path or query parameter; ``errors`` names each bad field. Also
    a code of the wrong shape, which is not counted as an attempt."""

    @property
    def errors(self) -> list[FieldError]:
        entries = self.problem.get("errors")
        found: list[FieldError] = []
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, Mapping):
                location = entry.get("location")
                found.append(
                    FieldError(
                        field=str(entry.get("field", "")),
                        location=tuple(location) if isinstance(location, list) else (),
                        message=str(entry.get("message", "")),
                        type=str(entry.get("type", "")),
                    )
                )
        return found


class InvalidCode(TwoStepError):
    """400: the code is not the right one; the challenge allows ``attempts_left`` more."""

    @property
    def attempts_left(self) -> int | None:
        return self._int_member("attempts_left")


class CodeAlreadyUsed(InvalidCode):
    """400: a code that was right once and is spent (an app code of a time step already used,
    a recovery code already used). It counts as an attempt, exactly as a wrong code does."""


class InvalidAssertion(InvalidCode):
    """400: a security key's answer failed its checks, or is from a key not the account's."""


class WebauthnRefused(TwoStepError):
    """400: the browser's answer to a key registration failed its checks."""


class NotFound(TwoStepError):
    """404: the thing named does not exist (or no longer does)."""


class AccountNotFound(NotFound):
    pass


class ChallengeNotFound(NotFound):
    """The challenge is unknown, expired, used or ended: start a new login."""


class BrowserNotFound(NotFound):
    pass


class TotpEnrolmentNotFound(NotFound):
    """No authenticator set-up is waiting for a code (none started, or it expired)."""


class SecurityKeyNotFound(NotFound):
    pass


class RegistrationNotFound(NotFound):
    """No key is being added under that id: it expired or was answered already."""


class ReportNotFound(NotFound):
    """The report's token is unknown or expired."""


class Conflict(TwoStepError):
    """409: the account is not in a state that allows this."""


class MethodNotAvailable(Conflict):
    """The account has not set up the method asked for."""


class WebauthnNotConfigured(Conflict):
    """Security keys are off on this service (no ``TWOSTEP_WEBAUTHN_RP_ID``)."""


class SecurityKeyLimit(Conflict):
    pass


class SecurityKeyExists(Conflict):
    pass


class ReportUsed(Conflict):
    """The report's token was used already."""


class RateLimited(TwoStepError):
    """429: not now; ``retry_after`` is the number of seconds to wait."""

    @property
    def retry_after(self) -> int | None:
        return self._retry_after()


class AccountLocked(RateLimited):
    """Too many failed verifications in a row; the second step is locked for a while."""


class TooManyAttempts(RateLimited):
    """The challenge (or a TOTP set-up) used up its attempts: start a new login."""


class ResendTooSoon(RateLimited):
    """The resend cooldown has not passed."""


class SendLimit(RateLimited):
    """No more code emails for now."""


class Unavailable(TwoStepError):
    """No usable answer: the service could not be reached, timed out, or answered 5xx.
    ``retry_after`` is the wait the service asked for, when it said."""

    @property
    def retry_after(self) -> int | None:
        return self._retry_after()


class MailDelayed(Unavailable):
    """503: the code email cannot go out soon enough now; try again after ``retry_after``."""


# The problem code -> the class; a code not here gets its status's class.
BY_CODE: dict[str, type[TwoStepError]] = {
    "validation_error": ValidationError,
    "invalid_code": InvalidCode,
    "code_already_used": CodeAlreadyUsed,
    "invalid_assertion": InvalidAssertion,
    "webauthn_refused": WebauthnRefused,
    "unauthorized": Unauthorized,
    "account_not_found": AccountNotFound,
    "challenge_not_found": ChallengeNotFound,
    "browser_not_found": BrowserNotFound,
    "totp_enrolment_not_found": TotpEnrolmentNotFound,
    "security_key_not_found": SecurityKeyNotFound,
    "registration_not_found": RegistrationNotFound,
    "report_not_found": ReportNotFound,
    # twostep's own "no such route" is not a missing account: never a NotFound.
    "not_found": UnsupportedOperation,
    "method_not_allowed": UnsupportedOperation,
    "method_not_available": MethodNotAvailable,
    "webauthn_not_configured": WebauthnNotConfigured,
    "security_key_limit": SecurityKeyLimit,
    "security_key_exists": SecurityKeyExists,
    "report_used": ReportUsed,
    "payload_too_large": PayloadTooLarge,
    "account_locked": AccountLocked,
    "too_many_attempts": TooManyAttempts,
    "resend_too_soon": ResendTooSoon,
    "send_limit": SendLimit,
    "mail_delayed": MailDelayed,
    "unavailable": Unavailable,
    "internal_error": Unavailable,
}

BY_STATUS: dict[int, type[TwoStepError]] = {
    401: Unauthorized,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: ValidationError,
    429: RateLimited,
}


def error_class(status: int, code: str | None) -> type[TwoStepError]:
    """The class for a problem document's status and code."""
    if code is not None and code in BY_CODE:
        return BY_CODE[code]
    if status >= 500:
        return Unavailable
    return BY_STATUS.get(status, TwoStepError)
