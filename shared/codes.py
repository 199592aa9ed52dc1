"""Formats of codes, ids and tokens: how they are made, cleaned up and digested."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from shared.keys import account_tag

CODE_DIGITS = 6
# People paste codes from the mail as "123456", "123 456" or "123-456". Only ASCII
# digits: a full-width or other Unicode digit is not a code.
_EMAIL_CODE = re.compile(r"[0-9]{6}|[0-9]{1,5}[ -][0-9]{1,5}")
_SURROUNDING_SPACE = " \t\r\n"


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def clean_email_code(raw: str) -> str | None:
    """The six digits of what a person typed, or ``None`` when it is not a code."""
    text = raw.strip(_SURROUNDING_SPACE)
    if not _EMAIL_CODE.fullmatch(text):
        return None
    digits = text.replace(" ", "").replace("-", "")
    return digits if len(digits) == CODE_DIGITS else None


def code_digest(key: bytes, challenge_id: str, code: str) -> str:
    """HMAC-SHA256 of a code, bound to its challenge so a digest is useless elsewhere."""
    message = f"{challenge_id}\x00{code}".encode()
    return _text(hmac.new(key, message, hashlib.sha256).digest())


def _text(digest: bytes) -> str:
    """A digest as 43 URL-safe base64 characters: a third smaller in Redis than hex."""
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def new_challenge_id(account_id: str) -> str:
    return f"ch_{account_tag(account_id)}_{secrets.token_urlsafe(16)}"


def new_webauthn_challenge() -> str:
    """A WebAuthn challenge: 32 random bytes, base64url without padding."""
    return secrets.token_urlsafe(32)


def new_browser_id() -> str:
    return f"tb_{secrets.token_urlsafe(12)}"


def new_browser_token(browser_id: str) -> str:
    """A trusted-browser token: its id, a dot, and 256 random bits."""
    return f"{browser_id}.{secrets.token_urlsafe(32)}"


def browser_id_of_token(token: str) -> str | None:
    browser_id, dot, secret = token.partition(".")
    if not dot or not re.fullmatch(r"tb_[A-Za-z0-9_-]{16}", browser_id):
        return None
    if not re.fullmatch(r"[A-Za-z0-9_-]{43}", secret):
        return None
    return browser_id


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


# Recovery codes: 16 characters from 31 that cannot be confused with each other
# (no 0/o, 1/l/i), about 79 bits, printed in four groups: k7qd-3mzp-x9ta-2hfw.
RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
RECOVERY_LENGTH = 16
RECOVERY_CODES_PER_SET = 10
_RECOVERY = re.compile(f"[{RECOVERY_ALPHABET}]{{{RECOVERY_LENGTH}}}")


def new_recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, RECOVERY_LENGTH, 4))


def clean_recovery_code(typed: str) -> str | None:
    """The 16 characters of a recovery code; dashes, spaces and case do not matter."""
    text = typed.replace("-", "").replace(" ", "").strip(_SURROUNDING_SPACE)
    if not text.isascii():
        return None
    text = text.lower()
    return text if _RECOVERY.fullmatch(text) else None


def recovery_digest(key: bytes, code: str) -> str:
    return _text(hmac.new(key, f"recovery\x00{code}".encode(), hashlib.sha256).digest())


# Quotes around a local part, or around an address in a Python repr: never its first letter.
_QUOTES = "\"'`"


def mask_email(address: str) -> str:
    """``ada@example.com`` -> ``a**@example.com``: enough for a person to recognise it.

    At most one character of the local part is shown, whatever its script; a quoted local
    part (``"jörg müller"@example.com``) shows its first character inside the quotes. The
    domain is kept: it says which mail provider a failure is about."""
    local, at, domain = address.rpartition("@")
    if not at:
        return "**"
    return f"{local.lstrip(_QUOTES)[:1]}**@{domain}"
