"""The Lua scripts of ``shared/lua/``: what each one takes and answers, and its source.

Each script is described once, here: its KEYS and ARGV by name and in order, the pieces of
``shared/lua/_*.lua`` put in front of it, and, for a script that answers a status word, the
class of each answer (``shared/results.py``). Callers name their keys and arguments; the
description puts them in order (``Script.keys_of``, ``Script.args_of``) and turns the answer
into its class (``Script.decode``); ``shared/runner.py`` runs them. A test holds every
script's header to its description (``tests/unit/test_script_headers.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path
from typing import Any, get_type_hints

from shared import results as r
from shared.keys import AccountKeys

LUA_DIR = Path(__file__).resolve().parent / "lua"

# An audited script's last key is the account's audit stream, its last five arguments what
# ``_audit.lua`` records with each event (api/store.py ``Audit``).
AUDIT_KEYS = ("events",)
AUDIT_ARGS = ("audit_cap", "audit_keep_seconds", "audit_at", "audit_ip", "audit_request_id")


def _text(item: Any) -> str:
    """A reply item as text (clients with ``decode_responses`` off answer bytes)."""
    return item.decode() if isinstance(item, bytes) else str(item)


def _converter(kind: Any) -> Callable[[Any], Any]:
    if kind is int:
        return lambda item: int(float(_text(item)))
    if kind is float:
        return lambda item: float(_text(item))
    if kind is bool:
        return lambda item: _text(item) == "1"
    if kind is r.Refusal:
        return lambda item: r.Refusal(_text(item))
    return _text


@dataclass(frozen=True, slots=True)
class _Decoder:
    """Builds one result class from a reply's status word and fields."""

    cls: type
    names: tuple[str, ...]  # the fields the script answers, in order (after the status)
    convert: tuple[Callable[[Any], Any], ...]
    status_first: bool  # the class's first field takes the status word (reason, status)

    @classmethod
    def of(cls, result: type) -> _Decoder:
        hints = get_type_hints(result)
        names = tuple(f.name for f in fields(result))
        status_first = bool(names) and names[0] in ("reason", "status")
        converters = tuple(_converter(hints[name]) for name in names)
        if status_first:
            return cls(result, names[1:], converters, True)
        return cls(result, names, converters, False)

    def __call__(self, status: Any, items: Sequence[Any]) -> Any:
        # strict: a reply with more or fewer fields than its class is a header's drift.
        if self.status_first:
            head, *rest = self.convert
            return self.cls(head(status), *(c(i) for c, i in zip(rest, items, strict=True)))
        return self.cls(*(c(i) for c, i in zip(self.convert, items, strict=True)))


@dataclass(frozen=True)
class Script:
    """One Lua script. A name ending in ``...`` takes a list: the rest of the keys or args.

    ``results`` maps each status word the script answers (its reply's first item) to the
    class of that answer; without it the reply is handed back as Redis gave it.
    """

    name: str
    keys: tuple[str, ...]
    args: tuple[str, ...] = ()
    results: Mapping[str, type] = field(default_factory=dict)
    audited: bool = False
    pieces: tuple[str, ...] = ()
    _decoders: dict[str, _Decoder] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        decoders = {status: _Decoder.of(result) for status, result in self.results.items()}
        object.__setattr__(self, "_decoders", decoders)  # frozen: set once, here

    @property
    def all_keys(self) -> tuple[str, ...]:
        return (*self.keys, *AUDIT_KEYS) if self.audited else self.keys

    @property
    def all_args(self) -> tuple[str, ...]:
        return (*self.args, *AUDIT_ARGS) if self.audited else self.args

    def account_keys(
        self, account: AccountKeys, given: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """This script's keys: those in ``given``, and each other one the account's key of
        the same name (``shared/keys.py`` ``AccountKeys``: profile, guard, events, ...)."""
        given = given or {}
        return {name: given[name] if name in given else getattr(account, name)
                for name in self.all_keys}  # fmt: skip

    def keys_of(self, given: Mapping[str, Any]) -> list[Any]:
        return _ordered(self.name, "keys", self.all_keys, given)

    def args_of(self, given: Mapping[str, Any]) -> list[Any]:
        return _ordered(self.name, "args", self.all_args, given)

    def decode(self, reply: Any) -> Any:
        """The answer as its class (``results``), or as Redis gave it."""
        if not self._decoders:
            return reply
        status = _text(reply[0])
        return self._decoders[status](status, reply[1:])

    @property
    def source(self) -> str:
        return source(self.name)

    @property
    def sha(self) -> str:
        return sha(self.name)


def _ordered(script: str, what: str, names: tuple[str, ...], given: Mapping[str, Any]) -> list[Any]:
    """The values of ``given`` in the order of ``names``; a name ending in ``...`` takes a
    sequence, spread. Exactly the described names: anything else is a bug of the caller."""
    if len(given) != len(names):
        missing = set(names) - set(given)
        extra = set(given) - set(names)
        raise TypeError(f"{script}.lua {what}: missing {sorted(missing)}, unknown {sorted(extra)}")
    ordered: list[Any] = []
    for name in names:
        if name.endswith("..."):
            ordered.extend(given[name])
        else:
            ordered.append(given[name])
    return ordered


LOCK_OR_LIMIT = {"locked": r.Refused, "send_limit": r.Refused}

SCRIPTS: dict[str, Script] = {
    script.name: script
    for script in (
        Script(
            "login",
            keys=("profile", "guard", "sends", "challenges", "browsers", "browser_expiry",
                  "challenge", "recovery", "queue", "backups", "webauthn_use"),
            args=("now", "code_digest", "code_ttl", "resend_cooldown", "max_emails_per_hour",
                  "method", "browser_id", "token_digest", "account_id", "client_ip",
                  "client_label", "short_id", "broker_db", "state_db", "message", "due",
                  "payload", "webauthn_challenge", "mail_delay"),
            results={"not_found": r.NotFound, "disabled": r.Disabled, "trusted": r.Trusted,
                     **LOCK_OR_LIMIT, "mail_delayed": r.Refused, "no_totp": r.NoMethod,
                     "no_webauthn": r.NoSecurityKey,
                     "pending": r.Opened},
            audited=True,
            pieces=("_same", "_email_cap"),
        ),
        Script(
            "resend",
            keys=("challenge", "profile", "guard", "sends", "challenges", "recovery"),
            args=("now", "code_digest", "code_ttl", "resend_cooldown", "max_sends",
                  "max_emails_per_hour", "client_ip", "client_label", "short_id",
                  "mail_delay"),
            results={"not_found": r.NotFound, "too_many_attempts": r.Refused, **LOCK_OR_LIMIT,
                     "too_soon": r.Refused, "mail_delayed": r.Refused, "pending": r.Resent},
            audited=True,
            pieces=("_email_cap",),
        ),
        Script(
            "verify",
            keys=("challenge", "guard", "browsers", "browser_expiry", "profile", "totp",
                  "recovery", "recovery_used", "webauthn_use"),
            args=("now", "candidates", "lock_threshold", "lock_seconds", "lock_max_seconds",
                  "remember", "browser_id", "browser_record", "browser_expires_at",
                  "max_browsers", "browser_ttl", "method", "totp_step", "max_attempts",
                  "short_id", "failure_weight", "credential_id", "sign_count",
                  "webauthn_challenge"),
            results={"not_found": r.NotFound, "no_method": r.NoMethod,
                     "too_many_attempts": r.Stopped, "locked": r.Stopped,
                     "invalid": r.Invalid, "used": r.Used, "verified": r.Passed},
            audited=True,
            pieces=("_same",),
        ),
        Script(
            "upsert_profile",
            keys=("profile",),
            args=("account_id", "email", "locale", "now", "time_zone", "preferred_method"),
        ),
        Script(
            "set_two_step",
            keys=("profile", "browsers", "browser_expiry", "challenges", "sends", "webauthn",
                  "webauthn_use"),
            args=("enabled", "now", "challenge_prefix"),
            results={"not_found": r.NotFound, "ok": r.Done},
            audited=True,
        ),
        Script(
            "delete_account",
            keys=("challenges", "sends", "others..."),
            args=("challenge_prefix",),
        ),
        Script(
            "claim_code_send",
            keys=("challenge", "profile", "reports"),
            args=("send_no", "now", "claimant", "hold_seconds", "short_id", "report_digest",
                  "report_keep"),
            results={"send": r.Claimed, "done": r.NotToSend, "busy": r.NotToSend,
                     "stale": r.NotToSend, "expired": r.NotToSend},
            pieces=("_report",),
        ),
        # "This wasn't me" (api/reports.py).
        Script(
            "report_add",
            keys=("reports",),
            args=("short_id", "report_digest", "now", "client_ip", "client_label",
                  "report_keep"),
            pieces=("_report",),
        ),
        Script(
            "report_read",
            keys=("reports", "profile"),
            args=("short_id", "report_digest", "now", "report_keep"),
            results={"not_found": r.NotFound, "ok": r.ReportLink},
            pieces=("_report",),
        ),
        Script(
            "report",
            keys=("reports", "challenge", "challenges", "browsers", "browser_expiry", "profile"),
            args=("short_id", "report_digest", "now", "report_keep", "revoke_browsers"),
            results={"not_found": r.NotFound, "used": r.AlreadyReported,
                     "reported": r.Reported},
            audited=True,
            pieces=("_report",),
        ),
        Script("finish_code_send", keys=("challenge",), args=("send_no", "outcome", "claimant")),
        Script("claim_notice", keys=("marker",), args=("claimant", "hold_seconds")),
        Script("finish_notice", keys=("marker",), args=("claimant", "sent", "marker_ttl")),
        Script("take_mail_token", keys=("bucket",), args=("rate", "burst")),
        Script("return_mail_token", keys=("bucket",), args=("burst",)),
        Script(
            "totp_enrol",
            keys=("profile", "totp"),
            args=("sealed", "pending_until", "keep_seconds"),
            results={"not_found": r.NotFound, "ok": r.Made},
        ),
        Script(
            "totp_confirm",
            keys=("profile", "totp"),
            args=("now", "sealed", "step", "max_attempts"),
            results={"not_found": r.NotFound, "invalid": r.Invalid,
                     "too_many_attempts": r.Refused, "enabled": r.Done},
            audited=True,
        ),
        Script(
            "totp_disable",
            keys=("profile", "totp"),
            results={"not_found": r.NotFound, "ok": r.Done},
            audited=True,
        ),
        Script(
            "recovery_replace",
            keys=("profile", "recovery", "recovery_used"),
            args=("digests...",),
            results={"not_found": r.NotFound, "ok": r.Made},
            audited=True,
        ),
        Script("totp_reseal", keys=("totp",), args=("old", "new")),
        Script(
            "revoke_browsers",
            keys=("browsers", "browser_expiry"),
            args=("browser_id",),
            audited=True,
        ),
        Script(
            "unlock",
            keys=("profile", "guard"),
            args=("now",),
            results={"not_found": r.NotFound, "ok": r.Done},
            audited=True,
        ),
        Script(
            "reset_two_step",
            keys=("profile", "totp", "recovery", "browsers", "browser_expiry", "challenges",
                  "sends", "webauthn", "webauthn_use"),
            args=("now", "challenge_prefix"),
            results={"not_found": r.NotFound, "ok": r.Made},
            audited=True,
        ),
        Script(
            "webhook_claim",
            keys=("webhook_claim", "webhook_again"),
            args=("claimant", "hold_seconds"),
        ),
        Script(
            "webhook_advance",
            keys=("webhook_claim", "webhook_cursor"),
            args=("claimant", "event_id", "hold_seconds", "keep_seconds"),
        ),
        Script(
            "webhook_release",
            keys=("webhook_claim", "webhook_again"),
            args=("claimant", "hold_seconds"),
        ),
        # Security keys and passkeys (api/passkeys.py).
        Script(
            "webauthn_begin",
            keys=("profile", "webauthn", "registration"),
            args=("user_handle", "challenge", "registration_ttl", "max_keys"),
            results={"not_found": r.NotFound, "too_many_keys": r.TooManyKeys,
                     "ok": r.KeyRegistration},
        ),
        Script(
            "webauthn_take",
            keys=("registration",),
            results={"not_found": r.NotFound, "ok": r.Registration},
        ),
        Script(
            "webauthn_add",
            keys=("profile", "webauthn", "webauthn_use"),
            args=("credential_id", "record", "use", "max_keys", "key_id"),
            results={"not_found": r.NotFound, "exists": r.KeyExists,
                     "too_many_keys": r.TooManyKeys, "ok": r.Made},
            audited=True,
        ),
        Script(
            "webauthn_rename",
            keys=("webauthn",),
            args=("credential_id", "record"),
            results={"not_found": r.NotFound, "ok": r.Made},
        ),
        Script(
            "webauthn_remove",
            keys=("webauthn", "webauthn_use"),
            args=("credential_id", "key_id"),
            results={"not_found": r.NotFound, "ok": r.Made},
            audited=True,
        ),
        # On the broker: the code jobs' backups (api/mailqueue.py, workers/backups.py).
        Script("code_publish", keys=("queue", "backups"), args=("message", "due", "payload")),
        Script("backup_take", keys=("backups",), args=("now", "lease_until", "batch")),
        Script("backup_settle", keys=("queue", "backups"), args=("pushed", "items...")),
    )
}  # fmt: skip

NAMES = tuple(SCRIPTS)


@cache
def sha(name: str) -> str:
    """The SHA-1 by which Redis knows a loaded script (EVALSHA)."""
    return hashlib.sha1(source(name).encode("utf-8")).hexdigest()  # noqa: S324 - Redis's id


@cache
def source(name: str) -> str:
    """The script as Redis runs it: its pieces (and ``_audit.lua`` when it is audited) in
    front of its own file."""
    script = SCRIPTS[name]
    pieces = [*script.pieces, *(("_audit",) if script.audited else ())]
    parts = [(LUA_DIR / f"{piece}.lua").read_text(encoding="utf-8") for piece in pieces]
    return "".join([*parts, (LUA_DIR / f"{name}.lua").read_text(encoding="utf-8")])
