"""Loads the Lua scripts of ``shared/lua/`` once and hands them to Redis clients."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

LUA_DIR = Path(__file__).resolve().parent / "lua"

NAMES = (
    "login",
    "resend",
    "verify",
    "upsert_profile",
    "set_two_step",
    "delete_account",
    "claim_code_send",
    "finish_code_send",
    "claim_notice",
    "finish_notice",
    "take_mail_token",
    "return_mail_token",
    "totp_enrol",
    "totp_confirm",
    "totp_disable",
    "recovery_replace",
    "totp_reseal",
    "revoke_browsers",
    "unlock",
    "reset_two_step",
    "webhook_claim",
    "webhook_advance",
    "webhook_release",
    # On the broker: the code jobs' backups (api/mailqueue.py, workers/backups.py).
    "code_publish",
    "backup_take",
    "backup_settle",
)

# Scripts that record audit events: ``_audit.lua`` goes in front of them.
AUDITED = frozenset(
    {
        "login",
        "resend",
        "verify",
        "set_two_step",
        "totp_confirm",
        "totp_disable",
        "recovery_replace",
        "revoke_browsers",
        "unlock",
        "reset_two_step",
    }
)


@cache
def sha(name: str) -> str:
    """The SHA-1 by which Redis knows a loaded script (EVALSHA)."""
    return hashlib.sha1(source(name).encode("utf-8")).hexdigest()  # noqa: S324 - Redis's id


@cache
def source(name: str) -> str:
    if name not in NAMES:
        raise KeyError(name)
    body = (LUA_DIR / f"{name}.lua").read_text(encoding="utf-8")
    if name in AUDITED:
        return (LUA_DIR / "_audit.lua").read_text(encoding="utf-8") + body
    return body
