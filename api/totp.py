"""Time-based one-time passwords (RFC 6238: SHA-1, 6 digits, 30 s), on top of pyotp."""

from __future__ import annotations

import base64
import hmac
import re
import secrets

import pyotp

DIGITS = 6
STEP_SECONDS = 30
SECRET_BYTES = 20  # 160 bits, as RFC 4226 recommends
# Codes of the current step and this many either side are accepted (a clock off by up to a
# step); api/guessing.py counts a wrong code as one failure per step checked.
WINDOW_STEPS = 1
_CODE = re.compile(r"[0-9]{6}")


def new_secret() -> str:
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def provisioning_uri(secret: str, account_label: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account_label, issuer_name=issuer
    )


def code_at(secret: str, epoch_seconds: float, digits: int = DIGITS) -> str:
    return pyotp.TOTP(secret, digits=digits, interval=STEP_SECONDS).at(int(epoch_seconds))


def step_of(epoch_seconds: float) -> int:
    return int(epoch_seconds // STEP_SECONDS)


def clean_code(raw: str) -> str | None:
    """Six ASCII digits, surrounding white space allowed; anything else is not a code."""
    text = raw.strip(" \t\r\n")
    return text if _CODE.fullmatch(text) else None


def matching_step(secret: str, code: str, now: float, window: int = WINDOW_STEPS) -> int | None:
    """The time step (within ``window`` steps of now) whose code is ``code``, or None.

    Every candidate is computed and compared in constant time, so the answer's timing
    says nothing about which step matched or how close a guess was.
    """
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = step_of(now)
    found: int | None = None
    for step in range(current - window, current + window + 1):
        expected = totp.generate_otp(step)
        if hmac.compare_digest(expected.encode(), code.encode()):
            found = step
    return found
