"""Times as the HTTP API and the webhooks write them."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(epoch_seconds: float) -> str:
    """RFC 3339 UTC, whole seconds, rounded down (``2026-11-27T20:15:00Z``): right for when
    something happened or ends."""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
