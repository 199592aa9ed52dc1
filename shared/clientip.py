"""The end user's IP address as twostep takes and keeps it: plain, in one spelling."""

from __future__ import annotations

import ipaddress

# The longest plain address: "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255".
MAX_LENGTH = 45


def plain_ip(value: str) -> str | None:
    """A plain IPv4 or IPv6 address as one spelling (IPv6 compressed and lower case, an
    IPv4-mapped IPv6 address as its IPv4 address), or None for anything else.

    ``ipaddress`` also takes an IPv6 zone id, "fe80::1%" and any text after it, of any length:
    the caller's text would reach emails, records, the audit trail and webhooks."""
    if len(value) > MAX_LENGTH or "%" in value:
        return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)
