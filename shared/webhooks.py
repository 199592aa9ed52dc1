"""Webhooks: the queue and task names, the event document, and the signature.

A portal that sets ``TWOSTEP_WEBHOOK_URL`` receives every audit event of every account as a
JSON POST, signed with ``TWOSTEP_WEBHOOK_SECRET``::

    Twostep-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>

A receiver recomputes the HMAC over the raw body, compares in constant time, and refuses a
timestamp more than five minutes away from its clock (``verify_signature`` is the recipe).
Deliveries are at least once, in order per account; ``id`` tells repeats apart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from shared.times import rfc3339

WEBHOOK_QUEUE = "twostep.webhooks"
DELIVER_WEBHOOKS_TASK = "twostep.deliver_webhooks"
SIGNATURE_HEADER = "Twostep-Signature"
SIGNATURE_TOLERANCE_SECONDS = 300

# Detail fields that are numbers or yes/no, as written by shared/lua/*.lua.
_NUMBERS = frozenset(
    {
        "attempts_left",
        "remaining",
        "seconds",
        "count",
        "send",
        "browsers_revoked",
        "recovery_codes_removed",
        "security_keys_removed",
    }
)
_FLAGS = frozenset({"was_locked", "was_enabled", "totp_removed", "replaced", "challenge_ended"})


def event_details(tag: str, raw: dict[str, str]) -> dict[str, Any]:
    """An event's details as the API and the webhooks show them: full challenge ids,
    numbers as numbers, flags as booleans."""
    details: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "challenge":
            details["challenge_id"] = f"ch_{tag}_{value}"
        elif name == "browser":
            details["browser_id"] = None if value == "*" else value
        elif name in _NUMBERS and value.lstrip("-").isdigit():
            details[name] = int(value)
        elif name in _FLAGS:
            details[name] = value == "1"
        else:
            details[name] = value
    return details


def event_document(
    *,
    event_id: str,
    account_id: str,
    tag: str,
    kind: str,
    occurred_at: float,
    ip: str,
    request_id: str,
    details: dict[str, str],
) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": kind,
        "account_id": account_id,
        "occurred_at": rfc3339(occurred_at),
        "client_ip": ip or None,
        "request_id": request_id or None,
        "details": event_details(tag, details),
    }


def body_of(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode("utf-8")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Twostep-Signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    secret: str,
    header: str,
    body: bytes,
    now: float,
    tolerance_seconds: int = SIGNATURE_TOLERANCE_SECONDS,
) -> bool:
    """What a receiver does: parse the header, check the age, compare in constant time."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    timestamp, given = parts.get("t", ""), parts.get("v1", "")
    if not timestamp.isdigit() or not given:
        return False
    if abs(now - int(timestamp)) > tolerance_seconds:
        return False
    expected = sign(secret, int(timestamp), body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, given)
