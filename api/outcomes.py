"""Translations shared by the use cases: script outcomes to errors, state to response bodies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api.schemas import AccountView, EmailRefused, Pending, rfc3339_from
from api.store import Profile
from shared import codes
from shared import results as r
from shared.errors import (
    AccountLocked,
    ChallengeNotFound,
    CodeAlreadyUsed,
    InvalidCode,
    MailDelayed,
    MethodNotAvailable,
    ResendTooSoon,
    SendLimit,
    TooManyAttempts,
)
from shared.times import rfc3339

SIX_DIGITS = "the code must be six digits"
RECOVERY_FORMAT = "a recovery code is 16 letters and digits, such as k7qd-3mzp-x9ta-2hfw"


class InvalidCodeFormat(ValueError):
    """What was typed cannot be a code of that method (or a security key's answer is not
    one at all: its ``field`` is then "credential"); it is not counted as an attempt."""

    def __init__(self, message: str, field: str = "code") -> None:
        super().__init__(message)
        self.field = field


_REFUSALS: dict[r.Refusal, Callable[[int], Exception]] = {
    r.Refusal.LOCKED: AccountLocked,
    r.Refusal.SEND_LIMIT: SendLimit,
    r.Refusal.TOO_SOON: ResendTooSoon,
    r.Refusal.TOO_MANY_ATTEMPTS: TooManyAttempts,
    r.Refusal.MAIL_DELAYED: MailDelayed,
}


def refused(result: object) -> Exception:
    """The exception a script's refusal stands for (``TypeError`` for an answer that is not
    a refusal: a caller's bug)."""
    match result:
        case r.NotFound():
            return ChallengeNotFound()
        case r.Refused(reason, retry_after) | r.Stopped(reason, retry_after):
            return _REFUSALS[reason](retry_after)
        case r.Invalid(attempts_left):
            return InvalidCode(attempts_left)
        case r.Used(attempts_left):
            return CodeAlreadyUsed(attempts_left)
        case r.NoMethod():
            return MethodNotAvailable("this account has no authenticator app")
    raise TypeError(f"not a refusal: {result!r}")


def methods(totp: bool, recovery_left: int, webauthn: bool = False) -> list[str]:
    available = ["email"]
    if totp:
        available.append("totp")
    if webauthn:
        available.append("webauthn")
    if recovery_left > 0:
        available.append("recovery_code")
    return available


def pending(
    challenge_id: str,
    email: str | None,
    expires_at: float,
    resend_at: float,
    totp: bool,
    recovery_left: int,
    method: str = "email",
    email_wait: int = 0,
    webauthn: dict[str, Any] | None = None,
    mail_delay: int = 0,
    expected_delivery: int = 0,
) -> Pending:
    """The body of a pending login or resend; ``email`` is None when no code was mailed,
    ``email_wait`` the seconds until the email cap takes one (login.lua), ``webauthn`` the
    browser's options when the account has a security key; ``mail_delay`` the seconds until
    the mail queue takes an email in time again (api/admission.py), ``expected_delivery``
    how long the emailed code waits in it."""
    refused: EmailRefused | None = None
    if not email and email_wait > 0:
        refused = EmailRefused(code="send_limit", retry_after=email_wait)
    elif not email and mail_delay > 0:
        refused = EmailRefused(code="mail_delayed", retry_after=mail_delay)
    return Pending(
        challenge_id=challenge_id,
        method=method,
        methods=methods(totp, recovery_left, webauthn is not None),
        webauthn=webauthn,
        sent_to=codes.mask_email(email) if email else None,
        email_refused=refused,
        expected_delivery_seconds=expected_delivery if email else None,
        expires_at=rfc3339(expires_at),
        resend_available_at=rfc3339_from(resend_at),
    )


def account_view(profile: Profile) -> AccountView:
    return AccountView(
        account_id=profile.account_id,
        email=profile.email,
        locale=profile.locale,
        time_zone=profile.time_zone,
        preferred_method=profile.preferred_method,
        two_step_enabled=profile.two_step_enabled,
        totp_enabled=profile.totp_enabled,
        recovery_codes_remaining=profile.recovery_codes_remaining,
        trusted_browsers=profile.trusted_browsers,
    )
