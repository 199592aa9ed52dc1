"""A software WebAuthn authenticator, so passkey and security-key ceremonies run in tests.

Testing the service's WebAuthn endpoints otherwise needs a browser and a real authenticator
(or a browser's virtual one over CDP). ``SoftAuthenticator`` plays both parts instead: it takes
the options the service sends, in the WebAuthn Level 3 JSON form (what ``options_to_json``
from py_webauthn writes and what ``PublicKeyCredential.parseCreationOptionsFromJSON()`` reads),
and answers with the JSON a browser's ``navigator.credentials.create()`` / ``.get()`` gives from
``.toJSON()``. The bytes are built as the specification lays them out (authenticator data, the
CBOR attestation object, COSE keys, signatures over authenticatorData || SHA-256(clientDataJSON)),
not borrowed from the verifier under test, so a test that passes shows the service reads what
real authenticators send.

It is honest by default and hostile on request: ``origin``, ``rp_id``, ``challenge`` and
``client_data_type`` put other values into what it signs, ``set_sign_count`` rewinds or jumps a
counter (a cloned key), ``user_verifying=False`` leaves the UV flag off even when the options
require it (a real browser would refuse; the service must not rely on that), and the backup
flags can be set in combinations the specification forbids. What it never does is sign with a
key it does not hold: every response verifies against the public key it registered.

Attestation is always "none" (attStmt {}), which is what the service asks for and what most
passkey providers send anyway.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

Algorithm = Literal["ES256", "EdDSA", "RS256"]
PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey

# COSE algorithm identifiers (IANA "COSE Algorithms"), as pubKeyCredParams[].alg names them.
COSE_ALGORITHMS: dict[Algorithm, int] = {"ES256": -7, "EdDSA": -8, "RS256": -257}

# Authenticator data flags (WebAuthn §6.1).
FLAG_UP = 0x01  # user present
FLAG_UV = 0x04  # user verified
FLAG_BE = 0x08  # backup eligible: the credential may be synced (a "multi-device" passkey)
FLAG_BS = 0x10  # backup state: it is synced now
FLAG_AT = 0x40  # attested credential data follows

# When pubKeyCredParams is empty the client must offer these (WebAuthn §5.1.3, step 10).
_DEFAULT_COSE_ALGORITHMS = (-7, -257)


class SoftAuthnError(Exception):
    """Something a real authenticator or browser would refuse to do for these options."""


class CredentialExcluded(SoftAuthnError):
    """create(): excludeCredentials names a credential this authenticator already holds.

    A browser reports this as an InvalidStateError, after the user touches the key.
    """


class NoCredential(SoftAuthnError):
    """get(): none of this authenticator's credentials fits the request."""


class AlgorithmNotOffered(SoftAuthnError):
    """create(): the options' pubKeyCredParams do not include this authenticator's algorithm.

    A browser tries another authenticator or fails with NotSupportedError.
    """


def b64url(data: bytes) -> str:
    """Base64url without padding, as WebAuthn's JSON forms write every binary value."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def unb64url(text: str) -> bytes:
    """Decode base64url, with or without padding; any character outside the alphabet raises.

    ``base64.urlsafe_b64decode`` would quietly drop stray characters, which in a test hides a
    value that is not base64url at all.
    """
    if "+" in text or "/" in text:  # b64decode would take them, as standard base64
        raise ValueError(f"not base64url: {text!r}")
    unpadded = text.rstrip("=")
    return base64.b64decode(unpadded + "=" * (-len(unpadded) % 4), altchars=b"-_", validate=True)


@dataclass
class SoftCredential:
    """One credential (key pair) this authenticator made, and what it remembers about it."""

    credential_id: bytes
    private_key: PrivateKey
    algorithm: Algorithm
    rp_id: str
    user_handle: bytes
    sign_count: int
    discoverable: bool

    def cose_public_key(self) -> bytes:
        """The public key as a CBOR-encoded COSE_Key, as attested credential data carries it."""
        return cbor2.dumps(_cose_key(self.private_key, self.algorithm), canonical=True)

    def spki_public_key(self) -> bytes:
        """The public key as DER SubjectPublicKeyInfo (the L3 JSON's response.publicKey)."""
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, data: bytes) -> bytes:
        """Sign as the credential's algorithm says (ECDSA signatures are ASN.1 DER)."""
        key = self.private_key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(hashes.SHA256()))
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return key.sign(data)
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


class SoftAuthenticator:
    """An authenticator and the browser in front of it, in one object, for tests.

    ``algorithm``: the one key type it makes ("ES256" P-256, "EdDSA" Ed25519, "RS256" RSA 2048).
    ``aaguid``: the 16-byte model identifier put in attested credential data.
    ``user_verifying``: whether it sets UV (a PIN or biometric was checked). With False it
    still answers when the options require verification, so the service's own check is tested.
    ``counts_signatures``: True, each assertion adds 1 to the credential's counter (a security
    key); False, the counter is always 0 (as synced passkeys report it).
    ``backup_eligible`` / ``backed_up``: the BE and BS flags. BS without BE is invalid per the
    specification, and allowed here on purpose.
    ``transports``: reported at registration; "internal" among them makes the attachment
    "platform", otherwise "cross-platform".
    ``discoverable``: whether credentials are client-side discoverable (resident). None follows
    the options: residentKey "required" or "preferred" (or requireResidentKey) gives one.
    """

    def __init__(
        self,
        *,
        algorithm: Algorithm = "ES256",
        aaguid: bytes = bytes(16),
        user_verifying: bool = True,
        counts_signatures: bool = True,
        backup_eligible: bool = False,
        backed_up: bool = False,
        transports: Sequence[str] = ("internal",),
        discoverable: bool | None = None,
    ) -> None:
        if algorithm not in COSE_ALGORITHMS:
            raise ValueError(f"unknown algorithm {algorithm!r}, expected one of ES256 EdDSA RS256")
        if len(aaguid) != 16:
            raise ValueError("an AAGUID is 16 bytes")
        self.algorithm: Algorithm = algorithm
        self.aaguid = aaguid
        self.user_verifying = user_verifying
        self.counts_signatures = counts_signatures
        self.backup_eligible = backup_eligible
        self.backed_up = backed_up
        self.transports = list(transports)
        self.discoverable = discoverable
        self._credentials: dict[bytes, SoftCredential] = {}

    @property
    def credentials(self) -> list[SoftCredential]:
        """The credentials it holds, oldest first."""
        return list(self._credentials.values())

    @property
    def attachment(self) -> str:
        return "platform" if "internal" in self.transports else "cross-platform"

    def credential(self, credential_id: bytes) -> SoftCredential:
        try:
            return self._credentials[credential_id]
        except KeyError:
            raise NoCredential(f"no credential {b64url(credential_id)}") from None

    def set_sign_count(self, credential_id: bytes, count: int) -> None:
        """Set a credential's counter; the next assertion reports count + 1 (or count, when the
        authenticator does not count). Rewinding it is what a cloned key looks like.
        """
        if not 0 <= count < 2**32:
            raise ValueError("a sign count is an unsigned 32-bit number")
        self.credential(credential_id).sign_count = count

    def create(
        self,
        options: Mapping[str, Any],
        origin: str,
        *,
        rp_id: str | None = None,
        challenge: bytes | None = None,
        client_data_type: str = "webauthn.create",
    ) -> dict[str, Any]:
        """Register a new credential: ``navigator.credentials.create()`` then ``.toJSON()``.

        ``options`` is PublicKeyCredentialCreationOptionsJSON. ``rp_id`` replaces the options'
        rp.id as the RP ID the authenticator is told (it is hashed into the authenticator data
        and scopes the new credential); ``challenge`` and ``client_data_type`` replace what goes
        into clientDataJSON. Returns RegistrationResponseJSON.
        """
        effective_rp_id = rp_id or options["rp"].get("id") or _host(origin)
        offered = [int(param["alg"]) for param in options.get("pubKeyCredParams") or []]
        if COSE_ALGORITHMS[self.algorithm] not in (offered or _DEFAULT_COSE_ALGORITHMS):
            raise AlgorithmNotOffered(
                f"{self.algorithm} ({COSE_ALGORITHMS[self.algorithm]}) not in {offered}"
            )
        for descriptor in options.get("excludeCredentials") or []:
            held = self._credentials.get(unb64url(descriptor["id"]))
            if held is not None and held.rp_id == effective_rp_id:
                raise CredentialExcluded(f"already registered: {descriptor['id']}")

        user_handle = unb64url(options["user"]["id"])
        discoverable = self._wants_discoverable(options.get("authenticatorSelection") or {})
        if discoverable:
            # An authenticator keeps one discoverable credential per RP and user handle: a new
            # one for the same account overwrites the old (CTAP 2.1 authenticatorMakeCredential).
            for old in self.credentials:
                if old.discoverable and (old.rp_id, old.user_handle) == (
                    effective_rp_id,
                    user_handle,
                ):
                    del self._credentials[old.credential_id]

        credential = SoftCredential(
            credential_id=secrets.token_bytes(16 + secrets.randbelow(17)),
            private_key=_generate_key(self.algorithm),
            algorithm=self.algorithm,
            rp_id=effective_rp_id,
            user_handle=user_handle,
            sign_count=0,
            discoverable=discoverable,
        )
        self._credentials[credential.credential_id] = credential

        cose_key = credential.cose_public_key()
        attested_credential_data = (
            self.aaguid
            + struct.pack(">H", len(credential.credential_id))
            + credential.credential_id
            + cose_key
        )
        authenticator_data = (
            self._authenticator_data(effective_rp_id, FLAG_AT, credential.sign_count)
            + attested_credential_data
        )
        attestation_object = cbor2.dumps(
            {"fmt": "none", "attStmt": {}, "authData": authenticator_data}, canonical=True
        )
        client_data_json = _client_data_json(
            client_data_type,
            challenge if challenge is not None else unb64url(options["challenge"]),
            origin,
        )
        return {
            "id": b64url(credential.credential_id),
            "rawId": b64url(credential.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data_json),
                "attestationObject": b64url(attestation_object),
                "authenticatorData": b64url(authenticator_data),
                "transports": list(self.transports),
                "publicKey": b64url(credential.spki_public_key()),
                "publicKeyAlgorithm": COSE_ALGORITHMS[self.algorithm],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": self.attachment,
        }

    def get(
        self,
        options: Mapping[str, Any],
        origin: str,
        *,
        rp_id: str | None = None,
        credential_id: bytes | None = None,
        challenge: bytes | None = None,
        client_data_type: str = "webauthn.get",
    ) -> dict[str, Any]:
        """Sign in with a credential: ``navigator.credentials.get()`` then ``.toJSON()``.

        ``options`` is PublicKeyCredentialRequestOptionsJSON. The credential is the first of
        this authenticator's listed in allowCredentials for the RP ID, or, with allowCredentials
        empty, the newest discoverable one for the RP ID. ``credential_id`` picks one outright,
        listed or not and whatever its RP (for tests that present the wrong credential).
        ``rp_id`` replaces the options' rpId; ``challenge`` and ``client_data_type`` replace
        what goes into clientDataJSON. Returns AuthenticationResponseJSON; userHandle is there
        only for a discoverable credential, as authenticators return it.
        """
        effective_rp_id = rp_id or options.get("rpId") or _host(origin)
        credential = (
            self.credential(credential_id)
            if credential_id is not None
            else self._pick(options.get("allowCredentials") or [], effective_rp_id)
        )
        if self.counts_signatures:
            credential.sign_count = (credential.sign_count + 1) % 2**32

        authenticator_data = self._authenticator_data(effective_rp_id, 0, credential.sign_count)
        client_data_json = _client_data_json(
            client_data_type,
            challenge if challenge is not None else unb64url(options["challenge"]),
            origin,
        )
        signature = credential.sign(authenticator_data + hashlib.sha256(client_data_json).digest())
        response: dict[str, Any] = {
            "clientDataJSON": b64url(client_data_json),
            "authenticatorData": b64url(authenticator_data),
            "signature": b64url(signature),
        }
        if credential.discoverable:
            response["userHandle"] = b64url(credential.user_handle)
        return {
            "id": b64url(credential.credential_id),
            "rawId": b64url(credential.credential_id),
            "type": "public-key",
            "response": response,
            "clientExtensionResults": {},
            "authenticatorAttachment": self.attachment,
        }

    def _pick(self, allow: Sequence[Mapping[str, Any]], rp_id: str) -> SoftCredential:
        if allow:
            for descriptor in allow:
                held = self._credentials.get(unb64url(descriptor["id"]))
                if held is not None and held.rp_id == rp_id:
                    return held
            raise NoCredential(f"none of allowCredentials is held here for {rp_id}")
        for held in reversed(self.credentials):
            if held.discoverable and held.rp_id == rp_id:
                return held
        raise NoCredential(f"no discoverable credential for {rp_id}")

    def _wants_discoverable(self, selection: Mapping[str, Any]) -> bool:
        if self.discoverable is not None:
            return self.discoverable
        resident_key = selection.get("residentKey")
        if resident_key is None:  # WebAuthn §5.4.4: then requireResidentKey decides
            return bool(selection.get("requireResidentKey", False))
        return resident_key in ("required", "preferred")

    def _authenticator_data(self, rp_id: str, extra_flags: int, sign_count: int) -> bytes:
        flags = FLAG_UP | extra_flags
        if self.user_verifying:
            flags |= FLAG_UV
        if self.backup_eligible:
            flags |= FLAG_BE
        if self.backed_up:
            flags |= FLAG_BS
        rp_id_hash = hashlib.sha256(rp_id.encode("utf-8")).digest()
        return rp_id_hash + bytes([flags]) + struct.pack(">I", sign_count)


def _host(origin: str) -> str:
    """The RP ID a browser uses when the options name none: the origin's host."""
    host = urlsplit(origin).hostname
    if not host:
        raise ValueError(f"no host in origin {origin!r}")
    return host


def _client_data_json(client_data_type: str, challenge: bytes, origin: str) -> bytes:
    # Browsers serialize these members first, in this order, without spaces (WebAuthn §5.8.1.1).
    return json.dumps(
        {
            "type": client_data_type,
            "challenge": b64url(challenge),
            "origin": origin,
            "crossOrigin": False,
        },
        separators=(",", ":"),
    ).encode("utf-8")


def _generate_key(algorithm: Algorithm) -> PrivateKey:
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _cose_key(private_key: PrivateKey, algorithm: Algorithm) -> dict[int, Any]:
    """COSE_Key map (RFC 9053 / RFC 8230): 1 kty, 3 alg, then the key type's parameters."""
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        numbers = private_key.public_key().public_numbers()
        # kty EC2, crv P-256, x and y as 32-byte big-endian coordinates
        return {
            1: 2,
            3: COSE_ALGORITHMS[algorithm],
            -1: 1,
            -2: numbers.x.to_bytes(32, "big"),
            -3: numbers.y.to_bytes(32, "big"),
        }
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        # kty OKP, crv Ed25519, x the 32-byte public key
        return {1: 1, 3: COSE_ALGORITHMS[algorithm], -1: 6, -2: raw}
    rsa_numbers = private_key.public_key().public_numbers()
    # kty RSA, n the modulus and e the exponent, big-endian without leading zero bytes
    return {
        1: 3,
        3: COSE_ALGORITHMS[algorithm],
        -1: rsa_numbers.n.to_bytes((rsa_numbers.n.bit_length() + 7) // 8, "big"),
        -2: rsa_numbers.e.to_bytes((rsa_numbers.e.bit_length() + 7) // 8, "big"),
    }
