"""The use cases of the second step: accounts, logins, resends, verification, trusted browsers."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from api.mailqueue import MailQueue
from api.metrics import Metrics
from api.qrcode import qr_svg
from api.schemas import (
    AccountView,
    ChallengeView,
    Client,
    NotRequired,
    Pending,
    TotpEnrolment,
    TrustedBrowserGrant,
    TrustedBrowserView,
    Verified,
    rfc3339,
)
from api.useragent import browser_label
from shared import codes, totp
from shared.crypto import Sealer, derive_key
from shared.errors import (
    AccountLocked,
    AccountNotFound,
    BrowserNotFound,
    ChallengeNotFound,
    EnrolmentNotFound,
    InvalidCode,
    MethodNotAvailable,
    ResendTooSoon,
    SendLimit,
    TooManyAttempts,
)
from shared.jobs import (
    NOTICE_RECOVERY_CODE_USED,
    NOTICE_RECOVERY_CODES_GENERATED,
    NOTICE_TOTP_DISABLED,
    NOTICE_TOTP_ENABLED,
    NOTICE_TRUSTED_BROWSER_ADDED,
    NOTICE_TWO_STEP_DISABLED,
    NOTICE_TWO_STEP_ENABLED,
    CodeJob,
    NoticeJob,
    code_seal_context,
)
from shared.keys import account_tag, tag_of_challenge
from shared.settings import Settings
from shared.store import Outcome, Profile, Store, browser_record

Clock = Callable[[], float]

# How long a new authenticator secret waits for its first code before it is forgotten.
ENROLMENT_SECONDS = 900


def totp_context(tag: str) -> str:
    """What a sealed TOTP secret is bound to: its account, so it cannot be moved to another."""
    return f"totp:{tag}"


class InvalidCodeFormat(ValueError):
    """What was typed cannot be a code of that method; it is not counted as an attempt."""


SIX_DIGITS = "the code must be six digits"
RECOVERY_FORMAT = "a recovery code is 16 letters and digits, such as k7qd-3mzp-x9ta-2hfw"


@dataclass(frozen=True, slots=True)
class Seen:
    """What the portal told us of the end user's browser, cleaned up."""

    ip: str
    label: str

    @classmethod
    def of(cls, client: Client | None) -> Seen:
        if client is None:
            return cls("", "")
        ip = str(client.ip) if client.ip is not None else ""
        label = browser_label(client.user_agent) if client.user_agent else ""
        return cls(ip, label)


def _methods(totp: str, recovery_remaining: str) -> list[str]:
    methods = ["email"]
    if totp == "1":
        methods.append("totp")
    if int(recovery_remaining or 0) > 0:
        methods.append("recovery_code")
    return methods


def _refusal(outcome: Outcome) -> Exception | None:
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
        case "no_totp":
            return MethodNotAvailable("this account has no authenticator app")
    return None


class TwoStep:
    """The service. Every method is one state change in Redis plus, at most, one published job."""

    def __init__(
        self, settings: Settings, store: Store, mail: MailQueue, metrics: Metrics, clock: Clock
    ) -> None:
        self.settings = settings
        self.store = store
        self.mail = mail
        self.metrics = metrics
        self.clock = clock
        secret = settings.secret_key.get_secret_value()
        previous = settings.previous_secrets
        self._digest_key = derive_key(secret, "code-digest")
        self._recovery_keys = [derive_key(each, "recovery-digest") for each in (secret, *previous)]
        self._sealer = Sealer(secret)
        self._totp_sealer = Sealer(secret, "totp-secret", previous)

    # Accounts

    async def put_account(
        self, account_id: str, email: str, locale: str
    ) -> tuple[bool, AccountView]:
        created = await self.store.upsert_profile(account_id, email, locale, self.clock())
        return created, await self.get_account(account_id)

    async def get_account(self, account_id: str) -> AccountView:
        profile = await self.store.get_profile(account_id, self.clock())
        if profile is None:
            raise AccountNotFound()
        return _account_view(profile)

    async def delete_account(self, account_id: str) -> None:
        await self.store.delete_account(account_id)

    async def set_two_step(
        self, account_id: str, enabled: bool, client: Client | None
    ) -> AccountView:
        now = self.clock()
        outcome = await self.store.set_two_step(account_id, enabled, now)
        if outcome.status == "not_found":
            raise AccountNotFound()
        if outcome.values[0] == "1":
            kind = NOTICE_TWO_STEP_ENABLED if enabled else NOTICE_TWO_STEP_DISABLED
            await self._notify(kind, outcome.values[1], outcome.values[2], now, Seen.of(client))
        return await self.get_account(account_id)

    # Logins and challenges

    async def start_login(
        self, account_id: str, token: str | None, method: str, client: Client | None
    ) -> NotRequired | Pending:
        now = self.clock()
        seen = Seen.of(client)
        challenge_id = codes.new_challenge_id(account_id)
        code = codes.new_code() if method == "email" else ""
        browser_id = codes.browser_id_of_token(token) if token else None
        outcome = await self.store.open_login(
            account_id=account_id,
            challenge_id=challenge_id,
            code_digest=codes.code_digest(self._digest_key, challenge_id, code) if code else "",
            method=method,
            browser_id=browser_id or "",
            token_digest=codes.token_digest(token) if token and browser_id else "",
            client_ip=seen.ip,
            client_label=seen.label,
            now=now,
            code_ttl_seconds=self.settings.code_ttl_seconds,
            resend_cooldown_seconds=self.settings.resend_cooldown_seconds,
            max_emails_per_hour=self.settings.max_emails_per_hour,
            max_attempts=self.settings.max_attempts,
        )
        if outcome.status == "not_found":
            self.metrics.logins.labels("account_not_found").inc()
            raise AccountNotFound()
        if outcome.status in ("disabled", "trusted"):
            reason = "two_step_disabled" if outcome.status == "disabled" else "trusted_browser"
            self.metrics.logins.labels(reason).inc()
            return NotRequired(reason=reason)
        refusal = _refusal(outcome)
        if refusal is not None:
            self.metrics.logins.labels(outcome.status).inc()
            raise refusal
        email, locale, _sends, expires_at, resend_at, totp, recovery = outcome.values
        if code:
            await self._send_code(challenge_id, 1, email, locale, code, float(expires_at), seen)
        self.metrics.logins.labels("pending").inc()
        return _pending(
            challenge_id, email if code else None, expires_at, resend_at, totp, recovery
        )

    async def get_challenge(self, challenge_id: str) -> ChallengeView:
        challenge = await self.store.get_challenge(challenge_id, self.clock())
        if challenge is None:
            raise ChallengeNotFound()
        return ChallengeView(
            challenge_id=challenge.challenge_id,
            account_id=challenge.account_id,
            status=challenge.status,
            attempts_left=max(0, challenge.max_attempts - challenge.attempts),
            sends=challenge.sends,
            expires_at=rfc3339(challenge.expires_at),
            resend_available_at=rfc3339(challenge.resend_at),
            delivery=challenge.delivery,
        )

    async def resend(self, challenge_id: str, client: Client | None) -> Pending:
        now = self.clock()
        seen = Seen.of(client)
        code = codes.new_code()
        outcome = await self.store.resend(
            challenge_id=challenge_id,
            code_digest=codes.code_digest(self._digest_key, challenge_id, code),
            client_ip=seen.ip,
            client_label=seen.label,
            now=now,
            code_ttl_seconds=self.settings.code_ttl_seconds,
            resend_cooldown_seconds=self.settings.resend_cooldown_seconds,
            max_sends_per_challenge=self.settings.max_sends_per_challenge,
            max_emails_per_hour=self.settings.max_emails_per_hour,
        )
        self.metrics.resends.labels(outcome.status).inc()
        refusal = _refusal(outcome)
        if refusal is not None:
            raise refusal
        email, locale, sends, expires_at, resend_at, ip, label, totp, recovery = outcome.values
        await self._send_code(
            challenge_id, int(sends), email, locale, code, float(expires_at), Seen(ip, label)
        )
        return _pending(challenge_id, email, expires_at, resend_at, totp, recovery)

    async def verify(
        self, challenge_id: str, code: str, method: str, remember: bool, client: Client | None
    ) -> Verified:
        now = self.clock()
        candidates, totp_step = await self._candidates(challenge_id, code, method, now)
        seen = Seen.of(client)
        grant: TrustedBrowserGrant | None = None
        browser: tuple[str, str, float] | None = None
        if remember:
            browser_id = codes.new_browser_id()
            token = codes.new_browser_token(browser_id)
            expires_at = now + self.settings.trusted_browser_ttl_seconds
            record = browser_record(codes.token_digest(token), now, seen.ip, seen.label)
            browser = (browser_id, record, expires_at)
            grant = TrustedBrowserGrant(
                token=token, browser_id=browser_id, expires_at=rfc3339(expires_at)
            )
        outcome = await self.store.verify(
            challenge_id=challenge_id,
            method=method,
            candidates=candidates,
            totp_step=totp_step,
            now=now,
            lock_threshold=self.settings.account_lock_threshold,
            lock_seconds=self.settings.account_lock_seconds,
            lock_max_seconds=self.settings.account_lock_max_seconds,
            browser=browser,
            max_trusted_browsers=self.settings.max_trusted_browsers,
            trusted_browser_ttl_seconds=self.settings.trusted_browser_ttl_seconds,
        )
        self.metrics.verifications.labels(method, outcome.status).inc()
        if outcome.status == "no_method":
            raise MethodNotAvailable(f"this account has no {method.replace('_', ' ')}")
        refusal = _refusal(outcome)
        if refusal is not None:
            raise refusal
        account_id, email, locale, recovery_left = outcome.values
        if method == "recovery_code" and email:
            details = {"remaining": recovery_left}
            await self._notify(NOTICE_RECOVERY_CODE_USED, email, locale, now, seen, details)
        if grant is not None and email:
            details = {"label": seen.label or "Unknown browser", "expires_at": grant.expires_at}
            await self._notify(NOTICE_TRUSTED_BROWSER_ADDED, email, locale, now, seen, details)
        return Verified(account_id=account_id, trusted_browser=grant)

    async def _candidates(
        self, challenge_id: str, code: str, method: str, now: float
    ) -> tuple[list[str], int | None]:
        """What the verify script compares: digests of the typed code, or the TOTP step."""
        if method == "email":
            cleaned = codes.clean_email_code(code)
            if cleaned is None:
                raise InvalidCodeFormat(SIX_DIGITS)
            return [codes.code_digest(self._digest_key, challenge_id, cleaned)], None
        if method == "recovery_code":
            recovery = codes.clean_recovery_code(code)
            if recovery is None:
                raise InvalidCodeFormat(RECOVERY_FORMAT)
            return [codes.recovery_digest(key, recovery) for key in self._recovery_keys], None
        cleaned = totp.clean_code(code)
        if cleaned is None:
            raise InvalidCodeFormat(SIX_DIGITS)
        sealed = await self.store.sealed_totp_of_challenge(challenge_id)
        if sealed is None:
            return [], None  # the script answers: no such challenge, or no authenticator app
        tag = tag_of_challenge(challenge_id) or ""
        secret = self._totp_sealer.open(sealed, totp_context(tag))
        return [], totp.matching_step(secret, cleaned, now)

    # Authenticator apps (TOTP)

    async def enrol_totp(self, account_id: str) -> TotpEnrolment:
        profile = await self.get_account(account_id)
        now = self.clock()
        secret = totp.new_secret()
        sealed = self._totp_sealer.seal(secret, totp_context(account_tag(account_id)))
        pending_seconds = ENROLMENT_SECONDS
        if not await self.store.enrol_totp(
            account_id, sealed, now + pending_seconds, pending_seconds
        ):
            raise AccountNotFound()
        uri = totp.provisioning_uri(secret, profile.email, self.settings.issuer)
        return TotpEnrolment(secret=secret, otpauth_uri=uri, qr_svg=qr_svg(uri))

    async def confirm_totp(self, account_id: str, code: str, client: Client | None) -> AccountView:
        cleaned = totp.clean_code(code)
        if cleaned is None:
            raise InvalidCodeFormat(SIX_DIGITS)
        now = self.clock()
        sealed = await self.store.pending_totp(account_id)
        if sealed is None:
            await self.get_account(account_id)
            raise EnrolmentNotFound()
        secret = self._totp_sealer.open(sealed, totp_context(account_tag(account_id)))
        step = totp.matching_step(secret, cleaned, now)
        outcome = await self.store.confirm_totp(
            account_id, sealed, step, now, self.settings.max_attempts
        )
        if outcome.status == "not_found":
            raise EnrolmentNotFound()
        refusal = _refusal(outcome)
        if refusal is not None:
            raise refusal
        _changed, email, locale = outcome.values
        await self._notify(NOTICE_TOTP_ENABLED, email, locale, now, Seen.of(client))
        return await self.get_account(account_id)

    async def disable_totp(self, account_id: str, client: Client | None) -> None:
        outcome = await self.store.disable_totp(account_id)
        if outcome.status == "not_found":
            raise AccountNotFound()
        changed, email, locale = outcome.values
        if changed == "1":
            await self._notify(NOTICE_TOTP_DISABLED, email, locale, self.clock(), Seen.of(client))

    # Recovery codes

    async def new_recovery_codes(self, account_id: str, client: Client | None) -> list[str]:
        made = [codes.new_recovery_code() for _ in range(codes.RECOVERY_CODES_PER_SET)]
        digests = [
            codes.recovery_digest(self._recovery_keys[0], codes.clean_recovery_code(code) or "")
            for code in made
        ]
        outcome = await self.store.replace_recovery_codes(account_id, digests)
        if outcome.status == "not_found":
            raise AccountNotFound()
        email, locale = outcome.values
        details = {"count": str(len(made))}
        now = self.clock()
        await self._notify(
            NOTICE_RECOVERY_CODES_GENERATED, email, locale, now, Seen.of(client), details
        )
        return made

    # Trusted browsers

    async def list_browsers(self, account_id: str) -> list[TrustedBrowserView]:
        await self.get_account(account_id)
        browsers = await self.store.list_browsers(account_id, self.clock())
        return [
            TrustedBrowserView(
                browser_id=browser.browser_id,
                label=browser.label or "Unknown browser",
                ip=browser.ip or None,
                created_at=rfc3339(browser.created_at),
                last_used_at=rfc3339(browser.last_used_at),
                expires_at=rfc3339(browser.expires_at),
            )
            for browser in browsers
        ]

    async def revoke_browser(self, account_id: str, browser_id: str) -> None:
        await self.get_account(account_id)
        if not await self.store.revoke_browser(account_id, browser_id):
            raise BrowserNotFound()

    async def revoke_all_browsers(self, account_id: str) -> None:
        await self.get_account(account_id)
        await self.store.revoke_all_browsers(account_id)

    # Mail

    async def _send_code(
        self,
        challenge_id: str,
        send_no: int,
        email: str,
        locale: str,
        code: str,
        expires_at: float,
        seen: Seen,
    ) -> None:
        sealed = self._sealer.seal(code, code_seal_context(challenge_id, send_no))
        job = CodeJob(
            challenge_id=challenge_id,
            send_no=send_no,
            to=email,
            locale=locale,
            sealed_code=sealed,
            expires_at=expires_at,
            client_ip=seen.ip or None,
            client_label=seen.label or None,
        )
        await self.mail.publish_code(job)
        self.metrics.jobs.labels("code").inc()

    async def _notify(
        self,
        kind: str,
        email: str,
        locale: str,
        now: float,
        seen: Seen,
        details: dict[str, str] | None = None,
    ) -> None:
        job = NoticeJob(
            notice_id=uuid.uuid4().hex,
            kind=kind,
            to=email,
            locale=locale,
            occurred_at=now,
            client_ip=seen.ip or None,
            client_label=seen.label or None,
            details=details or {},
        )
        await self.mail.publish_notice(job)
        self.metrics.jobs.labels(kind).inc()


def _pending(
    challenge_id: str,
    email: str | None,
    expires_at: str,
    resend_at: str,
    totp: str,
    recovery: str,
) -> Pending:
    """The body of a pending login or resend; ``email`` is None when no code was mailed."""
    return Pending(
        challenge_id=challenge_id,
        method="email" if email else "totp",
        methods=_methods(totp, recovery),
        sent_to=codes.mask_email(email) if email else None,
        expires_at=rfc3339(float(expires_at)),
        resend_available_at=rfc3339(float(resend_at)),
    )


def _account_view(profile: Profile) -> AccountView:
    return AccountView(
        account_id=profile.account_id,
        email=profile.email,
        locale=profile.locale,
        two_step_enabled=profile.two_step_enabled,
        totp_enabled=profile.totp_enabled,
        recovery_codes_remaining=profile.recovery_codes_remaining,
        trusted_browsers=profile.trusted_browsers,
    )
