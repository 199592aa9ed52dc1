"""The account's operations: its profile, two-step on and off, its authenticator app and its
recovery codes."""

from __future__ import annotations

from enum import Enum

from twostep_client.models import Account, ClientInfo, RecoveryCodes, TotpEnrolment
from twostep_client.operation import NOTHING, Request, body, model, operation


class Keep(Enum):
    """A field left out of a PUT: the service keeps what it has (None would remove it)."""

    KEEP = "keep"


KEEP = Keep.KEEP


class AccountOperations:
    @operation("PUT", "/v1/accounts/{account_id}", model(Account, 200, 201))
    def put_account(
        account_id: str,
        email: str,
        *,
        locale: str | None = None,
        time_zone: str | Keep | None = KEEP,
        preferred_method: str | Keep | None = KEEP,
        request_id: str | None = None,
    ) -> Request:
        """Create or update the account's two-step profile.

        ``locale`` ("en", "fr", "es", or a tag such as "fr-CA") left out means English.
        ``time_zone`` (an IANA name) and ``preferred_method`` ("email", "totp", "webauthn")
        left out keep what the service has; None removes them.
        """
        fields: dict[str, object] = {"email": email}
        if locale is not None:
            fields["locale"] = locale
        if time_zone is not KEEP:
            fields["time_zone"] = time_zone
        if preferred_method is not KEEP:
            fields["preferred_method"] = preferred_method
        return Request(path={"account_id": account_id}, json=fields, request_id=request_id)

    @operation("GET", "/v1/accounts/{account_id}", model(Account))
    def get_account(account_id: str, *, request_id: str | None = None) -> Request:
        """The account's two-step profile; ``AccountNotFound`` when it has none."""
        return Request(path={"account_id": account_id}, request_id=request_id)

    @operation("DELETE", "/v1/accounts/{account_id}", NOTHING)
    def delete_account(account_id: str, *, request_id: str | None = None) -> Request:
        """Remove everything the service holds for the account (an unknown one is fine)."""
        return Request(path={"account_id": account_id}, request_id=request_id)

    @operation("PUT", "/v1/accounts/{account_id}/two-step", model(Account))
    def set_two_step(
        account_id: str,
        enabled: bool,
        *,
        client: ClientInfo | None = None,
        request_id: str | None = None,
    ) -> Request:
        """Turn two-step on or off. Off revokes every trusted browser and ends open
        challenges; a real change emails the account a security notice."""
        return Request(
            path={"account_id": account_id},
            json=body(client, enabled=enabled),
            request_id=request_id,
        )

    @operation("POST", "/v1/accounts/{account_id}/totp", model(TotpEnrolment, 201))
    def enrol_totp(account_id: str, *, request_id: str | None = None) -> Request:
        """Start setting up an authenticator app: show the QR code (or the secret), then
        ``confirm_totp`` with a code from the app. Nothing changes until then."""
        return Request(path={"account_id": account_id}, request_id=request_id)

    @operation("POST", "/v1/accounts/{account_id}/totp/confirm", model(Account))
    def confirm_totp(
        account_id: str,
        code: str,
        *,
        client: ClientInfo | None = None,
        request_id: str | None = None,
    ) -> Request:
        """A code from the app turns it on. ``InvalidCode``, ``TooManyAttempts`` (the set-up
        is dropped) or ``TotpEnrolmentNotFound``."""
        return Request(
            path={"account_id": account_id}, json=body(client, code=code), request_id=request_id
        )

    @operation("DELETE", "/v1/accounts/{account_id}/totp", NOTHING)
    def disable_totp(account_id: str, *, request_id: str | None = None) -> Request:
        """Turn the authenticator app off."""
        return Request(path={"account_id": account_id}, request_id=request_id)

    @operation(
        "POST",
        "/v1/accounts/{account_id}/recovery-codes",
        model(RecoveryCodes, 201).then(lambda made: made.codes),
    )
    def new_recovery_codes(
        account_id: str, *, client: ClientInfo | None = None, request_id: str | None = None
    ) -> Request:
        """Ten new single-use recovery codes, to show this once; every earlier one stops
        working."""
        return Request(path={"account_id": account_id}, json=body(client), request_id=request_id)
