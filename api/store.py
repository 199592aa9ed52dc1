"""The async state store: every read and write of account, challenge and browser state."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from api.muxredis import MuxRedis
from shared import results as r
from shared.clientip import plain_ip
from shared.keys import AccountKeys, challenge_key, short_id, tag_of_challenge
from shared.redisconn import AsyncStateRedis, ReplicaAck, replica_ack_of
from shared.runner import AsyncRunner
from shared.scripts import AUDIT_ARGS, SCRIPTS
from shared.settings import Settings

# What an Audit without settings uses: the settings' own defaults.
DEFAULT_AUDIT_CAP: int = Settings.model_fields["audit_max_events"].default
DEFAULT_AUDIT_KEEP_SECONDS: int = Settings.model_fields["audit_retention_days"].default * 86400


@dataclass(frozen=True, slots=True)
class Profile:
    account_id: str
    email: str
    locale: str
    two_step_enabled: bool
    totp_enabled: bool
    recovery_codes_remaining: int
    trusted_browsers: int
    time_zone: str | None = None
    preferred_method: str | None = None


@dataclass(frozen=True, slots=True)
class Challenge:
    challenge_id: str
    account_id: str
    status: str
    attempts: int
    sends: int
    expires_at: float
    resend_at: float
    delivery: str


@dataclass(frozen=True, slots=True)
class TrustedBrowser:
    browser_id: str
    label: str
    ip: str
    created_at: float
    last_used_at: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class Audit:
    """How an audited change is recorded in the account's stream (``shared/lua/_audit.lua``):
    the stream's cap, how long an idle trail is kept, when, the end user's IP and the
    request id."""

    cap: int = DEFAULT_AUDIT_CAP
    keep_seconds: int = DEFAULT_AUDIT_KEEP_SECONDS
    at: float | None = None
    ip: str = ""
    request_id: str = ""

    def args(self, now: float) -> dict[str, str | int]:
        """The audit's arguments of a script, by their names (``shared/scripts.py``)."""
        at = now if self.at is None else self.at
        values = (self.cap, self.keep_seconds, f"{at:.3f}", self.ip, self.request_id)
        return dict(zip(AUDIT_ARGS, values, strict=True))


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One entry of an account's audit stream."""

    event_id: str
    type: str
    occurred_at: float
    ip: str
    request_id: str
    details: dict[str, str]


def browser_record(digest: str, created_at: float, ip: str, label: str) -> str:
    """A trusted browser as stored: ``digest|created|last_used|{"ip": ..., "label": ...}``.

    The first three fields are the service's own (a hex digest, whole seconds): login.lua
    checks the digest and rewrites last_used, and keeps the rest as it is. What the portal
    sent (ip, label) is one JSON object after them, which no character of it can split."""
    seen = json.dumps({"ip": ip, "label": label}, separators=(",", ":"))
    return f"{digest}|{created_at:.0f}|{created_at:.0f}|{seen}"


def _parse_browser(browser_id: str, record: str, expires_at: float) -> TrustedBrowser:
    _digest, created, last_used, seen = record.split("|", 3)
    if seen.startswith("{"):
        fields = json.loads(seen)
        ip, label = fields["ip"], fields["label"]
    else:
        # The earlier format, "ip|label" (trusted browsers live 30 days after an upgrade).
        # A label never held a "|"; an address with a zone id could, so it is split off last.
        # Its address is shown only if the API would take it today, in the API's spelling.
        ip, _, label = seen.rpartition("|")
        ip = plain_ip(ip) or ""
    return TrustedBrowser(
        browser_id=browser_id,
        label=label,
        ip=ip,
        created_at=float(created),
        last_used_at=float(last_used),
        expires_at=expires_at,
    )


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _event(event_id: str, raw: dict[Any, Any]) -> AuditEvent:
    fields = {_text(name) or "": _text(value) or "" for name, value in raw.items()}
    kind = fields.pop("type", "")
    at = float(fields.pop("at", "0") or 0)
    ip = fields.pop("ip", "")
    request_id = fields.pop("rid", "")
    return AuditEvent(event_id, kind, at, ip, request_id, fields)


@dataclass(frozen=True, slots=True)
class InLoginJob:
    """A login's code job for the login script to push, when the broker is a database of
    the state store's own server: the challenge and its job are then one atomic step and
    one round trip (``login.lua``, ``api/mailqueue.py``)."""

    queue: str
    backups: str
    broker_db: str
    state_db: str
    message: str
    due: str
    payload: str


_NO_JOB = InLoginJob("", "", "", "", "", "", "")


@dataclass(frozen=True, slots=True)
class Assertion:
    """A security key's answer to a challenge, as its checks found it (api/passkeys.py): the
    key that signed, its signature counter (-1: the answer failed a check), and the challenge
    it was checked against."""

    credential_id: str
    sign_count: int
    challenge: str


# upsert_profile: leave an optional field (time zone, preferred method) as stored. A portal
# that sends only the address and language must not wipe what it does not know about.
KEEP = "="


LoginResult = (
    r.NotFound | r.Disabled | r.Trusted | r.Refused | r.NoMethod | r.NoSecurityKey | r.Opened
)
ResendResult = r.NotFound | r.Refused | r.Resent
VerifyResult = r.NotFound | r.NoMethod | r.Stopped | r.Invalid | r.Used | r.Passed


class Store:
    """Account, challenge and trusted-browser state in Redis. One script per state change."""

    def __init__(
        self,
        redis: AsyncStateRedis,
        replica_ack: ReplicaAck | None = None,
        scripts_client: MuxRedis | None = None,
    ) -> None:
        self.redis = redis
        # The scripts go through the process's multiplexed connection when there is one
        # (api/muxredis.py), unless writes wait for replicas (shared/runner.py).
        self.scripts = AsyncRunner(redis, replica_ack or replica_ack_of(redis), scripts_client)

    async def run_script(
        self,
        name: str,
        account: AccountKeys,
        args: dict[str, Any],
        keys: dict[str, Any] | None = None,
        audit: Audit | None = None,
        now: float = 0.0,
    ) -> Any:
        """Run a script of the account: ``keys`` are those it does not share the name of with
        the account's own (``Script.account_keys``); an audited script gets its stream and the
        audit's arguments after its own (``_audit.lua``)."""
        script = SCRIPTS[name]
        if script.audited:
            args = {**args, **(audit or Audit()).args(now)}
        return await self.scripts.run(script, script.account_keys(account, keys), args)

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    # Accounts

    async def upsert_profile(
        self,
        account_id: str,
        email: str,
        locale: str,
        now: float,
        time_zone: str | None = KEEP,
        preferred_method: str | None = KEEP,
    ) -> bool:
        """Create or replace the account's address and language, and set its time zone (none:
        UTC) and preferred second-step method (none: the app when one is confirmed, else
        email), or leave either as stored when given ``KEEP``."""
        created = await self.run_script(
            "upsert_profile",
            AccountKeys.of(account_id),
            {"account_id": account_id, "email": email, "locale": locale, "now": f"{now:.3f}",
             "time_zone": time_zone or "", "preferred_method": preferred_method or ""},
        )  # fmt: skip
        return bool(int(created[0]))

    async def get_profile(self, account_id: str, now: float) -> Profile | None:
        keys = AccountKeys.of(account_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.profile)
            pipe.zcount(keys.browser_expiry, f"({now}", "+inf")
            pipe.hlen(keys.recovery)
            fields, browsers, recovery = await pipe.execute()
        if not fields:
            return None
        return Profile(
            account_id=fields.get("account_id", account_id),
            email=fields["email"],
            locale=fields["locale"],
            two_step_enabled=fields.get("two_step") == "1",
            totp_enabled=fields.get("totp") == "1",
            recovery_codes_remaining=int(recovery),
            trusted_browsers=int(browsers),
            time_zone=fields.get("tz") or None,
            preferred_method=fields.get("pref") or None,
        )

    async def set_two_step(
        self, account_id: str, enabled: bool, now: float, audit: Audit | None = None
    ) -> r.NotFound | r.Done:
        keys = AccountKeys.of(account_id)
        done: r.NotFound | r.Done = await self.run_script(
            "set_two_step",
            keys,
            {"enabled": "1" if enabled else "0", "now": f"{now:.3f}",
             "challenge_prefix": keys.challenge_prefix},
            audit=audit,
            now=now,
        )  # fmt: skip
        return done

    async def unlock(
        self, account_id: str, now: float, audit: Audit | None = None
    ) -> r.NotFound | r.Done:
        done: r.NotFound | r.Done = await self.run_script(
            "unlock", AccountKeys.of(account_id), {"now": f"{now:.3f}"}, audit=audit, now=now
        )
        return done

    async def reset_two_step(
        self, account_id: str, now: float, audit: Audit | None = None
    ) -> r.NotFound | r.Made:
        keys = AccountKeys.of(account_id)
        made: r.NotFound | r.Made = await self.run_script(
            "reset_two_step",
            keys,
            {"now": f"{now:.3f}", "challenge_prefix": keys.challenge_prefix},
            audit=audit,
            now=now,
        )
        return made

    async def events(
        self, account_id: str, limit: int, before: str | None
    ) -> tuple[list[AuditEvent], str | None]:
        """The newest ``limit`` events older than the event id ``before``, newest first, and
        the cursor of the next page (None on the last page)."""
        key = AccountKeys.of(account_id).events
        upper = "+"
        if before:
            # As numbers: "00-0" is the id 0-0 too, and Redis refuses an exclusive range
            # below the first possible id (it was a 500).
            ms, seq = (int(part) for part in before.split("-", 1))
            if ms == seq == 0:
                return [], None  # nothing is older than the first possible id
            upper = f"({ms}-{seq}"
        raw: Any = await self.redis.xrevrange(key, upper, "-", count=limit + 1)
        events = [_event(_text(event_id) or "", fields or {}) for event_id, fields in raw[:limit]]
        more = len(raw) > limit
        return events, events[-1].event_id if more and events else None

    async def delete_account(self, account_id: str) -> int:
        keys = AccountKeys.of(account_id)
        rest = [key for key in keys.all_fixed() if key not in (keys.challenges, keys.sends)]
        removed = await self.run_script(
            "delete_account",
            keys,
            {"challenge_prefix": keys.challenge_prefix},
            {"others...": rest},
        )
        return int(removed)

    # Logins and challenges

    async def open_login(
        self,
        *,
        account_id: str,
        challenge_id: str,
        code_digest: str,
        method: str,
        browser_id: str,
        token_digest: str,
        client_ip: str,
        client_label: str,
        now: float,
        code_ttl_seconds: int,
        resend_cooldown_seconds: int,
        max_emails_per_hour: int,
        webauthn_challenge: str = "",
        audit: Audit | None = None,
        publish: InLoginJob | None = None,
        mail_delay: int = 0,
    ) -> LoginResult:
        """``method``: "email", "totp", "webauthn", or "" for the account's own (login.lua
        decides). ``webauthn_challenge`` is kept only if the account has a security key.
        ``publish``: the code job, pushed by the login script itself (same server) only if
        the script decides to email. ``mail_delay``: 0, or the seconds until the mail queue
        is in time again (api/admission.py): an email is then refused like one over the cap."""
        keys = AccountKeys.of(account_id)
        job = publish or _NO_JOB
        opened: LoginResult = await self.run_script(
            "login",
            keys,
            {
                "now": f"{now:.3f}",
                "code_digest": code_digest,
                "code_ttl": code_ttl_seconds,
                "resend_cooldown": resend_cooldown_seconds,
                "max_emails_per_hour": max_emails_per_hour,
                "method": method,
                "browser_id": browser_id,
                "token_digest": token_digest,
                "account_id": account_id,
                "client_ip": client_ip,
                "client_label": client_label,
                "short_id": short_id(challenge_id),
                "broker_db": job.broker_db,
                "state_db": job.state_db,
                "message": job.message,
                "due": job.due,
                "payload": job.payload,
                "webauthn_challenge": webauthn_challenge,
                "mail_delay": mail_delay,
            },
            {
                "challenge": keys.challenge(challenge_id),
                # Without a job, stand-ins from the account's own slot (a Cluster refuses keys
                # of other slots in a script); the script does not touch them.
                "queue": job.queue or keys.profile,
                "backups": job.backups or keys.profile,
            },
            audit,
            now,
        )
        return opened

    async def resend(
        self,
        *,
        challenge_id: str,
        code_digest: str,
        client_ip: str,
        client_label: str,
        now: float,
        code_ttl_seconds: int,
        resend_cooldown_seconds: int,
        max_sends_per_challenge: int,
        max_emails_per_hour: int,
        audit: Audit | None = None,
        mail_delay: int = 0,
    ) -> ResendResult:
        tag = tag_of_challenge(challenge_id)
        if tag is None:
            return r.NotFound()
        keys = AccountKeys(tag)
        resent: ResendResult = await self.run_script(
            "resend",
            keys,
            {"now": f"{now:.3f}", "code_digest": code_digest, "code_ttl": code_ttl_seconds,
             "resend_cooldown": resend_cooldown_seconds, "max_sends": max_sends_per_challenge,
             "max_emails_per_hour": max_emails_per_hour, "client_ip": client_ip,
             "client_label": client_label, "short_id": short_id(challenge_id),
             "mail_delay": mail_delay},
            {"challenge": keys.challenge(challenge_id)},
            audit,
            now,
        )  # fmt: skip
        return resent

    async def verify(
        self,
        *,
        challenge_id: str,
        method: str,
        candidates: list[str],
        totp_step: int | None,
        now: float,
        lock_threshold: int,
        lock_seconds: int,
        lock_max_seconds: int,
        browser: tuple[str, str, float] | None,
        max_trusted_browsers: int,
        trusted_browser_ttl_seconds: int,
        max_attempts: int,
        failure_weight: int,
        assertion: Assertion | None = None,
        audit: Audit | None = None,
    ) -> VerifyResult:
        """Check a code. ``candidates`` are digests of what was typed (email, recovery code),
        ``totp_step`` the step whose TOTP code matched; ``browser`` is (browser id, record,
        expires at) to remember on success; a wrong code adds ``failure_weight`` failures
        toward the account lock. ``assertion``: what a security key's answer was found to be
        (api/passkeys.py), for method "webauthn"."""
        tag = tag_of_challenge(challenge_id)
        if tag is None:
            return r.NotFound()
        keys = AccountKeys(tag)
        browser_id, record, browser_expires_at = browser or ("", "", 0.0)
        checked: VerifyResult = await self.run_script(
            "verify",
            keys,
            {
                "now": f"{now:.3f}",
                "candidates": ",".join(candidates),
                "lock_threshold": lock_threshold,
                "lock_seconds": lock_seconds,
                "lock_max_seconds": lock_max_seconds,
                "remember": "1" if browser else "0",
                "browser_id": browser_id,
                "browser_record": record,
                "browser_expires_at": f"{browser_expires_at:.0f}",
                "max_browsers": max_trusted_browsers,
                "browser_ttl": trusted_browser_ttl_seconds,
                "method": method,
                "totp_step": -1 if totp_step is None else totp_step,
                "max_attempts": max_attempts,
                "short_id": short_id(challenge_id),
                "failure_weight": failure_weight,
                "credential_id": assertion.credential_id if assertion else "",
                "sign_count": assertion.sign_count if assertion else -1,
                "webauthn_challenge": assertion.challenge if assertion else "",
            },
            {"challenge": keys.challenge(challenge_id)},
            audit,
            now,
        )
        return checked

    async def sealed_totp_of_challenge(self, challenge_id: str) -> str | None:
        """The active sealed TOTP secret of the account a challenge belongs to."""
        tag = tag_of_challenge(challenge_id)
        if tag is None:
            return None
        return _text(await self.redis.hget(AccountKeys(tag).totp, "sealed"))

    async def get_challenge(self, challenge_id: str, now: float) -> Challenge | None:
        key = challenge_key(challenge_id)
        if key is None:
            return None
        fields: dict[str, str] = await self.redis.hgetall(key)  # type: ignore[assignment]
        if not fields or float(fields["expires_at"]) <= now:
            return None
        return Challenge(
            challenge_id=challenge_id,
            account_id=fields["account_id"],
            status=fields["status"],
            attempts=int(fields["attempts"]),
            sends=int(fields["sends"]),
            expires_at=float(fields["expires_at"]),
            resend_at=float(fields["resend_at"]),
            delivery=fields["delivery"],
        )

    # Authenticator apps and recovery codes

    async def enrol_totp(
        self, account_id: str, sealed: str, pending_until: float, keep_seconds: int
    ) -> bool:
        made = await self.run_script(
            "totp_enrol",
            AccountKeys.of(account_id),
            {
                "sealed": sealed,
                "pending_until": f"{pending_until:.0f}",
                "keep_seconds": keep_seconds,
            },
        )
        return isinstance(made, r.Made)

    async def reseal_totp(self, tag: str, old: str, new: str) -> bool:
        """Replace the active sealed secret, unless it changed meanwhile."""
        replaced = await self.run_script("totp_reseal", AccountKeys(tag), {"old": old, "new": new})
        return bool(int(replaced))

    async def pending_totp(self, account_id: str) -> str | None:
        return _text(await self.redis.hget(AccountKeys.of(account_id).totp, "pending"))

    async def confirm_totp(
        self,
        account_id: str,
        sealed: str,
        step: int | None,
        now: float,
        max_attempts: int,
        audit: Audit | None = None,
    ) -> r.NotFound | r.Invalid | r.Refused | r.Done:
        confirmed: r.NotFound | r.Invalid | r.Refused | r.Done = await self.run_script(
            "totp_confirm",
            AccountKeys.of(account_id),
            {"now": f"{now:.3f}", "sealed": sealed, "step": -1 if step is None else step,
             "max_attempts": max_attempts},
            audit=audit,
            now=now,
        )  # fmt: skip
        return confirmed

    async def disable_totp(
        self, account_id: str, now: float, audit: Audit | None = None
    ) -> r.NotFound | r.Done:
        done: r.NotFound | r.Done = await self.run_script(
            "totp_disable", AccountKeys.of(account_id), {}, audit=audit, now=now
        )
        return done

    async def replace_recovery_codes(
        self, account_id: str, digests: list[str], now: float, audit: Audit | None = None
    ) -> r.NotFound | r.Made:
        made: r.NotFound | r.Made = await self.run_script(
            "recovery_replace",
            AccountKeys.of(account_id),
            {"digests...": list(digests)},
            audit=audit,
            now=now,
        )
        return made

    # Trusted browsers

    async def list_browsers(self, account_id: str, now: float) -> list[TrustedBrowser]:
        keys = AccountKeys.of(account_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.browsers)
            pipe.zrangebyscore(keys.browser_expiry, f"({now}", "+inf", withscores=True)
            records, live = await pipe.execute()
        browsers = [
            _parse_browser(browser_id, records[browser_id], expires_at)
            for browser_id, expires_at in live
            if browser_id in records
        ]
        browsers.sort(key=lambda browser: browser.created_at, reverse=True)
        return browsers

    async def revoke_browser(
        self, account_id: str, browser_id: str, now: float, audit: Audit | None = None
    ) -> bool:
        removed = await self.run_script(
            "revoke_browsers",
            AccountKeys.of(account_id),
            {"browser_id": browser_id},
            audit=audit,
            now=now,
        )
        return bool(int(removed))

    async def revoke_all_browsers(
        self, account_id: str, now: float, audit: Audit | None = None
    ) -> int:
        removed = await self.run_script(
            "revoke_browsers", AccountKeys.of(account_id), {"browser_id": ""}, audit=audit, now=now
        )
        return int(removed)
