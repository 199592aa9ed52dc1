"""Password hashes: scrypt, encoded as ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>``.

Run ``python -m examples.portal.passwords 'secret'`` to print a hash for ``PORTAL_USERS``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import sys

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
# scrypt needs 128 * n * r bytes; leave room for the largest cost we accept in a stored hash.
_MAXMEM = 128 * 2**17 * 8 * 2
_MAX_N = 2**17

# A hash of a random password nobody knows: checked against when the email is unknown, so a
# wrong email costs the same time as a wrong password.
_DECOY = "scrypt$16384$8$1$o/VgX8MV2lLORKEFjNfV2g==$5WLOUaa3SMASWOIkDDtej5qOBb1AiVmMm5pbhBRVlB0="


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=length
    )


def hash_password(password: str) -> str:
    """A new hash of ``password`` with a random salt and the current cost."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, HASH_BYTES)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def check_hash_format(encoded: str) -> str:
    """``encoded`` itself if it is a hash this module can check, else ``ValueError``."""
    _parse(encoded)
    return encoded


def _parse(encoded: str) -> tuple[int, int, int, bytes, bytes]:
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        parsed = (
            int(n),
            int(r),
            int(p),
            base64.b64decode(salt, validate=True),
            base64.b64decode(digest, validate=True),
        )
    except ValueError:
        raise ValueError("not a scrypt$n$r$p$salt$hash password hash") from None
    n_, r_, p_, salt_, digest_ = parsed
    if scheme != "scrypt" or not (1 < n_ <= _MAX_N) or n_ & (n_ - 1) or not (0 < r_ <= 16):
        raise ValueError("unsupported scrypt parameters")
    if not (0 < p_ <= 4) or not salt_ or len(digest_) < 16:
        raise ValueError("unsupported scrypt parameters")
    return parsed


def verify_password(password: str, encoded: str | None) -> bool:
    """Whether ``password`` matches ``encoded``; ``None`` (no such user) costs as much, fails."""
    n, r, p, salt, expected = _parse(encoded or _DECOY)
    actual = _scrypt(password, salt, n, r, p, len(expected))
    return hmac.compare_digest(actual, expected) and encoded is not None


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0]:
        print("usage: python -m examples.portal.passwords 'password'", file=sys.stderr)
        return 2
    print(hash_password(argv[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
