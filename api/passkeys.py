"""Security keys and passkeys (WebAuthn): adding, listing, renaming and removing an account's
keys, and checking a key's answer to a sign-in challenge.

The ceremony checks (CBOR, COSE keys, signatures, origins, the relying party's hash, flags)
are py_webauthn's; this module holds what twostep decides: which challenge an answer must
be for, which keys are the account's, and what is kept of them. The signature counter is
compared in the verify script, atomically with the attempt it counts (``verify.lua``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import (
    InvalidAttestationObjectStructure,
    InvalidAuthenticatorDataStructure,
    InvalidCBORData,
    InvalidJSONStructure,
    WebAuthnException,
)
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from api.audit import AuditTrail
from api.outbox import Outbox, Seen
from api.outcomes import InvalidCodeFormat
from api.passkey_store import PasskeyStore, StoredKey
from api.schemas import Client, SecurityKeyView, WebauthnRegistration
from api.store import Assertion, Store
from shared import results as r
from shared.clock import Clock
from shared.errors import (
    AccountNotFound,
    RegistrationNotFound,
    SecurityKeyExists,
    SecurityKeyLimit,
    SecurityKeyNotFound,
    WebauthnNotConfigured,
    WebauthnRefused,
)
from shared.jobs import NOTICE_WEBAUTHN_ADDED, NOTICE_WEBAUTHN_REMOVED
from shared.keys import account_tag
from shared.settings import Settings, UserVerification
from shared.times import rfc3339

log = logging.getLogger("twostep.api")

MAX_KEYS = 10
# How long the browser's "add a key" prompt may take, and its registration is kept.
REGISTRATION_SECONDS = 300
# How long the browser's sign-in prompt waits for a key (the challenge lives longer).
SIGN_IN_TIMEOUT_MS = 120_000
_TRANSPORTS = frozenset(t.value for t in AuthenticatorTransport)
# Answers that are not WebAuthn at all (bad JSON, CBOR, base64, structure): a 422, not counted.
_MALFORMED = (
    InvalidJSONStructure,
    InvalidCBORData,
    InvalidAuthenticatorDataStructure,
    InvalidAttestationObjectStructure,
)


def _malformed(exc: BaseException) -> bool:
    """Whether a refusal is about the answer's form (bad base64, CBOR, JSON, structure),
    not what it says: py_webauthn wraps those too, the decoder's error as the cause."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, _MALFORMED):
            return True
        if isinstance(seen, ValueError | TypeError | KeyError | IndexError) and not isinstance(
            seen, WebAuthnException
        ):
            return True
        seen = seen.__cause__
    return False


def key_id_of(credential_id: str) -> str:
    """The short id the API and the audit trail name a key by: credential ids run to
    hundreds of characters, and say nothing a URL needs."""
    digest = hashlib.sha256(credential_id.encode()).digest()
    return "sk_" + bytes_to_base64url(digest)[:16]


def transports_of(credential: dict[str, Any]) -> list[str]:
    """The transports a browser reported for a new key, those WebAuthn knows, in order."""
    response = credential.get("response")
    found = response.get("transports") if isinstance(response, dict) else None
    if not isinstance(found, list):
        return []
    return sorted({t for t in found if isinstance(t, str) and t in _TRANSPORTS})


def credential_id_of(credential: dict[str, Any]) -> str:
    """The credential id an answer names (``rawId``, else ``id``), re-encoded without
    padding as the keys are stored; "" when it names none that decodes."""
    raw = credential.get("rawId", credential.get("id"))
    if not isinstance(raw, str) or not raw or len(raw) > 2048:
        return ""
    try:
        return bytes_to_base64url(base64url_to_bytes(raw))
    except (ValueError, TypeError):
        return ""


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What is kept of a key beside its credential id (JSON in Redis)."""

    name: str
    public_key: str  # COSE, base64url
    transports: list[str]
    created_at: float
    synced: bool  # a passkey its provider syncs across devices (backup eligible)

    def dumps(self) -> str:
        return json.dumps(
            {"name": self.name, "public_key": self.public_key, "transports": self.transports,
             "created_at": self.created_at, "synced": self.synced},
            separators=(",", ":"),
        )  # fmt: skip

    @classmethod
    def loads(cls, text: str) -> KeyRecord:
        data = json.loads(text)
        return cls(
            name=str(data["name"]),
            public_key=str(data["public_key"]),
            transports=[str(t) for t in data.get("transports", [])],
            created_at=float(data["created_at"]),
            synced=bool(data.get("synced", False)),
        )


class Passkeys:
    """The WebAuthn use cases of the API."""

    def __init__(
        self, settings: Settings, store: Store, outbox: Outbox, trail: AuditTrail, clock: Clock
    ) -> None:
        self.settings = settings
        self.keys = PasskeyStore(store)
        self.outbox = outbox
        self.trail = trail
        self.clock = clock
        self.origins = list(settings.webauthn_origins)
        self.user_verification = UserVerificationRequirement(
            settings.webauthn_user_verification.value
        )
        self.require_user_verification = (
            settings.webauthn_user_verification is UserVerification.REQUIRED
        )

    @property
    def rp_id(self) -> str:
        if self.settings.webauthn_rp_id is None:
            raise WebauthnNotConfigured()
        return self.settings.webauthn_rp_id

    # Adding a key

    async def begin(self, account_id: str) -> WebauthnRegistration:
        rp_id = self.rp_id
        registration_id = "wr_" + secrets.token_urlsafe(16)
        challenge = secrets.token_bytes(32)
        begun = await self.keys.begin(
            account_id,
            registration_id,
            bytes_to_base64url(secrets.token_bytes(32)),
            bytes_to_base64url(challenge),
            REGISTRATION_SECONDS,
            MAX_KEYS,
        )
        if isinstance(begun, r.NotFound):
            raise AccountNotFound()
        if isinstance(begun, r.TooManyKeys):
            raise SecurityKeyLimit()
        existing = [i for i in begun.key_ids.split(",") if i]
        options = generate_registration_options(
            rp_id=rp_id,
            rp_name=self.settings.webauthn_rp_name,
            user_id=base64url_to_bytes(begun.user_handle),
            user_name=begun.email,
            user_display_name=begun.email,
            challenge=challenge,
            timeout=REGISTRATION_SECONDS * 1000,
            attestation=AttestationConveyancePreference.NONE,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=self.user_verification,
            ),
            exclude_credentials=[
                PublicKeyCredentialDescriptor(id=base64url_to_bytes(i)) for i in existing
            ],
        )
        return WebauthnRegistration(
            registration_id=registration_id,
            expires_at=rfc3339(self.clock() + REGISTRATION_SECONDS),
            public_key=json.loads(options_to_json(options)),
        )

    async def finish(
        self,
        account_id: str,
        registration_id: str,
        name: str,
        credential: dict[str, Any],
        client: Client | None,
    ) -> SecurityKeyView:
        rp_id = self.rp_id
        name = name.strip()
        taken = await self.keys.take(account_id, registration_id)
        if isinstance(taken, r.NotFound):
            raise RegistrationNotFound()
        try:
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=base64url_to_bytes(taken.challenge),
                expected_rp_id=rp_id,
                expected_origin=self.origins,
                require_user_verification=self.require_user_verification,
            )
        except (WebAuthnException, ValueError, TypeError, KeyError, IndexError) as exc:
            if _malformed(exc):
                raise InvalidCodeFormat(_what(exc, "registration"), "credential") from None
            raise WebauthnRefused(str(exc).split(". See")[0].rstrip(".")) from None
        now = self.clock()
        credential_id = bytes_to_base64url(verified.credential_id)
        record = KeyRecord(
            name=name,
            public_key=bytes_to_base64url(verified.credential_public_key),
            transports=transports_of(credential),
            created_at=now,
            synced=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        )
        key_id = key_id_of(credential_id)
        seen = Seen.of(client)
        stored = StoredKey(credential_id, record.dumps(), f"{verified.sign_count}||"
                           + "+".join(record.transports))  # fmt: skip
        added = await self.keys.add(
            account_id, stored, key_id, MAX_KEYS, now, self.trail.entry(now, seen)
        )
        if isinstance(added, r.NotFound):
            raise AccountNotFound()
        if isinstance(added, r.KeyExists):
            raise SecurityKeyExists()
        if isinstance(added, r.TooManyKeys):
            raise SecurityKeyLimit()
        await self.outbox.notice(NOTICE_WEBAUTHN_ADDED, account_id, now, seen, {"name": name})
        await self.trail.recorded(account_tag(account_id), now)
        return _view(key_id, record, "")

    # The account's keys

    async def list(self, account_id: str) -> list[SecurityKeyView]:
        views = []
        for key in await self.keys.keys(account_id):
            record = KeyRecord.loads(key.record)
            views.append((record.created_at, _view(key_id_of(key.credential_id), record, key.use)))
        return [view for _, view in sorted(views, key=lambda item: item[0])]

    async def _find(self, account_id: str, key_id: str) -> StoredKey:
        for key in await self.keys.keys(account_id):
            if key_id_of(key.credential_id) == key_id:
                return key
        raise SecurityKeyNotFound()

    async def rename(self, account_id: str, key_id: str, name: str) -> SecurityKeyView:
        key = await self._find(account_id, key_id)
        old = KeyRecord.loads(key.record)
        record = KeyRecord(name.strip(), old.public_key, old.transports, old.created_at, old.synced)
        if not await self.keys.rename(account_id, key.credential_id, record.dumps()):
            raise SecurityKeyNotFound()
        return _view(key_id, record, key.use)

    async def remove(self, account_id: str, key_id: str, client: Client | None) -> None:
        key = await self._find(account_id, key_id)
        now = self.clock()
        seen = Seen.of(client)
        name = KeyRecord.loads(key.record).name
        if not await self.keys.remove(
            account_id, key.credential_id, key_id, now, self.trail.entry(now, seen)
        ):
            raise SecurityKeyNotFound()
        await self.outbox.notice(NOTICE_WEBAUTHN_REMOVED, account_id, now, seen, {"name": name})
        await self.trail.recorded(account_tag(account_id), now)

    # Signing in

    def request_options(self, challenge: str, keys: str) -> dict[str, Any] | None:
        """The browser's ``navigator.credentials.get()`` options for a challenge whose account
        has keys (``keys``: "<credential id>=<transports>" comma separated, login.lua)."""
        if not keys or self.settings.webauthn_rp_id is None:
            return None
        allowed = []
        for entry in keys.split(","):
            credential_id, _, transports = entry.partition("=")
            allowed.append(
                PublicKeyCredentialDescriptor(
                    id=base64url_to_bytes(credential_id),
                    transports=[AuthenticatorTransport(t) for t in transports.split("+") if t],
                )
            )
        options = generate_authentication_options(
            rp_id=self.settings.webauthn_rp_id,
            challenge=base64url_to_bytes(challenge),
            timeout=SIGN_IN_TIMEOUT_MS,
            allow_credentials=allowed,
            user_verification=self.user_verification,
        )
        parsed: dict[str, Any] = json.loads(options_to_json(options))
        return parsed

    async def assertion(self, challenge_id: str, credential: dict[str, Any]) -> Assertion:
        """What a key's answer to a challenge is found to be. Anything wrong with what it
        says (another origin, site or challenge, a bad signature, a key the account does not
        have) gives a sign count of -1: the verify script counts it as a wrong code. An
        answer that is not WebAuthn at all is a 422."""
        credential_id = credential_id_of(credential)
        if not credential_id:
            raise InvalidCodeFormat("not a WebAuthn answer: no credential id", "credential")
        challenge, record = await self.keys.of_challenge(challenge_id, credential_id)
        failed = Assertion(credential_id, -1, challenge)
        if not challenge or not record or self.settings.webauthn_rp_id is None:
            return failed  # the script says which: no such challenge, no key, a wrong key
        try:
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=base64url_to_bytes(challenge),
                expected_rp_id=self.settings.webauthn_rp_id,
                expected_origin=self.origins,
                credential_public_key=base64url_to_bytes(KeyRecord.loads(record).public_key),
                # The counter is compared in verify.lua, with the attempt: never refused here.
                credential_current_sign_count=0,
                require_user_verification=self.require_user_verification,
            )
        except (WebAuthnException, ValueError, TypeError, KeyError, IndexError) as exc:
            if _malformed(exc):
                raise InvalidCodeFormat(_what(exc, "answer"), "credential") from None
            log.info("security key answer refused: %s", exc)
            return failed
        return Assertion(credential_id, verified.new_sign_count, challenge)


def _what(exc: BaseException, what: str) -> str:
    """A malformed answer's message: py_webauthn's words, without its pointer to __cause__."""
    said = str(exc).split(". See")[0].rstrip(".") if isinstance(exc, WebAuthnException) else ""
    return f"not a WebAuthn {what}" + (f": {said}" if said else f" ({type(exc).__name__})")


def _view(key_id: str, record: KeyRecord, use: str) -> SecurityKeyView:
    last_used = use.split("|")[1] if use.count("|") >= 2 else ""
    return SecurityKeyView(
        key_id=key_id,
        name=record.name,
        created_at=rfc3339(record.created_at),
        last_used_at=rfc3339(float(last_used)) if last_used else None,
        transports=record.transports,
        synced=record.synced,
    )
