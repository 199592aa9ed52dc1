"""The one exception tree of twostep: every failure the service names has a class here."""

from __future__ import annotations


class TwostepError(Exception):
    """Root of every error twostep raises on purpose."""


class ConfigError(TwostepError):
    """The settings are missing or invalid; the process must not start."""


class Unavailable(TwostepError):
    """Redis or the broker did not answer in time."""


class AccountNotFound(TwostepError):
    """No two-step profile exists for the account id."""


class ChallengeNotFound(TwostepError):
    """The challenge is unknown, expired or already consumed."""


class BrowserNotFound(TwostepError):
    """No trusted browser with that id belongs to the account."""


class EnrolmentNotFound(TwostepError):
    """No authenticator enrolment is waiting for confirmation (none, expired or given up)."""


class MethodNotAvailable(TwostepError):
    """The account cannot use the second-step method that was asked for."""


class TemporarilyRefused(TwostepError):
    """A refusal that lifts by itself after ``retry_after_seconds``."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"retry after {retry_after_seconds} s")
        self.retry_after_seconds = max(1, int(retry_after_seconds))


class AccountLocked(TemporarilyRefused):
    """Too many failed verifications in a row: the account's second step is locked."""


class SendLimit(TemporarilyRefused):
    """The per-challenge or per-account email cap is reached."""


class ResendTooSoon(TemporarilyRefused):
    """The resend cooldown has not elapsed yet."""


class MailDelayed(TemporarilyRefused):
    """The mail queue is so far behind that a new code would arrive too late; the account
    has no method that sends nothing."""


class TooManyAttempts(TemporarilyRefused):
    """The challenge used up its attempts and is locked."""


class InvalidCode(TwostepError):
    """The code was wrong; ``attempts_left`` tries remain on the challenge."""

    def __init__(self, attempts_left: int) -> None:
        super().__init__(f"{attempts_left} attempts left")
        self.attempts_left = attempts_left


class CodeAlreadyUsed(InvalidCode):
    """The code was right once but is used up: an app code of a step already accepted, or a
    recovery code of the current set already spent. Counted like a wrong one."""


class InvalidAssertion(InvalidCode):
    """A security key's answer that failed its checks (another origin or site, another
    challenge, a bad signature, a key not the account's, a counter that went back): counted
    like a wrong code."""


class WebauthnNotConfigured(TwostepError):
    """Security keys are off: TWOSTEP_WEBAUTHN_RP_ID and TWOSTEP_WEBAUTHN_ORIGINS are unset."""


class SecurityKeyLimit(TwostepError):
    """The account holds as many security keys as it may."""


class SecurityKeyExists(TwostepError):
    """That security key is the account's already."""


class SecurityKeyNotFound(TwostepError):
    """The account has no security key with that id."""


class RegistrationNotFound(TwostepError):
    """No key is being added under that registration id (none, expired or already used)."""


class WebauthnRefused(TwostepError):
    """The browser's answer to a registration failed its checks; the message says which."""


class ReportNotFound(TwostepError):
    """No "This wasn't me" link with that token: unknown, another challenge's, or expired."""


class ReportUsed(TwostepError):
    """The challenge was reported already (through this link or another of its emails)."""


class MailError(TwostepError):
    """Root of the errors met while sending an email."""


class TransientSmtpError(MailError):
    """The mail server may accept the message later (connection trouble, timeout, 4xx)."""


class PermanentSmtpError(MailError):
    """The mail server refused the message for good (5xx)."""


class UnsafeHeader(MailError):
    """A header value would have carried a line break or a NUL into the message."""
