"""Every Redis key the portal uses, in its own database: sessions, preferences, the throttle.

Session ids are secrets, so keys hold their keyed digest, never the id itself.
"""

from __future__ import annotations

PREFIX = "portal"


def session(digest: str) -> str:
    return f"{PREFIX}:session:{digest}"


def account_sessions(account_id: str) -> str:
    """The set of the digests of an account's signed-in sessions."""
    return f"{PREFIX}:account-sessions:{account_id}"


def locale(account_id: str) -> str:
    """The language an account chose last (the portal's user list is read-only)."""
    return f"{PREFIX}:locale:{account_id}"


def password(account_id: str) -> str:
    """A password the user changed (its scrypt hash): it replaces the user list's."""
    return f"{PREFIX}:password:{account_id}"


# One script reads both throttle keys: a shared {hash tag} keeps them valid on Redis Cluster.
def throttle_account(email_digest: str) -> str:
    return f"{PREFIX}:{{throttle}}:account:{email_digest}"


def throttle_ip(ip: str) -> str:
    return f"{PREFIX}:{{throttle}}:ip:{ip}"
