"""What the API answers, as typed models, and the end user's browser as calls take it.

Every model ignores fields it does not know and gives fields added after the first release
a default, so that one client works against older and newer servers alike. Sets of values
the server may grow (methods, delivery states, event types) are plain strings for the same
reason; the values known today are listed in each field's comment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Answer(BaseModel):
    """Base of every model the API answers with."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class ClientInfo(BaseModel):
    """The end user's browser as the portal saw it: used in emails and trusted-browser labels."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ip: str | None = None
    user_agent: str | None = None


class Account(Answer):
    account_id: str
    email: str
    locale: str
    time_zone: str | None = None
    # "email", "totp", "webauthn", or None for the service's own choice.
    preferred_method: str | None = None
    two_step_enabled: bool
    totp_enabled: bool
    recovery_codes_remaining: int
    trusted_browsers: int


class NotRequired(Answer):
    """No second step: two-step is off, or this is a trusted browser of the account."""

    status: Literal["not_required"] = "not_required"
    reason: str  # "two_step_disabled" or "trusted_browser"


class EmailRefused(Answer):
    """No code email went out, and the login went ahead with another method: ``code`` says
    why, ``retry_after`` when email should work again (seconds)."""

    # "send_limit" (the account's hourly cap) or "mail_delayed" (the mail queue is too far
    # behind for the email to arrive in time).
    code: str
    retry_after: int


class Pending(Answer):
    """A challenge is open: ask the user for ``method`` first, offer the other ``methods``."""

    status: Literal["pending"] = "pending"
    challenge_id: str
    # "email", "totp", "webauthn" or "recovery_code".
    method: str
    methods: list[str]
    # PublicKeyCredentialRequestOptions (JSON) for navigator.credentials.get(), when the
    # account has a security key or passkey.
    webauthn: dict[str, Any] | None = None
    sent_to: str | None = None
    email_refused: EmailRefused | None = None
    expires_at: datetime
    resend_available_at: datetime
    # Newer servers: about how long the code email is expected to take to arrive (the mail
    # queue's backlog); None when no email was sent, or the server does not say.
    expected_delivery_seconds: int | None = None


class Challenge(Answer):
    challenge_id: str
    account_id: str
    status: str  # "pending", "verified" or "locked"
    attempts_left: int
    sends: int
    expires_at: datetime
    resend_available_at: datetime
    delivery: str  # "queued", "sent", "retrying", "failed" or "none"


class TrustedBrowserGrant(Answer):
    """Shown once: keep ``token`` (a cookie) and send it with the next login."""

    token: str
    browser_id: str
    expires_at: datetime


class Verified(Answer):
    status: Literal["verified"] = "verified"
    account_id: str
    trusted_browser: TrustedBrowserGrant | None = None


class Reported(Answer):
    """A "this wasn't me" report, taken."""

    status: str = "reported"
    challenge_id: str
    account_id: str
    reported_at: datetime
    challenge_ended: bool
    trusted_browsers_revoked: int


class TrustedBrowser(Answer):
    browser_id: str
    label: str  # in English; ``browser`` and ``system`` are its parts, for other languages
    browser: str | None = None
    system: str | None = None
    ip: str | None = None
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime


class TrustedBrowsers(Answer):
    items: list[TrustedBrowser]


class TotpEnrolment(Answer):
    """Shown once: the secret, its otpauth URI and that URI as an SVG QR code."""

    secret: str
    otpauth_uri: str
    qr_svg: str


class RecoveryCodes(Answer):
    codes: list[str]


class KeyRegistration(Answer):
    """A security key being added: ``public_key`` goes to navigator.credentials.create()."""

    registration_id: str
    expires_at: datetime
    public_key: dict[str, Any]


class SecurityKey(Answer):
    key_id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None = None
    transports: list[str] = Field(default_factory=list)
    synced: bool = False


class SecurityKeys(Answer):
    items: list[SecurityKey]


class Event(Answer):
    """One entry of an account's audit trail."""

    event_id: str
    type: str  # "challenge_issued", "verified", "account_locked", ... (docs/contract.md)
    occurred_at: datetime
    client_ip: str | None = None
    request_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class EventPage(Answer):
    """Newest first; pass ``next_cursor`` as ``before`` for the next (older) page."""

    items: list[Event]
    next_cursor: str | None = None


class Unlocked(Answer):
    account_id: str
    was_locked: bool


class Health(Answer):
    status: str | None = None  # "ok"; the schema promises only a map of strings


class Readiness(Answer):
    """Whether the service's Redis and broker answer; ``status`` is "ready" or "unavailable"."""

    status: str
    checks: dict[str, bool] = Field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.status == "ready"
