"""The HTTP routes of security keys and passkeys (WebAuthn): adding one, and the account's
list of them. Signing in with one goes through the login and verify routes (api/routes.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Response

from api.auth import require_api_key
from api.fastbody import StrictJsonRoute
from api.problems import problem_responses
from api.routes import AccountId, Service
from api.schemas import (
    ClientIn,
    SecurityKeyList,
    SecurityKeyRenameIn,
    SecurityKeyView,
    WebauthnRegistration,
    WebauthnRegistrationIn,
)

RegistrationId = Annotated[str, Path(pattern=r"^wr_[A-Za-z0-9_-]{22}$")]
KeyId = Annotated[str, Path(pattern=r"^sk_[A-Za-z0-9_-]{16}$")]


def build_webauthn() -> APIRouter:
    keys = APIRouter(
        prefix="/v1/accounts/{account_id}/webauthn",
        dependencies=[Depends(require_api_key)],
        route_class=StrictJsonRoute,
        tags=["security keys"],
    )

    @keys.post(
        "/registrations",
        response_model=WebauthnRegistration,
        status_code=201,
        responses=problem_responses(404, 409),
    )
    async def begin_registration(account_id: AccountId, twostep: Service) -> WebauthnRegistration:
        """Start adding a security key or passkey: options for the browser's
        `navigator.credentials.create()`, the account's keys excluded. Nothing is kept until
        its answer is posted back (within `expires_at`)."""
        return await twostep.passkeys.begin(account_id)

    @keys.post(
        "/registrations/{registration_id}",
        response_model=SecurityKeyView,
        status_code=201,
        responses=problem_responses(400, 404, 409),
    )
    async def finish_registration(
        account_id: AccountId,
        registration_id: RegistrationId,
        body: WebauthnRegistrationIn,
        twostep: Service,
    ) -> SecurityKeyView:
        """The browser's answer: checked (origin, relying party, challenge, signature) and
        kept under `name`. A registration is used once, right or wrong."""
        return await twostep.passkeys.finish(
            account_id, registration_id, body.name, body.credential.model_dump(), body.client
        )

    @keys.get("/credentials", response_model=SecurityKeyList, responses=problem_responses(404))
    async def list_keys(account_id: AccountId, twostep: Service) -> SecurityKeyList:
        """The account's security keys and passkeys, oldest first."""
        await twostep.get_account(account_id)
        return SecurityKeyList(items=await twostep.passkeys.list(account_id))

    @keys.patch(
        "/credentials/{key_id}", response_model=SecurityKeyView, responses=problem_responses(404)
    )
    async def rename_key(
        account_id: AccountId, key_id: KeyId, body: SecurityKeyRenameIn, twostep: Service
    ) -> SecurityKeyView:
        return await twostep.passkeys.rename(account_id, key_id, body.name)

    @keys.delete("/credentials/{key_id}", status_code=204, responses=problem_responses(404))
    async def remove_key(
        account_id: AccountId,
        key_id: KeyId,
        twostep: Service,
        body: Annotated[ClientIn | None, Body()] = None,
    ) -> Response:
        """The key stops working at once; the account's owner is told by email."""
        await twostep.passkeys.remove(account_id, key_id, body.client if body else None)
        return Response(status_code=204)

    return keys
