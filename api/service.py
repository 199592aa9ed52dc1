"""The use cases of the second step: accounts, logins, resends, verification, trusted browsers."""

from __future__ import annotations

from typing import Any

from api import guessing
from api.admission import MailAdmission
from api.audit import AuditTrail
from api.authenticators import Authenticators
from api.mailqueue import InLoginPublish, MailQueue
from api.metrics import Metrics
from api.outbox import Outbox, Seen
from api.outcomes import InvalidCodeFormat, account_view, pending, refused
from api.passkeys import Passkeys
from api.reports import Reports
from api.schemas import (
    AccountView,
    AuditEventView,
    ChallengeView,
    Client,
    NotRequired,
    Pending,
    TrustedBrowserGrant,
    TrustedBrowserView,
    Verified,
    rfc3339_from,
)
from api.store import KEEP, AuditEvent, Store, browser_record
from api.webhooks import Announcer
from shared import codes
from shared import results as r
from shared.clock import Clock
from shared.crypto import Sealer
from shared.errors import (
    AccountNotFound,
    BrowserNotFound,
    ChallengeNotFound,
    InvalidAssertion,
    MethodNotAvailable,
)
from shared.jobs import (
    NOTICE_ACCOUNT_LOCKED,
    NOTICE_RECOVERY_CODE_USED,
    NOTICE_TRUSTED_BROWSER_ADDED,
    NOTICE_TWO_STEP_DISABLED,
    NOTICE_TWO_STEP_ENABLED,
    NOTICE_TWO_STEP_RESET,
)
from shared.keys import AccountKeys, tag_of_challenge
from shared.settings import Settings
from shared.times import rfc3339
from shared.useragent import UNKNOWN_BROWSER, LabelParts, split_label
from shared.webhooks import event_details


class TwoStep:
    """The service. Every method is one state change in Redis plus, at most, one published job."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        mail: MailQueue,
        metrics: Metrics,
        clock: Clock,
        webhooks: Announcer | None = None,
        in_login: InLoginPublish | None = None,
        admission: MailAdmission | None = None,
    ) -> None:
        self.settings = settings
        # How late a new code email would be (api/admission.py); None: never refused.
        self.admission = admission
        # When set, a login's code job is pushed by the login script itself (same server).
        self.in_login = in_login
        self.store = store
        self.metrics = metrics
        self._pending_logins = metrics.logins.labels("pending")  # the hot path's, bound once
        self.clock = clock
        self.outbox = Outbox(mail, metrics, Sealer(settings.secret_key.get_secret_value()))
        self.trail = AuditTrail(settings, webhooks)
        self.authenticators = Authenticators(settings, store, self.outbox, self.trail, clock)
        self.passkeys = Passkeys(settings, store, self.outbox, self.trail, clock)
        self.reports = Reports(settings, store, self.outbox, self.trail, metrics, clock)
        self._digest_key = self.authenticators.digest_key

    # Accounts

    async def put_account(
        self,
        account_id: str,
        email: str,
        locale: str,
        time_zone: str | None = KEEP,
        preferred_method: str | None = KEEP,
    ) -> tuple[bool, AccountView]:
        created = await self.store.upsert_profile(
            account_id, email, locale, self.clock(), time_zone, preferred_method
        )
        return created, await self.get_account(account_id)

    async def get_account(self, account_id: str) -> AccountView:
        profile = await self.store.get_profile(account_id, self.clock())
        if profile is None:
            raise AccountNotFound()
        return account_view(profile)

    async def delete_account(self, account_id: str) -> None:
        await self.store.delete_account(account_id)

    async def set_two_step(
        self, account_id: str, enabled: bool, client: Client | None
    ) -> AccountView:
        now = self.clock()
        seen = Seen.of(client)
        outcome = await self.store.set_two_step(
            account_id, enabled, now, self.trail.entry(now, seen)
        )
        if isinstance(outcome, r.NotFound):
            raise AccountNotFound()
        if outcome.changed:
            kind = NOTICE_TWO_STEP_ENABLED if enabled else NOTICE_TWO_STEP_DISABLED
            await self.outbox.notice(kind, account_id, now, seen)
            await self.trail.recorded(AccountKeys.of(account_id).tag, now)
        return await self.get_account(account_id)

    # Support staff

    async def unlock(self, account_id: str, client: Client | None) -> bool:
        """Lift the account's lock and forget its back-off. True when it was locked."""
        now = self.clock()
        outcome = await self.store.unlock(account_id, now, self.trail.entry(now, Seen.of(client)))
        if isinstance(outcome, r.NotFound):
            raise AccountNotFound()
        await self.trail.recorded(AccountKeys.of(account_id).tag, now)
        return outcome.changed

    async def reset_two_step(self, account_id: str, client: Client | None) -> AccountView:
        """Two-step off, app, recovery codes and trusted browsers gone; the owner is told."""
        now = self.clock()
        seen = Seen.of(client)
        outcome = await self.store.reset_two_step(account_id, now, self.trail.entry(now, seen))
        if isinstance(outcome, r.NotFound):
            raise AccountNotFound()
        await self.outbox.notice(NOTICE_TWO_STEP_RESET, account_id, now, seen)
        await self.trail.recorded(AccountKeys.of(account_id).tag, now)
        return await self.get_account(account_id)

    async def events(
        self, account_id: str, limit: int, before: str | None
    ) -> tuple[list[AuditEventView], str | None]:
        """A page of the account's audit trail, newest first, and the next page's cursor."""
        await self.get_account(account_id)
        events, cursor = await self.store.events(account_id, limit, before)
        tag = AccountKeys.of(account_id).tag
        return [_event_view(tag, event) for event in events], cursor

    # Logins and challenges

    async def start_login(
        self, account_id: str, token: str | None, method: str | None, client: Client | None
    ) -> NotRequired | Pending:
        """``method`` None: the account's own, which the login script decides; a code is
        made in case it is email, and emailed only if the script says so."""
        now = self.clock()
        seen = Seen.of(client)
        challenge_id = codes.new_challenge_id(account_id)
        code = codes.new_code() if method not in ("totp", "webauthn") else ""
        # Kept by the login script only if the account has a security key.
        webauthn_challenge = codes.new_webauthn_challenge()
        browser_id = codes.browser_id_of_token(token) if token else None
        mail_delay = self.admission.refusal_seconds() if self.admission is not None else 0
        in_login = None
        if code and self.in_login is not None:
            # The script's own expiry: the time it is given (3 decimals) plus the lifetime.
            code_expires = float(f"{now:.3f}") + self.settings.code_ttl_seconds
            job = self.outbox.code_job(challenge_id, 1, code, code_expires, seen)
            in_login = self.in_login.job(job)
        outcome = await self.store.open_login(
            account_id=account_id,
            challenge_id=challenge_id,
            code_digest=codes.code_digest(self._digest_key, challenge_id, code) if code else "",
            method=method or "",
            browser_id=browser_id or "",
            token_digest=codes.token_digest(token) if token and browser_id else "",
            client_ip=seen.ip,
            client_label=seen.label,
            now=now,
            code_ttl_seconds=self.settings.code_ttl_seconds,
            resend_cooldown_seconds=self.settings.resend_cooldown_seconds,
            max_emails_per_hour=self.settings.max_emails_per_hour,
            webauthn_challenge=webauthn_challenge,
            audit=self.trail.entry(now, seen),
            publish=in_login,
            mail_delay=mail_delay,
        )
        match outcome:
            case r.Opened():
                pass
            case r.NotFound():
                self.metrics.logins.labels("account_not_found").inc()
                raise AccountNotFound()
            case r.Disabled() | r.Trusted():
                trusted = isinstance(outcome, r.Trusted)
                reason = "trusted_browser" if trusted else "two_step_disabled"
                self.metrics.logins.labels(reason).inc()
                if trusted:
                    await self.trail.recorded(AccountKeys.of(account_id).tag, now)
                return NotRequired(reason=reason)
            case r.Refused(reason):
                self.metrics.logins.labels(reason.value).inc()
                if reason is r.Refusal.MAIL_DELAYED:
                    self.metrics.admission_refusals.labels("login", "refused").inc()
                raise refused(outcome)
            case r.NoMethod():
                self.metrics.logins.labels("no_totp").inc()
                raise MethodNotAvailable("this account has no authenticator app")
            case r.NoSecurityKey():
                self.metrics.logins.labels("no_webauthn").inc()
                raise MethodNotAvailable("this account has no security key or passkey")
        emailed = outcome.sends == 1
        if outcome.refused == "mail_delayed":
            self.metrics.admission_refusals.labels("login", "other_method").inc()
        if emailed and in_login is not None:
            self.outbox.published_code()  # by the login script
        elif emailed:
            await self.outbox.code(challenge_id, 1, code, outcome.expires_at, seen)
        self._pending_logins.inc()
        await self.trail.recorded(AccountKeys.of(account_id).tag, now)
        return pending(
            challenge_id,
            outcome.email if emailed else None,
            outcome.expires_at,
            outcome.resend_at,
            outcome.totp,
            outcome.recovery_left,
            outcome.method,
            outcome.email_wait,
            self.passkeys.request_options(webauthn_challenge, outcome.webauthn),
            mail_delay,
            self._expected_delivery() if emailed else 0,
        )

    def _expected_delivery(self) -> int:
        """How long the code email just queued waits (and, from now on, counts in the queue)."""
        if self.admission is None:
            return 0
        expected = self.admission.expected_seconds()
        self.admission.queued()
        return expected

    async def get_challenge(self, challenge_id: str) -> ChallengeView:
        challenge = await self.store.get_challenge(challenge_id, self.clock())
        if challenge is None:
            raise ChallengeNotFound()
        return ChallengeView(
            challenge_id=challenge.challenge_id,
            account_id=challenge.account_id,
            status=challenge.status,
            attempts_left=max(0, self.settings.max_attempts - challenge.attempts),
            sends=challenge.sends,
            expires_at=rfc3339(challenge.expires_at),
            resend_available_at=rfc3339_from(challenge.resend_at),
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
            audit=self.trail.entry(now, seen),
            mail_delay=self.admission.refusal_seconds() if self.admission is not None else 0,
        )
        if not isinstance(outcome, r.Resent):
            self.metrics.resends.labels(_label(outcome)).inc()
            if isinstance(outcome, r.Refused) and outcome.reason is r.Refusal.MAIL_DELAYED:
                self.metrics.admission_refusals.labels("resend", "refused").inc()
            raise refused(outcome)
        self.metrics.resends.labels("pending").inc()
        resent = outcome
        seen_then = Seen(resent.ip, resent.label)
        await self.outbox.code(challenge_id, resent.sends, code, resent.expires_at, seen_then)
        await self.trail.recorded(tag_of_challenge(challenge_id) or "", now)
        return pending(
            challenge_id,
            resent.email,
            resent.expires_at,
            resent.resend_at,
            resent.totp,
            resent.recovery_left,
            expected_delivery=self._expected_delivery(),
        )

    async def verify(
        self,
        challenge_id: str,
        code: str | None,
        method: str,
        remember: bool,
        client: Client | None,
        credential: dict[str, Any] | None = None,
    ) -> Verified:
        """Check a code (``code``), or a security key's answer (``credential``, method
        "webauthn"; its checks are api/passkeys.py's, its counting the script's)."""
        now = self.clock()
        assertion = None
        candidates: list[str] = []
        totp_step = None
        if method == "webauthn":
            if credential is None:
                raise InvalidCodeFormat("method webauthn takes a credential", "credential")
            assertion = await self.passkeys.assertion(challenge_id, credential)
        else:
            candidates, totp_step = await self.authenticators.candidates(
                challenge_id, code or "", method, now
            )
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
            max_attempts=self.settings.max_attempts,
            failure_weight=guessing.failure_weight(method),
            assertion=assertion,
            audit=self.trail.entry(now, seen),
        )
        self.metrics.verifications.labels(method, _label(outcome)).inc()
        if isinstance(outcome, r.Stopped) and outcome.locks:
            for scope in outcome.locks.split("+"):
                self.metrics.locks.labels(scope).inc()
            if outcome.account_id:  # this check locked the account: tell its owner
                details = {
                    "seconds": str(outcome.lock_seconds),
                    "locked_until": rfc3339(now + outcome.lock_seconds),
                }
                await self.outbox.notice(
                    NOTICE_ACCOUNT_LOCKED, outcome.account_id, now, seen, details
                )
        # Refusals before any check (already locked) recorded nothing; these did.
        if isinstance(outcome, r.Passed | r.Invalid | r.Used) or (
            isinstance(outcome, r.Stopped) and outcome.locks
        ):
            await self.trail.recorded(tag_of_challenge(challenge_id) or "", now)
        if isinstance(outcome, r.NoMethod):
            if method == "webauthn":
                raise MethodNotAvailable("this account has no security key or passkey")
            raise MethodNotAvailable(f"this account has no {method.replace('_', ' ')}")
        if method == "webauthn" and isinstance(outcome, r.Invalid):
            raise InvalidAssertion(outcome.attempts_left)
        if not isinstance(outcome, r.Passed):
            raise refused(outcome)
        account_id = outcome.account_id
        if method == "recovery_code":
            details = {"remaining": str(outcome.recovery_left)}
            await self.outbox.notice(NOTICE_RECOVERY_CODE_USED, account_id, now, seen, details)
        if grant is not None:
            # The challenge, for the notice's "This wasn't me" link (the worker makes it).
            details = {
                "label": seen.label or UNKNOWN_BROWSER,
                "expires_at": grant.expires_at,
                "challenge_id": challenge_id,
            }
            await self.outbox.notice(NOTICE_TRUSTED_BROWSER_ADDED, account_id, now, seen, details)
        return Verified(account_id=account_id, trusted_browser=grant)

    # Trusted browsers

    async def list_browsers(self, account_id: str) -> list[TrustedBrowserView]:
        await self.get_account(account_id)
        browsers = await self.store.list_browsers(account_id, self.clock())
        views = []
        for browser in browsers:
            label = browser.label or UNKNOWN_BROWSER
            # A label this service did not make names nothing it can vouch for.
            parts = split_label(label) or LabelParts(None, None)
            views.append(
                TrustedBrowserView(
                    browser_id=browser.browser_id,
                    label=label,
                    browser=parts.browser,
                    system=parts.system,
                    ip=browser.ip or None,
                    created_at=rfc3339(browser.created_at),
                    last_used_at=rfc3339(browser.last_used_at),
                    expires_at=rfc3339(browser.expires_at),
                )
            )
        return views

    async def revoke_browser(self, account_id: str, browser_id: str) -> None:
        await self.get_account(account_id)
        now = self.clock()
        audit = self.trail.entry(now, Seen.of(None))
        if not await self.store.revoke_browser(account_id, browser_id, now, audit):
            raise BrowserNotFound()
        await self.trail.recorded(AccountKeys.of(account_id).tag, now)

    async def revoke_all_browsers(self, account_id: str) -> None:
        await self.get_account(account_id)
        now = self.clock()
        audit = self.trail.entry(now, Seen.of(None))
        if await self.store.revoke_all_browsers(account_id, now, audit):
            await self.trail.recorded(AccountKeys.of(account_id).tag, now)


# The status words the scripts answer, as the metrics have always labelled them.
_LABELS: dict[type, str] = {
    r.NotFound: "not_found",
    r.NoMethod: "no_method",
    r.Invalid: "invalid",
    r.Used: "used",
    r.Passed: "verified",
    r.Resent: "pending",
}


def _label(result: object) -> str:
    """A script's answer as a metric label: its status word."""
    if isinstance(result, r.Refused | r.Stopped):
        return result.reason.value
    return _LABELS[type(result)]


def _event_view(tag: str, event: AuditEvent) -> AuditEventView:
    return AuditEventView(
        event_id=event.event_id,
        type=event.type,
        occurred_at=rfc3339(event.occurred_at),
        client_ip=event.ip or None,
        request_id=event.request_id or None,
        details=event_details(tag, event.details),
    )
