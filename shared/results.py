"""What the Lua scripts answer, typed: one class per kind of answer.

A script answers a table whose first item is a status word and the rest its fields, in the
order the class declares them (``shared/scripts.py`` says which class each status of each
script is, and ``tests/unit/test_script_headers.py`` holds the scripts' headers to it). A
class whose first field is ``reason`` takes the status word itself there, as a
``Refusal``: one class serves every refusal that carries the same fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Refusal(Enum):
    """Why a script said no, where the caller needs to wait (``retry_after`` seconds)."""

    LOCKED = "locked"  # the account is locked
    SEND_LIMIT = "send_limit"  # the account's hourly email cap, or the challenge's sends
    TOO_SOON = "too_soon"  # the resend cooldown
    TOO_MANY_ATTEMPTS = "too_many_attempts"  # the challenge took its last wrong code
    MAIL_DELAYED = "mail_delayed"  # the mail queue would deliver a new code too late


@dataclass(frozen=True, slots=True)
class NotFound:
    """No such account or challenge (or, for a challenge, two-step was turned off)."""


@dataclass(frozen=True, slots=True)
class NoMethod:
    """The method asked for is not set up for the account."""


@dataclass(frozen=True, slots=True)
class NoSecurityKey:
    """A security key or passkey was asked for, and the account has none."""


@dataclass(frozen=True, slots=True)
class Refused:
    reason: Refusal
    retry_after: int


# Logins


@dataclass(frozen=True, slots=True)
class Disabled:
    """Two-step is off for the account: no second step."""


@dataclass(frozen=True, slots=True)
class Trusted:
    """The browser's token is the account's: no second step."""


@dataclass(frozen=True, slots=True)
class Opened:
    """A challenge is open. ``sends`` is 1 when its first code is to be emailed now, else 0;
    ``method`` the one to ask for first; ``email_wait`` the seconds until the hourly cap
    would take an email (0: it would now)."""

    email: str
    sends: int
    expires_at: float
    resend_at: float
    totp: bool
    recovery_left: int
    method: str
    email_wait: int
    webauthn: str  # the account's keys, "<credential id>=<transports>" comma separated
    refused: str  # why an email this login would have sent was not: "", send_limit, mail_delayed


# Resends


@dataclass(frozen=True, slots=True)
class Resent:
    """A new code for send number ``sends``, with the browser the challenge was opened (or
    last resent) from."""

    email: str
    sends: int
    expires_at: float
    resend_at: float
    ip: str
    label: str
    totp: bool
    recovery_left: int


# Verification


@dataclass(frozen=True, slots=True)
class Stopped:
    """The check stopped: the challenge took its last attempt (``too_many_attempts``) or the
    account is locked (``locked``). ``locks``: what this very check locked ("challenge",
    "account", "challenge+account", or "" when it was so already); ``account_id`` and
    ``lock_seconds`` are set when it locked the account."""

    reason: Refusal
    retry_after: int
    locks: str
    account_id: str
    lock_seconds: int


@dataclass(frozen=True, slots=True)
class Invalid:
    """A wrong code, counted."""

    attempts_left: int


@dataclass(frozen=True, slots=True)
class Used:
    """A code that was right once and is spent (an app's step, a recovery code), counted
    as a wrong code."""

    attempts_left: int


@dataclass(frozen=True, slots=True)
class Passed:
    """The code was right: the challenge is verified."""

    account_id: str
    recovery_left: int


# Account changes


@dataclass(frozen=True, slots=True)
class Done:
    """The change was made; ``changed`` says whether it changed anything (two-step was
    already on, the account was not locked, ...)."""

    changed: bool


@dataclass(frozen=True, slots=True)
class Made:
    """The change was made."""


# Security keys and passkeys (WebAuthn)


@dataclass(frozen=True, slots=True)
class KeyRegistration:
    """A key may be added: the account's user handle, its address (the name the browser
    shows) and the credential ids of its keys (comma separated), for the browser to exclude."""

    user_handle: str
    email: str
    key_ids: str


@dataclass(frozen=True, slots=True)
class Registration:
    """A registration taken (once), to check the browser's answer against."""

    challenge: str
    user_handle: str


@dataclass(frozen=True, slots=True)
class TooManyKeys:
    """The account holds as many keys as it may."""


@dataclass(frozen=True, slots=True)
class KeyExists:
    """That credential is the account's already."""


# The workers' claim on a code email


@dataclass(frozen=True, slots=True)
class Claimed:
    """This worker may send the email, to this address, in this language and time zone
    ("": times in UTC), all as the account has them now."""

    email: str
    locale: str
    time_zone: str


@dataclass(frozen=True, slots=True)
class NotToSend:
    """Someone else's, or nobody's, to send: ``done`` (the mail server took it), ``busy``
    (another worker holds it), ``stale`` (resent, verified, locked, gone) or ``expired``."""

    status: str


# "This wasn't me" (shared/lua/report*.lua)


@dataclass(frozen=True, slots=True)
class Reported:
    """The challenge is reported: ended if it was still open (``challenge_ended``), the
    account's trusted browsers forgotten if the service is set to; ``ip`` and ``label`` are
    the challenge's end user's ("" when the portal did not say)."""

    account_id: str
    challenge_ended: bool
    browsers_revoked: int
    ip: str
    label: str


@dataclass(frozen=True, slots=True)
class AlreadyReported:
    """The challenge was reported before, at ``reported_at`` (epoch s)."""

    reported_at: float


@dataclass(frozen=True, slots=True)
class ReportLink:
    """What a link's page shows: in the account's language, whether (and when) its challenge
    was reported ("" when not yet), and the challenge's end user."""

    locale: str
    reported_at: str
    ip: str
    label: str
