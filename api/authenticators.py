"""Authenticator apps (TOTP) and recovery codes, and turning what was typed into what is checked."""

from __future__ import annotations

import logging

from api import totp
from api.audit import AuditTrail
from api.outbox import Outbox, Seen
from api.outcomes import RECOVERY_FORMAT, SIX_DIGITS, InvalidCodeFormat, refused
from api.qrcode import qr_svg
from api.schemas import Client, TotpEnrolment
from api.store import Store
from shared import codes
from shared import results as r
from shared.clock import Clock
from shared.crypto import Sealer, SealError, derive_key
from shared.errors import AccountNotFound, EnrolmentNotFound, MethodNotAvailable
from shared.jobs import (
    NOTICE_RECOVERY_CODES_GENERATED,
    NOTICE_TOTP_DISABLED,
    NOTICE_TOTP_ENABLED,
)
from shared.keys import account_tag, tag_of_challenge
from shared.settings import Settings

log = logging.getLogger("twostep.api")

# How long a new authenticator secret waits for its first code before it is forgotten.
ENROLMENT_SECONDS = 900


def totp_context(tag: str) -> str:
    """What a sealed TOTP secret is bound to: its account, so it cannot be moved to another."""
    return f"totp:{tag}"


class Authenticators:
    """The keys behind every kind of code, and the TOTP and recovery-code use cases."""

    def __init__(
        self, settings: Settings, store: Store, outbox: Outbox, trail: AuditTrail, clock: Clock
    ) -> None:
        self.trail = trail
        self.settings = settings
        self.store = store
        self.outbox = outbox
        self.clock = clock
        secret = settings.secret_key.get_secret_value()
        previous = settings.previous_secrets
        self.digest_key = derive_key(secret, "code-digest")
        self._recovery_keys = [derive_key(each, "recovery-digest") for each in (secret, *previous)]
        self._totp_sealer = Sealer(secret, "totp-secret", previous)

    async def candidates(
        self, challenge_id: str, code: str, method: str, now: float
    ) -> tuple[list[str], int | None]:
        """What the verify script compares: digests of the typed code, or the TOTP step."""
        if method == "email":
            cleaned = codes.clean_email_code(code)
            if cleaned is None:
                raise InvalidCodeFormat(SIX_DIGITS)
            return [codes.code_digest(self.digest_key, challenge_id, cleaned)], None
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
        secret = self._open_totp(sealed, tag)
        step = totp.matching_step(secret, cleaned, now)
        if step is not None and not self._totp_sealer.is_current(sealed):
            # Sealed under a previous key: move it to the current one while we hold it.
            resealed = self._totp_sealer.seal(secret, totp_context(tag))
            await self.store.reseal_totp(tag, sealed, resealed)
        return [], step

    def _open_totp(self, sealed: str, tag: str) -> str:
        try:
            return self._totp_sealer.open(sealed, totp_context(tag))
        except SealError:
            # Its key is gone from TWOSTEP_PREVIOUS_SECRET_KEYS: the app cannot be used.
            log.error("a TOTP secret is sealed with a key this service no longer has")
            raise MethodNotAvailable("the authenticator app must be set up again") from None

    # Authenticator apps (TOTP)

    async def enrol_totp(self, account_id: str) -> TotpEnrolment:
        now = self.clock()
        profile = await self.store.get_profile(account_id, now)
        if profile is None:
            raise AccountNotFound()
        secret = totp.new_secret()
        sealed = self._totp_sealer.seal(secret, totp_context(account_tag(account_id)))
        pending_seconds = ENROLMENT_SECONDS
        if not await self.store.enrol_totp(
            account_id, sealed, now + pending_seconds, pending_seconds
        ):
            raise AccountNotFound()
        uri = totp.provisioning_uri(secret, profile.email, self.settings.issuer)
        return TotpEnrolment(secret=secret, otpauth_uri=uri, qr_svg=qr_svg(uri))

    async def confirm_totp(self, account_id: str, code: str, client: Client | None) -> None:
        cleaned = totp.clean_code(code)
        if cleaned is None:
            raise InvalidCodeFormat(SIX_DIGITS)
        now = self.clock()
        sealed = await self.store.pending_totp(account_id)
        if sealed is None:
            if await self.store.get_profile(account_id, now) is None:
                raise AccountNotFound()
            raise EnrolmentNotFound()
        try:
            secret = self._totp_sealer.open(sealed, totp_context(account_tag(account_id)))
        except SealError:
            raise EnrolmentNotFound() from None  # sealed with a key that was dropped since
        step = totp.matching_step(secret, cleaned, now)
        seen = Seen.of(client)
        outcome = await self.store.confirm_totp(
            account_id, sealed, step, now, self.settings.max_attempts, self.trail.entry(now, seen)
        )
        if isinstance(outcome, r.NotFound):
            raise EnrolmentNotFound()
        if not isinstance(outcome, r.Done):
            raise refused(outcome)
        await self.outbox.notice(NOTICE_TOTP_ENABLED, account_id, now, seen)
        await self.trail.recorded(account_tag(account_id), now)

    async def disable_totp(self, account_id: str, client: Client | None) -> None:
        now = self.clock()
        seen = Seen.of(client)
        outcome = await self.store.disable_totp(account_id, now, self.trail.entry(now, seen))
        if isinstance(outcome, r.NotFound):
            raise AccountNotFound()
        if outcome.changed:
            await self.outbox.notice(NOTICE_TOTP_DISABLED, account_id, now, seen)
            await self.trail.recorded(account_tag(account_id), now)

    # Recovery codes

    async def new_recovery_codes(self, account_id: str, client: Client | None) -> list[str]:
        made = [codes.new_recovery_code() for _ in range(codes.RECOVERY_CODES_PER_SET)]
        digests = [
            codes.recovery_digest(self._recovery_keys[0], codes.clean_recovery_code(code) or "")
            for code in made
        ]
        now = self.clock()
        seen = Seen.of(client)
        outcome = await self.store.replace_recovery_codes(
            account_id, digests, now, self.trail.entry(now, seen)
        )
        if isinstance(outcome, r.NotFound):
            raise AccountNotFound()
        details = {"count": str(len(made))}
        await self.outbox.notice(NOTICE_RECOVERY_CODES_GENERATED, account_id, now, seen, details)
        await self.trail.recorded(account_tag(account_id), now)
        return made
