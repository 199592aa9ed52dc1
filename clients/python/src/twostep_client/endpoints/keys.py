"""Security keys and passkeys (WebAuthn): adding one, and the account's list of them.
Signing in with one is ``verify_security_key`` (endpoints/logins.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twostep_client.models import ClientInfo, KeyRegistration, SecurityKey, SecurityKeys
from twostep_client.operation import NOTHING, Request, body, model, operation


class KeyOperations:
    @operation(
        "POST", "/v1/accounts/{account_id}/webauthn/registrations", model(KeyRegistration, 201)
    )
    def begin_key_registration(account_id: str, *, request_id: str | None = None) -> Request:
        """Start adding a key: pass ``public_key`` to the browser's
        ``navigator.credentials.create()`` and post its answer back before ``expires_at``.
        ``WebauthnNotConfigured``, ``SecurityKeyLimit``."""
        return Request(path={"account_id": account_id}, request_id=request_id)

    @operation(
        "POST",
        "/v1/accounts/{account_id}/webauthn/registrations/{registration_id}",
        model(SecurityKey, 201),
    )
    def finish_key_registration(
        account_id: str,
        registration_id: str,
        name: str,
        credential: Mapping[str, Any],
        *,
        client: ClientInfo | None = None,
        request_id: str | None = None,
    ) -> Request:
        """The browser's answer (``toJSON()``-ed), kept under ``name``. A registration is
        used once, right or wrong: ``WebauthnRefused``, ``SecurityKeyExists``,
        ``RegistrationNotFound``."""
        return Request(
            path={"account_id": account_id, "registration_id": registration_id},
            json=body(client, name=name, credential=dict(credential)),
            request_id=request_id,
        )

    @operation(
        "GET",
        "/v1/accounts/{account_id}/webauthn/credentials",
        model(SecurityKeys).then(lambda page: page.items),
    )
    def list_security_keys(account_id: str, *, request_id: str | None = None) -> Request:
        """The account's security keys and passkeys, oldest first."""
        return Request(path={"account_id": account_id}, request_id=request_id)

    @operation(
        "PATCH", "/v1/accounts/{account_id}/webauthn/credentials/{key_id}", model(SecurityKey)
    )
    def rename_security_key(
        account_id: str, key_id: str, name: str, *, request_id: str | None = None
    ) -> Request:
        return Request(
            path={"account_id": account_id, "key_id": key_id},
            json={"name": name},
            request_id=request_id,
        )

    @operation("DELETE", "/v1/accounts/{account_id}/webauthn/credentials/{key_id}", NOTHING)
    def remove_security_key(
        account_id: str,
        key_id: str,
        *,
        client: ClientInfo | None = None,
        request_id: str | None = None,
    ) -> Request:
        """The key stops working at once; the account's owner is told by email."""
        return Request(
            path={"account_id": account_id, "key_id": key_id},
            json=body(client),
            request_id=request_id,
        )
