"""Keys derived from ``TWOSTEP_SECRET_KEY``; AES-GCM sealing of what crosses the broker."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.errors import TwostepError


class SealError(TwostepError):
    """A sealed value could not be opened: wrong key, tampered, or malformed."""


def derive_key(secret: str, purpose: str) -> bytes:
    """A 256-bit key for one purpose; keys for different purposes are independent."""
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"twostep",
        info=f"twostep/{purpose}/v1".encode(),
    ).derive(secret.encode("utf-8"))


class Sealer:
    """Encrypts small values with AES-GCM; the output names the key that sealed it.

    The first secret seals; every secret opens what it sealed, so a new
    ``TWOSTEP_SECRET_KEY`` can be rolled out while the old one is kept in
    ``TWOSTEP_PREVIOUS_SECRET_KEYS`` until nothing sealed with it is left.
    """

    def __init__(self, secret: str, purpose: str = "seal", previous: tuple[str, ...] = ()) -> None:
        self._keys: dict[str, AESGCM] = {}
        for each in (secret, *previous):
            key = derive_key(each, purpose)
            key_id = hmac.new(key, b"key-id", hashlib.sha256).hexdigest()[:8]
            self._keys.setdefault(key_id, AESGCM(key))
        self.key_id = next(iter(self._keys))

    def is_current(self, token: str) -> bool:
        """Whether ``token`` was sealed with the current key (not a previous one)."""
        return token.partition(".")[0] == self.key_id

    def seal(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._keys[self.key_id].encrypt(
            nonce, plaintext.encode("utf-8"), context.encode("utf-8")
        )
        body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
        return f"{self.key_id}.{body}"

    def open(self, token: str, context: str) -> str:
        key_id, _, body = token.partition(".")
        aead = self._keys.get(key_id)
        if aead is None:
            raise SealError("sealed with an unknown key")
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            plain = aead.decrypt(raw[:12], raw[12:], context.encode("utf-8"))
        except (ValueError, InvalidTag):
            raise SealError("sealed value is damaged or bound to another context") from None
        return plain.decode("utf-8")
