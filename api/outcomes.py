"""Translations shared by the use cases: script outcomes to errors, state to response bodies."""

from __future__ import annotations

from api.schemas import AccountView, EmailRefused, Pending, rfc3339_from
from shared import codes
from shared.errors import (
    AccountLocked,
    ChallengeNotFound,
    CodeAlreadyUsed,
    InvalidCode,
    MethodNotAvailable,
    ResendTooSoon,
    SendLimit,
    TooManyAttempts,
)
from shared.store import Outcome, Profile
from shared.times import rfc3339

SIX_DIGITS = "the code must be six digits"
RECOVERY_FORMAT = "a recovery code is 16 letters and digits, such as k7qd-3mzp-x9ta-2hfw"


class InvalidCodeFormat(ValueError):
    """What was typed cannot be a code of that method; it is not counted as an attempt."""


def refusal(outcome: Outcome) -> Exception | None:
    """The exception a script's refusal stands for, or ``None`` when it did not refuse."""
    match outcome.status:
        case "not_found":
            return ChallengeNotFound()
        case "locked":
            return AccountLocked(outcome.number())
        case "send_limit":
            return SendLimit(outcome.number())
        case "too_soon":
            return ResendTooSoon(outcome.number())
        case "too_many_attempts":
            return TooManyAttempts(outcome.number())
        case "invalid":
            return InvalidCode(outcome.number())
        case "used":
            return CodeAlreadyUsed(outcome.number())
        case "no_totp":
            return MethodNotAvailable("this account has no authenticator app")
    return None


def methods(totp: str, recovery_remaining: str) -> list[str]:
    available = ["email"]
    if totp == "1":
        available.append("totp")
    if int(recovery_remaining or 0) > 0:
        available.append("recovery_code")
    return available


def pending(
    challenge_id: str,
    email: str | None,
    expires_at: str,
    resend_at: str,
    totp: str,
    recovery: str,
    method: str = "email",
    email_wait: str = "0",
) -> Pending:
    """The body of a pending login or resend; ``email`` is None when no code was mailed,
    ``email_wait`` the seconds until the email cap takes one (login.lua)."""
    wait = int(email_wait)
    return Pending(
        challenge_id=challenge_id,
        method=method,
        methods=methods(totp, recovery),
        sent_to=codes.mask_email(email) if email else None,
        email_refused=EmailRefused(code="send_limit", retry_after=wait)
        if wait > 0 and not email
        else None,
        expires_at=rfc3339(float(expires_at)),
        resend_available_at=rfc3339_from(float(resend_at)),
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
