"""The twostep HTTP API as the portal calls it: one async method per endpoint, typed replies."""

from __future__ import annotations

import logging
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

log = logging.getLogger("portal.twostep")

M = TypeVar("M", bound=BaseModel)
Method = Literal["email", "totp", "recovery_code"]
# A browser's WebAuthn JSON (Level 3, base64url), passed through as the API takes it.
WebauthnJson = dict[str, Any]


def _seg(value: str) -> str:
    """An id as one path segment: whatever it holds cannot reach another route or a query."""
    return quote(value, safe="")


class TwostepError(Exception):
    """Root of what calling twostep can raise."""


class Problem(TwostepError):
    """twostep refused, with a problem document naming why (``code``)."""

    def __init__(
        self, status: int, code: str, retry_after: int | None, attempts_left: int | None
    ) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.retry_after = retry_after
        self.attempts_left = attempts_left


class Unavailable(TwostepError):
    """twostep did not answer, failed (5xx) or said something we cannot read."""


class Client(BaseModel):
    ip: str | None = None
    user_agent: str | None = None


class Account(BaseModel):
    account_id: str
    email: str
    locale: str
    two_step_enabled: bool
    totp_enabled: bool
    recovery_codes_remaining: int
    trusted_browsers: int
    # What a login asks for first: "webauthn" makes the two-step page start the key itself.
    preferred_method: str | None = None


class EmailRefused(BaseModel):
    code: str
    retry_after: int


class Login(BaseModel):
    """A ``/v1/logins`` reply: ``not_required``, or ``pending`` with the challenge fields."""

    status: Literal["not_required", "pending"]
    reason: str | None = None
    challenge_id: str | None = None
    # The method to ask for first: the account's own (its app or its security key when it
    # prefers one; no email then).
    method: Literal["email", "totp", "recovery_code", "webauthn"] | None = None
    methods: list[str] = []
    # The browser's navigator.credentials.get() options when the account has a security key.
    webauthn: WebauthnJson | None = None
    sent_to: str | None = None
    # Set when no email went out because the account's hourly cap would refuse it.
    email_refused: EmailRefused | None = None
    expires_at: str | None = None
    resend_available_at: str | None = None


class Challenge(BaseModel):
    challenge_id: str
    status: Literal["pending", "verified", "locked"]
    attempts_left: int
    sends: int
    expires_at: str
    resend_available_at: str


class TrustedGrant(BaseModel):
    token: str
    browser_id: str
    expires_at: str


class Verified(BaseModel):
    status: Literal["verified"]
    account_id: str
    trusted_browser: TrustedGrant | None = None


class TrustedBrowser(BaseModel):
    browser_id: str
    label: str
    # Product names ("Safari", "macOS"), null when unknown: the portal words them itself.
    browser: str | None = None
    system: str | None = None
    ip: str | None = None
    created_at: str
    last_used_at: str
    expires_at: str


class _TrustedBrowsers(BaseModel):
    items: list[TrustedBrowser]


class TotpEnrolment(BaseModel):
    secret: str
    otpauth_uri: str
    qr_svg: str


class _RecoveryCodes(BaseModel):
    codes: list[str]


class SecurityKey(BaseModel):
    """A security key or passkey of the account, as the Security tab lists it."""

    key_id: str
    name: str
    created_at: str
    last_used_at: str | None = None
    transports: list[str] = []
    synced: bool = False


class _SecurityKeys(BaseModel):
    items: list[SecurityKey]


class KeyRegistration(BaseModel):
    """A key being added: ``public_key`` goes to the browser's navigator.credentials.create()."""

    registration_id: str
    expires_at: str
    public_key: WebauthnJson


class Twostep:
    """A client of one twostep deployment; ``transport`` lets tests run twostep in process."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_seconds: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout_seconds,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(
        self, operation: str, method: str, path: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        try:
            response = await self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            # The exception text may carry the URL, never a body: name its class only.
            log.warning("twostep %s failed: %s", operation, type(exc).__name__)
            raise Unavailable(operation) from None
        if response.status_code < 400:
            return response
        if response.status_code >= 500:
            log.warning("twostep %s failed: HTTP %d", operation, response.status_code)
            raise Unavailable(operation)
        try:
            problem = response.json()
            code = str(problem["code"])
        except (ValueError, KeyError, TypeError):
            log.warning(
                "twostep %s failed: HTTP %d, no problem code", operation, response.status_code
            )
            raise Unavailable(operation) from None
        retry_after = problem.get("retry_after")
        attempts_left = problem.get("attempts_left")
        raise Problem(
            response.status_code,
            code,
            retry_after if isinstance(retry_after, int) else None,
            attempts_left if isinstance(attempts_left, int) else None,
        )

    async def _json(
        self,
        model: type[M],
        operation: str,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
    ) -> M:
        response = await self._call(operation, method, path, body)
        try:
            return model.model_validate_json(response.content)
        except ValidationError:
            log.warning("twostep %s: unexpected reply shape", operation)
            raise Unavailable(operation) from None

    @staticmethod
    def _client(client: Client | None) -> dict[str, Any] | None:
        return client.model_dump(exclude_none=True) if client else None

    async def put_account(
        self, account_id: str, email: str, locale: str, time_zone: str | None = None
    ) -> Account:
        # A time zone left out keeps the one twostep has (the browser may not have said).
        body = {"email": email, "locale": locale}
        if time_zone is not None:
            body["time_zone"] = time_zone
        return await self._json(
            Account, "put_account", "PUT", f"/v1/accounts/{_seg(account_id)}", body
        )

    async def set_preferred_method(
        self, account_id: str, email: str, locale: str, method: Literal["webauthn"] | None
    ) -> Account:
        """The method a login asks for first; None leaves it to twostep (the app, else email)."""
        body = {"email": email, "locale": locale, "preferred_method": method}
        return await self._json(
            Account, "set_preferred_method", "PUT", f"/v1/accounts/{_seg(account_id)}", body
        )

    async def get_account(self, account_id: str) -> Account:
        return await self._json(Account, "get_account", "GET", f"/v1/accounts/{_seg(account_id)}")

    async def set_two_step(self, account_id: str, enabled: bool, client: Client | None) -> Account:
        body = {"enabled": enabled, "client": self._client(client)}
        path = f"/v1/accounts/{_seg(account_id)}/two-step"
        return await self._json(Account, "set_two_step", "PUT", path, body)

    async def start_login(
        self, account_id: str, trusted_browser_token: str | None, client: Client | None
    ) -> Login:
        body = {
            "account_id": account_id,
            "trusted_browser_token": trusted_browser_token,
            "client": self._client(client),
        }
        return await self._json(Login, "start_login", "POST", "/v1/logins", body)

    async def get_challenge(self, challenge_id: str) -> Challenge:
        path = f"/v1/challenges/{_seg(challenge_id)}"
        return await self._json(Challenge, "get_challenge", "GET", path)

    async def resend(self, challenge_id: str, client: Client | None) -> Login:
        path = f"/v1/challenges/{_seg(challenge_id)}/resend"
        return await self._json(Login, "resend", "POST", path, {"client": self._client(client)})

    async def verify(
        self,
        challenge_id: str,
        code: str,
        method: Method,
        remember_browser: bool,
        client: Client | None,
    ) -> Verified:
        body = {
            "code": code,
            "method": method,
            "remember_browser": remember_browser,
            "client": self._client(client),
        }
        path = f"/v1/challenges/{_seg(challenge_id)}/verify"
        return await self._json(Verified, "verify", "POST", path, body)

    async def verify_key(
        self,
        challenge_id: str,
        credential: WebauthnJson,
        remember_browser: bool,
        client: Client | None,
    ) -> Verified:
        """A security key's answer (the browser's navigator.credentials.get(), toJSON())."""
        body = {
            "method": "webauthn",
            "credential": credential,
            "remember_browser": remember_browser,
            "client": self._client(client),
        }
        path = f"/v1/challenges/{_seg(challenge_id)}/verify"
        return await self._json(Verified, "verify_key", "POST", path, body)

    async def trusted_browsers(self, account_id: str) -> list[TrustedBrowser]:
        path = f"/v1/accounts/{_seg(account_id)}/trusted-browsers"
        return (await self._json(_TrustedBrowsers, "trusted_browsers", "GET", path)).items

    async def revoke_browser(self, account_id: str, browser_id: str) -> None:
        path = f"/v1/accounts/{_seg(account_id)}/trusted-browsers/{_seg(browser_id)}"
        await self._call("revoke_browser", "DELETE", path)

    async def revoke_all_browsers(self, account_id: str) -> None:
        path = f"/v1/accounts/{_seg(account_id)}/trusted-browsers"
        await self._call("revoke_all_browsers", "DELETE", path)

    async def start_totp(self, account_id: str) -> TotpEnrolment:
        path = f"/v1/accounts/{_seg(account_id)}/totp"
        return await self._json(TotpEnrolment, "start_totp", "POST", path)

    async def confirm_totp(self, account_id: str, code: str, client: Client | None) -> Account:
        path = f"/v1/accounts/{_seg(account_id)}/totp/confirm"
        body = {"code": code, "client": self._client(client)}
        return await self._json(Account, "confirm_totp", "POST", path, body)

    async def remove_totp(self, account_id: str) -> None:
        await self._call("remove_totp", "DELETE", f"/v1/accounts/{_seg(account_id)}/totp")

    async def new_recovery_codes(self, account_id: str, client: Client | None) -> list[str]:
        path = f"/v1/accounts/{_seg(account_id)}/recovery-codes"
        body = {"client": self._client(client)}
        return (await self._json(_RecoveryCodes, "new_recovery_codes", "POST", path, body)).codes

    async def begin_key_registration(self, account_id: str) -> KeyRegistration:
        path = f"/v1/accounts/{_seg(account_id)}/webauthn/registrations"
        return await self._json(KeyRegistration, "begin_key_registration", "POST", path)

    async def finish_key_registration(
        self,
        account_id: str,
        registration_id: str,
        name: str,
        credential: WebauthnJson,
        client: Client | None,
    ) -> SecurityKey:
        path = f"/v1/accounts/{_seg(account_id)}/webauthn/registrations/{_seg(registration_id)}"
        body = {"name": name, "credential": credential, "client": self._client(client)}
        return await self._json(SecurityKey, "finish_key_registration", "POST", path, body)

    async def security_keys(self, account_id: str) -> list[SecurityKey]:
        path = f"/v1/accounts/{_seg(account_id)}/webauthn/credentials"
        return (await self._json(_SecurityKeys, "security_keys", "GET", path)).items

    async def rename_key(self, account_id: str, key_id: str, name: str) -> SecurityKey:
        path = f"/v1/accounts/{_seg(account_id)}/webauthn/credentials/{_seg(key_id)}"
        return await self._json(SecurityKey, "rename_key", "PATCH", path, {"name": name})

    async def remove_key(self, account_id: str, key_id: str, client: Client | None) -> None:
        path = f"/v1/accounts/{_seg(account_id)}/webauthn/credentials/{_seg(key_id)}"
        await self._call("remove_key", "DELETE", path, {"client": self._client(client)})
