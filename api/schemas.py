"""The JSON bodies of the HTTP API, as pydantic models (they also make ``/openapi.json``)."""

from __future__ import annotations

import math
import zoneinfo
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    StrictStr,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from shared.clientip import MAX_LENGTH as MAX_IP_LENGTH
from shared.clientip import plain_ip
from shared.locales import DEFAULT_LOCALE, supported_locale
from shared.times import rfc3339

# Printable text on one line: no control characters or Unicode line breaks, so nothing
# can reach a mail header.
_ONE_LINE = r"^[^\x00-\x1f\x7f\x85\u2028\u2029]*$"
UserAgent = Annotated[str, StringConstraints(max_length=512, pattern=_ONE_LINE)]


def _ip_address(value: str) -> str:
    """A plain IPv4 or IPv6 address, kept in one spelling (shared/clientip.py)."""
    address = plain_ip(value)
    if address is None:
        raise ValueError("must be an IPv4 or IPv6 address")
    return address


# A string only: pydantic's own IP type would also take a number, or even `false`.
IpAddress = Annotated[
    StrictStr,
    AfterValidator(_ip_address),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": MAX_IP_LENGTH,
            "pattern": "^[0-9A-Fa-f:.]+$",
            "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}],
        }
    ),
]

# What each method's code looks like, for the schema; shared/codes.py and api/totp.py
# decide. Email: six digits, one space or hyphen allowed inside. Recovery: 16 characters
# of the recovery alphabet, any case, spaces and hyphens anywhere.
_WS = "[ \\t\\r\\n]*"
EMAIL_CODE_PATTERN = (
    f"^{_WS}(?:[0-9]{{6}}|[0-9][ -][0-9]{{5}}|[0-9]{{2}}[ -][0-9]{{4}}|[0-9]{{3}}[ -][0-9]{{3}}"
    f"|[0-9]{{4}}[ -][0-9]{{2}}|[0-9]{{5}}[ -][0-9]){_WS}$"
)
TOTP_CODE_PATTERN = f"^{_WS}[0-9]{{6}}{_WS}$"
_RECOVERY_CHAR = "[2-9a-hjkmnp-zA-HJKMNP-Z]"
RECOVERY_CODE_PATTERN = (
    f"^[ \\t\\r\\n-]*(?:{_RECOVERY_CHAR}[ -]*){{15}}{_RECOVERY_CHAR}[ \\t\\r\\n-]*$"
)


def _code_by_method(schema: dict[str, Any]) -> None:
    """Tell the schema which code shape each method takes (JSON Schema if/then), and that
    the code and the credential are left out, never null, where a method takes none."""
    for name in ("code", "credential"):
        field = schema["properties"][name]
        given = [branch for branch in field.pop("anyOf", []) if branch.get("type") != "null"]
        field.pop("default", None)
        if given:
            field.update(given[0])
    schema["allOf"] = [
        {
            "if": {"properties": {"method": {"const": method}}, "required": ["method"]},
            "then": {"properties": {"code": {"pattern": pattern}}},
        }
        for method, pattern in (
            ("totp", TOTP_CODE_PATTERN),
            ("recovery_code", RECOVERY_CODE_PATTERN),
        )
    ] + [
        {
            "if": {
                "anyOf": [
                    {"not": {"required": ["method"]}},
                    {"properties": {"method": {"const": "email"}}, "required": ["method"]},
                ]
            },
            "then": {"properties": {"code": {"pattern": EMAIL_CODE_PATTERN}}},
        },
        # A security key answers with a credential; every other method with a code.
        {
            "if": {"properties": {"method": {"const": "webauthn"}}, "required": ["method"]},
            "then": {"required": ["credential"], "not": {"required": ["code"]}},
            "else": {"required": ["code"], "not": {"required": ["credential"]}},
        },
    ]


_NOT_IN_ADDRESS = frozenset('<>"(),;\\ ')
Locale = Annotated[str, StringConstraints(max_length=35, pattern=r"^[A-Za-z0-9_-]*$")]


def rfc3339_from(epoch_seconds: float) -> str:
    """Whole seconds, rounded up: right for when something becomes allowed, so a client
    that waits until then is never refused for a fraction of a second."""
    return rfc3339(math.ceil(epoch_seconds))


@lru_cache(maxsize=1)
def _iana_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _iana_zone(value: str) -> str:
    """An IANA zone name the tz database knows, as written there (``Europe/Paris``): never a
    path, and nothing ``ZoneInfo`` would read from elsewhere."""
    if value not in _iana_zones():
        raise ValueError("must be an IANA time zone name such as Europe/Paris")
    return value


TimeZone = Annotated[
    StrictStr,
    StringConstraints(max_length=64, pattern=r"^[A-Za-z0-9_+/-]+$"),
    AfterValidator(_iana_zone),
    # The names themselves, so that the schema says exactly what is accepted (a pattern
    # admits names the tz database does not know; Schemathesis sends those and finds a 422).
    Field(examples=["Europe/Paris"], json_schema_extra={"enum": sorted(_iana_zones())}),
]


def pick_locale(value: str) -> str:
    """``fr``, ``fr-CA`` and ``FR`` mean French; anything unknown means English."""
    return supported_locale(value) or DEFAULT_LOCALE


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Client(Strict):
    """The end user's browser as the portal saw it."""

    ip: IpAddress | None = Field(
        default=None,
        description="A plain IPv4 or IPv6 address (no zone id), kept normalised: IPv6 "
        "compressed, an IPv4-mapped address as IPv4.",
    )
    user_agent: UserAgent | None = None


class AccountIn(Strict):
    email: Annotated[EmailStr, StringConstraints(max_length=254)]
    locale: Locale = "en"
    time_zone: TimeZone | None = Field(
        default=None,
        description="The account's IANA time zone; emails show times in it. Left out, times "
        "are shown in UTC.",
    )
    preferred_method: Literal["email", "totp", "webauthn"] | None = Field(
        default=None,
        description="The method a login without `method` starts with. Left out, the "
        "authenticator app when one is confirmed, else email; `totp` without a confirmed "
        "app, or `webauthn` without a security key, means that, else email.",
    )

    @field_validator("email", mode="before")
    @classmethod
    def _bare_address(cls, value: object) -> object:
        # EmailStr would quietly take "Ada <ada@example.com>"; we want the address alone.
        if isinstance(value, str) and any(
            ch in _NOT_IN_ADDRESS or ord(ch) < 32 or ord(ch) == 127 for ch in value
        ):
            raise ValueError("must be a bare address such as ada@example.com")
        return value

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        return pick_locale(value)


class TwoStepIn(Strict):
    enabled: StrictBool
    client: Client | None = None


class AccountView(BaseModel):
    account_id: str
    email: str
    locale: str
    time_zone: str | None = None
    preferred_method: Literal["email", "totp", "webauthn"] | None = None
    two_step_enabled: bool
    totp_enabled: bool
    recovery_codes_remaining: int
    trusted_browsers: int


class LoginIn(Strict):
    account_id: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z0-9._:@-]{1,128}$"), Field(examples=["u-42"])
    ]
    # A cookie the end user holds: anything malformed simply does not count as trusted.
    trusted_browser_token: Annotated[str, StringConstraints(max_length=4096)] | None = None
    method: Literal["email", "totp", "webauthn"] | None = Field(
        default=None,
        description="Left out: the account's preferred method, else the authenticator app "
        "when one is confirmed (no email is sent), else email.",
    )
    client: Client | None = None


class NotRequired(BaseModel):
    status: Literal["not_required"] = "not_required"
    reason: Literal["two_step_disabled", "trusted_browser"]


class EmailRefused(BaseModel):
    """Why a code cannot be emailed now: the problem a resend would get, and when it can."""

    code: Literal["send_limit", "mail_delayed"] = Field(
        description="`send_limit`: the account's email cap; `mail_delayed`: the mail queue is "
        "so far behind that a code would arrive too late (TWOSTEP_MAX_MAIL_DELAY_SECONDS)."
    )
    retry_after: int = Field(description="Seconds until an email can be sent.")


class Pending(BaseModel):
    status: Literal["pending"] = "pending"
    challenge_id: str
    method: Literal["email", "totp", "webauthn", "recovery_code"] = Field(
        description="The method to ask the user for first: `email` when a code was just "
        "emailed, else `totp` or `webauthn`, or `recovery_code` when email was refused and "
        "the account has neither."
    )
    methods: list[Literal["email", "totp", "webauthn", "recovery_code"]] = Field(
        description="Every method the account can use on this challenge; a resend emails a "
        'code ("email me a code instead").'
    )
    webauthn: dict[str, Any] | None = Field(
        default=None,
        description="When the account has a security key or passkey: the "
        "`PublicKeyCredentialRequestOptions` for `navigator.credentials.get()` (WebAuthn "
        "Level 3 JSON, base64url), its challenge bound to this one. Null otherwise.",
    )
    sent_to: str | None = Field(
        description="The masked address the code went to; null when no email was sent."
    )
    email_refused: EmailRefused | None = Field(
        default=None,
        description="Set when no email was sent because the account's email cap, or a mail "
        "queue running late, would refuse one: the challenge still takes an app, a security "
        "key or a recovery code. Null otherwise.",
    )
    expected_delivery_seconds: int | None = Field(
        default=None,
        description="When a code was emailed: about how many seconds it waits in the mail "
        "queue before it is sent (0 when the workers keep up). A portal can say that emails "
        "are slow right now above a threshold of its own. Null when no email was sent.",
    )
    expires_at: str
    resend_available_at: str


class ChallengeView(BaseModel):
    challenge_id: str
    account_id: str
    status: Literal["pending", "verified", "locked"]
    attempts_left: int
    sends: int
    expires_at: str
    resend_available_at: str
    delivery: Literal["queued", "sent", "retrying", "failed", "none"]


class ResendIn(Strict):
    method: Literal["email"] = Field(
        default="email",
        description="A resend always emails a code; on a challenge opened for the app or a "
        'recovery code it sends the first email ("email me a code instead").',
    )
    client: Client | None = None


# WebAuthn's binary fields, base64url (a browser's toJSON() leaves out the padding).
_BASE64URL = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}(?:==)?|[A-Za-z0-9_-]{3}=?)?$"
# Sized so that the largest answer stays well under TWOSTEP_MAX_BODY_BYTES' default (64 KiB).
Base64Url = Annotated[str, StringConstraints(min_length=1, max_length=8192, pattern=_BASE64URL)]
AttestationText = Annotated[
    str, StringConstraints(min_length=1, max_length=16384, pattern=_BASE64URL)
]
CredentialIdText = Annotated[
    str, StringConstraints(min_length=1, max_length=2048, pattern=_BASE64URL)
]


class _Browsers(BaseModel):
    """What a browser's ``toJSON()`` gives: the fields WebAuthn defines are read; others a
    browser may add one day are dropped, not refused."""

    model_config = ConfigDict(extra="ignore")


class AssertionResponse(_Browsers):
    clientDataJSON: Base64Url  # WebAuthn's own names
    authenticatorData: Base64Url
    signature: CredentialIdText
    userHandle: Base64Url | None = None


class _Credential(_Browsers):
    """What both of a browser's answers hold beside their ``response``."""

    id: CredentialIdText
    rawId: CredentialIdText
    type: Literal["public-key"]
    clientExtensionResults: dict[str, Any] = Field(default_factory=dict)
    authenticatorAttachment: Literal["platform", "cross-platform"] | None = None


class AuthenticationCredential(_Credential):
    """``AuthenticationResponseJSON``: the answer of ``navigator.credentials.get()``."""

    response: AssertionResponse


class AttestationResponse(_Browsers):
    clientDataJSON: Base64Url
    attestationObject: AttestationText
    transports: list[Annotated[str, StringConstraints(max_length=32)]] = Field(
        default_factory=list, max_length=16
    )


class RegistrationCredential(_Credential):
    """``RegistrationResponseJSON``: the answer of ``navigator.credentials.create()``."""

    response: AttestationResponse


class VerifyIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_code_by_method)

    # The method first: the code and the credential are checked against it.
    method: Literal["email", "totp", "recovery_code", "webauthn"] = "email"
    # Left out (never null) where the method does not take it: the schema says so.
    code: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None, validate_default=True
    )
    credential: AuthenticationCredential | None = Field(
        default=None,
        validate_default=True,
        description="For `webauthn`: the browser's answer, the `AuthenticationResponseJSON` "
        "of `navigator.credentials.get()` (its `toJSON()`).",
    )
    remember_browser: StrictBool = False
    client: Client | None = None

    @field_validator("code")
    @classmethod
    def _code_unless_a_key(cls, value: str | None, info: ValidationInfo) -> str | None:
        key = info.data.get("method") == "webauthn"
        if value is None and not key:
            raise PydanticCustomError("missing", "Field required")
        if value is not None and key:
            raise ValueError("a security key answers with a credential, not a code")
        return value

    @field_validator("credential")
    @classmethod
    def _credential_for_a_key(
        cls, value: AuthenticationCredential | None, info: ValidationInfo
    ) -> AuthenticationCredential | None:
        key = info.data.get("method") == "webauthn"
        if value is None and key:
            raise PydanticCustomError("missing", "Field required")
        if value is not None and not key:
            raise ValueError("only method webauthn takes a credential")
        return value


class WebauthnRegistration(BaseModel):
    """A security key or passkey being added: pass ``public_key`` to
    ``navigator.credentials.create({publicKey})`` and post its answer back within minutes."""

    registration_id: str
    expires_at: str
    public_key: dict[str, Any] = Field(
        description="`PublicKeyCredentialCreationOptions` (WebAuthn Level 3 JSON, base64url)."
    )


# A key's name, as the portal shows it: one line, not blank (kept without its outer spaces).
KeyName = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=64,
        pattern=r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$",
    ),
]


class WebauthnRegistrationIn(Strict):
    name: KeyName
    credential: RegistrationCredential = Field(
        description="The browser's answer: the `RegistrationResponseJSON` of "
        "`navigator.credentials.create()` (its `toJSON()`)."
    )
    client: Client | None = None


class SecurityKeyRenameIn(Strict):
    name: KeyName


class SecurityKeyView(BaseModel):
    key_id: str
    name: str
    created_at: str
    last_used_at: str | None
    transports: list[str] = Field(
        description='As the browser reported them: "usb", "nfc", "ble", "internal", "hybrid", ...'
    )
    synced: bool = Field(description="A passkey its provider syncs across the user's devices.")


class SecurityKeyList(BaseModel):
    items: list[SecurityKeyView]


class TotpEnrolment(BaseModel):
    secret: str = Field(description="Base32. Shown this once; type it into the app or scan the QR.")
    otpauth_uri: str
    qr_svg: str = Field(description="The otpauth URI as a QR code, a standalone SVG document.")


class CodeIn(Strict):
    """A code from the authenticator app being set up."""

    code: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        json_schema_extra={"pattern": TOTP_CODE_PATTERN}
    )
    client: Client | None = None


class ClientIn(Strict):
    client: Client | None = None


class ReportIn(Strict):
    """ "This wasn't me", from a portal's own page: the token its link carried."""

    token: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="The token of the link in the email (`TWOSTEP_REPORT_URL`'s `{token}`)."
    )
    client: Client | None = None


class Reported(BaseModel):
    status: Literal["reported"] = "reported"
    challenge_id: str
    account_id: str
    reported_at: str
    challenge_ended: bool = Field(
        description="The challenge was still open and is now ended: its code is dead and "
        "resends are refused. False when it had ended already (passed, expired)."
    )
    trusted_browsers_revoked: int = Field(
        description="How many trusted browsers the report forgot "
        "(`TWOSTEP_REPORT_REVOKES_BROWSERS`; 0 when off)."
    )


class RecoveryCodes(BaseModel):
    codes: list[str] = Field(description="Shown this once. Each works once; the old set is dead.")


class TrustedBrowserGrant(BaseModel):
    token: str = Field(
        description="Shown once. Send it back on the next login from this browser. It starts "
        "with its `browser_id` and a dot (`<browser_id>.<secret>`), so a portal holding it "
        "can tell which item of the trusted-browser list is the current browser."
    )
    browser_id: str
    expires_at: str


class Verified(BaseModel):
    status: Literal["verified"] = "verified"
    account_id: str
    trusted_browser: TrustedBrowserGrant | None


class TrustedBrowserView(BaseModel):
    browser_id: str
    label: str = Field(
        description='In English, as twostep names the browser: "Firefox on Linux", "Firefox", '
        '"Browser on Linux" or "Unknown browser". To show it in another language, phrase '
        "`browser` and `system` instead."
    )
    browser: str | None = Field(
        description='The browser\'s product name read from the User-Agent ("Safari", "Firefox", '
        '"Samsung Internet"), never translated; null when not recognised.'
    )
    system: str | None = Field(
        description='The operating system\'s product name read from the User-Agent ("macOS", '
        '"Windows", "Android"), never translated; null when not recognised.'
    )
    ip: str | None
    created_at: str
    last_used_at: str
    expires_at: str


class TrustedBrowserList(BaseModel):
    items: list[TrustedBrowserView]


EVENT_TYPES = (
    "challenge_issued",
    "code_resent",
    "verified",
    "verification_failed",
    "challenge_locked",
    "account_locked",
    "account_unlocked",
    "trusted_browser_used",
    "trusted_browser_added",
    "trusted_browser_revoked",
    "two_step_enabled",
    "two_step_disabled",
    "two_step_reset",
    "totp_enabled",
    "totp_disabled",
    "recovery_codes_created",
    "recovery_code_used",
)
# A stream id, "<ms>-<seq>": up to 19 digits each, so that both always fit in 64 bits.
EVENT_CURSOR_PATTERN = r"^[0-9]{1,19}-[0-9]{1,19}$"


class AuditEventView(BaseModel):
    event_id: str = Field(description="The event's id in the account's stream; also a cursor.")
    type: str = Field(json_schema_extra={"enum": list(EVENT_TYPES)})
    occurred_at: str
    client_ip: str | None = Field(description="The end user's IP, as the portal reported it.")
    request_id: str | None = Field(description="The X-Request-ID of the call that caused it.")
    details: dict[str, Any] = Field(
        description="By type: challenge_id, method, attempts_left, browser_id, seconds, ..."
    )


class AuditEventPage(BaseModel):
    items: list[AuditEventView] = Field(description="Newest first.")
    next_cursor: str | None = Field(
        description="Pass as `before` for the next (older) page; null on the last page."
    )


class Unlocked(BaseModel):
    account_id: str
    was_locked: bool


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    code: str
    detail: str
    attempts_left: int | None = None
    retry_after: int | None = None
    errors: list[dict[str, object]] | None = None
